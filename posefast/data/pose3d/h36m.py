"""Human3.6M (Ionescu et al., TPAMI 2014) from the VideoPose3D files (Pavllo et al., CVPR 2019).

Files in one directory:
- ``data_3d_h36m.npz``: ``positions_3d`` = {subject 'S1': {action: float [T, 32, 3]}}, world frame (Z up), metres
  (a pickled dict, read by the restricted reader of :mod:`posefast.data.safe_files`, which builds numpy arrays and
  plain containers only).
- ``data_2d_h36m_<keypoints>.npz`` (optional): ``positions_2d`` = {subject: {action: 4 x [T, K, 2 or 3]}},
  pixels, one array per camera in calibration order (a third channel is taken as confidence), and a ``metadata``
  dict. The keypoint layout is read from it (:func:`h36m_keypoint_layout`) and converted to ours with the rules of
  :mod:`posefast.data.pose3d.keypoint_layouts`; a layout it cannot place is refused, never read as Human3.6M order:

  ===================================  =============================================  ===================
  file (VideoPose3D script)            metadata                                       read as
  ===================================  =============================================  ===================
  ``gt`` (prepare_data_h36m.py)        no ``layout_name``; 17 joints, Human3.6M's      ``h36m``
                                       left/right lists
  ``cpn_ft_h36m_dbb``,                 ``layout_name`` ``'h36m'``                      ``h36m``
  ``detectron_ft_h36m`` (generic)
  ``detectron_pt_coco`` (generic)      ``layout_name`` ``'coco'`` (COCO-17)            ``coco``
  ``sh_pt_mpii`` (prepare_..._sh.py)   no ``layout_name``; 16 joints, MPII's lists     ``mpii``
  ``sh_ft_h36m`` (prepare_..._sh.py)   the same metadata; Martinez et al.'s slots      ``sh16_h36m``
  ===================================  =============================================  ===================

  (VideoPose3D: ``data/prepare_data_h36m.py`` line 167, ``data/data_utils.py`` ``suggest_metadata``,
  ``data/prepare_data_2d_h36m_sh.py`` lines 23-24 and 33.) The two Stacked-Hourglass files carry identical metadata,
  so they are told apart by the file name VideoPose3D's script gives them; any other file without ``layout_name``
  needs ``layout=``. Joints a rule computes (the COCO
  pelvis, spine, thorax and head, for instance) are listed in ``meta['derived_joints']``.

The calibration (``h36m_cameras.json``, package data) gives each of the 4 cameras its intrinsics with distortion
and, per subject, the orientation quaternion and centre that map world -> camera. The 32 motion-capture joints are
reduced to ``h36m17`` (then optionally ``h36m16``). Standard protocol: train S1, S5, S6, S7, S8; test S9, S11.
"""
from __future__ import annotations

import json
import re
import warnings
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

import numpy as np

from posefast.skeleton import get_skeleton, h36m17_to_h36m16
from posefast.geometry import project, world_to_camera
from posefast.data.pose3d.dataset import PoseDataset
from posefast.data.pose3d.keypoint_layouts import LAYOUT_JOINTS, convert_keypoints, derived_mask, describe_conversion
from posefast.data.safe_files import read_npz

__all__ = ["H36M_TRAIN_SUBJECTS", "H36M_TEST_SUBJECTS", "H36M32_TO_H36M17", "h36m_cameras", "h36m_world_to_camera",
           "h36m_keypoint_layout", "load_h36m"]

H36M_TRAIN_SUBJECTS = (1, 5, 6, 7, 8)
H36M_TEST_SUBJECTS = (9, 11)
# the 17 of the 32 mocap joints used by VideoPose3D, in h36m17 order (the other 15 are static or duplicates)
H36M32_TO_H36M17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)


@lru_cache(maxsize=1)
def _calibration() -> dict:
    text = resources.files(__package__).joinpath("h36m_cameras.json").read_text()
    return json.loads(text)


