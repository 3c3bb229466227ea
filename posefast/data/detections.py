"""Users' own 2D detections, ready for a lifter: read, convert to the lifter's skeleton, fill what is missing.

Inputs (:func:`read_detections`):

``*.json`` (COCO keypoints)
    a COCO results list ``[{"image_id", "keypoints": [x1, y1, s1, ... x17, y17, s17], "score"}, ...]`` as detectors
    write it (``s`` is the keypoint's score), or a COCO annotation file ``{"images", "annotations", "categories"}``
    (``s`` is the visibility flag: 0 = not labelled). Image sizes come from ``images[].width/height`` where present.
a folder of OpenPose ``*.json``
    one file per frame, sorted by name, ``{"people": [{"pose_keypoints_2d": [...]}]}`` with 25 keypoints (BODY_25)
    or 18 (OpenPose's COCO model); every person of every file is one entry, undetected keypoints are ``0, 0, 0``.
``*.npz``
    ``joints_2d [N, J, 2]`` in pixels, optional ``confidence [N, J]`` and ``image_size [N, 2]`` or ``[2]``; in the
    lifter's own layout, or in the one a ``skeleton`` key (``h36m17``/``h36m16``, as a pose archive stores it) or a
    ``layout`` key (``coco``, ``coco18``, ``body25``, ``mpii``, ...) names.
a posefast pose archive or data spec
    read by :func:`detections_from_dataset` from the :class:`~posefast.data.PoseDataset` the loaders return (the
    command line loads it as ``python -m posefast.evaluate --data`` does): its 2D joints, per-sample image sizes
    and confidences, already converted to the lifter's skeleton by the loader, as for training.

Conversion to ``h36m17``/``h36m16`` (:func:`to_skeleton`): COCO-17 and OpenPose COCO-18 through
:mod:`posefast.data.pose3d.keypoint_layouts` (pelvis = mid-hips, thorax = mid-shoulders, spine = their midpoint, neck/nose =
the nose, head = mid-ears; a converted joint's confidence is the smallest of its sources'); BODY_25 is first reduced
to its 17 COCO keypoints, by name (its neck, mid-hip, toes and heels are not used, so BODY_25 and COCO-17 detections
of one person convert to the same pose).

Missing joints (:func:`fill_missing`): a joint whose confidence is below ``min_confidence`` or whose coordinates are
not finite is *missing*. Joints are visited root first; a missing joint is placed at its parent's (already final)
position — a wrist at its elbow, a knee at its hip — and a missing root at the mean of the frame's present joints. A
filled joint is flagged (``filled``) and keeps its low confidence; it is never set to zero. An entry with no present
joint at all cannot be placed and is skipped (and reported by the CLI).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posefast.data.pose3d.keypoint_layouts import LAYOUT_JOINTS, convert_keypoints
from posefast.data.safe_files import read_json, read_npz
from posefast.data.image2d.loaders import keypoint_triplets
from posefast.skeleton import get_skeleton, h36m16_to_h36m17, h36m17_to_h36m16

__all__ = ["BODY25_NAMES", "Detections", "read_detections", "detections_from_dataset", "to_skeleton", "fill_missing"]

# OpenPose's BODY_25 output order (openpose/doc/02_output.md, "Pose Output Format (BODY_25)").
BODY25_NAMES: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye",
    "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
    "right_small_toe", "right_heel",
)
_BODY25_TO_COCO = [BODY25_NAMES.index(n) for n in LAYOUT_JOINTS["coco"]]
_OPENPOSE_LAYOUTS = {25: "body25", 18: "coco18"}


@dataclass
class Detections:
    """N detected people: ``points [N, K, 2]`` pixels and ``confidence [N, K]`` in ``layout`` (``coco``,
    ``coco18``, ``body25``, ``h36m17`` or ``h36m16``), ``image_size [N, 2]`` (width, height) or None, ``ids [N]``
    (image ids or file names, as strings) and ``scores [N]`` (the detection's score; NaN where none)."""

    points: np.ndarray
    confidence: np.ndarray
    layout: str
    ids: np.ndarray
    scores: np.ndarray
    image_size: np.ndarray | None = None


def _read_coco(path: Path) -> Detections:
    doc = read_json(path)
    names = list(LAYOUT_JOINTS["coco"])
    sizes = {}
    if isinstance(doc, dict):  # an annotation file: the flag v (0 = not labelled) is the confidence
        if not isinstance(doc.get("annotations"), list):
            raise ValueError(f"{path}: a COCO JSON object needs an 'annotations' list (or give a results list)")
        for cat in doc.get("categories") or []:
            listed = [str(n).strip().lower().replace(" ", "_") for n in cat.get("keypoints", [])]
            if listed and listed != names:
                raise ValueError(f"{path}: category keypoints {listed} are not COCO-17's {names}")
        for im in doc.get("images") or []:
            if isinstance(im, dict) and "width" in im and "height" in im:
                sizes[im.get("id")] = (im["width"], im["height"])
        entries, flags = [a for a in doc["annotations"] if isinstance(a, dict) and not a.get("iscrowd")], True
    elif isinstance(doc, list):
        entries, flags = doc, False
    else:
        raise ValueError(f"{path}: expected a COCO results list or an annotation object")
    pts, conf, ids, scores, size = [], [], [], [], []
    for i, entry in enumerate(entries):
        where = f"{path}: entry {i}"
        if not isinstance(entry, dict) or "keypoints" not in entry:
            raise ValueError(f"{where}: expected an object with 'keypoints' (and 'image_id', 'score')")
        t = keypoint_triplets(entry["keypoints"], len(names), where)
        pts.append(t[:, :2])
        conf.append((t[:, 2] > 0).astype(np.float64) if flags else t[:, 2])
        ids.append(str(entry.get("image_id", i)))
        scores.append(float(entry.get("score", np.nan)))
        size.append(sizes.get(entry.get("image_id")))
    if not pts:
        raise ValueError(f"{path}: holds no detections")
    image_size = np.array(size, dtype=np.float64) if all(s is not None for s in size) else None
    return Detections(np.array(pts), np.array(conf), "coco", np.array(ids), np.array(scores), image_size)


def _read_openpose(folder: Path) -> Detections:
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ValueError(f"{folder}: a folder of OpenPose JSON files was expected; it holds no *.json")
    pts, conf, ids, layout = [], [], [], None
    for file in files:
        doc = read_json(file)
        people = doc.get("people") if isinstance(doc, dict) else None
        if not isinstance(people, list):
            raise ValueError(f"{file}: not an OpenPose file (no 'people' list)")
        for p, person in enumerate(people):
            values = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
            if not isinstance(values, list) or len(values) // 3 not in _OPENPOSE_LAYOUTS or len(values) % 3:
                raise ValueError(f"{file}: person {p}: 'pose_keypoints_2d' must hold 25 (BODY_25) or 18 (COCO) "
                                 f"x, y, score triplets")
            this = _OPENPOSE_LAYOUTS[len(values) // 3]
            if layout not in (None, this):
                raise ValueError(f"{file}: person {p} is {this} while earlier files are {layout}")
            layout = this
            t = keypoint_triplets(values, len(values) // 3, f"{file}: person {p}")
            pts.append(t[:, :2])
            conf.append(t[:, 2])
            ids.append(file.name)
    if not pts:
        raise ValueError(f"{folder}: its OpenPose files hold no people")
    return Detections(np.array(pts), np.array(conf), layout, np.array(ids), np.full(len(pts), np.nan))


def _npz_layout(path: Path, arrays: dict, skeleton) -> tuple[str, int]:
    """The layout an npz's ``joints_2d`` is in (its ``skeleton`` or ``layout`` key, else the lifter's) and its
    joint count."""
    named = {k: str(arrays[k]) for k in ("skeleton", "layout") if k in arrays}
    if len(named) == 2:
        raise ValueError(f"{path}: give either a 'skeleton' or a 'layout' key, not both ({named})")
    if "layout" in named:
        layout = named["layout"]
        if layout == "body25":
            return layout, len(BODY25_NAMES)
        if layout not in LAYOUT_JOINTS:
            raise ValueError(f"{path}: layout {layout!r} is not one of {sorted([*LAYOUT_JOINTS, 'body25'])}")
        return layout, len(LAYOUT_JOINTS[layout])
    skel = get_skeleton(named.get("skeleton", get_skeleton(skeleton).name))
    if skel.name not in ("h36m17", "h36m16"):
        raise ValueError(f"{path}: skeleton {skel.name!r} cannot be converted to a lifter's h36m17/h36m16 layout")
    return skel.name, skel.num_joints


def _read_npz(path: Path, skeleton) -> Detections:
    try:
        arrays = read_npz(path)
    except ValueError as exc:  # corrupt, or holds pickled objects: not a usable npz
        raise ValueError(f"{exc} (expected an .npz of plain arrays)") from None
    if "joints_2d" not in arrays:
        raise ValueError(f"{path}: expected a 'joints_2d' array [N, J, 2] (pixels); found {sorted(arrays)}")
    layout, joints = _npz_layout(path, arrays, skeleton)
    pts = np.asarray(arrays["joints_2d"], dtype=np.float64)
    if pts.ndim != 3 or pts.shape[1:] != (joints, 2):
        lifter = get_skeleton(skeleton).name
        where = f"the lifter's {lifter} layout" if layout == lifter else f"its {layout} layout"
        raise ValueError(f"{path}: joints_2d must be [N, {joints}, 2] in {where}, got {tuple(pts.shape)} (name "
                         "another layout with a 'skeleton' or 'layout' key)")
    n = pts.shape[0]
    conf = np.asarray(arrays.get("confidence", np.ones((n, joints))), dtype=np.float64)
    if conf.shape != (n, joints):
        raise ValueError(f"{path}: confidence must be [{n}, {joints}], got {tuple(conf.shape)}")
    size = arrays.get("image_size")
    if size is not None:
        size = np.broadcast_to(np.asarray(size, dtype=np.float64), (n, 2)).copy() if np.ndim(size) == 1 else size
        if np.shape(size) != (n, 2):
            raise ValueError(f"{path}: image_size must be [2] or [{n}, 2], got {np.shape(size)}")
    return Detections(pts, conf, layout, np.arange(n).astype(str), np.full(n, np.nan),
                      None if size is None else np.asarray(size, dtype=np.float64))


def detections_from_dataset(dataset) -> Detections:
    """A :class:`~posefast.data.PoseDataset` (a loaded archive or data spec) as detections in its own skeleton:
    its pixel 2D joints, per-sample image sizes, its confidences (1 where it has none); ids are the sample indices."""
    n = len(dataset)
    conf = np.ones((n, dataset.num_joints)) if dataset.confidence is None else dataset.confidence
    return Detections(np.asarray(dataset.joints_2d, dtype=np.float64), np.asarray(conf, dtype=np.float64),
                      dataset.skeleton.name, np.arange(n).astype(str), np.full(n, np.nan),
                      np.asarray(dataset.image_size, dtype=np.float64))


def read_detections(path, skeleton) -> Detections:
    """Read users' detections (formats in the module docstring); ``skeleton`` is the lifter's layout, which an npz
    is in unless it names another."""
    path = Path(os.fspath(path))
    if path.is_dir():
        return _read_openpose(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file or folder (expected a COCO .json, an OpenPose folder or an "
                                ".npz)")
    if path.suffix.lower() == ".json":
        return _read_coco(path)
    if path.suffix.lower() == ".npz":
        return _read_npz(path, skeleton)
    raise ValueError(f"{path}: expected a COCO keypoint .json, a folder of OpenPose .json files or an .npz")


def to_skeleton(det: Detections, skeleton) -> tuple[np.ndarray, np.ndarray]:
    """``(joints [N, J, 2], confidence [N, J])`` of ``det`` in ``skeleton`` (see the module docstring)."""
    target = get_skeleton(skeleton).name
    pts, conf, layout = det.points, det.confidence, det.layout
    if layout == "body25":
        pts, conf, layout = pts[:, _BODY25_TO_COCO], conf[:, _BODY25_TO_COCO], "coco"
    if layout in ("h36m17", "h36m16"):
        if layout == target:
            return pts, conf
        if layout == "h36m17":
            return h36m17_to_h36m16(pts), h36m17_to_h36m16(conf[..., None])[..., 0]
        conf17 = h36m16_to_h36m17(conf[..., None])[..., 0]
        conf17[:, 9] = np.minimum(conf[:, 8], conf[:, 9])  # the re-inserted neck: as sure as thorax and head
        return h36m16_to_h36m17(pts), conf17
    return convert_keypoints(pts, layout, target, confidence=conf)


def fill_missing(joints: np.ndarray, confidence: np.ndarray, skeleton, min_confidence: float):
    """``(joints, filled [N, J] bool, placed [N] bool)``: missing joints placed by the rule of the module docstring;
    ``placed`` is False for entries without any present joint (their rows are left as they were)."""
    skel = get_skeleton(skeleton)
    joints = np.array(joints, dtype=np.float64)
    missing = ~(confidence >= min_confidence) | ~np.isfinite(joints).all(-1)
    placed = (~missing).any(-1)
    present = np.where(missing[..., None], np.nan, joints)
    with np.errstate(invalid="ignore"):
        centroid = np.nanmean(np.where(placed[:, None, None], present, 0.0), axis=1)
    for j, parent in enumerate(skel.parents):
        source = centroid if parent < 0 else joints[:, parent]
        joints[:, j] = np.where(missing[:, j, None], source, joints[:, j])
    return joints, missing & placed[:, None], placed
