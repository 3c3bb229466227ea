"""Common frame of the 2D→3D lifting backbones: input checks, leading batch dims, root-relative output."""
from __future__ import annotations

import torch
from torch import nn

from posefast.skeleton import Skeleton, get_skeleton

__all__ = ["Lifter"]


class Lifter(nn.Module):
    """Base class: maps 2D joints ``[..., J, 2]`` (normalised screen coordinates) to root-relative 3D ``[..., J, 3]``.

    Subclasses implement :meth:`lift_flat` on a flat batch ``[N, J, 2] -> [N, J, 3]``; this class checks the
    joint count against the skeleton, folds any leading dims into N and restores them afterwards.
    The root joint (index 0 in every layout) is exactly zero in the output.

    BatchNorm note: in training mode torch needs more than one value per channel, so N = 1 only works in
    ``eval()`` mode (torch raises otherwise).

    ``width_argument`` names the constructor argument that a run's ``backbone_width`` sets (None: the architecture
    has no single width), ``cpu_width`` the value the CPU-sized defaults use (see :func:`lifter_width_kwargs`).
    """

    width_argument: str | None = None
    cpu_width: int | None = None

    def __init__(self, skeleton: Skeleton | str):
        super().__init__()
        self.skeleton = get_skeleton(skeleton)
        self.num_joints = self.skeleton.num_joints

    def forward(self, joints_2d: torch.Tensor) -> torch.Tensor:
        """``joints_2d [..., J, 2]`` -> root-relative ``[..., J, 3]`` with the root row zero."""
        J = self.num_joints
        if not isinstance(joints_2d, torch.Tensor) or not joints_2d.is_floating_point():
            raise TypeError(f"joints_2d: expected a floating torch.Tensor, got {type(joints_2d).__name__}"
                            + (f" of dtype {joints_2d.dtype}" if isinstance(joints_2d, torch.Tensor) else ""))
        if joints_2d.dim() < 2 or tuple(joints_2d.shape[-2:]) != (J, 2):
            raise ValueError(f"joints_2d: expected shape [..., {J}, 2] for skeleton {self.skeleton.name!r}, "
                             f"got {tuple(joints_2d.shape)}")
        lead = joints_2d.shape[:-2]
        out = self.lift_flat(joints_2d.reshape(-1, J, 2))
        return out.reshape(*lead, J, 3)

    def zero_output_(self) -> "Lifter":
        """Zero the last layer (weights and bias) so the untrained lifter predicts the all-zero root-relative pose.

        The released inits (Kaiming on the output layer) start at outputs of about ±2 m and need thousands of steps
        to come back to the scale of a body; from zero the first hundred steps already reach it. Used by default in
        :func:`posefast.models.build_lifter`; it changes the start, not the model.
        """
        last = [m for m in self.modules() if isinstance(getattr(m, "weight", None), torch.Tensor)][-1]
        with torch.no_grad():
            last.weight.zero_()
            if isinstance(getattr(last, "bias", None), torch.Tensor):
                last.bias.zero_()
        return self

    def lift_flat(self, joints_2d: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def pad_root(non_root: torch.Tensor) -> torch.Tensor:
        """``[N, (J-1)*3]`` -> ``[N, J, 3]`` with a zero root prepended (how PoseAug's MLP/VideoPose heads do it)."""
        n = non_root.shape[0]
        zeros = non_root.new_zeros(n, 3)
        return torch.cat([zeros, non_root], dim=1).view(n, -1, 3)

    def extra_repr(self) -> str:
        return f"skeleton={self.skeleton.name!r}"
