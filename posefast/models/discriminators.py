"""Pose discriminators of PoseAug (Gong et al., CVPR 2021) and an anchor discriminator for PoseDA's LPA
(Chai et al., ICCV 2023). They take *already computed* features (part KCS matrices, 2D poses); the KCS itself
is a kernel op (``part_kcs``) elsewhere."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from posefast.skeleton import Skeleton, compact_kcs_layout, get_skeleton
from posefast.models._common import check_positive_int, check_tensor, default_bias_bound, kaiming_linear_init

__all__ = ["PartwiseLinear", "PartKCSDiscriminator", "PoseDiscriminator2D", "AnchorDiscriminator",
           "anchor_features"]

_LEAKY_SLOPE = 0.01  # nn.LeakyReLU's default, which PoseAug uses throughout its discriminators


class PartwiseLinear(nn.Module):
    """P independent Linear layers applied in one batched matmul: ``[..., P, in] -> [..., P, out]``.

    ``weight [P, in, out]``, ``bias [P, out]``. Initialised like PoseAug's per-part ``nn.Linear``
    (Kaiming-normal weights, torch's default uniform bias). ``fan_in`` may give a per-part fan-in when only
    its first ``fan_in[p]`` input columns are real (the rest stay zero: padding of the compact KCS form).
    """

    def __init__(self, num_parts: int, in_features: int, out_features: int, fan_in=None):
        super().__init__()
        self.num_parts, self.in_features, self.out_features = num_parts, in_features, out_features
        fans = [in_features] * num_parts if fan_in is None else [int(f) for f in fan_in]
        if len(fans) != num_parts or any(not 0 < f <= in_features for f in fans):
            raise ValueError(f"fan_in: expected {num_parts} values in [1, {in_features}], got {fan_in!r}")
        self.weight = nn.Parameter(torch.zeros(num_parts, in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(num_parts, out_features))
        with torch.no_grad():
            for p, f in enumerate(fans):
                self.weight[p, :f].normal_(0.0, math.sqrt(2.0 / f))
                bound = default_bias_bound(f)
                self.bias[p].uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("...pi,pio->...po", x, self.weight) + self.bias

    def extra_repr(self) -> str:
        return f"parts={self.num_parts}, in={self.in_features}, out={self.out_features}"


def _compact_kcs_index(part_masks: np.ndarray):
    """Per part, the flat indices ``i*B + k`` into ``[B, B]`` of the compact layout's entries
    (:func:`posefast.skeleton.compact_kcs_layout`), padding pointing at ``B*B`` (an appended zero)."""
    pairs, sizes = compact_kcs_layout(part_masks)
    B = np.asarray(part_masks).shape[1]
    flat = np.where(pairs[..., 0] >= 0, pairs[..., 0] * B + pairs[..., 1], B * B)
    return torch.as_tensor(flat, dtype=torch.long), list(sizes)


class PartKCSDiscriminator(nn.Module):
    """PoseAug's 3D discriminator on part-wise KCS matrices: ``psi [..., P, B, B] -> scores [..., P]``.

    One path per body part (Wandt & Rosenhahn's KCS, part-aware as in PoseAug):
    ``a = lrelu(L1 ψ_p); b = lrelu(L2 a); c = L3 b + a; d = lrelu(L4 c); score = L5 d`` with widths
    ``B*B → hidden → hidden → hidden → mid → 1`` (PoseAug: hidden 256, mid 100).

    ``compact=True`` (needs ``part_masks [P, B]``) feeds each path only the distinct entries of its matrix:
    ψ_p is symmetric and zero outside part p's bones, so ``L1 ψ_p`` equals a Linear on the upper-triangle
    entries within the part (78 numbers per pose for h36m16 instead of 1125), in the layout of
    :func:`posefast.skeleton.compact_kcs_layout`. A compact discriminator takes either that compact tensor
    ``[..., P, D]`` (what :func:`posefast.part_kcs_compact` writes: no gather) or the full ``[..., P, B, B]``
    matrices (it gathers the entries); the trailing shape tells them apart. The two forms agree exactly on
    symmetric, part-masked inputs once weights are mapped with :meth:`from_full`; compact mode does not verify
    that precondition.
    """

    def __init__(self, num_parts: int, num_bones: int, *, hidden: int = 256, mid: int = 100,
                 compact: bool = False, part_masks=None):
        super().__init__()
        self.num_parts = check_positive_int(num_parts, "num_parts")
        self.num_bones = check_positive_int(num_bones, "num_bones")
        hidden, mid = check_positive_int(hidden, "hidden"), check_positive_int(mid, "mid")
        self.compact = bool(compact)
        if self.compact:
            if part_masks is None:
                raise ValueError("part_masks: required with compact=True (a [P, B] 0/1 array)")
            masks = np.asarray(part_masks.cpu() if isinstance(part_masks, torch.Tensor) else part_masks)
            if masks.shape != (num_parts, num_bones):
                raise ValueError(f"part_masks: expected shape ({num_parts}, {num_bones}), got {masks.shape}")
            index, fans = _compact_kcs_index(masks)
            if index.shape[1] == num_bones:  # [..., P, B, B] and a batch of P compact [P, D] would look alike
                raise ValueError(f"part_masks: the compact width ({index.shape[1]}) equals num_bones; the full and "
                                 "compact inputs could not be told apart")
            self.register_buffer("gather_index", index, persistent=False)
            self.register_buffer("part_arange", torch.arange(num_parts).unsqueeze(1), persistent=False)
            self.entries_per_part = fans
            self.first = PartwiseLinear(num_parts, index.shape[1], hidden, fan_in=fans)
        else:
            self.entries_per_part = [num_bones * num_bones] * num_parts
            self.first = PartwiseLinear(num_parts, num_bones * num_bones, hidden)
        self.second = PartwiseLinear(num_parts, hidden, hidden)
        self.third = PartwiseLinear(num_parts, hidden, hidden)
        self.penultimate = PartwiseLinear(num_parts, hidden, mid)
        self.score = PartwiseLinear(num_parts, mid, 1)

    @classmethod
    def from_skeleton(cls, skeleton: Skeleton | str, **kwargs) -> "PartKCSDiscriminator":
        sk = get_skeleton(skeleton)
        if kwargs.get("compact"):
            kwargs.setdefault("part_masks", sk.part_masks)
        return cls(sk.num_parts, sk.num_bones, **kwargs)

    @classmethod
    def from_full(cls, full: "PartKCSDiscriminator", part_masks) -> "PartKCSDiscriminator":
        """A compact discriminator computing exactly what ``full`` computes on symmetric, part-masked KCS input:
        its first-layer weight for entry (i, j), i < j, is the sum of ``full``'s weights for (i, j) and (j, i)."""
        if full.compact:
            raise ValueError("full: expected a discriminator built with compact=False")
        hidden, mid = full.second.in_features, full.penultimate.out_features
        out = cls(full.num_parts, full.num_bones, hidden=hidden, mid=mid, compact=True, part_masks=part_masks)
        out.to(full.first.weight.device, full.first.weight.dtype)
        B = full.num_bones
        with torch.no_grad():
            for name in ("second", "third", "penultimate", "score"):
                getattr(out, name).load_state_dict(getattr(full, name).state_dict())
            out.first.bias.copy_(full.first.bias)
            out.first.weight.zero_()
            for p, n in enumerate(out.entries_per_part):
                flat = out.gather_index[p, :n]
                i, j = flat // B, flat % B
                w = full.first.weight[p, flat]
                w = w + torch.where((i != j).unsqueeze(1), full.first.weight[p, j * B + i], torch.zeros_like(w))
                out.first.weight[p, :n] = w
        return out

    def forward(self, psi: torch.Tensor) -> torch.Tensor:
        """``psi [..., P, B, B]`` (part KCS matrices), or for a compact discriminator also ``[..., P, D]`` (the
        compact layout, :func:`posefast.part_kcs_compact`) -> ``[..., P]`` realism scores (unbounded, LSGAN)."""
        P, B = self.num_parts, self.num_bones
        D = self.gather_index.shape[1] if self.compact else None
        if self.compact and isinstance(psi, torch.Tensor) and tuple(psi.shape[-2:]) == (P, D):
            check_tensor(psi, "psi", (P, D))
            x = psi  # already compact
        else:
            if self.compact and isinstance(psi, torch.Tensor) and tuple(psi.shape[-3:]) != (P, B, B):
                raise ValueError(f"psi: expected shape [..., {P}, {D}] (compact part KCS) or [..., {P}, {B}, {B}], got "
                                 f"{tuple(psi.shape)}")
            check_tensor(psi, "psi", (P, B, B))
            x = psi.flatten(-2)  # [..., P, B*B]
            if self.compact:
                x = torch.cat([x, x.new_zeros(*x.shape[:-1], 1)], dim=-1)
                x = x[..., self.part_arange, self.gather_index]  # [..., P, D]
        a = F.leaky_relu(self.first(x), _LEAKY_SLOPE)
        b = F.leaky_relu(self.second(a), _LEAKY_SLOPE)
        c = self.third(b) + a
        d = F.leaky_relu(self.penultimate(c), _LEAKY_SLOPE)
        return self.score(d).squeeze(-1)


class PoseDiscriminator2D(nn.Module):
    """PoseAug's 2D discriminator: flattened 2D pose ``[..., J, 2] -> [..., 1]``.

    ``d1 = lrelu(L1 x); d2 = lrelu(L2 d1); d3 = lrelu(L3 d2 + d1); d4 = L4 d3; score = L6 lrelu(L5 d4)``,
    width 100, Kaiming-normal Linear weights (as released).
    """

    def __init__(self, num_joints: int, hidden: int = 100):
        super().__init__()
        self.num_joints = check_positive_int(num_joints, "num_joints")
        hidden = check_positive_int(hidden, "hidden")
        self.l1 = nn.Linear(2 * num_joints, hidden)
        self.l2 = nn.Linear(hidden, hidden)
        self.l3 = nn.Linear(hidden, hidden)
        self.l4 = nn.Linear(hidden, hidden)
        self.l5 = nn.Linear(hidden, hidden)
        self.score = nn.Linear(hidden, 1)
        self.apply(kaiming_linear_init)

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        check_tensor(pose_2d, "pose_2d", (self.num_joints, 2))
        x = pose_2d.flatten(-2)
        d1 = F.leaky_relu(self.l1(x), _LEAKY_SLOPE)
        d2 = F.leaky_relu(self.l2(d1), _LEAKY_SLOPE)
        d3 = F.leaky_relu(self.l3(d2) + d1, _LEAKY_SLOPE)
        d4 = self.l4(d3)
        return self.score(F.leaky_relu(self.l5(d4), _LEAKY_SLOPE))


def anchor_features(pose_2d: torch.Tensor, skeleton: Skeleton | str, eps: float = 1e-6):
    """Scale-free 2D shape features of ``pose_2d [..., J, 2]``.

    Returns ``(shape [..., J-1, 2], directions [..., B, 2])``: the non-root joints relative to the root divided
    by the pose's RMS root distance, and the unit 2D direction of every bone. Both are invariant to image
    translation and to uniform scale (i.e. to the depth and focal length the global position adaptation
    already handled); ``eps`` floors the norms so degenerate poses give zeros, never NaN.
    """
    sk = get_skeleton(skeleton)
    check_tensor(pose_2d, "pose_2d", (sk.num_joints, 2))
    return _anchor_features(pose_2d, torch.tensor(sk.parents_array[1:], device=pose_2d.device), eps)


def _anchor_features(pose_2d: torch.Tensor, bone_parents: torch.Tensor, eps: float):
    num_joints = pose_2d.shape[-2]
    rel = pose_2d[..., 1:, :] - pose_2d[..., :1, :]
    rms = torch.linalg.vector_norm(rel, dim=(-2, -1), keepdim=True) / math.sqrt(num_joints)
    shape = rel / rms.clamp_min(eps)
    bones = pose_2d[..., 1:, :] - pose_2d[..., bone_parents, :]
    directions = bones / torch.linalg.vector_norm(bones, dim=-1, keepdim=True).clamp_min(eps)
    return shape, directions


class AnchorDiscriminator(nn.Module):
    """Anchor discriminator for PoseDA's local pose augmentation (LPA): ``pose_2d [..., J, 2] -> [..., 1]``.

    PoseDA never released LPA, so this is our design. LPA must keep augmented *source* poses close to the
    target domain's 2D poses (the "anchors") in local structure, after GPA has matched the global position and
    scale. The discriminator therefore sees only scale-free local structure (:func:`anchor_features`):
    the root-relative, RMS-normalised 2D pose (where the joints are relative to each other) and the unit bone
    directions (the joint angles as the camera sees them, independent of bone lengths). Each feature set gets
    its own LeakyReLU embedding of width ``hidden``; the two are concatenated, fused, passed through one
    residual block and scored, in the style of PoseAug's 2D discriminator (LSGAN output, no sigmoid).
    """

    def __init__(self, skeleton: Skeleton | str = "h36m16", hidden: int = 100, eps: float = 1e-6):
        super().__init__()
        self.skeleton = get_skeleton(skeleton)
        hidden = check_positive_int(hidden, "hidden")
        if not eps > 0:
            raise ValueError(f"eps: expected a positive float, got {eps!r}")
        self.eps = float(eps)
        J, B = self.skeleton.num_joints, self.skeleton.num_bones
        self.register_buffer("bone_parents", torch.tensor(self.skeleton.parents_array[1:]), persistent=False)
        self.shape_embed = nn.Linear(2 * (J - 1), hidden)
        self.direction_embed = nn.Linear(2 * B, hidden)
        self.fuse = nn.Linear(2 * hidden, hidden)
        self.res1 = nn.Linear(hidden, hidden)
        self.res2 = nn.Linear(hidden, hidden)
        self.score = nn.Linear(hidden, 1)
        self.apply(kaiming_linear_init)

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        check_tensor(pose_2d, "pose_2d", (self.skeleton.num_joints, 2))
        shape, directions = _anchor_features(pose_2d, self.bone_parents, self.eps)
        a = F.leaky_relu(self.shape_embed(shape.flatten(-2)), _LEAKY_SLOPE)
        b = F.leaky_relu(self.direction_embed(directions.flatten(-2)), _LEAKY_SLOPE)
        h = F.leaky_relu(self.fuse(torch.cat([a, b], dim=-1)), _LEAKY_SLOPE)
        h = F.leaky_relu(h + self.res2(F.leaky_relu(self.res1(h), _LEAKY_SLOPE)), _LEAKY_SLOPE)
        return self.score(h)

    def extra_repr(self) -> str:
        return f"skeleton={self.skeleton.name!r}, eps={self.eps}"
