"""VideoPose3D's temporal convolutional lifter (Pavllo et al., CVPR 2019) reduced to a single frame.

With every filter width 1 the temporal 1×1 convolutions act on a sequence of length one, so each is exactly
a bias-free Linear layer; that is how it is written here (same parameters, same default initialisation as
``nn.Conv1d``). PoseAug's configuration: 1024 channels, 4 residual blocks, dropout 0.25 (≈8.49M for h36m16).
"""
from __future__ import annotations

import torch
from torch import nn

from posefast.models._common import check_positive_int, check_probability
from posefast.models.lifting.base import Lifter

__all__ = ["VideoPose3DSingleFrame"]


class _ResidualConvBlock(nn.Module):
    """x + 2×(1×1 conv, BN, ReLU, Dropout)(x), the block of ``TemporalModelOptimized1f`` at width 1."""

    def __init__(self, channels: int, dropout: float, bn_momentum: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(channels, channels, bias=False), nn.BatchNorm1d(channels, momentum=bn_momentum),
            nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(channels, channels, bias=False), nn.BatchNorm1d(channels, momentum=bn_momentum),
            nn.ReLU(inplace=True), nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class VideoPose3DSingleFrame(Lifter):
    """Receptive-field-1 VideoPose3D: ``[..., J, 2] -> [..., J, 3]`` (root zero, 3(J−1) outputs predicted)."""

    width_argument, cpu_width = "channels", 512

    def __init__(self, skeleton="h36m16", channels: int = 1024, num_blocks: int = 4, dropout: float = 0.25,
                 bn_momentum: float = 0.1):
        super().__init__(skeleton)
        channels = check_positive_int(channels, "channels")
        num_blocks = check_positive_int(num_blocks, "num_blocks")
        dropout = check_probability(dropout, "dropout")
        if not 0.0 < bn_momentum <= 1.0:
            raise ValueError(f"bn_momentum: expected a value in (0, 1], got {bn_momentum!r}")
        J = self.num_joints
        self.expand = nn.Sequential(nn.Linear(2 * J, channels, bias=False),
                                    nn.BatchNorm1d(channels, momentum=bn_momentum),
                                    nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.blocks = nn.Sequential(*[_ResidualConvBlock(channels, dropout, bn_momentum) for _ in range(num_blocks)])
        self.shrink = nn.Linear(channels, 3 * (J - 1))

    def set_bn_momentum(self, momentum: float) -> None:
        """VideoPose3D decays the BN momentum during training; this sets it on every BN layer."""
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum: expected a value in (0, 1], got {momentum!r}")
        for m in self.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.momentum = momentum

    def lift_flat(self, joints_2d: torch.Tensor) -> torch.Tensor:
        return self.pad_root(self.shrink(self.blocks(self.expand(joints_2d.flatten(1)))))
