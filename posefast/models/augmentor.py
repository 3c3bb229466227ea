"""PoseAug's augmentation generator *heads* (Gong et al., "PoseAug: A Differentiable Pose Augmentation Framework
for 3D Human Pose Estimation", CVPR 2021).

The heads only predict augmentation parameters; applying them (bone-angle / bone-length changes, rigid
transform, projection) is done by the kernel ops ``bone_angle_augment``, ``bone_length_augment``,
``rigid_transform``, ``project`` and ``augment_pipeline``. As in the released code, every head looks at the
*original* root-relative 3D pose plus its own N(0, 1) noise (48 dims), not at the output of the previous stage.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from posefast.skeleton import Skeleton, get_skeleton
from posefast.models._common import check_positive_int, check_tensor, kaiming_linear_init

__all__ = ["GeneratorMLP", "BAHead", "BLHead", "RTHead", "PoseAugmentor", "bone_lengths"]

_LEAKY_SLOPE = 0.01  # nn.LeakyReLU's default, used by PoseAug's generator


class _Block(nn.Module):
    """2×(Linear, BN, LeakyReLU) on ``[N, width]``; ``residual`` adds the input back."""

    def __init__(self, width: int, residual: bool):
        super().__init__()
        self.residual = residual
        self.body = nn.Sequential(nn.Linear(width, width), nn.BatchNorm1d(width), nn.LeakyReLU(_LEAKY_SLOPE),
                                  nn.Linear(width, width), nn.BatchNorm1d(width), nn.LeakyReLU(_LEAKY_SLOPE))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class GeneratorMLP(nn.Module):
    """``[N, in] -> [N, out]``: Linear(in→width) → BN → LeakyReLU → ``num_blocks`` blocks → Linear(width→out).

    PoseAug's released blocks have *no* skip connection (``residual=False``, the default here); the paper's
    figure draws them as residual, which ``residual=True`` gives. Linear weights: Kaiming-normal.
    """

    def __init__(self, in_features: int, out_features: int, width: int = 256, num_blocks: int = 2,
                 residual: bool = False):
        super().__init__()
        width = check_positive_int(width, "width")
        self.net = nn.Sequential(nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.LeakyReLU(_LEAKY_SLOPE),
                                 *[_Block(width, residual) for _ in range(num_blocks)],
                                 nn.Linear(width, out_features))
        self.apply(kaiming_linear_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.no_grad()
    def scale_output(self, scale: float) -> None:
        """Multiply the output Linear's weight by ``scale`` and zero its bias: the head's outputs start near 0
        (the identity augmentation for every PoseAug head) while still depending on the pose and the noise."""
        if not scale >= 0:
            raise ValueError(f"scale: expected a non-negative factor, got {scale!r}")
        last = self.net[-1]
        last.weight.mul_(scale)
        last.bias.zero_()


def bone_lengths(pose_3d: torch.Tensor, skeleton: Skeleton | str) -> torch.Tensor:
    """``[..., J, 3] -> [..., B]``: length of every child-indexed bone (bone b ends at joint b+1)."""
    sk = get_skeleton(skeleton)
    check_tensor(pose_3d, "pose_3d", (sk.num_joints, 3))
    return _bone_lengths(pose_3d, torch.tensor(sk.parents_array[1:], device=pose_3d.device))


def _bone_lengths(pose_3d: torch.Tensor, bone_parents: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(pose_3d[..., 1:, :] - pose_3d[..., bone_parents, :], dim=-1)


class _Head(nn.Module):
    """Shared plumbing: skeleton, input checks, root-relative flattening, noise sampling/validation."""

    def __init__(self, skeleton, noise_dim: int):
        super().__init__()
        self.skeleton = get_skeleton(skeleton)
        self.noise_dim = check_positive_int(noise_dim, "noise_dim")

    def _flat_pose(self, pose_3d: torch.Tensor) -> torch.Tensor:
        check_tensor(pose_3d, "pose_3d", (self.skeleton.num_joints, 3))
        rel = pose_3d - pose_3d[..., :1, :]
        return rel.reshape(-1, 3 * self.skeleton.num_joints)

    def _noise(self, noise, lead: torch.Size, like: torch.Tensor, name: str, generator) -> torch.Tensor:
        if noise is None:
            return torch.randn(*lead, self.noise_dim, generator=generator, device=like.device, dtype=like.dtype)
        check_tensor(noise, name, (self.noise_dim,))
        if noise.shape[:-1] != lead:
            raise ValueError(f"{name}: expected shape {(*lead, self.noise_dim)}, got {tuple(noise.shape)}")
        return noise

    def extra_repr(self) -> str:
        return f"skeleton={self.skeleton.name!r}, noise_dim={self.noise_dim}"


class BAHead(_Head):
    """Bone-angle head: ``pose [..., J, 3]`` (+ noise ``[..., 48]``) -> direction offsets ``delta [..., B, 3]``.

    The offsets are added to the unit bone vectors and renormalised by ``bone_angle_augment``.
    """

    def __init__(self, skeleton="h36m16", noise_dim: int = 48, width: int = 256, num_blocks: int = 2,
                 residual: bool = False):
        super().__init__(skeleton, noise_dim)
        J, B = self.skeleton.num_joints, self.skeleton.num_bones
        self.mlp = GeneratorMLP(3 * J + noise_dim, 3 * B, width, num_blocks, residual)

    def forward(self, pose_3d: torch.Tensor, noise: torch.Tensor | None = None, generator=None) -> torch.Tensor:
        lead = pose_3d.shape[:-2]
        x = self._flat_pose(pose_3d)
        z = self._noise(noise, lead, x, "noise", generator).reshape(-1, self.noise_dim)
        return self.mlp(torch.cat([x, z], dim=1)).reshape(*lead, self.skeleton.num_bones, 3)


class BLHead(_Head):
    """Bone-length head: ``pose [..., J, 3]`` + ``bone_lengths [..., B]`` (+ noise) -> group ratios ``[..., G]``.

    ``ratio = tanh(·)·tanh_limit`` (PoseAug: ±20 %), one per symmetric bone group of the skeleton; groups in
    ``frozen_groups`` are forced to exactly 0. The default freezes the spine→thorax group (PoseAug's group 4:
    a uniformly taller person far away projects like a shorter one close by, so that length is left alone).
    """

    def __init__(self, skeleton="h36m16", noise_dim: int = 48, width: int = 256, num_blocks: int = 2,
                 residual: bool = False, tanh_limit: float = 0.2, frozen_groups: Sequence[int] | None = None):
        super().__init__(skeleton, noise_dim)
        sk = self.skeleton
        if not 0.0 < tanh_limit < 1.0:
            raise ValueError(f"tanh_limit: expected a value in (0, 1) so lengths stay positive, got {tanh_limit!r}")
        self.tanh_limit = float(tanh_limit)
        if frozen_groups is None:
            frozen_groups = (int(sk.bone_group_index[sk.bone("Thorax")]),) if "Thorax" in sk.joint_names else ()
        frozen_groups = tuple(frozen_groups)
        bad = [g for g in frozen_groups if isinstance(g, bool) or not isinstance(g, int)
               or not 0 <= g < sk.num_groups]
        if bad:
            raise ValueError(f"frozen_groups: expected group indices in [0, {sk.num_groups}), got {bad}")
        self.frozen_groups = frozen_groups
        keep = torch.ones(sk.num_groups, dtype=torch.bool)
        keep[list(frozen_groups)] = False
        self.register_buffer("group_keep", keep, persistent=False)
        self.mlp = GeneratorMLP(3 * sk.num_joints + sk.num_bones + noise_dim, sk.num_groups, width, num_blocks,
                                residual)

    def forward(self, pose_3d: torch.Tensor, bone_lengths: torch.Tensor, noise: torch.Tensor | None = None,
                generator=None) -> torch.Tensor:
        lead = pose_3d.shape[:-2]
        x = self._flat_pose(pose_3d)
        check_tensor(bone_lengths, "bone_lengths", (self.skeleton.num_bones,))
        if bone_lengths.shape[:-1] != lead:
            raise ValueError(f"bone_lengths: expected shape {(*lead, self.skeleton.num_bones)}, "
                             f"got {tuple(bone_lengths.shape)}")
        z = self._noise(noise, lead, x, "noise", generator).reshape(-1, self.noise_dim)
        raw = self.mlp(torch.cat([x, bone_lengths.reshape(-1, self.skeleton.num_bones), z], dim=1))
        ratio = torch.where(self.group_keep, torch.tanh(raw) * self.tanh_limit, torch.zeros_like(raw))
        return ratio.reshape(*lead, self.skeleton.num_groups)


class RTHead(_Head):
    """Rigid-transform head: ``pose [..., J, 3]`` -> ``(rotvec [..., 3], translation [..., 3])``.

    Two independent MLPs with independent noise, as released: axis-angle ``tanh(·)·rotation_limit`` (π) and a
    translation whose z is squared, so the new absolute root depth is non-negative. ``translation_limit`` (metres)
    replaces the latter by ``translation_center + tanh(·)·translation_limit`` per axis: a root kept within the
    source's own span.
    """

    def __init__(self, skeleton="h36m16", noise_dim: int = 48, width: int = 256, num_blocks: int = 2,
                 residual: bool = False, rotation_limit: float = math.pi, translation_limit: float | None = None,
                 translation_center=(0.0, 0.0, 0.0)):
        super().__init__(skeleton, noise_dim)
        if not rotation_limit > 0:
            raise ValueError(f"rotation_limit: expected a positive angle in radians, got {rotation_limit!r}")
        self.rotation_limit = float(rotation_limit)
        if translation_limit is not None and not translation_limit > 0:
            raise ValueError(f"translation_limit: expected a positive distance or None, got {translation_limit!r}")
        self.translation_limit = None if translation_limit is None else float(translation_limit)
        center = torch.as_tensor(translation_center, dtype=torch.float32).reshape(-1)
        if center.numel() != 3:
            raise ValueError(f"translation_center: expected (x, y, z), got {center.tolist()}")
        self.register_buffer("translation_center", center, persistent=False)  # set by the constructor caller
        in_features = 3 * self.skeleton.num_joints + noise_dim
        self.rotation_mlp = GeneratorMLP(in_features, 3, width, num_blocks, residual)
        self.translation_mlp = GeneratorMLP(in_features, 3, width, num_blocks, residual)

    def forward(self, pose_3d: torch.Tensor, noise_rotation: torch.Tensor | None = None,
                noise_translation: torch.Tensor | None = None, generator=None):
        lead = pose_3d.shape[:-2]
        x = self._flat_pose(pose_3d)
        zr = self._noise(noise_rotation, lead, x, "noise_rotation", generator).reshape(-1, self.noise_dim)
        zt = self._noise(noise_translation, lead, x, "noise_translation", generator).reshape(-1, self.noise_dim)
        rotvec = torch.tanh(self.rotation_mlp(torch.cat([x, zr], dim=1))) * self.rotation_limit
        t = self.translation_mlp(torch.cat([x, zt], dim=1))
        if self.translation_limit is None:  # released: absolute position, z squared
            translation = torch.cat([t[:, :2], t[:, 2:] * t[:, 2:]], dim=1)
        else:  # bounded: within translation_limit (per axis) of translation_center
            translation = self.translation_center + torch.tanh(t) * self.translation_limit
        return rotvec.reshape(*lead, 3), translation.reshape(*lead, 3)


class PoseAugmentor(nn.Module):
    """The three PoseAug heads together: ``pose [..., J, 3]`` -> dict of augmentation parameters

    ``delta [..., B, 3]`` (bone-angle offsets), ``ratio [..., G]`` (bone-length group ratios),
    ``rotvec [..., 3]`` (axis-angle) and ``translation [..., 3]`` (new root position, z ≥ 0).
    ``head_kwargs`` (width, num_blocks, residual, noise_dim) go to every head; ``bl_kwargs``/``rt_kwargs`` to
    one. Bone lengths for the BL head are measured on the input pose.
    """

    def __init__(self, skeleton="h36m16", bl_kwargs: dict | None = None, rt_kwargs: dict | None = None,
                 **head_kwargs):
        super().__init__()
        self.skeleton = get_skeleton(skeleton)
        self.ba = BAHead(self.skeleton, **head_kwargs)
        self.bl = BLHead(self.skeleton, **head_kwargs, **(bl_kwargs or {}))
        self.rt = RTHead(self.skeleton, **head_kwargs, **(rt_kwargs or {}))
        self.register_buffer("bone_parents", torch.tensor(self.skeleton.parents_array[1:]), persistent=False)

    @torch.no_grad()
    def init_near_identity(self, scale: float, root) -> None:
        """Start the heads near the identity augmentation: every head's output Linear weight is multiplied by
        ``scale`` and its bias zeroed (BA offsets, BL ratios and rotations ~0), and the translation head's bias is
        set so the root lands at ``root`` (x, y, z >= 0; z through the released t_z² form).

        Why: with Kaiming output layers (the release) the heads start at rotations of median ~140° and bone-angle
        changes of 1 − cos ≈ 0.4; the release trains the GAN for ~3000 steps before the lifter sees a sample, a
        budget far beyond a few-epoch adaptation. Near the identity, the first samples are plausible and the
        range, adversarial and feedback losses move them outward from there."""
        root = torch.as_tensor(root, dtype=torch.float32).reshape(-1)
        if root.numel() != 3 or not torch.isfinite(root).all() or root[2] < 0:
            raise ValueError(f"root: expected (x, y, z) with z >= 0, got {root.tolist()}")
        for mlp in (self.ba.mlp, self.bl.mlp, self.rt.rotation_mlp, self.rt.translation_mlp):
            mlp.scale_output(scale)
        bias = self.rt.translation_mlp.net[-1].bias
        if self.rt.translation_limit is None:
            bias.copy_(torch.stack([root[0], root[1], root[2].sqrt()]).to(bias))
        else:  # bounded form: tanh(0) = 0 puts the root at the head's centre; move the centre there
            self.rt.translation_center.copy_(root.to(self.rt.translation_center))

    def forward(self, pose_3d: torch.Tensor, generator=None) -> dict[str, torch.Tensor]:
        check_tensor(pose_3d, "pose_3d", (self.skeleton.num_joints, 3))
        rotvec, translation = self.rt(pose_3d, generator=generator)
        return {
            "delta": self.ba(pose_3d, generator=generator),
            "ratio": self.bl(pose_3d, _bone_lengths(pose_3d, self.bone_parents), generator=generator),
            "rotvec": rotvec,
            "translation": translation,
        }
