"""MPI-INF-3DHP test set (Mehta et al., 3DV 2017) in the three layouts the adaptation papers read.

The test set's own files (``mpi_inf_3dhp_test_set/TS1..TS6/annot_data.mat`` and the README.txt shipped with them)
hold, per frame, ``annot2`` (real 2D pixels), ``annot3`` (camera-frame mm), ``univ_annot3`` and ``valid_frame``.
The README says ``univ_annot3`` is "scaled to the height of the universal skeleton used by Human3.6m" (lines 11-13),
and gives the number of valid frames of each sequence in its scene-setting formula (lines 20-24: TS1 603, TS2 540,
TS3 505, TS4 553, TS5 276, TS6 452; 2929 in all, :data:`MPI3DHP_TEST_VALID_FRAMES`). The evaluation code
(``test_util/mpii_test_predictions.m``) scores the valid frames on ``univ_annot3`` relative to the pelvis.

Layouts (detected from the file's keys):

1. SPIN's test file (``mpi_inf_3dhp_valid.npz``, written by SPIN's ``datasets/preprocess/mpi_inf_3dhp.py``
   ``test_data``, lines 164-228; Kolotouros et al., ICCV 2019): ``imgname`` [N] (``mpi_inf_3dhp_test_set/TS<k>/
   imageSequence/img_<frame>.jpg``), ``part`` [N, 24, 3] (``annot2`` pixels + visibility), ``S`` [N, 24, 4]
   (``univ_annot3`` / 1000 minus the pelvis, + a filled flag), ``center``, ``scale``. It keeps a valid frame only
   when all 17 joints lie in the image (line 207); every frame names its sequence, so each gets its exact camera
   and image size.
2. PoseAug's ``test_3dhp.npz`` (Gong et al., CVPR 2021; ``data_extra/prepare_data_3dhp.py``): SPIN's file reordered
   to ``h36m16`` (line 63), ``pose3d`` [N, 16, 3] (SPIN's ``S``) and ``pose2d`` [N, 16, 2] in normalised screen
   coordinates (image size from the sequence in ``imgname``, line 43), invisible joints multiplied by 0; it reads
   exactly 2929 frames (``range(2929)``, line 36). The file keeps no
   image names, so the studio / outdoor boundary is not in it. It is established from the README: SPIN's file has
   2929 frames, the sum of all six valid-frame counts, so its in-image filter dropped none and the frames run TS1..TS6
   with exactly those counts: the first :data:`POSEAUG_STUDIO_FRAMES` = 603 + 540 + 505 + 553 = 2201 are TS1-4
   (2048 x 2048), the remaining 728 TS5-6 (1920 x 1080). A file of another length has no known boundary and needs
   ``studio_frames=``.
3. A per-sequence file ``data_3dhp_gt_test.npz`` (as AdaptPose, Gholami et al., CVPR 2022, reads it):
   ``positions_3d`` = {'TS1'..'TS6': float [T, J, 3]} in ``units`` and ``positions_2d`` = {...: [T, J, 2]} pixels,
   J = 17 (``h36m17``) or 16 (``h36m16``), optional ``valid`` = {'TSk': bool [T]}; a pickled dict, read by the
   restricted reader of :mod:`posefast.data.safe_files` (numpy arrays and plain containers only).

Joints. The test set's 17 joints are Human3.6M's: head top, neck, head, spine and pelvis correspond to Human3.6M's
head, thorax, neck/nose, spine and pelvis (SPIN files them under those names: :data:`SPIN24_TO_H36M17`).

3D and 2D are not the same body. The 3D of layouts 1 and 2 is ``univ_annot3``: the subject's pose rescaled to
Human3.6M's universal skeleton, relative to the pelvis. The 2D is the real ``annot2``. A :class:`PoseDataset` holds
camera-frame 3D, so the root is placed by least-squares reprojection of the rescaled body onto the real 2D
(:func:`~posefast.data.cameras.solve_root_translation`): the reprojection fits, but the placed body is the
universal-size one, so its depth is the true depth times (universal size / subject size), not the measured one.
Root-relative errors (MPJPE, PCK) are unaffected; anything that reads absolute depth is not reading the capture.
Root-relative 3D is never returned as camera-frame 3D.

Test cameras (the test set's ``test_util/camera_calibration/ts1-4cameras.calib`` and ``ts5-6cameras.calib``):
focal length and centre offset in mm on the stated sensor, turned into pixels below. The calibration also lists a
pixel aspect (1.00044 studio, 0.99324 outdoor) and, for TS5-6, OpenCV distortion (k1 = -0.277, k2 = 0.131, ...);
like PoseDA and AdaptPose we use a square-pixel pinhole without distortion, since whether ``annot2`` lies in the
distorted image cannot be checked without the data.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from posefast.skeleton import get_skeleton
from posefast.geometry import denormalize_screen, solve_root_translation
from posefast.data.pose3d.dataset import PoseDataset
from posefast.data.safe_files import read_npz

__all__ = ["MPI3DHP_TEST_CAMERAS", "MPI3DHP_SEQUENCE_CAMERA", "MPI3DHP_TEST_VALID_FRAMES", "POSEAUG_STUDIO_FRAMES",
           "SPIN24_TO_H36M17", "load_3dhp"]


def _calib_pinhole(focal_mm: float, sensor_mm: tuple, center_offset_mm: tuple, size: tuple):
    """(fx, fy, cx, cy) pixels from a ``.calib`` entry: the offset moves the centre right / down from mid-image."""
    (w, h), (sw, sh) = size, sensor_mm
    f = focal_mm * w / sw
    return (f, f, w / 2 + center_offset_mm[0] * w / sw, h / 2 + center_offset_mm[1] * h / sh), size


# name -> ((fx, fy, cx, cy) pixels, (width, height)); from ts1-4cameras.calib and ts5-6cameras.calib
MPI3DHP_TEST_CAMERAS = {
    "studio": _calib_pinhole(7.32506, (10.0, 10.0), (-0.0322884, 0.0929296), (2048, 2048)),
    "outdoor": _calib_pinhole(8.770747185, (10.0, 5.625), (-0.104908645, 0.104899704), (1920, 1080)),
}
MPI3DHP_SEQUENCE_CAMERA = {"TS1": "studio", "TS2": "studio", "TS3": "studio", "TS4": "studio",
                           "TS5": "outdoor", "TS6": "outdoor"}
# valid frames per sequence, from the test set's README.txt (see the module docstring)
MPI3DHP_TEST_VALID_FRAMES = {"TS1": 603, "TS2": 540, "TS3": 505, "TS4": 553, "TS5": 276, "TS6": 452}
POSEAUG_STUDIO_FRAMES = sum(MPI3DHP_TEST_VALID_FRAMES[f"TS{k}"] for k in (1, 2, 3, 4))
_FULL_TEST_FRAMES = sum(MPI3DHP_TEST_VALID_FRAMES.values())
# SPIN's 24 slots (constants.py: 0-5 right/left leg, 6-11 right/left arm, 12 neck (LSP), 13 top of head (LSP),
# 14 pelvis (MPII), 15 thorax (MPII), 16 spine (H36M), 17 jaw (H36M), 18 head (H36M)) that test_data fills with the
# test set's joints, in h36m17 order: pelvis, legs, spine, neck -> Thorax, head -> Neck/Nose, head top -> Head, arms.
# Without its joint 9 this is PoseAug's reorder [14, 2, 1, 0, 3, 4, 5, 16, 12, 18, 9, 10, 11, 8, 7, 6].
SPIN24_TO_H36M17 = (14, 2, 1, 0, 3, 4, 5, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6)
_SPIN_IMGNAME = re.compile(r"(?:^|/)TS([1-6])/imageSequence/img_\d+\.jpg$")


class _Arrays(dict):
    """The arrays of an npz file (read whole by :func:`~posefast.data.safe_files.read_npz`), with ``files``."""

    @property
    def files(self) -> list[str]:
        return list(self)


def _open(path: Path) -> _Arrays:
    # object arrays (the per-sequence layout's dicts) through the restricted unpickler; the other layouts refuse
    # them where they read a key (an object array is not the float array they expect)
    return _Arrays(read_npz(path, objects=True))


def _get(npz, key: str, path: Path, item: bool = False):
    value = npz[key]
    if not item:
        return value
    if value.shape != ():
        raise ValueError(f"{path}: key {key!r}: expected a pickled dict, got an array of shape {value.shape}")
    return value.item()


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


def _cameras_of_sequences(seq: np.ndarray):
    return _camera_arrays([MPI3DHP_SEQUENCE_CAMERA[f"TS{int(k)}"] for k in seq])


def _check_units(j3d: np.ndarray, units: str, path: Path) -> np.ndarray:
    if units not in ("mm", "m"):
        raise ValueError(f"units: expected 'mm' or 'm', got {units!r}")
    typical = float(np.median(np.abs(j3d - j3d[:, :1])))  # root-relative spread: same test for placed or not
    if units == "mm" and typical < 5:
        raise ValueError(f"{path}: median joint offset from the pelvis is {typical:.3g}, which looks like metres; "
                         f"pass units='m'")
    if units == "m" and typical > 5:
        raise ValueError(f"{path}: median joint offset from the pelvis is {typical:.3g}, which looks like "
                         f"millimetres; pass units='mm'")
    return j3d / 1000.0 if units == "mm" else j3d


def _camera_frame(j3d, uv, cam, weights, path: Path, meta: dict) -> np.ndarray:
    """Camera-frame metres: root-relative poses placed by reprojection, absolute ones checked to face the camera."""
    if np.allclose(j3d[:, 0], 0.0, atol=1e-6):
        j3d = j3d + solve_root_translation(j3d, uv, cam, weights=weights).numpy()[:, None, :]
        meta["root"] = ("root-relative in the file; placed by least-squares reprojection onto the 2D (a body of "
                        "univ_annot3's universal size, see posefast.data.pose3d.mpi3dhp)")
    else:
        meta["root"] = "camera frame as stored"
    behind = np.flatnonzero((j3d[..., 2] <= 0).any(-1))
    if behind.size:
        raise ValueError(f"{path}: {behind.size} frame(s) (first {int(behind[0])}) have joints at or behind the camera "
                         f"(z <= 0 m); expected camera-frame 3D or root-relative 3D that reprojection can place")
    return j3d


def _load_spin(npz, path: Path) -> PoseDataset:
    names = np.asarray(_get(npz, "imgname", path))
    part = _checked(_get(npz, "part", path), path, "part", "float [N, 24, 3] pixels + visibility", 3, 24)
    S = _checked(_get(npz, "S", path), path, "S", "float [N, 24, 4] metres + flag", 4, 24)
    N = part.shape[0]
    if names.shape != (N,) or S.shape[0] != N:
        raise ValueError(f"{path}: 'imgname' {names.shape}, 'part' {part.shape} and 'S' {S.shape} disagree in frames")
    seq = np.empty(N, dtype=np.int64)
    for i, name in enumerate(names):
        m = _SPIN_IMGNAME.search(str(name).replace("\\", "/"))
        if m is None:
            raise ValueError(f"{path}: imgname[{i}] = {str(name)!r} is not a test-set image "
                             f"('.../TS<1-6>/imageSequence/img_<frame>.jpg')")
        seq[i] = int(m.group(1))
    idx = list(SPIN24_TO_H36M17)
    if (S[:, idx, 3] != 1).any() or ((part[:, idx, 2] != 0) & (part[:, idx, 2] != 1)).any():
        raise ValueError(f"{path}: the 17 test-set slots of 'S' / 'part' are not all filled (flag 1, visibility 0/1); "
                         f"not a SPIN test-set file")
    cam, size = _cameras_of_sequences(seq)
    uv, visible = part[:, idx, :2], part[:, idx, 2]
    meta = {"source": str(path), "format": "spin", "sequence_names": [f"TS{k}" for k in range(1, 7)],
            "3d": "univ_annot3 (rescaled to Human3.6M's universal skeleton)",
            "2d": "annot2 (real image positions)"}
    j3d = _camera_frame(S[:, idx, :3], uv, cam, visible, path, meta)
    return PoseDataset(joints_3d=j3d, joints_2d=uv, camera=cam, image_size=size, skeleton="h36m17",
                       confidence=visible.astype(np.float32), subject=seq, sequence=seq, name=f"3dhp:{path}",
                       meta=meta)


def _load_poseaug(npz, path: Path, studio_frames: "int | None") -> PoseDataset:
    j3d = _checked(_get(npz, "pose3d", path), path, "pose3d", "float [N, 16, 3] metres (h36m16)", 3, 16)
    xy = _checked(_get(npz, "pose2d", path), path, "pose2d", "float [N, 16, 2] normalised screen (h36m16)", 2, 16)
    N = j3d.shape[0]
    if xy.shape[0] != N:
        raise ValueError(f"{path}: 'pose3d' has {N} frames but 'pose2d' has {xy.shape[0]}")
    meta = {"source": str(path), "format": "poseaug", "3d": "univ_annot3 (rescaled to Human3.6M's universal "
            "skeleton)", "2d": "annot2 (real image positions)"}
    seq = None
    if studio_frames is None:
        if N != _FULL_TEST_FRAMES:
            raise ValueError(
                f"{path}: {N} frames; the studio/outdoor boundary is known only for the full test set of "
                f"{_FULL_TEST_FRAMES} frames (first {POSEAUG_STUDIO_FRAMES} studio). Pass studio_frames=, or load "
                f"SPIN's mpi_inf_3dhp_valid.npz, whose image names give every frame's sequence")
        seq = np.repeat(np.arange(1, 7), [MPI3DHP_TEST_VALID_FRAMES[f"TS{k}"] for k in range(1, 7)])
        studio_frames = POSEAUG_STUDIO_FRAMES
        meta["sequence_names"] = [f"TS{k}" for k in range(1, 7)]
        meta["studio_frames"] = f"{studio_frames} (TS1-4 valid frames, test set README)"
    else:
        if isinstance(studio_frames, bool) or not isinstance(studio_frames, (int, np.integer)) \
                or not 0 <= studio_frames <= N:
            raise ValueError(f"studio_frames: expected an integer in 0..{N}, got {studio_frames!r}")
        meta["studio_frames"] = f"{int(studio_frames)} (given)"
    cam, size = _camera_arrays(["studio"] * int(studio_frames) + ["outdoor"] * (N - int(studio_frames)))
    visible = ~np.all(xy == 0.0, axis=-1)                  # PoseAug multiplied invisible joints by 0
    uv = denormalize_screen(xy, size[:, 0], size[:, 1]).numpy()
    j3d = _camera_frame(j3d, uv, cam, visible.astype(np.float64), path, meta)
    return PoseDataset(joints_3d=j3d, joints_2d=uv, camera=cam, image_size=size, skeleton="h36m16",
                       confidence=visible.astype(np.float32), subject=seq, sequence=seq, name=f"3dhp:{path}",
                       meta=meta)


def _load_sequences(npz, path: Path, units: str) -> PoseDataset:
    pos3d = _get(npz, "positions_3d", path, item=True)
    pos2d = _get(npz, "positions_2d", path, item=True)
    valid = _get(npz, "valid", path, item=True) if "valid" in npz.files else None
    if not isinstance(pos3d, dict) or not isinstance(pos2d, dict) or not pos3d:
        raise ValueError(f"{path}: 'positions_3d'/'positions_2d': expected non-empty dicts {{'TS1': array}}")
    if sorted(pos3d) != sorted(pos2d):
        raise ValueError(f"{path}: sequences differ between positions_3d {sorted(pos3d)} and positions_2d "
                         f"{sorted(pos2d)}")
    parts = {k: [] for k in ("j3d", "uv", "seq")}
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
        parts["j3d"].append(a3)
        parts["uv"].append(a2)
        parts["seq"].append(np.full(len(a3), int(name[2:])))
    seq = np.concatenate(parts["seq"])
    cam, size = _cameras_of_sequences(seq)
    uv = np.concatenate(parts["uv"])
    meta = {"source": str(path), "format": "sequences", "units": units}
    j3d = _camera_frame(_check_units(np.concatenate(parts["j3d"]), units, path), uv, cam, None, path, meta)
    return PoseDataset(joints_3d=j3d, joints_2d=uv, camera=cam, image_size=size,
                       skeleton="h36m17" if J == 17 else "h36m16", subject=seq, sequence=seq, name=f"3dhp:{path}",
                       meta=meta)


def load_3dhp(path, *, skeleton: "str | None" = None, units: str = "mm", studio_frames: "int | None" = None,
              split: "str | None" = None) -> PoseDataset:
    """Load an MPI-INF-3DHP test file (layout detected from its keys; see the module docstring).

    Args:
        path: SPIN's ``mpi_inf_3dhp_valid.npz``, PoseAug's ``test_3dhp.npz`` or ``data_3dhp_gt_test.npz``.
        skeleton: convert to this layout (``h36m17``/``h36m16``); None keeps the file's (SPIN's file is ``h36m17``).
        units: 3D length unit of the per-sequence file ('mm' or 'm'; the other two are metres).
        studio_frames: PoseAug's file only: number of leading TS1-4 frames. None takes the test set's 2201, and
            refuses a file that is not the full 2929-frame test set.
        split: only None, 'all' or 'test' (these files are the test set).

    Subject and sequence ids are the TS numbers 1..6 wherever the file determines them. The 3D is always camera-frame
    (root-relative files are placed by reprojection; see the module docstring for what that means with univ_annot3).
    """
    if split not in (None, "all", "test"):
        raise ValueError(f"split: the 3DHP files hold the test set only; expected None, 'all' or 'test', got {split!r}")
    path = Path(path)
    npz = _open(path)
    keys = set(npz.files)
    if {"imgname", "part", "S"} <= keys:
        ds = _load_spin(npz, path)
    elif {"pose3d", "pose2d"} <= keys:
        ds = _load_poseaug(npz, path, studio_frames)
    elif {"positions_3d", "positions_2d"} <= keys:
        ds = _load_sequences(npz, path, units)
    else:
        raise ValueError(f"{path}: expected keys 'imgname'+'part'+'S' (SPIN), 'pose3d'+'pose2d' (PoseAug) or "
                         f"'positions_3d'+'positions_2d' (per sequence), found {sorted(keys)}")
    if studio_frames is not None and ds.meta["format"] != "poseaug":
        raise ValueError(f"studio_frames: only for PoseAug's file; {path} names each frame's sequence")
    return ds if skeleton is None else ds.to_skeleton(get_skeleton(skeleton))
