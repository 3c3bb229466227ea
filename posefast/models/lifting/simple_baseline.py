"""SimpleBaseline lifter (Martinez et al., "A simple yet effective baseline for 3D human pose estimation", ICCV 2017),
in the configuration PoseAug uses (Gong et al., CVPR 2021): width 1024, 2 residual stages, dropout 0.25."""
from __future__ import annotations

import torch
from torch import nn

from posefast.models._common import check_positive_int, check_probability, kaiming_linear_init
from posefast.models.lifting.base import Lifter

__all__ = ["SimpleBaseline"]


class _ResidualLinearStage(nn.Module):
    """x + 2×(Linear, BN, ReLU, Dropout)(x) on ``[N, width]``."""

    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(inplace=True), nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SimpleBaseline(Lifter):
    """Fully connected residual lifter: ``[..., J, 2] -> [..., J, 3]`` (root zero).

    Linear(2J→width)+BN+ReLU+Dropout, ``num_stages`` residual stages, Linear(width→3(J−1)); the root's three
    outputs are not predicted but padded with zeros, as in PoseAug's ``LinearModel``. Linear weights use
    Kaiming-normal init (PoseAug's ``init_weights``). ≈4.29M parameters for h36m16 at the defaults.
    """

    width_argument, cpu_width = "width", 512

    def __init__(self, skeleton="h36m16", width: int = 1024, num_stages: int = 2, dropout: float = 0.25):
        super().__init__(skeleton)
        width = check_positive_int(width, "width")
        num_stages = check_positive_int(num_stages, "num_stages")
        dropout = check_probability(dropout, "dropout")
        J = self.num_joints
        self.input_layer = nn.Sequential(nn.Linear(2 * J, width), nn.BatchNorm1d(width), nn.ReLU(inplace=True),
                                         nn.Dropout(dropout))
        self.stages = nn.Sequential(*[_ResidualLinearStage(width, dropout) for _ in range(num_stages)])
        self.output_layer = nn.Linear(width, 3 * (J - 1))
        self.apply(kaiming_linear_init)

    def lift_flat(self, joints_2d: torch.Tensor) -> torch.Tensor:
        y = self.stages(self.input_layer(joints_2d.flatten(1)))
        return self.pad_root(self.output_layer(y))