def h36m_cameras(subject: int) -> list[dict]:
    """The 4 calibrated cameras of a subject (int id, e.g. 9), each a dict of numpy arrays:

    ``intrinsics`` float64 [9] (fx, fy, cx, cy, k1, k2, k3, p1, p2, pixels), ``image_size`` int [2] (w, h),
    ``orientation`` float64 [4] quaternion (w, x, y, z), ``translation`` float64 [3] camera centre (metres, world).
    """
    cal = _calibration()
    key = f"S{int(subject)}"
    if key not in cal["extrinsics"]:
        raise ValueError(f"subject: no Human3.6M calibration for {key}; available {list(cal['extrinsics'])}")
    out = []
    for intr, extr in zip(cal["intrinsics"], cal["extrinsics"][key]):
        out.append({
            "id": intr["id"],
            "intrinsics": np.array(intr["focal_length"] + intr["center"] + intr["radial_distortion"]
                                   + intr["tangential_distortion"], dtype=np.float64),
            "image_size": np.array([intr["res_w"], intr["res_h"]], dtype=np.int64),
            "orientation": np.array(extr["orientation"], dtype=np.float64),
            "translation": np.array(extr["translation"], dtype=np.float64) / 1000.0,  # mm -> m
        })
    return out


def h36m_world_to_camera(positions_world, subject: int, view: int) -> np.ndarray:
    """[..., J, 3] world metres -> [..., J, 3] camera frame of camera ``view`` (0..3) of ``subject``."""
    cams = h36m_cameras(subject)
    if not 0 <= view < len(cams):
        raise ValueError(f"view: expected 0..{len(cams) - 1}, got {view}")
    return world_to_camera(positions_world, cams[view]["orientation"], cams[view]["translation"]).numpy()


def _subject_id(name: str, source: str) -> int:
    m = re.fullmatch(r"S(\d+)", str(name))
    if not m:
        raise ValueError(f"{source}: subject key {name!r} is not of the form 'S<number>'")
    return int(m.group(1))


def _load_pickled_dict(path: Path, key: str) -> tuple[dict, dict]:
    arrays = read_npz(path, objects=True)  # the pickled dicts through the restricted unpickler, nothing else
    if key not in arrays:
        raise ValueError(f"{path}: missing key {key!r}; found {sorted(arrays)}")
    value, meta = arrays[key], arrays.get("metadata", np.array({}, dtype=object))
    value = value.item() if value.dtype.kind == "O" and value.shape == () else value
    meta = meta.item() if meta.dtype.kind == "O" and meta.shape == () else {}
    if not isinstance(value, dict):
        raise ValueError(f"{path}: key {key!r}: expected a dict {{subject: {{action: array}}}}, got "
                         f"{type(value).__name__}")
    return value, meta if isinstance(meta, dict) else {}


# left / right keypoint lists VideoPose3D writes into a 2D file's metadata (data/data_utils.py; the ground-truth
# file's come from its 17-joint skeleton and equal the h36m ones)
_SYMMETRY = {"h36m": ([4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]),
             "mpii": ([3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12])}
# the two Stacked-Hourglass files of VideoPose3D's prepare_data_2d_h36m_sh.py (same metadata, different models)
_SH_FILES = {"sh_pt_mpii": "mpii", "sh_ft_h36m": "sh16_h36m"}
_VP3D_LAYOUTS = {"h36m": "h36m", "coco": "coco", "mpii": "mpii"}


def _symmetry(meta: dict):
    try:
        left, right = meta["keypoints_symmetry"]
        return [int(i) for i in left], [int(i) for i in right]
    except (KeyError, TypeError, ValueError):
        return None


