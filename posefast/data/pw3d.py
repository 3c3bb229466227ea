"""3DPW (von Marcard et al., ECCV 2018) as an npz of per-sequence 2D/3D joints (a SPIN-style conversion).

3DPW itself ships SMPL parameters; the adaptation papers evaluate on joints regressed from the SMPL meshes into
the Human3.6M layout (SPIN, Kolotouros et al., ICCV 2019), scoring the 14 joints of :data:`PW3D_EVAL_JOINTS_H36M17`.
The file this loader reads (our documented layout, matching what such conversions produce):

- ``positions_3d``: {sequence name: float [T, J, 3]} or one float [N, J, 3]; camera frame, metres.
- ``positions_2d``: same structure, float [..., J, 2] pixels.
- ``intrinsics`` (optional): per sequence or global, a [3, 3] matrix or (fx, fy, cx, cy). When absent, a
  pinhole camera is fitted per sequence to the 2D/3D pairs by least squares (recorded in ``meta``).
- ``image_size`` (optional): (width, height), per sequence or global; default 1080 x 1920 (3DPW's portrait
  phone video).

J = 17 (``h36m17`` order) or 16 (``h36m16``). Dicts are pickled (``allow_pickle=True``: trusted files only).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..skeleton import get_skeleton
from .cameras import fit_pinhole_intrinsics, project
from .dataset import PoseDataset

__all__ = ["PW3D_EVAL_JOINTS_H36M17", "PW3D_IMAGE_SIZE", "load_3dpw"]

# The 14 evaluation joints (all of h36m17 but Pelvis, Spine, Neck/Nose), listed in LSP order: right ankle, knee,
# hip, left hip, knee, ankle, right wrist, elbow, shoulder, left shoulder, elbow, wrist, thorax, head.
PW3D_EVAL_JOINTS_H36M17 = (3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13, 8, 10)
PW3D_IMAGE_SIZE = (1080, 1920)


def _read(npz, key: str, path: Path):
    try:
        value = npz[key]
    except Exception as e:  # noqa: BLE001 - corrupt member
        raise ValueError(f"{path}: key {key!r} could not be read ({type(e).__name__}: {e})") from None
    if value.dtype == object:
        try:
            value = value.item()
        except ValueError:
            raise ValueError(f"{path}: key {key!r}: expected an array or a pickled dict") from None
    return value


def _per_sequence(value, names, path: Path, key: str):
    if isinstance(value, dict):
        if sorted(value) != sorted(names):
            raise ValueError(f"{path}: key {key!r}: sequences {sorted(value)} differ from positions_3d's "
                             f"{sorted(names)}")
        return {n: value[n] for n in names}
    return {n: value for n in names}


def _as_intrinsics(v, path: Path, where: str) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    if a.shape == (3, 3):
        a = np.array([a[0, 0], a[1, 1], a[0, 2], a[1, 2]])
    if a.shape != (4,) or not np.isfinite(a).all() or (a[:2] <= 0).any():
        raise ValueError(f"{path}: {where}: expected a [3, 3] matrix or (fx, fy, cx, cy) with positive focal "
                         f"lengths, got {np.asarray(v).shape}")
    return a


def load_3dpw(path, *, skeleton: "str | None" = None, split: "str | None" = None) -> PoseDataset:
    """Load a 3DPW joint file (see the module docstring); ``sequence`` ids index the sorted sequence names.

    ``split`` may only be None/'all'/'test': such files hold one split already.
    """
    if split not in (None, "all", "test"):
        raise ValueError(f"split: a 3DPW joint file holds one split; expected None, 'all' or 'test', got {split!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        npz = np.load(path, allow_pickle=True)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    with npz:
        for key in ("positions_3d", "positions_2d"):
            if key not in npz.files:
                raise ValueError(f"{path}: missing key {key!r}; found {npz.files}")
        p3, p2 = _read(npz, "positions_3d", path), _read(npz, "positions_2d", path)
        intr = _read(npz, "intrinsics", path) if "intrinsics" in npz.files else None
        size = _read(npz, "image_size", path) if "image_size" in npz.files else None
    if isinstance(p3, dict) != isinstance(p2, dict):
        raise ValueError(f"{path}: positions_3d and positions_2d must both be dicts or both arrays")
    if not isinstance(p3, dict):
        p3, p2 = {"all": p3}, {"all": p2}
    names = sorted(p3)
    if not names:
        raise ValueError(f"{path}: positions_3d holds no sequence")
    p2 = _per_sequence(p2, names, path, "positions_2d")
    intr = None if intr is None else _per_sequence(intr, names, path, "intrinsics")
    size = _per_sequence(PW3D_IMAGE_SIZE if size is None else size, names, path, "image_size")

    parts = {k: [] for k in ("j3d", "uv", "cam", "size", "seq")}
    fitted = {}
    J = None
    for i, name in enumerate(names):
        a3, a2 = np.asarray(p3[name]), np.asarray(p2[name])
        for key, a, last in (("positions_3d", a3, 3), ("positions_2d", a2, 2)):
            if a.dtype.kind not in "fiu" or a.ndim != 3 or a.shape[-1] != last or a.shape[1] not in (16, 17) \
                    or a.shape[0] == 0:
                raise ValueError(f"{path}: {key}[{name!r}]: expected float [T, 17|16, {last}], got {a.dtype} {a.shape}")
            if not np.isfinite(a).all():
                raise ValueError(f"{path}: {key}[{name!r}]: contains non-finite values")
        if a3.shape[:2] != a2.shape[:2]:
            raise ValueError(f"{path}: {name}: 3D {a3.shape} and 2D {a2.shape} disagree in frames or joints")
        if J is not None and a3.shape[1] != J:
            raise ValueError(f"{path}: {name}: {a3.shape[1]} joints, other sequences have {J}")
        J = a3.shape[1]
        if (a3[..., 2] <= 0).any():
            raise ValueError(f"{path}: positions_3d[{name!r}]: points behind the camera; expected camera-frame metres")
        if intr is None:
            cam = fit_pinhole_intrinsics(a3, a2)
            fitted[name] = float(np.median(np.linalg.norm(project(a3, cam) - a2, axis=-1)))
        else:
            cam = _as_intrinsics(intr[name], path, f"intrinsics[{name!r}]")
        wh = np.asarray(size[name])
        if wh.shape != (2,) or wh.dtype.kind not in "iu" or (wh <= 0).any():
            raise ValueError(f"{path}: image_size[{name!r}]: expected two positive integers (w, h), got {wh!r}")
        n = a3.shape[0]
        parts["j3d"].append(a3)
        parts["uv"].append(a2)
        parts["cam"].append(np.broadcast_to(cam, (n, 4)))
        parts["size"].append(np.broadcast_to(wh, (n, 2)))
        parts["seq"].append(np.full(n, i))
    meta = {"source": str(path), "sequence_names": names}
    if fitted:
        meta["intrinsics"] = "fitted by least squares; median reprojection error (px) per sequence"
        meta["fit_error_px"] = fitted
    ds = PoseDataset(joints_3d=np.concatenate(parts["j3d"]), joints_2d=np.concatenate(parts["uv"]),
                     camera=np.concatenate(parts["cam"]), image_size=np.concatenate(parts["size"]),
                     skeleton="h36m17" if J == 17 else "h36m16", sequence=np.concatenate(parts["seq"]),
                     name=f"3dpw:{path}", meta=meta)
    return ds if skeleton is None else ds.to_skeleton(get_skeleton(skeleton))
