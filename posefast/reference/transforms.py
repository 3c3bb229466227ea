"""Pure-torch twins of the pose-transform ops: same contracts as :mod:`posefast.ops.transforms`, autograd gradients.

They are the oracle the kernels are tested against and the fallback behind ``posefast.use_kernels(False)``. They
take already validated arguments (the public ops validate) and resolved defaults.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from posefast.reference.skeleton import bone_vectors, forward_kinematics
from posefast.skeleton import Skeleton, get_skeleton

# Below this |r|² Rodrigues' coefficients come from their Taylor series (same switch as the kernel).
RODRIGUES_TAYLOR_BELOW = 0.1


def _series(t: Tensor, first: float, ratios: Sequence[float]) -> Tensor:
    """first · (1 − t/ratios[0] · (1 − t/ratios[1] · (…))): an alternating series by its term ratios."""
    acc = torch.ones_like(t)
    for d in reversed(ratios):
        acc = 1 - t / d * acc
    return first * acc


def rotvec_to_rotmat(rotvec: Tensor) -> Tensor:
    """``[..., 3] -> [..., 3, 3]``: Rodrigues, R = cos θ·I + (sin θ/θ)·[r]x + ((1 − cos θ)/θ²)·r rᵀ."""
    t = (rotvec * rotvec).sum(-1)
    small = t < RODRIGUES_TAYLOR_BELOW
    t_big = torch.where(small, torch.ones_like(t), t)  # keeps the unused branch (and its gradient) finite
    theta = t_big.sqrt()
    a = torch.where(small, _series(t, 1.0, [6, 20, 42, 72, 110, 156]), torch.sin(theta) / theta)
    b = torch.where(small, _series(t, 0.5, [12, 30, 56, 90, 132, 182]), 2 * torch.sin(theta / 2) ** 2 / t_big)
    c = torch.where(small, 1 - t * b, torch.cos(theta))
    x, y, z = rotvec.unbind(-1)
    zero = torch.zeros_like(x)
    cross = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).unflatten(-1, (3, 3))
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device)
    outer = rotvec.unsqueeze(-1) * rotvec.unsqueeze(-2)
    return c[..., None, None] * eye + a[..., None, None] * cross + b[..., None, None] * outer


def _frozen_mask(skel: Skeleton, frozen: Sequence[str] | None, device) -> Tensor:
    names = skel.frozen_bones if frozen is None else tuple(frozen)
    mask = torch.zeros(skel.num_bones, dtype=torch.bool, device=device)
    for name in names:
        mask[skel.bone(name)] = True
    return mask


def bone_angle_augment(joints: Tensor, delta: Tensor, skeleton: Skeleton | str, frozen: Sequence[str] | None = None,
                       eps: float = 1e-6) -> tuple[Tensor, Tensor]:
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


def project(points: Tensor, camera: Tensor, min_depth: float = 1e-6) -> Tensor:
    """VideoPose3D camera model, ``([..., N, 3], [..., 4 or 9]) -> [..., N, 2]``, depth clamped below at min_depth."""
    cam = camera[..., None, :]
    xy = points[..., :2] / points[..., 2:].clamp(min=min_depth)
    if camera.shape[-1] == 9:
        xy = xy.clamp(-1, 1)
        r2 = (xy * xy).sum(-1, keepdim=True)
        k, p = cam[..., 4:7], cam[..., 7:9]
        radial = 1 + (k * torch.cat([r2, r2**2, r2**3], -1)).sum(-1, keepdim=True)
        tangential = (p * xy).sum(-1, keepdim=True)
        xy = xy * (radial + tangential) + p * r2
    return cam[..., :2] * xy + cam[..., 2:4]


def global_position_align(joints_3d: Tensor, target_2d: Tensor, camera: Tensor,
                          depth_range: tuple[float, float] = (0.5, 50.0), min_scale: float = 1e-6) -> Tensor:
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
                     camera: Tensor, skeleton: Skeleton | str, frozen: Sequence[str] | None = None, eps: float = 1e-6,
                     min_depth: float = 1e-6) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """BA → BL → RT → project, chained: ``(joints_ba, joints_bl, joints_rt, uv_rt, cos_change)``."""
    joints_ba, cos_change = bone_angle_augment(joints, delta, skeleton, frozen, eps)
    joints_bl = bone_length_augment(joints_ba, ratio, skeleton)
    joints_rt = rigid_transform(joints_bl, rotvec, translation)
    return joints_ba, joints_bl, joints_rt, project(joints_rt, camera, min_depth), cos_change


# ---- screen normalisation (VideoPose3D convention): plain elementwise torch, also used by posefast.ops ----------
def _image_size(w, h, like: Tensor, trailing: int) -> tuple[Tensor, Tensor]:
    """w, h (numbers or per-pose tensors) as tensors with ``trailing`` singleton dims to broadcast over."""
    shape = lambda v: v.reshape(v.shape + (1,) * trailing)  # noqa: E731
    w = torch.as_tensor(w, dtype=like.dtype, device=like.device)
    h = torch.as_tensor(h, dtype=like.dtype, device=like.device)
    return shape(w), shape(h)


def normalize_screen(uv: Tensor, w, h) -> Tensor:
    """Pixels → normalised screen, ``[..., N, 2]``: ``uv / w · 2 − [1, h / w]``."""
    w, h = _image_size(w, h, uv, 2)
    return uv / w * 2 - torch.cat([torch.ones_like(h), h / w], -1)


def denormalize_screen(uv: Tensor, w, h) -> Tensor:
    """Inverse of :func:`normalize_screen`: ``(uv + [1, h / w]) · w / 2``."""
    w, h = _image_size(w, h, uv, 2)
    return (uv + torch.cat([torch.ones_like(h), h / w], -1)) * w / 2


def normalize_camera(camera: Tensor, w, h) -> Tensor:
    """Pixel intrinsics → normalised-screen intrinsics, ``[..., 4 or 9]``: f·2/w, c·2/w − [1, h/w], distortion
    terms unchanged (they act on x/z, y/z, which the screen normalisation does not touch)."""
    w, h = _image_size(w, h, camera, 1)
    f = camera[..., :2] * 2 / w
    c = camera[..., 2:4] * 2 / w - torch.cat([torch.ones_like(h), h / w], -1)
    return torch.cat([f, c, camera[..., 4:]], -1)
