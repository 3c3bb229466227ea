"""ST-GCN lifter reduced to one frame, as PoseAug uses it (Cai et al., "Exploiting Spatial-temporal Relationships
for 3D Pose Estimation via Graph Convolutional Networks", ICCV 2019).

Structure (all temporal kernels have width 1, so every convolution is 1×1 over the joints):
three spatial graph blocks (2→128→128→256 channels) on the skeleton graph, max-pooling of the joints into five
body parts (two arms, two legs, centre), two graph blocks (256→512→512) on the 5-node part graph, a global
max-pool + 1×1 conv, part-level fusion (1024→256), un-pooling back to the joints, concatenation with the
joint features (512 channels), an embedded-Gaussian non-local block and a 1×1 conv to 3D.

Graph kernels use ST-GCN's *spatial* partition plus Cai et al.'s symmetric kernel: for every node, (0) itself,
(1) neighbours farther from the centre joint (Spine) than the node, (2) neighbours closer to it, (3) the
left/right mirror joint; each column-normalised by the node's degree in the full graph. K = 4 kernels.

Difference to PoseAug's wrapper: PoseAug always runs a 17-node graph and feeds h36m16 input through it by
inserting a neck point midway between thorax and head. Here the graph is built from whichever skeleton is
given (h36m16: the head hangs directly off the thorax), so no joint is invented; the parameter count is the
same for both layouts apart from the input BatchNorm (2J channels): ≈3.63M.
"""
from __future__ import annotations

from collections import deque

import numpy as np
import torch
from torch import nn

from posefast.skeleton import Skeleton
from posefast.models._common import check_probability
from posefast.models.lifting.base import Lifter

__all__ = ["STGCNSingleFrame", "spatial_partition", "body_part_pooling"]

# (part name, joint names) of the four limbs, in the pooling order of Cai et al.; every other joint is "centre".
_LIMBS = (("left_arm", ("LShoulder", "LElbow", "LWrist")), ("right_arm", ("RShoulder", "RElbow", "RWrist")),
          ("left_leg", ("LHip", "LKnee", "LAnkle")), ("right_leg", ("RHip", "RKnee", "RAnkle")))
_CENTRE_JOINT = "Spine"
_JOINT_WIDTHS = (128, 128, 256)
_PART_WIDTH = 512


def spatial_partition(num_nodes: int, neighbours, mirrors, dist_to_centre) -> np.ndarray:
    """``[4, V, V]`` float32 kernels (self, farther-neighbour, closer-neighbour, mirror).

    ``A[k, v, w]`` weighs node ``v``'s message into node ``w``; the full adjacency (self loops, neighbours and
    mirrors) is normalised by each column's degree, as ST-GCN's ``normalize_digraph``.
    """
    adjacency = np.eye(num_nodes)
    for a, b in list(neighbours) + list(mirrors):
        adjacency[a, b] = adjacency[b, a] = 1.0
    normalised = adjacency / adjacency.sum(axis=0, keepdims=True)
    mirror_set = {frozenset(p) for p in mirrors}
    kernels = np.zeros((4, num_nodes, num_nodes))
    kernels[0] = np.diag(np.diag(normalised))
    for v in range(num_nodes):
        for w in range(num_nodes):
            if v == w or adjacency[v, w] == 0:
                continue
            if frozenset((v, w)) in mirror_set:
                k = 3
            elif dist_to_centre[v] > dist_to_centre[w]:
                k = 1
            elif dist_to_centre[v] < dist_to_centre[w]:
                k = 2
            else:  # cannot happen on a tree; the original silently drops such edges
                raise ValueError(f"nodes {v} and {w} are neighbours at the same distance from the centre")
            kernels[k, v, w] = normalised[v, w]
    return kernels.astype(np.float32)


