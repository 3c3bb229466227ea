"""Feature-level adversarial alignment for 2D heatmap networks (multi-level alignment, ICME 2024): a patch
discriminator on the deconvolution features behind a gradient reversal layer (Ganin & Lempitsky, ICML 2015)."""
from __future__ import annotations

import torch
from torch import nn

from posefast.models._common import check_positive_int

__all__ = ["GradientReversalFunction", "GradientReversal", "grad_reverse", "PatchDiscriminator"]


class GradientReversalFunction(torch.autograd.Function):
    """Identity forward; backward multiplies the incoming gradient by ``−coeff``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, coeff: float) -> torch.Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return grad_output.neg() * ctx.coeff, None


def _check_coeff(coeff) -> float:
    if isinstance(coeff, bool) or not isinstance(coeff, (int, float)) or coeff != coeff or coeff < 0:
        raise ValueError(f"coeff: expected a non-negative number, got {coeff!r}")
    return float(coeff)


def grad_reverse(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Functional gradient reversal: ``y = x``, ``∂L/∂x = −coeff · ∂L/∂y``."""
    return GradientReversalFunction.apply(x, _check_coeff(coeff))


class GradientReversal(nn.Module):
    """Module form of :func:`grad_reverse`; ``coeff`` (λ, 1 in the ICME'24 method) may be changed between steps."""

    def __init__(self, coeff: float = 1.0):
        super().__init__()
        self.coeff = _check_coeff(coeff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return GradientReversalFunction.apply(x, _check_coeff(self.coeff))

    def extra_repr(self) -> str:
        return f"coeff={self.coeff}"


class PatchDiscriminator(nn.Module):
    """Fully convolutional domain discriminator: ``[..., C_in, H, W] -> logits [..., 1, H, W]``.

    3×3 convs (stride 1, padding 1) C_in→256→128→128→1 with LeakyReLU(0.2) between them; one logit per
    feature-map location (trained with BCE-with-logits, source 0 / target 1 in the ICME'24 method).
    ``widths`` changes the hidden widths for small demos.
    """

    def __init__(self, in_channels: int = 256, widths: tuple[int, ...] = (256, 128, 128),
                 negative_slope: float = 0.2):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        if not widths or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"widths: expected a non-empty tuple of positive ints, got {widths!r}")
        layers, ch = [], in_channels
        for w in widths:
            layers += [nn.Conv2d(ch, w, 3, 1, 1), nn.LeakyReLU(negative_slope, inplace=True)]
            ch = w
        layers.append(nn.Conv2d(ch, 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if not isinstance(features, torch.Tensor) or features.dim() < 4 or features.shape[-3] != self.in_channels:
            raise ValueError(f"features: expected [..., {self.in_channels}, H, W] with a batch dim, got "
                             f"{tuple(features.shape) if isinstance(features, torch.Tensor) else type(features)}")
        lead = features.shape[:-3]
        out = self.net(features.reshape(-1, *features.shape[-3:]))
        return out.reshape(*lead, *out.shape[1:])
