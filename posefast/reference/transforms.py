"""Pure-torch twins of the pose-transform ops: same contracts as :mod:`posefast.ops.transforms`, autograd gradients.

They are the oracle the kernels are tested against and the fallback behind ``posefast.use_kernels(False)``. They
take already validated arguments (the public ops validate) and resolved defaults.

The camera twins (``project``, ``normalize_screen``, ``denormalize_screen``, ``normalize_camera``) and
``rotvec_to_rotmat`` are :mod:`posefast.geometry`'s functions, re-exported here: one implementation serves the
ops' fallback, the tests' oracle and the data loaders. Defaults come from :mod:`posefast.geometry.constants`.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from posefast.geometry import (DEFAULT_DEPTH_RANGE, DEFAULT_EPS, DEFAULT_MIN_DEPTH, DEFAULT_MIN_SCALE,
                               RODRIGUES_TAYLOR_BELOW, denormalize_screen, normalize_camera, normalize_screen, project,
                               rotvec_to_rotmat)
from posefast.reference.skeleton import bone_vectors, forward_kinematics
from posefast.skeleton import Skeleton, get_skeleton

__all__ = ["rotvec_to_rotmat", "bone_angle_augment", "bone_length_augment", "rigid_transform", "project",
           "global_position_align", "augment_pipeline", "normalize_screen", "denormalize_screen", "normalize_camera",
           "RODRIGUES_TAYLOR_BELOW"]

def _frozen_mask(skel: Skeleton, frozen: Sequence[str] | None, device) -> Tensor:
    names = skel.frozen_bones if frozen is None else tuple(frozen)
    mask = torch.zeros(skel.num_bones, dtype=torch.bool, device=device)
    for name in names:
        mask[skel.bone(name)] = True
    return mask


def bone_angle_augment(joints: Tensor, delta: Tensor, skeleton: Skeleton | str, frozen: Sequence[str] | None = None,
                       eps: float = DEFAULT_EPS) -> tuple[Tensor, Tensor]:
    """PoseAug BA: ``([..., J, 3], [..., B, 3]) -> ([..., J, 3], [..., B])``."""
    skel = get_skeleton(skeleton)
    bones = bone_vectors(joints, skel)
    length = torch.linalg.vector_norm(bones, dim=-1, keepdim=True)
    unit = F.normalize(bones, dim=-1, eps=eps)
    new_unit = F.normalize(unit + delta, dim=-1, eps=eps)
    keep = _frozen_mask(skel, frozen, joints.device)
    new_bones = torch.where(keep[:, None], bones, length * new_unit)
    cos_change = torch.where(keep, torch.zeros_like(length[..., 0]), 1 - (new_unit * unit).sum(-1))
    return forward_kinematics(new_bones, skel, joints[..., 0, :]), cos_change


def bone_length_augment(joints: Tensor, ratio: Tensor, skeleton: Skeleton | str) -> Tensor:
    """PoseAug BL: ``([..., J, 3], [..., G]) -> [..., J, 3]``, bone b scaled by 1 + ratio[group(b)]."""
    skel = get_skeleton(skeleton)
    groups = torch.tensor(skel.bone_group_index.tolist(), device=joints.device)
    scale = 1 + ratio[..., groups]
    return forward_kinematics(bone_vectors(joints, skel) * scale[..., None], skel, joints[..., 0, :])


def rigid_transform(joints: Tensor, rotvec: Tensor, translation: Tensor) -> Tensor:
    """PoseAug RT: ``R(rotvec) (x − x_root) + translation``; ``[..., J, 3]``."""
    rel = joints - joints[..., :1, :]
    return rel @ rotvec_to_rotmat(rotvec).transpose(-1, -2) + translation[..., None, :]


def global_position_align(joints_3d: Tensor, target_2d: Tensor, camera: Tensor,
                          depth_range: tuple[float, float] = DEFAULT_DEPTH_RANGE,
                          min_scale: float = DEFAULT_MIN_SCALE) -> Tensor:
    """PoseDA GPA: root on the ray of the target's 2D root at depth (fx Δx + fy Δy)/(2 s); ``[..., J, 3]``."""
    fx, fy, cx, cy = camera.unbind(-1)
    extent = joints_3d[..., :2].amax(-2) - joints_3d[..., :2].amin(-2)  # [..., 2]
    box = target_2d.amax(-2) - target_2d.amin(-2)
    s = (box[..., 0] + box[..., 1]) / 2
    z = (fx * extent[..., 0] + fy * extent[..., 1]) / (2 * s.clamp(min=min_scale))
    z = z.clamp(depth_range[0], depth_range[1])
    root = torch.stack([z * (target_2d[..., 0, 0] - cx) / fx, z * (target_2d[..., 0, 1] - cy) / fy, z], -1)
    return joints_3d - joints_3d[..., :1, :] + root[..., None, :]


def augment_pipeline(joints: Tensor, delta: Tensor, ratio: Tensor, rotvec: Tensor, translation: Tensor,
                     camera: Tensor, skeleton: Skeleton | str, frozen: Sequence[str] | None = None,
                     eps: float = DEFAULT_EPS,
                     min_depth: float = DEFAULT_MIN_DEPTH) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """BA → BL → RT → project, chained: ``(joints_ba, joints_bl, joints_rt, uv_rt, cos_change)``."""
    joints_ba, cos_change = bone_angle_augment(joints, delta, skeleton, frozen, eps)
    joints_bl = bone_length_augment(joints_ba, ratio, skeleton)
    joints_rt = rigid_transform(joints_bl, rotvec, translation)
    return joints_ba, joints_bl, joints_rt, project(joints_rt, camera, min_depth), cos_change
