"""Pure-torch twins of the skeleton ops: same contracts as :mod:`posefast.ops.skeleton`, autograd for gradients.

They are the oracle the kernels are tested against and the fallback behind ``posefast.use_kernels(False)``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from posefast.geometry import DEFAULT_EPS
from posefast.skeleton import Skeleton, get_skeleton


def bone_vectors(joints: Tensor, skeleton: Skeleton | str) -> Tensor:
    """``[..., J, 3] -> [..., J - 1, 3]``: child minus parent."""
    skel = get_skeleton(skeleton).require_kinematic()
    parents = torch.tensor(skel.parents[1:], device=joints.device)
    return joints[..., 1:, :] - joints[..., parents, :]


def forward_kinematics(bones: Tensor, skeleton: Skeleton | str, root: Tensor | None = None) -> Tensor:
    """``[..., B, 3] -> [..., B + 1, 3]``: accumulate bones from the root down the (topologically sorted) tree."""
    skel = get_skeleton(skeleton).require_kinematic()
    if root is None:
        root = bones.new_zeros(bones.shape[:-2] + (3,))
    joints = [root]
    for c in range(1, skel.num_joints):
        joints.append(joints[skel.parents[c]] + bones[..., c - 1, :])
    return torch.stack(joints, dim=-2)


def kcs(bones: Tensor) -> Tensor:
    """``[..., B, 3] -> [..., B, B]``: Gram matrix of the bone vectors."""
    return bones @ bones.transpose(-1, -2)


def part_kcs(joints: Tensor, skeleton: Skeleton | str, normalize: bool = True, eps: float = DEFAULT_EPS) -> Tensor:
    """``[..., J, 3] -> [..., P, B, B]``: per-part masked Gram matrices of (unit) bones."""
    skel = get_skeleton(skeleton)
    bones = bone_vectors(joints, skel)
    if normalize:
        bones = torch.nn.functional.normalize(bones, dim=-1, eps=eps)
    masks = torch.tensor(skel.part_masks, dtype=joints.dtype, device=joints.device)  # [P, B]
    gram = kcs(bones).unsqueeze(-3)  # [..., 1, B, B]
    return gram * masks[:, :, None] * masks[:, None, :]


def part_kcs_compact(joints: Tensor, skeleton: Skeleton | str, normalize: bool = True,
                     eps: float = DEFAULT_EPS) -> Tensor:
    """``[..., J, 3] -> [..., P, D]``: the distinct entries ``<u_i, u_k>`` of each part's KCS matrix, in the layout
    ``skeleton.compact_kcs_pairs`` (zero where a part's row is padding)."""
    skel = get_skeleton(skeleton)
    bones = bone_vectors(joints, skel)
    if normalize:
        bones = torch.nn.functional.normalize(bones, dim=-1, eps=eps)
    pairs = torch.tensor(skel.compact_kcs_pairs, device=joints.device)  # [P, D, 2], -1 = padding
    valid = pairs[..., 0] >= 0
    index = pairs.clamp_min(0)
    dots = (bones[..., index[..., 0], :] * bones[..., index[..., 1], :]).sum(-1)  # [..., P, D]
    return torch.where(valid, dots, torch.zeros_like(dots))