def _tree_distance(skeleton: Skeleton, source: int) -> np.ndarray:
    nbrs = [[] for _ in range(skeleton.num_joints)]
    for p, c in skeleton.bones:
        nbrs[p].append(c)
        nbrs[c].append(p)
    dist = np.full(skeleton.num_joints, -1)
    dist[source] = 0
    queue = deque([source])
    while queue:
        u = queue.popleft()
        for v in nbrs[u]:
            if dist[v] < 0:
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def body_part_pooling(skeleton: Skeleton) -> list[list[int]]:
    """Joint ids of the five pooling parts: left arm, right arm, left leg, right leg, centre (the rest)."""
    parts = []
    for part, names in _LIMBS:
        missing = [n for n in names if n not in skeleton.joint_names]
        if missing:
            raise ValueError(f"skeleton: ST-GCN part pooling needs joints {missing} for {part!r}, "
                             f"missing from {skeleton.name!r}")
        parts.append([skeleton.joint(n) for n in names])
    limb_joints = {j for p in parts for j in p}
    parts.append([j for j in range(skeleton.num_joints) if j not in limb_joints])
    return parts


class _GraphBlock(nn.Module):
    """One ST-GCN unit at temporal width 1 on ``[N, C, V]``: graph conv (K kernels) → BN → ReLU → Dropout →
    1×1 conv → BN → Dropout, plus a residual (none / identity / 1×1 conv + BN), then ReLU."""

    def __init__(self, in_ch: int, out_ch: int, num_kernels: int, dropout: float, residual: bool = True):
        super().__init__()
        self.num_kernels, self.out_ch = num_kernels, out_ch
        self.graph_conv = nn.Conv1d(in_ch, out_ch * num_kernels, 1)
        self.point_conv = nn.Sequential(nn.BatchNorm1d(out_ch), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                        nn.Conv1d(out_ch, out_ch, 1), nn.BatchNorm1d(out_ch), nn.Dropout(dropout))
        if not residual:
            self.residual = None
        elif in_ch == out_ch:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv1d(in_ch, out_ch, 1), nn.BatchNorm1d(out_ch))

    def forward(self, x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
        n, _, v = x.shape
        h = self.graph_conv(x).view(n, self.num_kernels, self.out_ch, v)
        h = self.point_conv(torch.einsum("nkcv,kvw->ncw", h, kernels))
        if self.residual is not None:
            h = h + self.residual(x)
        return torch.relu(h)


class _NonLocal(nn.Module):
    """Embedded-Gaussian non-local block over the joints (Wang et al., CVPR 2018) on ``[N, C, V]``; the output
    projection's BN starts at zero so the block starts as the identity."""

    def __init__(self, channels: int):
        super().__init__()
        inner = max(channels // 2, 1)
        self.g = nn.Conv1d(channels, inner, 1)
        self.theta = nn.Conv1d(channels, inner, 1)
        self.phi = nn.Conv1d(channels, inner, 1)
        self.out = nn.Sequential(nn.Conv1d(inner, channels, 1), nn.BatchNorm1d(channels))
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attn = torch.softmax(self.theta(x).transpose(1, 2) @ self.phi(x), dim=-1)  # [N, V, V]
        y = (attn @ self.g(x).transpose(1, 2)).transpose(1, 2)  # [N, inner, V]
        return x + self.out(y)


class STGCNSingleFrame(Lifter):
    """Single-frame ST-GCN lifter: ``[..., J, 2] -> [..., J, 3]`` (root zero).

    ``dropout=None`` uses the original's per-layer defaults (0.05 in graph blocks, 0.25 after the global
    pool, 0.1 after part fusion and before the output conv; PoseAug's baseline setting); a float sets every
    dropout to that value (PoseAug trains its augmented models with 0).
    """

    def __init__(self, skeleton="h36m16", dropout: float | None = None, bn_momentum: float = 0.1):
        super().__init__(skeleton)
        if dropout is None:
            p_block, p_global, p_fuse, p_out = 0.05, 0.25, 0.1, 0.1
        else:
            p_block = p_global = p_fuse = p_out = check_probability(dropout, "dropout")
        sk, J = self.skeleton, self.num_joints
        if _CENTRE_JOINT not in sk.joint_names:
            raise ValueError(f"skeleton: ST-GCN needs a {_CENTRE_JOINT!r} joint as graph centre")
        mirrors = list(zip(sk.left, sk.right))
        joint_kernels = spatial_partition(J, sk.bones, mirrors, _tree_distance(sk, sk.joint(_CENTRE_JOINT)))
        self.parts = body_part_pooling(sk)
        num_parts = len(self.parts)
        centre = num_parts - 1
        part_kernels = spatial_partition(num_parts, [(p, centre) for p in range(centre)], [(0, 1), (2, 3)],
                                         [1] * centre + [0])
        self.register_buffer("joint_kernels", torch.from_numpy(joint_kernels), persistent=False)
        self.register_buffer("part_kernels", torch.from_numpy(part_kernels), persistent=False)
        joint_to_part = torch.empty(J, dtype=torch.long)
        for p, joints in enumerate(self.parts):
            joint_to_part[joints] = p
        self.register_buffer("joint_to_part", joint_to_part, persistent=False)
        root_zero = torch.ones(J, 1)
        root_zero[0] = 0.0
        self.register_buffer("root_zero", root_zero, persistent=False)

        K = joint_kernels.shape[0]
        w0, w1, w2 = _JOINT_WIDTHS
        self.input_bn = nn.BatchNorm1d(2 * J, momentum=bn_momentum)
        self.joint_blocks = nn.ModuleList([_GraphBlock(2, w0, K, p_block, residual=False),
                                           _GraphBlock(w0, w1, K, p_block), _GraphBlock(w1, w2, K, p_block)])
        self.part_blocks = nn.ModuleList([_GraphBlock(w2, _PART_WIDTH, K, p_block),
                                          _GraphBlock(_PART_WIDTH, _PART_WIDTH, K, p_block)])
        self.global_conv = nn.Sequential(nn.Conv1d(_PART_WIDTH, _PART_WIDTH, 1),
                                         nn.BatchNorm1d(_PART_WIDTH, momentum=bn_momentum),
                                         nn.ReLU(inplace=True), nn.Dropout(p_global))
        self.fuse_conv = nn.Sequential(nn.Conv1d(2 * _PART_WIDTH, w2, 1), nn.BatchNorm1d(w2, momentum=bn_momentum),
                                       nn.ReLU(inplace=True), nn.Dropout(p_fuse))
        self.non_local = _NonLocal(2 * w2)
        self.output_conv = nn.Sequential(nn.Dropout(p_out), nn.Conv1d(2 * w2, 3, 1))

    def lift_flat(self, joints_2d: torch.Tensor) -> torch.Tensor:
        n, J, _ = joints_2d.shape
        x = self.input_bn(joints_2d.reshape(n, 2 * J)).view(n, J, 2).transpose(1, 2)  # [N, 2, J]
        for block in self.joint_blocks:
            x = block(x, self.joint_kernels)  # -> [N, 256, J]
        index = self.joint_to_part.expand(n, x.shape[1], J)
        parts = x.new_zeros(n, x.shape[1], len(self.parts)).scatter_reduce(
            2, index, x, reduce="amax", include_self=False)  # per-part max over joints: [N, 256, P]
        for block in self.part_blocks:
            parts = block(parts, self.part_kernels)  # -> [N, 512, P]
        whole = self.global_conv(parts.amax(dim=-1, keepdim=True))  # [N, 512, 1]
        fused = self.fuse_conv(torch.cat([whole.expand_as(parts), parts], dim=1))  # [N, 256, P]
        x = torch.cat([x, fused[:, :, self.joint_to_part]], dim=1)  # [N, 512, J]
        out = self.output_conv(self.non_local(x))  # [N, 3, J]
        return out.transpose(1, 2) * self.root_zero
