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

__all__ = ["Skeleton", "H36M17", "H36M16", "BODY16", "get_skeleton", "h36m17_to_h36m16", "h36m16_to_h36m17",
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

_REGISTRY = {s.name: s for s in (H36M17, H36M16, BODY16)}


def get_skeleton(skeleton: "Skeleton | str") -> Skeleton:
    """Resolve a layout given by object or registry name (``"h36m17"``, ``"h36m16"``, ``"body16"``)."""
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
