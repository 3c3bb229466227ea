"""Loss functions shared by the adversarial methods (PoseAug, PoseDA)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def lsgan(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss (Mao et al. 2017): MSE of the scores to 1 (real) or 0 (fake)."""
    return F.mse_loss(scores, torch.full_like(scores, 1.0 if real else 0.0))


def discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    return 0.5 * (lsgan(real_scores, True) + lsgan(fake_scores, False))


def range_loss(value: torch.Tensor, center: float, half_width: float) -> torch.Tensor:
    """Squared distance to ``center``, counted only outside ``center ± half_width`` (PoseAug's diff_range_loss)."""
    sq = (value - center) ** 2
    return torch.where(sq > half_width**2, sq, torch.zeros_like(sq)).mean()


def rectified_l2(value: torch.Tensor, limit: float) -> torch.Tensor:
    """``value²`` where ``|value| > limit``, else 0 (keeps bone-length ratios inside ±limit)."""
    return range_loss(value, 0.0, limit)


def linear_schedule(start: float, end: float, epoch: int, epochs: int) -> float:
    return start + (end - start) * epoch / max(epochs, 1)
