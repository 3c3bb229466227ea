"""Body16 (the image domains' 2D keypoint set) is a Skeleton: registered, its module constants are views of it, and
the kinematic ops refuse it because it is not in kinematic order."""
import pytest
import torch

import posefast
from posefast import reference
from posefast.data.image2d import keypoints
from posefast.skeleton import BODY16, H36M16, Skeleton, get_skeleton

# The tables as they stood before Body16 became a Skeleton (posefast/data/image2d/keypoints.py at 3a771a4).
OLD_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
             "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
             "left_wrist")
OLD_FLIP = (5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10)
OLD_EDGES = ((0, 1), (1, 2), (2, 6), (5, 4), (4, 3), (3, 6), (6, 7), (7, 8), (8, 9),
             (10, 11), (11, 12), (12, 7), (15, 14), (14, 13), (13, 7))


def test_registered_and_the_module_constants_are_its_views():
    assert get_skeleton("body16") is BODY16 and get_skeleton("BODY16") is BODY16
    assert keypoints.BODY16_NAMES == BODY16.joint_names == OLD_NAMES
    assert keypoints.NUM_KEYPOINTS == BODY16.num_joints == 16
    assert keypoints.BODY16_FLIP == OLD_FLIP and all(type(k) is int for k in keypoints.BODY16_FLIP)
    assert keypoints.BODY16_EDGES == BODY16.bones


def test_flip_pairs_mirror_the_names():
    for k, name in enumerate(BODY16.joint_names):
        mirrored = name.replace("right", "#").replace("left", "right").replace("#", "left")
        assert BODY16.joint_names[BODY16.flip_permutation[k]] == mirrored


def test_edges_round_trip_with_the_old_table():
    # the same 15 limbs (drawing direction and order are free); every edge is (parent, child) of the tree
    assert {frozenset(e) for e in keypoints.BODY16_EDGES} == {frozenset(e) for e in OLD_EDGES}
    assert len(keypoints.BODY16_EDGES) == len(OLD_EDGES) == 15
    assert all(BODY16.parents[c] == p for p, c in BODY16.bones)
    assert BODY16.root == BODY16.joint("pelvis") == 6


def test_a_keypoint_set_is_not_kinematic_and_the_ops_refuse_it():
    assert not BODY16.kinematic and H36M16.kinematic
    x = torch.randn(2, 16, 3, dtype=torch.float64)
    for use_kernels in (True, False):
        with posefast.use_kernels(use_kernels):
            with pytest.raises(ValueError, match="skeleton: body16 is a keypoint set"):
                posefast.bone_vectors(x, "body16")
    with pytest.raises(ValueError, match="body16 is a keypoint set"):
        reference.forward_kinematics(x[:, 1:], BODY16)
    with pytest.raises(ValueError, match="body16 is a keypoint set"):
        BODY16.bone("right_knee")
    torch.testing.assert_close(posefast.bone_vectors(x, "h36m16"), reference.bone_vectors(x, H36M16))


def test_keypoint_set_rules():
    with pytest.raises(ValueError, match="need a layout in kinematic order"):
        Skeleton("bad", ("a", "b", "c"), (1, -1, 1), (), (), bone_groups=(("a",), ("c",)), frozen_bones=())
    with pytest.raises(ValueError, match="one root"):
        Skeleton("bad", ("a", "b"), (-1, -1), (), (), bone_groups=(), frozen_bones=())
    with pytest.raises(ValueError, match="cycle"):
        Skeleton("bad", ("a", "b", "c"), (-1, 2, 1), (), (), bone_groups=(), frozen_bones=())
