"""Keypoint layouts of detectors and body models, and one documented conversion of each to ``h36m17`` / ``h36m16``.

Every loader that meets another layout (Human3.6M detection files, 3DPW's 2D and SMPL joints) and the lift CLI's
conversion of users' detections go through :func:`convert_keypoints`, so one joint means the same thing everywhere.

Source layouts (:data:`LAYOUT_JOINTS`, joint names in index order):

``coco``
    COCO-17 keypoints (Lin et al., ECCV 2014): what Detectron, CPN, HRNet, ViTPose ... predict; VideoPose3D writes
    ``metadata['layout_name'] == 'coco'`` into ``data_2d_h36m_detectron_pt_coco.npz``.
``coco18``
    OpenPose's 18-keypoint COCO model (nose, neck, right arm, left arm, right leg, left leg, eyes, ears): 3DPW's
    ``poses2d``. Its neck is OpenPose's mid-shoulder point, so the ``coco`` rules are used and it is not read.
``mpii``
    MPII Human Pose (Andriluka et al., CVPR 2014), 16 keypoints: VideoPose3D's ``layout_name == 'mpii'``.
``sh16_h36m``
    The same 16-slot order as read by Martinez et al. (3d-pose-baseline, ``src/data_utils.py``: ``SH_NAMES`` and
    ``SH_TO_GT_PERM``): slots 6-9 are Human3.6M's pelvis, spine, thorax and head, i.e. a Stacked Hourglass
    fine-tuned on Human3.6M (VideoPose3D's ``data_2d_h36m_sh_ft_h36m.npz``).
``smpl24``
    SMPL's 24 kinematic joints (Loper et al., SIGGRAPH Asia 2015): 3DPW's ``jointPositions``.
``h36m``
    VideoPose3D's ``h36m`` layout, identical to our ``h36m17``.

Rules (:func:`conversion_rules`). Each target joint is a weighted sum of source keypoints and is one of:

- ``direct``: the source labels the same body joint (copied). A detector's label can still sit a few centimetres
  from Human3.6M's mocap-derived joint centre: COCO's hip keypoints, for instance, lie wider and lower than
  Human3.6M's hip joints.
- ``approximate``: a nearby, different landmark stands in (COCO's nose for Human3.6M's neck/nose point).
- ``derived``: computed from two or more keypoints; these joints are flagged by :func:`derived_mask`.

The rules shared by every layout that lacks the joint:

- pelvis = mid-hips (COCO); thorax = mid-shoulders (COCO);
- spine = midpoint of pelvis and thorax (Human3.6M's spine marker sits about halfway: its pelvis->spine and
  spine->thorax bones are 0.23 m and 0.25 m long);
- neck/nose (``h36m17`` joint 9) = the nose (COCO, approximate), the upper neck (MPII, approximate), the SMPL head
  joint (approximate) or, from a 16-joint layout, the thorax-head midpoint (as :func:`posefast.skeleton.
  h36m16_to_h36m17` re-inserts it);
- head = mid-ears (COCO: the centre of the head, a few cm below Human3.6M's head point), the head top (MPII,
  approximate, a few cm above it), or SMPL's head joint extrapolated away from its neck by one neck-head length
  (SMPL has no head-top joint).

A converted joint's confidence is the smallest confidence among the keypoints it is made of.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posefast.skeleton import H36M16, H36M17, get_skeleton

__all__ = ["LAYOUT_JOINTS", "JointRule", "conversion_rules", "conversion_matrix", "derived_mask",
           "convert_keypoints", "describe_conversion"]

LAYOUT_JOINTS: dict[str, tuple[str, ...]] = {
    "coco": ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
             "right_knee", "left_ankle", "right_ankle"),
    "coco18": ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
               "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
               "right_eye", "left_eye", "right_ear", "left_ear"),
    "mpii": ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
             "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
             "left_wrist"),
    "sh16_h36m": ("RAnkle", "RKnee", "RHip", "LHip", "LKnee", "LAnkle", "Pelvis", "Spine", "Thorax", "Head",
                  "RWrist", "RElbow", "RShoulder", "LShoulder", "LElbow", "LWrist"),
    "smpl24": ("pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
               "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
               "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
               "left_hand", "right_hand"),
    "h36m": H36M17.joint_names,
}

_LIMBS = {"RHip": "right_hip", "RKnee": "right_knee", "RAnkle": "right_ankle", "LHip": "left_hip",
          "LKnee": "left_knee", "LAnkle": "left_ankle", "LShoulder": "left_shoulder", "LElbow": "left_elbow",
          "LWrist": "left_wrist", "RShoulder": "right_shoulder", "RElbow": "right_elbow", "RWrist": "right_wrist"}


@dataclass(frozen=True)
class JointRule:
    """How one target joint is made: ``sum(w * source)`` over ``sources`` / ``weights``; ``kind`` is ``direct``,
    ``approximate`` or ``derived`` (see the module docstring), ``note`` says why."""

    joint: str
    sources: tuple[str, ...]
    weights: tuple[float, ...]
    kind: str
    note: str = ""


def _direct(joint, source, note=""):
    return JointRule(joint, (source,), (1.0,), "direct", note)


def _approx(joint, source, note):
    return JointRule(joint, (source,), (1.0,), "approximate", note)


def _mean(joint, sources, note):
    return JointRule(joint, tuple(sources), tuple(1.0 / len(sources) for _ in sources), "derived", note)


_SPINE_NOTE = "midpoint of pelvis and thorax (Human3.6M's spine marker sits about halfway)"


def _coco_rules() -> list[JointRule]:
    limbs = [_direct(j, s) for j, s in _LIMBS.items()]
    return limbs + [
        _mean("Pelvis", ("left_hip", "right_hip"), "mid-hips"),
        _mean("Thorax", ("left_shoulder", "right_shoulder"), "mid-shoulders"),
        _mean("Spine", ("left_hip", "right_hip", "left_shoulder", "right_shoulder"), _SPINE_NOTE),
        _approx("Neck", "nose", "the nose stands in for Human3.6M's neck/nose point"),
        _mean("Head", ("left_ear", "right_ear"), "mid-ears: the head centre, a few cm below Human3.6M's head point"),
    ]


def _mpii_rules() -> list[JointRule]:
    limbs = [_direct(j, s) for j, s in _LIMBS.items()]
    return limbs + [
        _direct("Pelvis", "pelvis"),
        _direct("Thorax", "thorax"),
        _mean("Spine", ("pelvis", "thorax"), _SPINE_NOTE),
        _approx("Neck", "upper_neck", "MPII's upper neck stands in for Human3.6M's neck/nose point"),
        _approx("Head", "head_top", "MPII's head top lies a few cm above Human3.6M's head point"),
    ]


def _sh16_h36m_rules() -> list[JointRule]:
    same = [_direct(j, j) for j in H36M16.joint_names]
    return same + [_mean("Neck", ("Thorax", "Head"), "thorax-head midpoint (as skeleton.h36m16_to_h36m17)")]


def _smpl24_rules() -> list[JointRule]:
    note = "SMPL's joint, not the mesh-regressed Human3.6M joint some protocols score"
    limbs = [_direct(j, s, note) for j, s in _LIMBS.items()]
    return limbs + [
        _direct("Pelvis", "pelvis", note),
        _approx("Thorax", "neck", "SMPL's neck joint sits at the base of the neck, where Human3.6M's thorax is"),
        _mean("Spine", ("pelvis", "neck"), _SPINE_NOTE),
        _approx("Neck", "head", "SMPL's head joint (skull base) stands in for Human3.6M's neck/nose point"),
        JointRule("Head", ("head", "neck"), (2.0, -1.0), "derived",
                  "SMPL has no head top: its head joint moved one neck-head length further from the neck"),
    ]


_RULES = {"coco": _coco_rules, "coco18": _coco_rules, "mpii": _mpii_rules, "sh16_h36m": _sh16_h36m_rules,
          "smpl24": _smpl24_rules, "h36m": lambda: [_direct(j, j) for j in H36M17.joint_names]}


def _check_layout(layout: str) -> str:
    if layout not in LAYOUT_JOINTS:
        raise ValueError(f"layout: unknown keypoint layout {layout!r}; expected one of {sorted(LAYOUT_JOINTS)}")
    return layout


def _check_target(skeleton) -> str:
    name = get_skeleton(skeleton).name
    if name not in ("h36m17", "h36m16"):
        raise ValueError(f"skeleton: layouts convert to 'h36m17' or 'h36m16', got {name!r}")
    return name


def conversion_rules(layout: str, skeleton="h36m17") -> tuple[JointRule, ...]:
    """The rule for every joint of ``skeleton`` (in its joint order) when converting from ``layout``."""
    layout, target = _check_layout(layout), get_skeleton(_check_target(skeleton))
    by_joint = {r.joint: r for r in _RULES[layout]()}
    return tuple(by_joint[j] for j in target.joint_names)


def conversion_matrix(layout: str, skeleton="h36m17") -> np.ndarray:
    """float64 [J, K]: row j holds the weights of the K source keypoints that make target joint j."""
    names = LAYOUT_JOINTS[_check_layout(layout)]
    rules = conversion_rules(layout, skeleton)
    W = np.zeros((len(rules), len(names)))
    for j, rule in enumerate(rules):
        for src, w in zip(rule.sources, rule.weights):
            W[j, names.index(src)] += w
    return W


def derived_mask(layout: str, skeleton="h36m17") -> np.ndarray:
    """bool [J]: True where the target joint is computed from several source keypoints (``kind == 'derived'``)."""
    return np.array([r.kind == "derived" for r in conversion_rules(layout, skeleton)])


def describe_conversion(layout: str, skeleton="h36m17") -> str:
    """One line per target joint: ``Joint <- sources [kind] note`` (for messages and provenance)."""
    lines = []
    for r in conversion_rules(layout, skeleton):
        if r.kind == "derived" and len(set(r.weights)) == 1:
            src = "mean(" + ", ".join(r.sources) + ")"
        else:
            src = " + ".join(s if w == 1 else f"{w:g}*{s}" for s, w in zip(r.sources, r.weights))
        lines.append(f"{r.joint} <- {src} [{r.kind}]" + (f" {r.note}" if r.note else ""))
    return "\n".join(lines)


def convert_keypoints(points, layout: str, skeleton="h36m17", confidence=None):
    """Convert keypoints from a detector / body-model ``layout`` to ``skeleton`` (``h36m17`` or ``h36m16``).

    Args:
        points: float array [..., K, C] in ``layout`` order (C = 2 for pixels, 3 for 3D; any leading shape).
        layout: a key of :data:`LAYOUT_JOINTS`.
        skeleton: ``"h36m17"`` or ``"h36m16"``.
        confidence: optional [..., K] in [0, 1]; each converted joint gets the smallest confidence of its sources.

    Returns ``(points [..., J, C] float64, confidence [..., J] float64 or None)``. Only the keypoints a rule uses
    are read, so an unused keypoint (say COCO's eyes) may hold anything, NaN included.
    """
    names = LAYOUT_JOINTS[_check_layout(layout)]
    pts = np.asarray(points)
    if pts.dtype.kind not in "fiu" or pts.ndim < 2 or pts.shape[-2] != len(names):
        raise ValueError(f"points: expected a real array [..., {len(names)}, C] in {layout!r} order, got "
                         f"{pts.dtype} {tuple(pts.shape)}")
    pts = pts.astype(np.float64, copy=False)
    conf = None
    if confidence is not None:
        conf = np.asarray(confidence)
        if conf.dtype.kind not in "fiu" or conf.shape != pts.shape[:-1]:
            raise ValueError(f"confidence: expected a real array of shape {pts.shape[:-1]}, got {conf.dtype} "
                             f"{tuple(conf.shape)}")
        conf = conf.astype(np.float64, copy=False)
    rules = conversion_rules(layout, skeleton)
    out = np.empty(pts.shape[:-2] + (len(rules), pts.shape[-1]))
    out_conf = None if conf is None else np.empty(conf.shape[:-1] + (len(rules),))
    for j, rule in enumerate(rules):
        idx = [names.index(s) for s in rule.sources]
        # a loop over the few sources, not a matrix product: 0 * NaN in an unused keypoint would poison every joint
        out[..., j, :] = sum(w * pts[..., i, :] for i, w in zip(idx, rule.weights))
        if conf is not None:
            out_conf[..., j] = conf[..., idx].min(axis=-1)
    return out, out_conf
