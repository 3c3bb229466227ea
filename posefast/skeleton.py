"""Joint layouts as data: names, parents, bones, flip pairs, bone groups and KCS body parts.

Bones are *child-indexed*: bone ``b`` joins ``parents[b + 1]`` to joint ``b + 1``, so a layout of J joints has
B = J - 1 bones and every table below that speaks of bones uses that index. The 3D layouts (h36m17, h36m16) are in
*kinematic order* (root first, ``parents[j] < j``), which is what lets forward kinematics run as a single pass over
the joints. A 2D keypoint set such as Body16 keeps its dataset's order (MPII's: right ankle first, the pelvis at
index 6): its tree is still a ``Skeleton`` (names, parents, edges, flip pairs), but not in kinematic order, so it has
no bone-indexed tables and the kinematic ops refuse it (:meth:`Skeleton.require_kinematic`).

References: Human3.6M's 17-joint convention as used by VideoPose3D (Pavllo et al., CVPR 2019); the 16-joint layout
and part-aware KCS of PoseAug (Gong et al., CVPR 2021); KCS of Wandt & Rosenhahn (RepNet, CVPR 2019).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Skeleton", "H36M17", "H36M16", "BODY16", "TIGDOG18", "ANIMAL14", "ANIMALPOSE20", "AP10K17", "MOUSE7",
           "get_skeleton", "skeleton_names", "layout_of", "keypoint_map", "KEYPOINT_MAPS", "h36m17_to_h36m16", "h36m16_to_h36m17",
           "compact_kcs_layout"]


def compact_kcs_layout(part_masks) -> tuple[np.ndarray, tuple[int, ...]]:
    """The compact part-KCS layout: the distinct entries of each part's KCS matrix, defined once here for the
    ``part_kcs_compact`` op, its twin and PoseAug's compact discriminator.

    A part's KCS matrix ``Ψ_p = (U ⊙ m_p)(U ⊙ m_p)ᵀ`` is symmetric and zero outside the part's bones, so its
    distinct entries are ``<u_i, u_k>`` for the part's bones ``i <= k``. Entry ``d`` of part ``p`` is the pair
    ``pairs[p, d] = (i, k)``, in this order: the part's bones ascending, row-major upper triangle
    ``(b0, b0), (b0, b1), ..., (b0, bn), (b1, b1), ...``. Parts have different sizes; each row is padded to the
    largest with ``(-1, -1)``, an entry that is always 0.

    Args:
        part_masks: ``[P, B]`` 0/1 membership of the bones in each part.

    Returns:
        ``(pairs, sizes)``: int64 ``[P, D, 2]`` and the number of real entries of each part.
    """
    masks = np.asarray(part_masks)
    if masks.ndim != 2:
        raise ValueError(f"part_masks: expected a [P, B] array, got shape {masks.shape}")
    per_part = []
    for p in range(masks.shape[0]):
        bones = np.flatnonzero(masks[p] > 0)
        if bones.size == 0:
            raise ValueError(f"part_masks: part {p} selects no bone")
        per_part.append([(int(i), int(k)) for a, i in enumerate(bones) for k in bones[a:]])
    width = max(len(e) for e in per_part)
    pairs = np.full((masks.shape[0], width, 2), -1, dtype=np.int64)
    for p, entries in enumerate(per_part):
        pairs[p, :len(entries)] = entries
    return pairs, tuple(len(e) for e in per_part)


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A tree of joints. Tables are given by joint *names* so the same definition serves every layout.

    Attributes:
        name: registry key, e.g. ``"h36m17"``.
        joint_names: J names, index = joint id.
        parents: J parent ids, ``-1`` for the root (joint 0 in kinematic order; any joint in a keypoint set).
        left / right: joint ids that swap under a left/right flip (same length, paired by position).
        bone_groups: groups of bones (by child-joint name) that share one length ratio in bone-length
            augmentation (left/right pairs together); empty for a keypoint set.
        frozen_bones: bones (by child-joint name) whose direction bone-angle augmentation keeps.
        parts: KCS body parts, name -> bones (by child-joint name).
        keypoint_groups: the groups a per-group PCK table reports (e.g. UDAPE's eye / chin / hoof / ... for the
            animal layouts), name -> joint names; empty for the human layouts.

    ``kinematic`` (derived) is True when the root is joint 0 and every parent precedes its child. Only then are the
    bone-indexed tables (bone groups, frozen bones, parts, compact KCS) defined; a keypoint set must leave them
    empty, and its ``bones`` are its tree's (parent, child) edges in child order.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    bone_groups: tuple[tuple[str, ...], ...]
    frozen_bones: tuple[str, ...]
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    keypoint_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # derived tables, filled in __post_init__
    parents_array: np.ndarray = field(init=False, repr=False)
    bones: tuple = field(init=False, repr=False)
    bone_group_index: np.ndarray = field(init=False, repr=False)
    frozen_bone_mask: np.ndarray = field(init=False, repr=False)
    part_names: tuple = field(init=False, repr=False)
    part_masks: np.ndarray = field(init=False, repr=False)
    compact_kcs_pairs: np.ndarray = field(init=False, repr=False)
    compact_kcs_sizes: tuple = field(init=False, repr=False)
    flip_permutation: np.ndarray = field(init=False, repr=False)
    kinematic: bool = field(init=False, repr=False)
    root: int = field(init=False, repr=False)
    group_indices: dict = field(init=False, repr=False)

    def __post_init__(self):
        if len(self.parents) != len(self.joint_names):
            raise ValueError(f"{self.name}: {len(self.parents)} parents for {len(self.joint_names)} joints")
        roots = [j for j, p in enumerate(self.parents) if p == -1]
        if len(roots) != 1 or any(not (0 <= p < self.num_joints) for p in self.parents if p != -1):
            raise ValueError(f"{self.name}: parents must name one root (-1) and existing joints, got {self.parents}")
        for j in range(self.num_joints):  # every joint reaches the root: a tree, no cycle
            k, steps = j, 0
            while self.parents[k] != -1 and steps <= self.num_joints:
                k, steps = self.parents[k], steps + 1
            if self.parents[k] != -1:
                raise ValueError(f"{self.name}: parents contain a cycle through joint {j}")
        kinematic = roots[0] == 0 and all(p < j for j, p in enumerate(self.parents) if j > 0)
        object.__setattr__(self, "kinematic", kinematic)
        object.__setattr__(self, "root", roots[0])
        if len(self.left) != len(self.right):
            raise ValueError(f"{self.name}: left and right flip lists differ in length")
        if len(set(self.joint_names)) != len(self.joint_names):
            raise ValueError(f"{self.name}: joint names must be distinct")
        unknown = [n for g in self.keypoint_groups.values() for n in g if n not in self.joint_names]
        if unknown:
            raise ValueError(f"{self.name}: keypoint_groups name unknown joints {unknown}")
        # name -> joint ids, in the order the group lists them
        object.__setattr__(self, "group_indices", {g: tuple(self.joint_names.index(n) for n in members)
                                                   for g, members in self.keypoint_groups.items()})
        grouped = [b for g in self.bone_groups for b in g]
        if not kinematic and (grouped or self.frozen_bones or self.parts):
            raise ValueError(f"{self.name}: bone_groups, frozen_bones and parts need a layout in kinematic order "
                             "(root first, parents before children); a keypoint set leaves them empty")
        if kinematic and sorted(grouped) != sorted(self.joint_names[1:]):
            raise ValueError(f"{self.name}: bone_groups must cover every bone exactly once")
        # Tables are computed once, eagerly: code traced by torch.compile then only reads plain attributes.
        bone_of = {name: j - 1 for j, name in enumerate(self.joint_names) if j > 0}
        group_index = np.empty(self.num_bones, dtype=np.int64)
        for g, members in enumerate(self.bone_groups):
            group_index[[bone_of[c] for c in members]] = g
        frozen = np.zeros(self.num_bones, dtype=bool)
        frozen[[bone_of[c] for c in self.frozen_bones]] = True
        masks = np.zeros((len(self.parts), self.num_bones), dtype=np.float64)
        for p, members in enumerate(self.parts.values()):
            masks[p, [bone_of[c] for c in members]] = 1.0
        pairs, sizes = compact_kcs_layout(masks) if self.parts else (np.zeros((0, 0, 2), dtype=np.int64), ())
        perm = np.arange(self.num_joints)
        perm[list(self.left)] = self.right
        perm[list(self.right)] = self.left
        tables = {
            "parents_array": np.asarray(self.parents, dtype=np.int64),  # int64 [J], -1 at the root
            # (parent, child) per bone; in kinematic order bone b ends at joint b + 1
            "bones": tuple((self.parents[j], j) for j in range(self.num_joints) if j != self.root),
            "bone_group_index": group_index,  # int64 [B]: bone-length group of each bone
            "frozen_bone_mask": frozen,  # bool [B]: bones whose direction bone-angle augmentation keeps
            "part_names": tuple(self.parts),
            "part_masks": masks,  # float64 [P, B]: 1 where a bone belongs to a KCS body part
            "compact_kcs_pairs": pairs,  # int64 [P, D, 2]: the compact part-KCS layout (compact_kcs_layout)
            "compact_kcs_sizes": sizes,  # real entries per part (the rest of a row is padding)
            "flip_permutation": perm,  # int64 [J]: joint order after a left/right flip
        }
        for name, value in tables.items():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, name, value)

    # -- sizes ---------------------------------------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def num_bones(self) -> int:
        return len(self.joint_names) - 1

    @property
    def num_groups(self) -> int:
        return len(self.bone_groups)

    @property
    def num_parts(self) -> int:
        return len(self.parts)

    def require_kinematic(self, name: str = "skeleton") -> "Skeleton":
        """This layout, if it is in kinematic order (what bone vectors, forward kinematics, KCS and the
        augmentations need), else a ValueError naming the argument ``name``."""
        if not self.kinematic:
            raise ValueError(f"{name}: {self.name} is a keypoint set (root {self.joint_names[self.root]!r} at index "
                             f"{self.root}, parents not before their children); the kinematic ops need a layout in "
                             "kinematic order, e.g. h36m17 or h36m16")
        return self

    def joint(self, name: str) -> int:
        return self.joint_names.index(name)

    def bone(self, child_name: str) -> int:
        """Bone index of the bone ending at ``child_name``."""
        self.require_kinematic()
        j = self.joint(child_name)
        if j == 0:
            raise ValueError(f"{self.name}: the root {child_name!r} ends no bone")
        return j - 1

    def __repr__(self) -> str:
        return f"Skeleton({self.name!r}, J={self.num_joints}, B={self.num_bones}, parts={list(self.parts)})"


# Human3.6M, 17 joints in VideoPose3D order; joint 9 is the neck/nose point.
H36M17 = Skeleton(
    name="h36m17",
    joint_names=("Pelvis", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Spine", "Thorax", "Neck",
                 "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist"),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    left=(4, 5, 6, 11, 12, 13),
    right=(1, 2, 3, 14, 15, 16),
    bone_groups=(("RHip", "LHip"), ("RKnee", "LKnee"), ("RAnkle", "LAnkle"), ("Spine",), ("Thorax",), ("Neck",),
                 ("Head",), ("RShoulder", "LShoulder"), ("RElbow", "LElbow"), ("RWrist", "LWrist")),
    frozen_bones=("Spine", "Thorax"),
    parts={
        "torso": ("RHip", "LHip", "Spine", "Thorax", "Neck", "Head", "LShoulder", "RShoulder"),
        "left_leg": ("RHip", "LHip", "LKnee", "LAnkle", "Spine"),
        "right_leg": ("RHip", "RKnee", "RAnkle", "LHip", "Spine"),
        "left_arm": ("Thorax", "LShoulder", "LElbow", "LWrist"),
        "right_arm": ("Thorax", "RShoulder", "RElbow", "RWrist"),
    },
)

# PoseAug's layout: H36M17 without Neck/Nose; the head and both shoulders hang off the thorax. Its bone
# groups and KCS parts reproduce PoseAug's index tables (see REFERENCES: torso [0,3,6,7,8,9,12], ...).
H36M16 = Skeleton(
    name="h36m16",
    joint_names=("Pelvis", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Spine", "Thorax", "Head",
                 "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist"),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 8, 10, 11, 8, 13, 14),
    left=(4, 5, 6, 10, 11, 12),
    right=(1, 2, 3, 13, 14, 15),
    bone_groups=(("RHip", "LHip"), ("RKnee", "LKnee"), ("RAnkle", "LAnkle"), ("Spine",), ("Thorax",), ("Head",),
                 ("RShoulder", "LShoulder"), ("RElbow", "LElbow"), ("RWrist", "LWrist")),
    frozen_bones=("Spine", "Thorax"),
    parts={
        "torso": ("RHip", "LHip", "Spine", "Thorax", "Head", "LShoulder", "RShoulder"),
        "left_leg": ("RHip", "LHip", "LKnee", "LAnkle", "Spine"),
        "right_leg": ("RHip", "RKnee", "RAnkle", "LHip", "Spine"),
        "left_arm": ("Thorax", "LShoulder", "LElbow", "LWrist"),
        "right_arm": ("Thorax", "RShoulder", "RElbow", "RWrist"),
    },
)

# The 2D keypoint set of every image domain (MPII order, UDAPE / TLlib's Body16; see posefast.data.image2d.keypoints):
# a keypoint set, not in kinematic order (right ankle first, the pelvis is the root at index 6). Its tree is the
# stick figure drawn for it; it has no bone groups, frozen bones or KCS parts.
BODY16 = Skeleton(
    name="body16",
    joint_names=("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
                 "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder",
                 "left_elbow", "left_wrist"),
    parents=(1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 7, 7, 13, 14),
    left=(3, 4, 5, 13, 14, 15),
    right=(2, 1, 0, 12, 11, 10),
    bone_groups=(),
    frozen_bones=(),
)

# -- Animal keypoint sets ---------------------------------------------------------------------------------------
# Keypoint sets (not kinematic). Their trees are the stick figures drawn for them; where a layout lacks a trunk point
# (animal14 has no withers or tail base) an edge joins the nearest points it has. The keypoint groups and flip pairs
# are the released evaluation code's (checked in tests/test_skeleton_animal.py against the numbers read there):
#   UDAPE (VisionLearningGroup/UDA_PoseEstimation @ baf85f1), lib/datasets/keypoint_dataset.py lines 161-167
#   (Animal18: eye, chin, hoof, hip, knee, shoulder, elbow) and 208-211 (Animal14: eye, hoof, knee, elbow);
#   UDA-Animal-Pose (chaneyddtt/UDA-Animal-Pose @ 36ef846), evaluation/test.py line 179 (the same 18-keypoint
#   parts) and pose/utils/transforms.py line 43 (flip pairs of 'real_animal').

# SynAnimal / TigDog, 18 keypoints, as UDAPE and UDA-Animal-Pose index them (TigDog's landmark file order, the tiger
# reordered to the horse's: UDA-Animal-Pose pose/datasets/real_animal_all.py line 69). Side names follow the
# Animal-Pose order they are mapped to (animal14 below): keypoint 3 becomes Animal-Pose's left front paw.
TIGDOG18 = Skeleton(
    name="tigdog18",
    joint_names=("left_eye", "right_eye", "chin", "left_front_hoof", "right_front_hoof", "left_back_hoof",
                 "right_back_hoof", "hip", "left_front_knee", "right_front_knee", "left_back_knee", "right_back_knee",
                 "left_shoulder", "right_shoulder", "left_front_elbow", "right_front_elbow", "left_back_elbow",
                 "right_back_elbow"),
    parents=(2, 2, 12, 8, 9, 10, 11, -1, 14, 15, 16, 17, 7, 7, 12, 13, 7, 7),
    left=(0, 3, 5, 8, 10, 12, 14, 16),
    right=(1, 4, 6, 9, 11, 13, 15, 17),
    bone_groups=(),
    frozen_bones=(),
    keypoint_groups={
        "eye": ("left_eye", "right_eye"), "chin": ("chin",),
        "hoof": ("left_front_hoof", "right_front_hoof", "left_back_hoof", "right_back_hoof"), "hip": ("hip",),
        "knee": ("left_front_knee", "right_front_knee", "left_back_knee", "right_back_knee"),
        "shoulder": ("left_shoulder", "right_shoulder"),
        "elbow": ("left_front_elbow", "right_front_elbow", "left_back_elbow", "right_back_elbow"),
    },
)

# The keypoint groups UDAPE reports on the Animal-Pose dataset (the same names in animal14 and animalpose20).
_ANIMAL_POSE_GROUPS = {
    "eye": ("left_eye", "right_eye"),
    "hoof": ("left_front_paw", "right_front_paw", "left_back_paw", "right_back_paw"),
    "knee": ("left_front_knee", "right_front_knee", "left_back_knee", "right_back_knee"),
    "elbow": ("left_front_elbow", "right_front_elbow", "left_back_elbow", "right_back_elbow"),
}

# UDAPE's 14 keypoints for the Animal-Pose dataset (dog, sheep, ...): the 20 of animalpose20 picked by
# lib/datasets/animal_pose.py line 59 (eyes, paws, knees, elbows); the SynAnimal hound/sheep keypoints drop chin, hip
# and shoulders for it (lib/datasets/synthetic_animal_sp_all_other.py lines 35-40).
ANIMAL14 = Skeleton(
    name="animal14",
    joint_names=("left_eye", "right_eye", "left_front_paw", "right_front_paw", "left_back_paw", "right_back_paw",
                 "left_front_knee", "right_front_knee", "left_back_knee", "right_back_knee", "left_front_elbow",
                 "right_front_elbow", "left_back_elbow", "right_back_elbow"),
    parents=(-1, 0, 6, 7, 8, 9, 10, 11, 12, 13, 0, 0, 10, 11),
    left=(0, 2, 4, 6, 8, 10, 12),
    right=(1, 3, 5, 7, 9, 11, 13),
    bone_groups=(),
    frozen_bones=(),
    keypoint_groups=_ANIMAL_POSE_GROUPS,
)

# The Animal-Pose dataset's 20 keypoints (Cao et al., ICCV 2019) in its keypoints.json order, the order UDAPE's
# pts_index reads (lib/datasets/animal_pose.py line 59). COCO conversions (e.g. mmpose's) list them in another order
# under other spellings (L_EarBase, L_F_Paw, ...); the coco:/dlc: readers match by name through ANIMAL_NAME_ALIASES
# of posefast.data.image2d.animal_files, so either order loads.
ANIMALPOSE20 = Skeleton(
    name="animalpose20",
    joint_names=("left_eye", "right_eye", "nose", "left_ear", "right_ear", "left_front_elbow", "right_front_elbow",
                 "left_back_elbow", "right_back_elbow", "left_front_knee", "right_front_knee", "left_back_knee",
                 "right_back_knee", "left_front_paw", "right_front_paw", "left_back_paw", "right_back_paw", "throat",
                 "withers", "tailbase"),
    parents=(2, 2, 17, 0, 1, 18, 18, 19, 19, 5, 6, 7, 8, 9, 10, 11, 12, 18, -1, 18),
    left=(0, 3, 5, 7, 9, 11, 13, 15),
    right=(1, 4, 6, 8, 10, 12, 14, 16),
    bone_groups=(),
    frozen_bones=(),
    keypoint_groups=_ANIMAL_POSE_GROUPS,
)

# AP-10K's 17 COCO-style keypoints (Yu et al., NeurIPS 2021 Datasets track), in its annotation files' order.
AP10K17 = Skeleton(
    name="ap10k17",
    joint_names=("left_eye", "right_eye", "nose", "neck", "root_of_tail", "left_shoulder", "left_elbow",
                 "left_front_paw", "right_shoulder", "right_elbow", "right_front_paw", "left_hip", "left_knee",
                 "left_back_paw", "right_hip", "right_knee", "right_back_paw"),
    parents=(2, 2, 3, -1, 3, 3, 5, 6, 3, 8, 9, 4, 11, 12, 4, 14, 15),
    left=(0, 5, 6, 7, 11, 12, 13),
    right=(1, 8, 9, 10, 14, 15, 16),
    bone_groups=(),
    frozen_bones=(),
    keypoint_groups={
        "eye": ("left_eye", "right_eye"), "nose": ("nose",), "neck": ("neck",), "tail": ("root_of_tail",),
        "shoulder": ("left_shoulder", "right_shoulder"), "elbow": ("left_elbow", "right_elbow"),
        "hip": ("left_hip", "right_hip"), "knee": ("left_knee", "right_knee"),
        "paw": ("left_front_paw", "right_front_paw", "left_back_paw", "right_back_paw"),
    },
)

# A mouse seen from the side: the keypoints of Lightning Pose's mirror-mouse example that one view shows (its
# bodyparts paw1LH, paw2LF, paw3RF, paw4RH, tailBase, tailMid, nose with the _top suffix), and what the embedded
# rodent (posefast.data.image2d.animal_render) labels.
MOUSE7 = Skeleton(
    name="mouse7",
    joint_names=("nose", "left_front_paw", "right_front_paw", "left_hind_paw", "right_hind_paw", "tail_base",
                 "tail_mid"),
    parents=(5, 0, 0, 5, 5, -1, 5),
    left=(1, 3),
    right=(2, 4),
    bone_groups=(),
    frozen_bones=(),
    keypoint_groups={"nose": ("nose",), "front_paw": ("left_front_paw", "right_front_paw"),
                     "hind_paw": ("left_hind_paw", "right_hind_paw"), "tail": ("tail_base", "tail_mid")},
)

_REGISTRY = {s.name: s for s in (H36M17, H36M16, BODY16, TIGDOG18, ANIMAL14, ANIMALPOSE20, AP10K17, MOUSE7)}

# Keypoint k of the target layout comes from keypoint KEYPOINT_MAPS[(source, target)][k] of the source (-1: the
# source has no such keypoint). tigdog18 -> animal14 is UDAPE's SynAnimal hound/sheep selection (the 18-vertex list
# minus chin, hip and both shoulders, lib/datasets/synthetic_animal_sp_all_other.py lines 35-40); animalpose20 ->
# animal14 is its pts_index (lib/datasets/animal_pose.py line 59). AP-10K's legs have three points (shoulder, elbow,
# paw / hip, knee, paw) where Animal-Pose's have elbow, knee, paw, and no released code pairs them, so only its
# eyes and paws map.
KEYPOINT_MAPS: dict[tuple[str, str], tuple[int, ...]] = {
    ("tigdog18", "animal14"): (0, 1, 3, 4, 5, 6, 8, 9, 10, 11, 14, 15, 16, 17),
    ("animalpose20", "animal14"): (0, 1, 13, 14, 15, 16, 9, 10, 11, 12, 5, 6, 7, 8),
    ("ap10k17", "animal14"): (0, 1, 7, 10, 13, 16, -1, -1, -1, -1, -1, -1, -1, -1),
}


def layout_of(joint_names) -> "Skeleton | None":
    """The registered layout whose joint names are ``joint_names`` (in that order), or None."""
    names = tuple(joint_names)
    return next((s for s in _REGISTRY.values() if s.joint_names == names), None)


def skeleton_names() -> list[str]:
    """The registered layouts' names."""
    return sorted(_REGISTRY)


