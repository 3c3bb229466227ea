"""The 2D keypoint set shared by every image domain: 16 body keypoints in MPII order ("Body16", the Skeleton
``posefast.skeleton.BODY16``, ``get_skeleton("body16")``; the tables below that it holds are views of it).

This is the keypoint set of UDAPE / TLlib's ``Body16KeypointDataset`` (the code the ICME'24 multi-level method builds
on), so the synthetic domains, LSP and COCO-style data all land in one layout and PCK is averaged over the same 12
limb keypoints (shoulder, elbow, wrist, hip, knee, ankle) as the papers report.

Index  name              from h36m17 (VideoPose3D order)   from LSP (14 joints)
  0    right_ankle       3  RAnkle                          0
  1    right_knee        2  RKnee                           1
  2    right_hip         1  RHip                            2
  3    left_hip          4  LHip                            3
  4    left_knee         5  LKnee                           4
  5    left_ankle        6  LAnkle                          5
  6    pelvis            0  Pelvis                          (mid-hips, not annotated)
  7    thorax            8  Thorax                          (mid-shoulders, not annotated)
  8    upper_neck        9  Neck/Nose                       12 neck
  9    head_top          10 Head                            13 head top
 10    right_wrist       16 RWrist                          6
 11    right_elbow       15 RElbow                          7
 12    right_shoulder    14 RShoulder                       8
 13    left_shoulder     11 LShoulder                       9
 14    left_elbow        12 LElbow                          10
 15    left_wrist        13 LWrist                          11

h36m17's Spine (7) has no Body16 counterpart and is dropped. The limb names follow COCO's spelling, so a COCO
keypoint file maps onto Body16 by name.
"""
from __future__ import annotations

import numpy as np

from posefast.skeleton import BODY16

__all__ = [
    "BODY16_NAMES", "NUM_KEYPOINTS", "PCK_EVAL_JOINTS", "BODY16_FLIP", "BODY16_EDGES", "H36M17_TO_BODY16",
    "LSP14_NAMES", "LSP14_TO_BODY16", "h36m17_to_body16",
]

# The names, flip pairs and stick-figure edges are the Body16 Skeleton's (posefast.skeleton.BODY16, registered as
# "body16"); these module constants are views of it, kept for the code that indexes keypoints by number.
BODY16_NAMES: tuple[str, ...] = BODY16.joint_names
NUM_KEYPOINTS = BODY16.num_joints

# Shoulder, elbow, wrist, hip, knee, ankle (both sides): the 12 keypoints PCK is averaged over (TLlib's "all").
PCK_EVAL_JOINTS: tuple[int, ...] = (12, 13, 11, 14, 10, 15, 2, 3, 1, 4, 0, 5)

# Keypoint order after a horizontal image flip.
BODY16_FLIP: tuple[int, ...] = tuple(int(k) for k in BODY16.flip_permutation)

# (parent, child) keypoint pairs that a stick figure of Body16 draws (plots, limb-length checks): the tree's edges.
BODY16_EDGES: tuple[tuple[int, int], ...] = BODY16.bones

# Body16 keypoint k comes from h36m17 joint H36M17_TO_BODY16[k].
H36M17_TO_BODY16: tuple[int, ...] = (3, 2, 1, 4, 5, 6, 0, 8, 9, 10, 16, 15, 14, 11, 12, 13)

LSP14_NAMES: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist", "right_elbow",
    "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top",
)
# Body16 keypoint k comes from LSP joint LSP14_TO_BODY16[k]; -1 = not annotated in LSP (pelvis, thorax).
LSP14_TO_BODY16: tuple[int, ...] = (0, 1, 2, 3, 4, 5, -1, -1, 12, 13, 6, 7, 8, 9, 10, 11)


def h36m17_to_body16(x):
    """[..., 17, C] in h36m17 order -> [..., 16, C] in Body16 order (numpy or torch; Spine dropped)."""
    if x.shape[-2] != 17:
        raise ValueError(f"x: expected [..., 17, C] in h36m17 order, got shape {tuple(x.shape)}")
    return x[..., list(H36M17_TO_BODY16), :]


def _check_tables() -> None:
    # Import-time self-check: a wrong table here would silently corrupt every label downstream.
    assert len(BODY16_NAMES) == 16 and len(set(BODY16_NAMES)) == 16
    flip = np.asarray(BODY16_FLIP)
    assert sorted(flip) == list(range(16)) and (flip[flip] == np.arange(16)).all()
    for k, name in enumerate(BODY16_NAMES):
        mirrored = BODY16_NAMES[flip[k]]
        assert mirrored == name.replace("right", "#").replace("left", "right").replace("#", "left"), name
    assert sorted(H36M17_TO_BODY16) == [j for j in range(17) if j != 7]
    for k, j in enumerate(LSP14_TO_BODY16):
        same = j >= 0 and LSP14_NAMES[j] == BODY16_NAMES[k]
        assert j == -1 or same or (LSP14_NAMES[j], BODY16_NAMES[k]) == ("neck", "upper_neck")


_check_tables()