def h36m_keypoint_layout(metadata: dict, keypoints: str, num_joints: int, source: str = "<2D file>") -> str:
    """The :mod:`~posefast.data.pose3d.keypoint_layouts` layout of a Human3.6M 2D file (see the module docstring).

    Raises ``ValueError`` naming the layout (or the missing ``layout_name``) when the file cannot be placed.
    """
    name = metadata.get("layout_name")
    if name is not None:
        layout = _VP3D_LAYOUTS.get(str(name))
        if layout is None:
            raise ValueError(f"{source}: keypoint layout {name!r} (metadata['layout_name']) has no conversion to "
                             f"Human3.6M's joints; supported: {sorted(_VP3D_LAYOUTS)}")
    else:
        sym = _symmetry(metadata)
        if num_joints == 17 and sym == _SYMMETRY["h36m"]:
            layout = "h36m"  # prepare_data_h36m.py's ground-truth file
        elif num_joints == 16 and sym == _SYMMETRY["mpii"] and keypoints in _SH_FILES:
            layout = _SH_FILES[keypoints]
        else:
            raise ValueError(
                f"{source}: metadata has no 'layout_name' and its {num_joints} joints (left/right lists {sym}) match "
                f"no file VideoPose3D writes; pass layout= one of {sorted(LAYOUT_JOINTS)} (16-joint Stacked-Hourglass "
                f"files: 'mpii' for a model trained on MPII, 'sh16_h36m' for one fine-tuned on Human3.6M)")
    if len(LAYOUT_JOINTS[layout]) != num_joints:
        raise ValueError(f"{source}: layout {layout!r} has {len(LAYOUT_JOINTS[layout])} joints, the arrays have "
                         f"{num_joints}")
    return layout


def _check_array(a, path: Path, where: str, shape_desc: str, ndim: int, last: Iterable[int]):
    a = np.asarray(a)
    last = tuple(last)
    if a.dtype.kind not in "fiu" or a.ndim != ndim or a.shape[-1] not in last or a.shape[0] == 0:
        raise ValueError(f"{path}: {where}: expected {shape_desc}, got {a.dtype} {tuple(a.shape)}")
    if not np.isfinite(a).all():
        raise ValueError(f"{path}: {where}: contains non-finite values")
    return a.astype(np.float64)


def _selected_subjects(split, subjects) -> "list[int] | None":
    """The subject ids ``split`` / ``subjects`` ask for (None: every calibrated subject)."""
    if subjects is not None:
        return sorted(set(int(s) for s in subjects))
    if split in ("train", "test"):
        return list(H36M_TRAIN_SUBJECTS if split == "train" else H36M_TEST_SUBJECTS)
    if split in (None, "all"):
        return None
    raise ValueError(f"split: expected 'train', 'test', 'all' or None, got {split!r}")


def _world_poses(pos3d: dict, skey: str, action: str, path3d: Path) -> np.ndarray:
    """One sequence's world-frame 3D poses ``[T, 17, 3]`` (a 32-joint file reduced to the 17 joints)."""
    world = _check_array(pos3d[skey][action], path3d, f"positions_3d[{skey!r}][{action!r}]",
                         "float [T, 32 or 17, 3] metres", 3, (3,))
    if world.shape[1] == 32:
        return world[:, H36M32_TO_H36M17]
    if world.shape[1] != 17:
        raise ValueError(f"{path3d}: positions_3d[{skey!r}][{action!r}]: expected 32 or 17 joints, "
                         f"got {world.shape[1]}")
    return world


def _sequence_views_2d(pos2d: dict, skey: str, action: str, n_cameras: int, path2d: Path) -> list:
    """A sequence's 2D arrays, one per camera, as the 2D file holds them."""
    if skey not in pos2d or action not in pos2d[skey]:
        raise ValueError(f"{path2d}: positions_2d has no entry for {skey!r} / {action!r}")
    views2d = list(pos2d[skey][action])
    if len(views2d) != n_cameras:
        raise ValueError(f"{path2d}: positions_2d[{skey!r}][{action!r}]: expected {n_cameras} "
                         f"cameras, got {len(views2d)}")
    return views2d