def keypoint_map(source: "Skeleton | str", target: "Skeleton | str") -> tuple[int, ...]:
    """For each keypoint of ``target``, the index of the same keypoint in ``source`` (-1: ``source`` lacks it).

    The identity for one layout, a table of :data:`KEYPOINT_MAPS` otherwise; a ValueError naming ``target`` when
    no table joins the two."""
    src, dst = get_skeleton(source), get_skeleton(target)
    if src is dst:
        return tuple(range(src.num_joints))
    try:
        return KEYPOINT_MAPS[(src.name, dst.name)]
    except KeyError:
        known = ", ".join(f"{a} -> {b}" for a, b in KEYPOINT_MAPS)
        raise ValueError(f"target: no keypoint mapping from {src.name} to {dst.name} (known: {known})") from None


def get_skeleton(skeleton: "Skeleton | str") -> Skeleton:
    """Resolve a layout given by object or registry name (``"h36m17"``, ``"h36m16"``, ``"body16"``, the animal sets
    ``"tigdog18"``, ``"animal14"``, ``"animalpose20"``, ``"ap10k17"``, ``"mouse7"``)."""
    if isinstance(skeleton, Skeleton):
        return skeleton
    try:
        return _REGISTRY[str(skeleton).lower()]
    except KeyError:
        raise ValueError(f"skeleton: unknown layout {skeleton!r}; expected one of {sorted(_REGISTRY)}") from None


