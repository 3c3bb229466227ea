"""MPI-INF-3DHP test set (Mehta et al., 3DV 2017) in the two layouts used by the adaptation papers.

1. PoseAug's ``test_3dhp.npz`` (Gong et al., CVPR 2021): ``pose3d`` float [N, 16, 3] metres and ``pose2d``
   float [N, 16, 2] in normalised screen coordinates, both in ``h36m16`` order (PoseAug's
   ``prepare_data_3dhp.py`` reorders SPIN's ``mpi_inf_3dhp_valid.npz``; N = 2929 valid frames of TS1..TS6 in
   sequence order). Assumptions, as the file stores neither image size nor camera: the first
   ``studio_frames`` = 2207 frames are TS1-4 (2048 x 2048 studio camera), the rest TS5-6 (1920 x 1080 outdoor
   camera) - the split AdaptPose's loader uses for this file. PoseAug zeroes the 2D of joints marked invisible,
   so a 2D of exactly (0, 0) gets confidence 0. The 3D is taken as camera-frame metres; when it is root-relative
   (pelvis at the origin, as in SPIN's preprocessing) the root translation is recovered by least-squares
   reprojection onto the 2D (``recover_root=True``), so ``joints_3d`` is absolute as the archive requires.
2. The per-sequence file ``data_3dhp_gt_test.npz`` (as read by AdaptPose, Gholami et al., CVPR 2022):
   ``positions_3d`` = {'TS1'..'TS6': float [T, J, 3]} camera frame in millimetres (``units``) and
   ``positions_2d`` = {'TS1'..: float [T, J, 2]} pixels, J = 17 (``h36m17`` order) or 16 (``h36m16`` order);
   an optional ``valid`` = {'TSk': bool [T]} keeps only valid frames. It is a pickled dict
   (``allow_pickle=True``: load only files you trust).

Test cameras (published 3DHP calibration, as used by PoseDA/AdaptPose): TS1-4 f = 1500.17 px,
c = (1017.39, 1043.03), 2048 x 2048; TS5-6 f = 1683.98 px, c = (939.86, 560.14), 1920 x 1080; no distortion.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..skeleton import get_skeleton
from .cameras import solve_root_translation, unnormalize_screen
from .dataset import PoseDataset

__all__ = ["MPI3DHP_TEST_CAMERAS", "MPI3DHP_SEQUENCE_CAMERA", "POSEAUG_STUDIO_FRAMES", "load_3dhp"]

# name -> ((fx, fy, cx, cy) pixels, (width, height))
MPI3DHP_TEST_CAMERAS = {
    "studio": ((1500.172288, 1500.172288, 1017.38733568, 1043.03198208), (2048, 2048)),
    "outdoor": ((1683.98345952, 1683.98345952, 939.85754016, 560.14074317), (1920, 1080)),
}
MPI3DHP_SEQUENCE_CAMERA = {"TS1": "studio", "TS2": "studio", "TS3": "studio", "TS4": "studio",
                           "TS5": "outdoor", "TS6": "outdoor"}
POSEAUG_STUDIO_FRAMES = 2207


def _open(path: Path, allow_pickle: bool):
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        return np.load(path, allow_pickle=allow_pickle)
    except Exception as e:  # noqa: BLE001 - a reader failure means a corrupt file
        raise ValueError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None


def _get(npz, key: str, path: Path, item: bool = False):
    try:
        value = npz[key]
        return value.item() if item else value
    except Exception as e:  # noqa: BLE001 - corrupt member, pickled where plain was expected, ...
        raise ValueError(f"{path}: key {key!r} could not be read ({type(e).__name__}: {e})") from None


def _checked(a, path: Path, key: str, want: str, last: int, J: "int | None" = None) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "fiu" or a.ndim != 3 or a.shape[-1] != last or a.shape[0] == 0 or \
            (J is not None and a.shape[1] != J):
        raise ValueError(f"{path}: key {key!r}: expected {want}, got {a.dtype} {tuple(a.shape)}")
    if not np.isfinite(a).all():
        raise ValueError(f"{path}: key {key!r}: contains non-finite values")
    return a.astype(np.float64)


def _camera_arrays(kinds: list[str]):
    cam = np.array([MPI3DHP_TEST_CAMERAS[k][0] for k in kinds], dtype=np.float64)
    size = np.array([MPI3DHP_TEST_CAMERAS[k][1] for k in kinds], dtype=np.int64)
    return cam, size


def _check_units(j3d: np.ndarray, units: str, path: Path) -> np.ndarray:
    if units not in ("mm", "m"):
        raise ValueError(f"units: expected 'mm' or 'm', got {units!r}")
    typical = float(np.median(np.abs(j3d[..., 2])))
    if units == "mm" and typical < 20:
        raise ValueError(f"{path}: median |z| is {typical:.3g}, which looks like metres; pass units='m'")
    if units == "m" and typical > 100:
        raise ValueError(f"{path}: median |z| is {typical:.3g}, which looks like millimetres; pass units='mm'")
    return j3d / 1000.0 if units == "mm" else j3d


def _load_poseaug(npz, path: Path, studio_frames: int, recover_root: bool) -> PoseDataset:
    j3d = _checked(_get(npz, "pose3d", path), path, "pose3d", "float [N, 16, 3] metres (h36m16)", 3, 16)
    xy = _checked(_get(npz, "pose2d", path), path, "pose2d", "float [N, 16, 2] normalised screen (h36m16)", 2, 16)
    N = j3d.shape[0]
    if xy.shape[0] != N:
        raise ValueError(f"{path}: 'pose3d' has {N} frames but 'pose2d' has {xy.shape[0]}")
    if not 0 <= studio_frames <= N:
        raise ValueError(f"studio_frames: expected 0..{N}, got {studio_frames}")
    kinds = ["studio"] * studio_frames + ["outdoor"] * (N - studio_frames)
    cam, size = _camera_arrays(kinds)
    visible = ~np.all(xy == 0.0, axis=-1)                  # PoseAug multiplied invisible joints by 0
    uv = unnormalize_screen(xy, size)
    root_relative = bool(np.allclose(j3d[:, 0], 0.0, atol=1e-6))
    meta = {"source": str(path), "format": "poseaug", "studio_frames": studio_frames}
    if root_relative and recover_root:
        j3d = j3d + solve_root_translation(j3d, uv, cam, weights=visible.astype(np.float64))[:, None, :]
        meta["root"] = "recovered by least-squares reprojection onto pose2d"
    elif root_relative:
        meta["root"] = "root-relative as stored"
    return PoseDataset(joints_3d=j3d, joints_2d=uv, camera=cam, image_size=size, skeleton="h36m16",
                       confidence=visible.astype(np.float32), name=f"3dhp:{path}", meta=meta)


def _load_sequences(npz, path: Path, units: str) -> PoseDataset:
    pos3d = _get(npz, "positions_3d", path, item=True)
    pos2d = _get(npz, "positions_2d", path, item=True)
    valid = _get(npz, "valid", path, item=True) if "valid" in npz.files else None
    if not isinstance(pos3d, dict) or not isinstance(pos2d, dict) or not pos3d:
        raise ValueError(f"{path}: 'positions_3d'/'positions_2d': expected non-empty dicts {{'TS1': array}}")
    if sorted(pos3d) != sorted(pos2d):
        raise ValueError(f"{path}: sequences differ between positions_3d {sorted(pos3d)} and positions_2d "
                         f"{sorted(pos2d)}")
    parts = {k: [] for k in ("j3d", "uv", "cam", "size", "seq")}
    J = None
    for name in sorted(pos3d, key=lambda s: (len(s), s)):
        if name not in MPI3DHP_SEQUENCE_CAMERA:
            raise ValueError(f"{path}: unknown sequence {name!r}; expected {sorted(MPI3DHP_SEQUENCE_CAMERA)}")
        a3 = _checked(pos3d[name], path, f"positions_3d[{name!r}]", "float [T, 17|16, 3]", 3)
        a2 = _checked(pos2d[name], path, f"positions_2d[{name!r}]", "float [T, 17|16, 2] pixels", 2)
        if a3.shape[:2] != a2.shape[:2] or a3.shape[1] not in (16, 17):
            raise ValueError(f"{path}: {name}: 3D {a3.shape} and 2D {a2.shape} must share [T, 17|16]")
        if J is not None and a3.shape[1] != J:
            raise ValueError(f"{path}: {name}: {a3.shape[1]} joints, other sequences have {J}")
        J = a3.shape[1]
        if valid is not None:
            if name not in valid:
                raise ValueError(f"{path}: 'valid' has no entry for {name!r}")
            keep = np.asarray(valid[name]).reshape(-1).astype(bool)
            if keep.shape[0] != a3.shape[0]:
                raise ValueError(f"{path}: valid[{name!r}] has {keep.shape[0]} flags for {a3.shape[0]} frames")
            a3, a2 = a3[keep], a2[keep]
        cam, size = _camera_arrays([MPI3DHP_SEQUENCE_CAMERA[name]] * len(a3))
        parts["j3d"].append(a3)
        parts["uv"].append(a2)
        parts["cam"].append(cam)
        parts["size"].append(size)
        parts["seq"].append(np.full(len(a3), int(re.sub(r"\D", "", name))))
    j3d = _check_units(np.concatenate(parts["j3d"]), units, path)
    seq = np.concatenate(parts["seq"])
    return PoseDataset(joints_3d=j3d, joints_2d=np.concatenate(parts["uv"]), camera=np.concatenate(parts["cam"]),
                       image_size=np.concatenate(parts["size"]), skeleton="h36m17" if J == 17 else "h36m16",
                       subject=seq, sequence=seq, name=f"3dhp:{path}",
                       meta={"source": str(path), "format": "sequences", "units": units})


def load_3dhp(path, *, skeleton: "str | None" = None, units: str = "mm", studio_frames: int = POSEAUG_STUDIO_FRAMES,
              recover_root: bool = True, split: "str | None" = None) -> PoseDataset:
    """Load an MPI-INF-3DHP test file (format detected from its keys; see the module docstring).

    Args:
        path: ``test_3dhp.npz`` (PoseAug) or ``data_3dhp_gt_test.npz`` (per sequence).
        skeleton: convert to this layout (``h36m17``/``h36m16``); None keeps the file's.
        units: 3D length unit of the per-sequence file ('mm' or 'm'; PoseAug's file is metres).
        studio_frames: PoseAug file only, number of leading TS1-4 frames.
        recover_root: PoseAug file only, place root-relative poses by reprojection.
        split: only None, 'all' or 'test' (these files are the test set).
    Subject and sequence ids of the per-sequence file are the TS numbers 1..6.
    """
    if split not in (None, "all", "test"):
        raise ValueError(f"split: the 3DHP files hold the test set only; expected None, 'all' or 'test', got {split!r}")
    path = Path(path)
    with _open(path, allow_pickle=False) as npz:
        keys = set(npz.files)
        if {"pose3d", "pose2d"} <= keys:
            ds = _load_poseaug(npz, path, studio_frames, recover_root)
        elif not {"positions_3d", "positions_2d"} <= keys:
            raise ValueError(f"{path}: expected keys 'pose3d'+'pose2d' (PoseAug) or 'positions_3d'+'positions_2d' "
                             f"(per sequence), found {sorted(keys)}")
    if not {"pose3d", "pose2d"} <= keys:
        with _open(path, allow_pickle=True) as npz:
            ds = _load_sequences(npz, path, units)
    return ds if skeleton is None else ds.to_skeleton(get_skeleton(skeleton))