def _view_2d(view, where: str, path2d: Path, meta2d: dict, layout2d, keypoints: str, n_frames: int, skeleton: str):
    """One camera's detections of one sequence, checked and converted to ``skeleton``: ``(uv, confidence or
    None, layout)``; the layout is read from the file's metadata when ``layout2d`` is None."""
    if view is None:  # VideoPose3D's generic script leaves None for a missing video
        raise ValueError(f"{path2d}: positions_2d{where}: no detections for this camera")
    a = _check_array(view, path2d, f"positions_2d{where}", "float [T, K, 2 or 3] pixels", 3, (2, 3))
    n_expected = meta2d.get("num_joints")
    if n_expected is not None and a.shape[1] != int(n_expected):
        raise ValueError(f"{path2d}: metadata says {n_expected} joints, arrays have {a.shape[1]}")
    if layout2d is None:
        layout2d = h36m_keypoint_layout(meta2d, keypoints, a.shape[1], str(path2d))
    elif layout2d not in LAYOUT_JOINTS or len(LAYOUT_JOINTS[layout2d]) != a.shape[1]:
        expect = len(LAYOUT_JOINTS[layout2d]) if layout2d in LAYOUT_JOINTS else "?"
        raise ValueError(f"layout: {layout2d!r} ({expect} joints) does not fit {path2d}'s "
                         f"{a.shape[1]} joints; known layouts {sorted(LAYOUT_JOINTS)}")
    if a.shape[0] < n_frames:
        raise ValueError(f"{path2d}: {where}: {a.shape[0]} 2D frames for {n_frames} 3D frames")
    if a.shape[0] > n_frames:
        warnings.warn(f"{path2d}: {where}: dropping the last {a.shape[0] - n_frames} 2D frames to match the "
                      f"{n_frames} 3D frames", stacklevel=3)
        a = a[:n_frames]
    uv, conf = convert_keypoints(a[..., :2], layout2d, skeleton, confidence=a[..., 2] if a.shape[-1] == 3 else None)
    if conf is not None and ((conf < 0) | (conf > 1)).any():
        raise ValueError(f"{path2d}: {where}: the third channel is not a confidence in [0, 1] "
                         f"(range {a[..., 2].min():g}..{a[..., 2].max():g})")
    return uv, conf, layout2d


def _assemble(directory: Path, out: dict, seq_names: list, skel, keypoints, stride: int, layout2d,
              path2d) -> PoseDataset:
    """The per-(sequence, camera) arrays of ``out`` as one :class:`PoseDataset` with its metadata."""
    has_conf = [c is not None for c in out["conf"]]
    if any(has_conf) and not all(has_conf):
        raise ValueError(f"{path2d}: some arrays carry confidence and some do not")
    meta = {"source": str(directory), "keypoints": keypoints or "projected", "stride": stride,
            "sequence_names": seq_names}
    if layout2d is not None:
        meta["layout"] = layout2d
        meta["derived_joints"] = [j for j, d in zip(skel.joint_names, derived_mask(layout2d, skel.name)) if d]
        meta["conversion"] = describe_conversion(layout2d, skel.name)
    return PoseDataset(
        joints_3d=np.concatenate(out["j3d"]), joints_2d=np.concatenate(out["j2d"]),
        confidence=np.concatenate(out["conf"]) if all(has_conf) else None,
        camera=np.concatenate(out["cam"]), image_size=np.concatenate(out["size"]), skeleton=skel,
        subject=np.concatenate(out["subject"]), sequence=np.concatenate(out["sequence"]),
        view=np.concatenate(out["view"]), name=f"h36m:{directory}",
        meta=meta,
    )


