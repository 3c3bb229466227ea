"""The animal keypoint layouts and their mappings against the numbers read in the released evaluation code.

Every literal below was read from a release (never its code copied): UDAPE = VisionLearningGroup/UDA_PoseEstimation
@ baf85f17442ac08fdbd5ce230d3a988d01d35154, UDA-Animal-Pose = chaneyddtt/UDA-Animal-Pose
@ 36ef84617dd9fa7dc9eabc2999c37a30e22354b6.
"""
import numpy as np
import pytest

from posefast.skeleton import (ANIMAL14, ANIMALPOSE20, AP10K17, KEYPOINT_MAPS, MOUSE7, TIGDOG18, get_skeleton,
                               keypoint_map, skeleton_names)

# UDAPE lib/datasets/keypoint_dataset.py lines 161-167 (Animal18KeypointDataset), and UDA-Animal-Pose
# evaluation/test.py line 179 (the per-part table it prints): the same groups.
UDAPE_ANIMAL18_GROUPS = {"eye": (0, 1), "chin": (2,), "hoof": (3, 4, 5, 6), "hip": (7,), "knee": (8, 9, 10, 11),
                         "shoulder": (12, 13), "elbow": (14, 15, 16, 17)}
# UDAPE lib/datasets/keypoint_dataset.py lines 208-211 (Animal14KeypointDataset).
UDAPE_ANIMAL14_GROUPS = {"eye": (0, 1), "hoof": (2, 3, 4, 5), "knee": (6, 7, 8, 9), "elbow": (10, 11, 12, 13)}
# UDA-Animal-Pose pose/utils/transforms.py line 43-44 ('real_animal' matchedParts).
UDA_ANIMAL_FLIP_PAIRS = ([0, 1], [3, 4], [5, 6], [8, 9], [10, 11], [12, 13], [14, 15], [16, 17])
# UDAPE lib/datasets/animal_pose.py line 59: the Animal-Pose keypoints it keeps, in Animal14 order.
UDAPE_ANIMAL_POSE_PTS_INDEX = (0, 1, 13, 14, 15, 16, 9, 10, 11, 12, 5, 6, 7, 8)
# UDAPE lib/datasets/synthetic_animal_sp_all_other.py lines 35-37: the hound's 14 mesh vertices and, commented out,
# the 18 they came from; the 14 are the 18 without some entries, which fixes the 18 -> 14 selection.
UDAPE_HOUND_14 = (2028, 2580, 878, 977, 1541, 1734, 799, 1575, 1446, 602, 780, 1580, 466, 631)
UDAPE_HOUND_18 = (2028, 2580, 912, 878, 977, 1541, 1734, 480, 799, 1575, 1446, 602, 755, 673, 780, 1580, 466, 631)
UDAPE_SHEEP_14 = (2046, 1944, 1875, 1900, 1868, 1894, 173, 1829, 1422, 821, 622, 575, 1370, 716)
UDAPE_SHEEP_18 = (2046, 1944, 1267, 1875, 1900, 1868, 1894, 687, 173, 1829, 1422, 821, 624, 580, 622, 575, 1370, 716)


def test_registered():
    for s in (TIGDOG18, ANIMAL14, ANIMALPOSE20, AP10K17, MOUSE7):
        assert get_skeleton(s.name) is s and s.name in skeleton_names()
        assert not s.kinematic


def test_tigdog18_groups_and_flips_are_the_releases():
    assert TIGDOG18.group_indices == UDAPE_ANIMAL18_GROUPS
    pairs = {tuple(sorted(p)) for p in zip(TIGDOG18.left, TIGDOG18.right)}
    assert pairs == {tuple(p) for p in UDA_ANIMAL_FLIP_PAIRS}


def test_animal14_groups_are_udapes():
    assert ANIMAL14.group_indices == UDAPE_ANIMAL14_GROUPS


def test_tigdog18_to_animal14_is_udapes_vertex_selection():
    for v18, v14 in ((UDAPE_HOUND_18, UDAPE_HOUND_14), (UDAPE_SHEEP_18, UDAPE_SHEEP_14)):
        assert tuple(v18[i] for i in keypoint_map("tigdog18", "animal14")) == v14
    # the dropped ones are chin, hip and both shoulders
    kept = set(KEYPOINT_MAPS[("tigdog18", "animal14")])
    dropped = [TIGDOG18.joint_names[i] for i in range(18) if i not in kept]
    assert dropped == ["chin", "hip", "left_shoulder", "right_shoulder"]


def test_animalpose20_to_animal14_is_udapes_pts_index():
    assert keypoint_map(ANIMALPOSE20, ANIMAL14) == UDAPE_ANIMAL_POSE_PTS_INDEX
    # and it maps names onto the same names (group by group)
    for k, i in enumerate(UDAPE_ANIMAL_POSE_PTS_INDEX):
        assert ANIMALPOSE20.joint_names[i] == ANIMAL14.joint_names[k]


def test_groups_survive_the_mappings():
    for src in ("tigdog18", "animalpose20"):
        m = keypoint_map(src, "animal14")
        s = get_skeleton(src)
        for g, idx in ANIMAL14.group_indices.items():
            assert all(m[k] in s.group_indices[g] for k in idx), (src, g)


@pytest.mark.parametrize("s", [TIGDOG18, ANIMAL14, ANIMALPOSE20, AP10K17, MOUSE7], ids=lambda s: s.name)
def test_flip_pairs_mirror_the_names(s):
    perm = s.flip_permutation
    assert sorted(perm) == list(range(s.num_joints)) and (perm[perm] == np.arange(s.num_joints)).all()
    for k, name in enumerate(s.joint_names):
        mirrored = name.replace("right", "#").replace("left", "right").replace("#", "left")
        assert s.joint_names[perm[k]] == mirrored


def test_ap10k_maps_only_eyes_and_paws():
    m = keypoint_map("ap10k17", "animal14")
    assert [ANIMAL14.joint_names[k] for k, i in enumerate(m) if i >= 0] == [
        "left_eye", "right_eye", "left_front_paw", "right_front_paw", "left_back_paw", "right_back_paw"]
    for k, i in enumerate(m):
        if i >= 0:
            assert AP10K17.joint_names[i] == ANIMAL14.joint_names[k]


def test_unknown_mapping_and_group_names_are_refused():
    with pytest.raises(ValueError, match="target: no keypoint mapping"):
        keypoint_map("animal14", "tigdog18")
    assert keypoint_map("mouse7", "mouse7") == tuple(range(7))
    from posefast.skeleton import Skeleton
    with pytest.raises(ValueError, match="keypoint_groups name unknown"):
        Skeleton("x", ("a", "b"), (-1, 0), (), (), (), (), keypoint_groups={"g": ("c",)})
