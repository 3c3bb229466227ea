"""SemGCN lifter (Zhao et al., "Semantic Graph Convolutional Networks for 3D Human Pose Regression", CVPR 2019),
in PoseAug's configuration: hidden 128, 4 residual blocks, no non-local layers (≈0.27M parameters)."""
from __future__ import annotations

import math

import torch
from torch import nn

from posefast.skeleton import Skeleton
from posefast.models._common import check_positive_int, check_probability
from posefast.models.lifting.base import Lifter

__all__ = ["SemGraphConv", "SemGCN", "skeleton_adjacency_mask"]


def skeleton_adjacency_mask(skeleton: Skeleton) -> torch.Tensor:
    """bool ``[J, J]``: self loops plus both directions of every bone."""
    J = skeleton.num_joints
    mask = torch.eye(J, dtype=torch.bool)
    for parent, child in skeleton.bones:
        mask[parent, child] = mask[child, parent] = True
    return mask


class SemGraphConv(nn.Module):
    """Semantic graph convolution on node features ``[N, J, C_in] -> [N, J, C_out]``.

    ``y_i = A_ii·W_self x_i + Σ_{j≠i} A_ij·W_neigh x_j + b`` where ``A = softmax_row(M ⊙ e)`` and ``e`` holds
    one learnable logit per non-zero entry of the adjacency mask M (initialised to 1, i.e. uniform weights
    over each neighbourhood). Initialisation follows the SemGCN code (Xavier-uniform, gain 1.414, on the
    stacked ``[2, C_in, C_out]`` weight).
    """

    def __init__(self, in_features: int, out_features: int, adjacency_mask: torch.Tensor):
        super().__init__()
        if adjacency_mask.dtype != torch.bool or adjacency_mask.dim() != 2 \
                or adjacency_mask.shape[0] != adjacency_mask.shape[1]:
            raise ValueError(f"adjacency_mask: expected a square bool matrix, got {adjacency_mask.dtype} "
                             f"{tuple(adjacency_mask.shape)}")
        if not bool(adjacency_mask.diagonal().all()):
            raise ValueError("adjacency_mask: every node needs its self loop (the diagonal must be True)")
        self.in_features, self.out_features = in_features, out_features
        J = adjacency_mask.shape[0]
        self.weight = nn.Parameter(torch.empty(2, in_features, out_features))  # [self, neighbour]
        nn.init.xavier_uniform_(self.weight, gain=1.414)
        self.edge_logits = nn.Parameter(torch.ones(int(adjacency_mask.sum())))
        bound = 1.0 / math.sqrt(out_features)
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.register_buffer("mask", adjacency_mask.clone(), persistent=False)
        self.register_buffer("off_diagonal", 1.0 - torch.eye(J), persistent=False)

    def adjacency(self) -> torch.Tensor:
        """``[J, J]`` row-stochastic weights; zero outside the mask."""
        logits = self.edge_logits.new_full(self.mask.shape, float("-inf")).masked_scatter(self.mask, self.edge_logits)
        return torch.softmax(logits, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.adjacency()
        h_self = x @ self.weight[0]
        h_neigh = x @ self.weight[1]
        return a.diagonal().unsqueeze(-1) * h_self + (a * self.off_diagonal) @ h_neigh + self.bias

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, nodes={self.mask.shape[0]}"


class _GraphConvBNReLU(nn.Module):
    """SemGraphConv → BatchNorm over channels → ReLU → Dropout (if p > 0), on ``[N, J, C]``."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor, dropout: float):
        super().__init__()
        self.gconv = SemGraphConv(in_features, out_features, mask)
        self.bn = nn.BatchNorm1d(out_features)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(self.gconv(x).transpose(1, 2)).transpose(1, 2)
        return self.dropout(torch.relu(y))


class _ResidualGraphBlock(nn.Module):
    def __init__(self, width: int, mask: torch.Tensor, dropout: float):
        super().__init__()
        self.body = nn.Sequential(_GraphConvBNReLU(width, width, mask, dropout),
                                  _GraphConvBNReLU(width, width, mask, dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SemGCN(Lifter):
    """Graph lifter over the skeleton: ``[..., J, 2] -> [..., J, 3]``.

    Input graph conv (2→hidden), ``num_blocks`` residual blocks of two graph convs, output graph conv
    (hidden→3). SemGCN predicts every joint; the root row is multiplied by zero here so the output is
    root-relative by construction (the root's target is zero anyway, so training is unaffected).
    PoseAug trains it with dropout 0 (the default here).
    """

    width_argument, cpu_width = "hidden", 128  # already small: the CPU width is the paper's

    def __init__(self, skeleton="h36m16", hidden: int = 128, num_blocks: int = 4, dropout: float = 0.0):
        super().__init__(skeleton)
        hidden = check_positive_int(hidden, "hidden")
        num_blocks = check_positive_int(num_blocks, "num_blocks")
        dropout = check_probability(dropout, "dropout")
        mask = skeleton_adjacency_mask(self.skeleton)
        self.input_layer = _GraphConvBNReLU(2, hidden, mask, dropout)
        self.blocks = nn.Sequential(*[_ResidualGraphBlock(hidden, mask, dropout) for _ in range(num_blocks)])
        self.output_layer = SemGraphConv(hidden, 3, mask)
        root_zero = torch.ones(self.num_joints, 1)
        root_zero[0] = 0.0
        self.register_buffer("root_zero", root_zero, persistent=False)

    def lift_flat(self, joints_2d: torch.Tensor) -> torch.Tensor:
        return self.output_layer(self.blocks(self.input_layer(joints_2d))) * self.root_zero
