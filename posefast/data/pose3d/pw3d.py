"""3DPW (von Marcard et al., ECCV 2018): the official per-sequence pickles, or a plain-array npz.

**The official release** (``3dpw:<sequenceFiles dir | its train/validation/test dir | one .pkl>``): one Python-2
pickle per sequence in ``sequenceFiles/{train,validation,test}/``, read with ``encoding='latin1'`` (Python 2 strings
and the numpy arrays inside them). Per actor (lists over the one or two actors): ``jointPositions`` [N, 72] (SMPL's
24 joints, world frame, metres), ``poses2d`` [N, 3, 18] (OpenPose COCO-18 x, y, confidence; all zeros where fewer
than 6 joints were detected), ``campose_valid`` [N] (the camera pose is aligned to the image), and ``poses``,
``trans``, ``betas``, ``genders``...; per sequence ``cam_poses`` [N, 4, 4] (world -> camera) and ``cam_intrinsics``
3 x 3. Only these pickles are ever unpickled, through an unpickler that admits numpy arrays and plain containers and
refuses any other global.

What the loader does, per actor track (one ``sequence`` id per (sequence, actor), names in ``meta``):

- keeps the frames the official evaluation keeps (``aymenmir1/3dpw-eval`` ``evaluate.py`` ``check_valid_inds``,
  line 232): ``campose_valid`` and a non-zero ``poses2d``; frames whose joints end up behind the camera are dropped
  too. The counts of each are in ``meta['dropped']`` (total and per track) and in a warning.
- moves ``jointPositions`` into each frame's camera with ``cam_poses`` (``X_cam = R X_world + t``, as that evaluation
  applies them, lines 209-226 and 345) and maps SMPL-24 to
  ``h36m17`` / ``h36m16`` with :mod:`posefast.data.pose3d.keypoint_layouts` (``smpl24``): hips, knees, ankles, shoulders,
  elbows, wrists and pelvis are SMPL's own joints (direct); thorax (SMPL neck) and neck/nose (SMPL head) are
  approximate; spine (pelvis-neck midpoint) and head (SMPL's head moved one neck-head length further) are derived.
  The protocols' 14 evaluation joints (:data:`PW3D_EVAL_JOINTS_H36M17`: 12 limb joints, thorax, head) are therefore
  12 direct + 2 approximate/derived ones. Note that SPIN-style protocols score joints regressed from the SMPL mesh
  (needs the licensed SMPL model), not SMPL's kinematic joints: limb joints differ by a few centimetres.
- 2D: ``keypoints=None`` projects the 3D with ``cam_intrinsics`` (ground-truth 2D, consistent with the 3D, as the
  adaptation papers use); ``keypoints='poses2d'`` converts the release's OpenPose COCO-18 detections with the
  ``coco18`` rules (the same COCO rules as every detector: pelvis = mid-hips, thorax = mid-shoulders, ...) and keeps
  their confidence.
- image size: the pickles do not store it; the principal point decides between 3DPW's 1080 x 1920 portrait and
  1920 x 1080 landscape frames (``image_size=`` overrides).
- ``split``: a ``sequenceFiles`` folder loads ``test`` by default (the split the protocols evaluate), or
  ``train`` / ``validation`` / ``all``; a split folder or a single pickle is that split.

**The npz layout** (``3dpw:<file.npz>``, posefast's own, plain arrays only, read without pickle by
:func:`posefast.data.safe_files.read_npz`):
``positions_3d`` float [N, J, 3] camera-frame metres and ``positions_2d`` float [N, J, 2] pixels (J = 17
``h36m17`` or 16 ``h36m16``); optional ``sequence`` int [N]; ``intrinsics`` [4] / [3, 3] (all samples) or [N, 4]
(else a pinhole is fitted per sequence by least squares, recorded in ``meta``); ``image_size`` [2] or [N, 2]
(default 1080 x 1920).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from posefast.skeleton import get_skeleton
from posefast.geometry import fit_pinhole_intrinsics, project
from posefast.data.pose3d.dataset import PoseDataset
from posefast.data.safe_files import PickledObjectsError, read_npz, read_pickle
from posefast.data.pose3d.keypoint_layouts import convert_keypoints

__all__ = ["PW3D_EVAL_JOINTS_H36M17", "PW3D_IMAGE_SIZE", "PW3D_SPLITS", "load_3dpw", "read_3dpw_sequence"]

# The 14 evaluation joints (all of h36m17 but Pelvis, Spine, Neck/Nose), listed in LSP order: right ankle, knee,
# hip, left hip, knee, ankle, right wrist, elbow, shoulder, left shoulder, elbow, wrist, thorax, head.
PW3D_EVAL_JOINTS_H36M17 = (3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13, 8, 10)
PW3D_IMAGE_SIZE = (1080, 1920)
PW3D_SPLITS = ("train", "validation", "test")


# -- the official pickles ------------------------------------------------------------------------------------------
def read_3dpw_sequence(path) -> dict:
    """The dict of one official 3DPW sequence pickle (Python 2, latin1; a Python 3 re-save reads the same), through
    the restricted unpickler of :mod:`posefast.data.safe_files`."""
    data = read_pickle(path, "3DPW sequence pickle")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict of sequence fields, got {type(data).__name__}")
    return data


def _field(data: dict, key: str, path: Path):
    if key not in data:
        raise ValueError(f"{path}: missing field {key!r}; found {sorted(map(str, data))}")
    return data[key]


def _array(value, path: Path, where: str, shape: tuple, kind: str = "fiub") -> np.ndarray:
    """``shape`` with None for free sizes; numbers only, finite."""
    a = np.asarray(value)
    wrong_size = any(s is not None and s != n for s, n in zip(shape, a.shape))
    if a.dtype.kind not in kind or a.ndim != len(shape) or wrong_size:
        want = "[" + ", ".join("N" if s is None else str(s) for s in shape) + "]"
        raise ValueError(f"{path}: {where}: expected a numeric array {want}, got {a.dtype} {tuple(a.shape)}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{path}: {where}: contains non-finite values")
    return a


def _image_size(K: np.ndarray, path: Path) -> tuple:
    cx, cy = K[0, 2], K[1, 2]
    for w, h in (PW3D_IMAGE_SIZE, PW3D_IMAGE_SIZE[::-1]):
        if abs(2 * cx - w) <= 0.05 * w and abs(2 * cy - h) <= 0.05 * h:
            return (w, h)
    raise ValueError(f"{path}: principal point ({cx:g}, {cy:g}) fits neither a 1080 x 1920 nor a 1920 x 1080 frame; "
                     f"pass image_size=(width, height)")


def _tracks_of_sequence(path: Path, skeleton: str, keypoints, image_size) -> list[dict]:
    data = read_3dpw_sequence(path)
    name = str(data.get("sequence", path.stem))
    joints = _field(data, "jointPositions", path)
    poses2d = _field(data, "poses2d", path)
    valid = _field(data, "campose_valid", path)
    per_actor = all(isinstance(v, (list, tuple)) for v in (joints, poses2d, valid))
    if not (per_actor and len(joints) == len(poses2d) == len(valid) and len(joints) > 0):
        raise ValueError(f"{path}: 'jointPositions', 'poses2d', 'campose_valid': expected one entry per actor, got "
                         f"{type(joints).__name__}/{type(poses2d).__name__}/{type(valid).__name__}")
    cam_poses = _array(_field(data, "cam_poses", path), path, "cam_poses", (None, 4, 4), "f")
    K = _array(_field(data, "cam_intrinsics", path), path, "cam_intrinsics", (3, 3), "f").astype(np.float64)
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"{path}: cam_intrinsics: expected positive focal lengths, got {K[0, 0]:g}, {K[1, 1]:g}")
    cam = np.array([K[0, 0], K[1, 1], K[0, 2], K[1, 2]])
    size = _image_size(K, path) if image_size is None else tuple(image_size)
    N = cam_poses.shape[0]
    R, t = cam_poses[:, :3, :3].astype(np.float64), cam_poses[:, :3, 3].astype(np.float64)
    tracks = []
    for a in range(len(joints)):
        where = f"actor {a}"
        world = _array(joints[a], path, f"jointPositions[{a}]", (N, 72), "f").reshape(N, 24, 3).astype(np.float64)
        p2d = _array(poses2d[a], path, f"poses2d[{a}]", (N, 3, 18), "f").astype(np.float64)
        ok_cam = _array(valid[a], path, f"campose_valid[{a}]", (N,)).astype(bool)
        detected = np.abs(p2d).sum(axis=(1, 2)) > 0
        X = np.einsum("nij,nkj->nki", R, world) + t[:, None, :]
        j3d, _ = convert_keypoints(X, "smpl24", skeleton)
        in_front = (j3d[..., 2] > 0).all(-1)
        keep = ok_cam & detected & in_front
        dropped = {"campose_invalid": int((~ok_cam).sum()), "no_2d_detection": int((ok_cam & ~detected).sum()),
                   "behind_camera": int((ok_cam & detected & ~in_front).sum())}
        j3d = j3d[keep]
        conf = None
        if keypoints is None:
            uv = project(j3d, cam, behind_camera="raise").numpy()
        else:
            xyc = np.moveaxis(p2d[keep], 1, 2)  # [n, 18, 3]
            if ((xyc[..., 2] < 0) | (xyc[..., 2] > 1)).any():
                raise ValueError(f"{path}: poses2d[{a}]: confidences outside [0, 1]")
            uv, conf = convert_keypoints(xyc[..., :2], "coco18", skeleton, confidence=xyc[..., 2])
        tracks.append({"name": f"{name}/{where.replace(' ', '')}", "j3d": j3d, "uv": uv, "conf": conf,
                       "cam": np.broadcast_to(cam, (len(j3d), 4)), "size": np.broadcast_to(size, (len(j3d), 2)),
                       "frames": N, "dropped": dropped})
    return tracks


def _sequence_files(path: Path, split: "str | None") -> tuple[list[Path], str]:
    if path.is_file():
        if split not in (None, "all"):
            raise ValueError(f"split: {path} is one sequence; expected None or 'all', got {split!r}")
        return [path], path.parent.name
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such 3DPW file or folder")
    if any((path / s).is_dir() for s in PW3D_SPLITS):  # the sequenceFiles folder
        split = "test" if split is None else split
        if split not in PW3D_SPLITS + ("all",):
            raise ValueError(f"split: expected one of {PW3D_SPLITS + ('all',)} or None (test), got {split!r}")
        chosen = PW3D_SPLITS if split == "all" else (split,)
        files = sorted(f for s in chosen for f in (path / s).glob("*.pkl"))
    else:  # one split's folder
        if split not in (None, "all", path.name):
            raise ValueError(f"split: {path} holds one split ({path.name}); expected None, 'all' or {path.name!r}, "
                             f"got {split!r}")
        split, files = path.name, sorted(path.glob("*.pkl"))
    if not files:
        raise ValueError(f"{path}: no 3DPW sequence pickles (*.pkl) for split {split!r}")
    return files, split


def _load_official(path: Path, skeleton: str, split, keypoints, image_size) -> PoseDataset:
    files, split_name = _sequence_files(path, split)
    tracks = [t for f in files for t in _tracks_of_sequence(f, skeleton, keypoints, image_size)]
    tracks = [t for t in tracks if len(t["j3d"])]
    if not tracks:
        raise ValueError(f"{path}: no valid frame in {len(files)} sequence file(s)")
    dropped = {k: sum(t["dropped"][k] for t in tracks) for k in tracks[0]["dropped"]}
    total = sum(t["frames"] for t in tracks)
    if any(dropped.values()):
        warnings.warn(f"3dpw:{path}: kept {total - sum(dropped.values())} of {total} frames; dropped {dropped}",
                      stacklevel=3)
    cat = lambda k: np.concatenate([t[k] for t in tracks])  # noqa: E731
    meta = {"source": str(path), "format": "official", "split": split_name,
            "sequence_names": [t["name"] for t in tracks], "dropped": dropped,
            "dropped_per_track": {t["name"]: t["dropped"] for t in tracks},
            "joints_3d": "SMPL-24 jointPositions in each frame's camera, converted with keypoint_layouts 'smpl24'",
            "joints_2d": "projected with cam_intrinsics" if keypoints is None else
            "OpenPose COCO-18 poses2d converted with keypoint_layouts 'coco18'"}
    return PoseDataset(joints_3d=cat("j3d"), joints_2d=cat("uv"),
                       confidence=None if keypoints is None else cat("conf"), camera=cat("cam"),
                       image_size=cat("size"), skeleton=skeleton,
                       sequence=np.concatenate([np.full(len(t["j3d"]), i) for i, t in enumerate(tracks)]),
                       name=f"3dpw:{path}", meta=meta)


# -- posefast's plain-array npz -------------------------------------------------------------------------------------
def _as_intrinsics(v, path: Path, n: int) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    if a.shape == (3, 3):
        a = np.array([a[0, 0], a[1, 1], a[0, 2], a[1, 2]])
    if a.shape == (4,):
        a = np.broadcast_to(a, (n, 4))
    if a.shape != (n, 4) or not np.isfinite(a).all() or (a[:, :2] <= 0).any():
        raise ValueError(f"{path}: intrinsics: expected [4] / [3, 3] / [N, 4] with positive focal lengths, got "
                         f"{np.asarray(v).shape}")
    return a


def _load_npz(path: Path, skeleton, split) -> PoseDataset:
    if split not in (None, "all", "test"):
        raise ValueError(f"split: a 3DPW npz holds one split; expected None, 'all' or 'test', got {split!r}")
    try:
        arrays = read_npz(path)
    except PickledObjectsError as e:
        raise ValueError(f"{e}; the 3DPW npz layout is plain arrays only (the official release: pass its "
                         f"sequenceFiles folder or a .pkl)") from None
    for key in ("positions_3d", "positions_2d"):
        if key not in arrays:
            raise ValueError(f"{path}: missing key {key!r}; found {sorted(arrays)}")
    p3, p2 = arrays["positions_3d"], arrays["positions_2d"]
    for key, a, last in (("positions_3d", p3, 3), ("positions_2d", p2, 2)):
        if a.dtype.kind not in "fiu" or a.ndim != 3 or a.shape[-1] != last or a.shape[1] not in (16, 17) \
                or a.shape[0] == 0:
            raise ValueError(f"{path}: {key}: expected float [N, 17|16, {last}], got {a.dtype} {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{path}: {key}: contains non-finite values")
    if p3.shape[:2] != p2.shape[:2]:
        raise ValueError(f"{path}: 3D {p3.shape} and 2D {p2.shape} disagree in frames or joints")
    if (p3[..., 2] <= 0).any():
        raise ValueError(f"{path}: positions_3d: points behind the camera; expected camera-frame metres")
    N = p3.shape[0]
    seq = arrays.get("sequence", np.zeros(N, dtype=np.int64))
    if seq.shape != (N,) or seq.dtype.kind not in "iu":
        raise ValueError(f"{path}: sequence: expected int [N = {N}], got {seq.dtype} {seq.shape}")
    meta = {"source": str(path), "format": "npz"}
    if "intrinsics" in arrays:
        cam = _as_intrinsics(arrays["intrinsics"], path, N)
    else:
        cam = np.empty((N, 4))
        meta["intrinsics"] = "fitted by least squares; median reprojection error (px) per sequence"
        meta["fit_error_px"] = {}
        for s in np.unique(seq):
            sel = seq == s
            cam[sel] = fit_pinhole_intrinsics(p3[sel], p2[sel]).numpy()
            residual = np.linalg.norm(project(p3[sel], cam[sel], behind_camera="raise").numpy() - p2[sel], axis=-1)
            meta["fit_error_px"][int(s)] = float(np.median(residual))
    size = np.asarray(arrays.get("image_size", PW3D_IMAGE_SIZE))
    if size.shape == (2,):
        size = np.broadcast_to(size, (N, 2))
    if size.shape != (N, 2) or size.dtype.kind not in "iu" or (size <= 0).any():
        raise ValueError(f"{path}: image_size: expected two positive integers (w, h) or [N, 2], got {size!r}")
    ds = PoseDataset(joints_3d=p3, joints_2d=p2, camera=cam, image_size=size,
                     skeleton="h36m17" if p3.shape[1] == 17 else "h36m16", sequence=seq, name=f"3dpw:{path}",
                     meta=meta)
    return ds if skeleton is None else ds.to_skeleton(get_skeleton(skeleton))


def load_3dpw(path, *, skeleton: "str | None" = None, split: "str | None" = None, keypoints: "str | None" = None,
              image_size: "tuple[int, int] | None" = None) -> PoseDataset:
    """Load 3DPW: the official ``sequenceFiles`` (a folder or one ``.pkl``) or a plain-array ``.npz`` (see the
    module docstring).

    Args:
        path: ``sequenceFiles/``, ``sequenceFiles/<split>/``, ``<sequence>.pkl`` or a ``.npz``.
        skeleton: ``h36m17`` (default for the pickles) or ``h36m16``; None keeps an npz's own.
        split: official files only: ``test`` (default for a ``sequenceFiles`` folder), ``train``, ``validation``
            or ``all``.
        keypoints: official files only: None projects the 3D (ground-truth 2D), ``'poses2d'`` reads the release's
            OpenPose detections.
        image_size: official files only: (width, height) for every frame instead of the principal-point rule.
    """
    path = Path(path)
    if path.suffix == ".npz":
        if keypoints is not None or image_size is not None:
            raise ValueError("keypoints/image_size: only for the official 3DPW pickles")
        if not path.is_file():
            raise FileNotFoundError(f"{path}: file not found")
        return _load_npz(path, skeleton, split)
    if keypoints not in (None, "poses2d"):
        raise ValueError(f"keypoints: expected None (project the 3D) or 'poses2d', got {keypoints!r}")
    if image_size is not None:
        wh = np.asarray(image_size)
        if wh.shape != (2,) or wh.dtype.kind not in "iu" or (wh <= 0).any():
            raise ValueError(f"image_size: expected two positive integers (width, height), got {image_size!r}")
    name = get_skeleton("h36m17" if skeleton is None else skeleton).name
    if name not in ("h36m17", "h36m16"):
        raise ValueError(f"skeleton: expected 'h36m17' or 'h36m16', got {skeleton!r}")
    return _load_official(path, name, split, keypoints, image_size)