def load_h36m(directory, *, keypoints: "str | None" = None, split: "str | None" = None,
              subjects: "Iterable[int] | None" = None, actions: "Iterable[str] | None" = None, stride: int = 1,
              skeleton: str = "h36m17", layout: "str | None" = None) -> PoseDataset:
    """Load Human3.6M as camera-frame samples: every frame x every camera is one sample.

    Args:
        directory: folder holding ``data_3d_h36m.npz`` (and ``data_2d_h36m_<keypoints>.npz`` if used).
        keypoints: None projects the 3D with the calibrated cameras (distortion included); a name such as
            ``"gt"`` or ``"cpn_ft_h36m_dbb"`` reads ``data_2d_h36m_<name>.npz`` instead.
        split: ``"train"`` (S1, S5, S6, S7, S8), ``"test"`` (S9, S11) or None (every calibrated subject).
        subjects: explicit subject ids (overrides ``split``).
        actions: keep only actions whose name before the first space matches one of these (e.g. ``"Walking"``).
        stride: keep every ``stride``-th frame of each sequence.
        skeleton: ``"h36m17"`` or ``"h36m16"``.
        layout: the 2D file's keypoint layout (a key of ``keypoint_layouts.LAYOUT_JOINTS``); None reads it from the
            file's metadata (see the module docstring).

    Returns a :class:`PoseDataset` with ``subject`` (e.g. 9), ``sequence`` (index of the (subject, action)
    pair in sorted order) and ``view`` (camera 0..3). When a 2D file has a few more frames than the 3D (known
    for some detector files) the extra 2D frames are dropped with a warning; fewer 2D frames is an error.
    """
    directory = Path(directory)
    skel = get_skeleton(skeleton)
    if skel.name not in ("h36m17", "h36m16"):
        raise ValueError(f"skeleton: expected 'h36m17' or 'h36m16', got {skeleton!r}")
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride: expected a positive integer, got {stride!r}")
    wanted = _selected_subjects(split, subjects)
    if layout is not None and keypoints is None:
        raise ValueError("layout: only applies to a 2D file (pass keypoints= as well)")

    path3d = directory / "data_3d_h36m.npz"
    pos3d, _ = _load_pickled_dict(path3d, "positions_3d")
    pos2d = meta2d = path2d = None
    layout2d = layout
    if keypoints is not None:
        path2d = directory / f"data_2d_h36m_{keypoints}.npz"
        pos2d, meta2d = _load_pickled_dict(path2d, "positions_2d")

    subj_ids = {_subject_id(k, str(path3d)): k for k in pos3d}
    calibrated = {_subject_id(k, "h36m_cameras.json") for k in _calibration()["extrinsics"]}
    if wanted is None:
        wanted = sorted(set(subj_ids) & calibrated)
    missing = [s for s in wanted if s not in subj_ids]
    if missing:
        raise ValueError(f"{path3d}: no data for subject(s) {['S%d' % s for s in missing]}")
    action_filter = None if actions is None else set(actions)

    out = {k: [] for k in ("j3d", "j2d", "conf", "cam", "size", "subject", "sequence", "view")}
    seq_names = []
    for s in wanted:
        cams = h36m_cameras(s)
        skey = subj_ids[s]
        for action in sorted(pos3d[skey]):
            if action_filter is not None and action.split(" ")[0] not in action_filter:
                continue
            world = _world_poses(pos3d, skey, action, path3d)
            views2d = None if pos2d is None else _sequence_views_2d(pos2d, skey, action, len(cams), path2d)
            seq_id = len(seq_names)
            seq_names.append(f"{skey}/{action}")
            for v, cam in enumerate(cams):
                j3d = world_to_camera(world, cam["orientation"], cam["translation"]).numpy()
                conf = None
                if views2d is not None:
                    uv, conf, layout2d = _view_2d(views2d[v], f"[{skey!r}][{action!r}][{v}]", path2d, meta2d,
                                                  layout2d, keypoints, world.shape[0], skel.name)
                else:
                    uv = project(j3d, cam["intrinsics"], behind_camera="raise").numpy()
                if skel.name == "h36m16":
                    j3d = h36m17_to_h36m16(j3d)
                    if views2d is None:
                        uv = h36m17_to_h36m16(uv)
                sl = slice(None, None, stride)
                n = len(j3d[sl])
                out["j3d"].append(j3d[sl])
                out["j2d"].append(uv[sl])
                out["conf"].append(None if conf is None else conf[sl])
                out["cam"].append(np.broadcast_to(cam["intrinsics"], (n, 9)))
                out["size"].append(np.broadcast_to(cam["image_size"], (n, 2)))
                out["subject"].append(np.full(n, s))
                out["sequence"].append(np.full(n, seq_id))
                out["view"].append(np.full(n, v))
    if not out["j3d"]:
        raise ValueError(f"{directory}: no sequence selected (subjects {wanted}, actions {actions})")
    return _assemble(directory, out, seq_names, skel, keypoints, stride, layout2d, path2d)