_NECK17 = H36M17.joint("Neck")
_KEEP_17_TO_16 = [j for j in range(17) if j != _NECK17]


def h36m17_to_h36m16(joints):
    """[..., 17, C] -> [..., 16, C]: drop the neck/nose joint (exact)."""
    if joints.shape[-2] != 17:
        raise ValueError(f"joints: expected [..., 17, C] in h36m17 order, got shape {tuple(joints.shape)}")
    return joints[..., _KEEP_17_TO_16, :]


def h36m16_to_h36m17(joints, neck_fraction: float = 0.5):
    """[..., 16, C] -> [..., 17, C]: re-insert the neck/nose joint.

    The 16-joint layout has lost that point, so it is *approximated* on the thorax→head segment at
    ``neck_fraction`` (0.5 by default: Human3.6M's neck/nose marker sits about midway). 17→16→17 therefore
    reproduces every joint but the neck exactly.
    """
    if joints.shape[-2] != 16:
        raise ValueError(f"joints: expected [..., 16, C] in h36m16 order, got shape {tuple(joints.shape)}")
    thorax, head = joints[..., 8:9, :], joints[..., 9:10, :]
    neck = thorax + neck_fraction * (head - thorax)
    cat = np.concatenate if isinstance(joints, np.ndarray) else _torch_cat
    return cat([joints[..., :9, :], neck, joints[..., 9:, :]], -2)


def _torch_cat(parts, dim):
    import torch

    return torch.cat(parts, dim)
