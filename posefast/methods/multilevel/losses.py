"""Losses of the multi-level 2D alignment method (Chen et al., ICME 2024; code: sunshinglight/DAML_PoseEstimation,
built on UDAPE, Kim et al., ECCV 2022): supervised heatmap MSE, the mean teacher's rectified and confidence-masked
consistency, the feature-level domain loss behind gradient reversal, and the pose-level information maximisation.
Heatmaps are ``[B, K, H, W]`` throughout."""
from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from posefast.ops import decode_heatmaps, render_heatmaps
from posefast.models import grad_reverse

__all__ = ["heatmap_mse", "rectified_targets", "consistency_mse", "domain_losses", "information_maximization"]


def _check_heatmaps(x, name: str) -> Tensor:
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() != 4:
        raise ValueError(f"{name}: expected floating heatmaps [B, K, H, W], got "
                         f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    return x


def heatmap_mse(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """SimpleBaseline's joints MSE: ``0.5·mean over B, K, H, W of w_bk·(pred − target)²``.

    ``weight [B, K]`` (visibility as 0/1 floats or bools) zeroes unlabelled keypoints but keeps them in the mean,
    as TLlib's ``JointsMSELoss`` does.
    """
    _check_heatmaps(pred, "pred")
    if target.shape != pred.shape:
        raise ValueError(f"target: expected shape {tuple(pred.shape)} like pred, got {tuple(target.shape)}")
    if weight.shape != pred.shape[:2]:
        raise ValueError(f"weight: expected shape {tuple(pred.shape[:2])} ([B, K]), got {tuple(weight.shape)}")
    w = weight.to(pred.dtype)[..., None, None]
    return 0.5 * ((pred - target).square() * w).mean()


def rectified_targets(heatmaps: Tensor, sigma: float, mask_ratio: float = 0.5, refine: bool = True,
                      truncate: float | None = None) -> tuple[Tensor, Tensor]:
    """UDAPE's pseudo-labels from teacher heatmaps already warped into the student's frame.

    Each map is replaced by a unit-peak Gaussian (``sigma`` heatmap pixels) at its argmax, and the least confident
    ``mask_ratio`` of the B·K keypoints of the batch (confidence = the map's maximum) is masked out: kept are those
    strictly above the batch's ``mask_ratio`` quantile (``torch.kthvalue`` at ``⌊mask_ratio·B·K⌋``, as the original
    code). ``refine``: the argmax with ``decode_heatmaps``'s quarter-pixel refinement; False: the integer argmax.
    ``truncate``: cut the Gaussian to ``|dx|, |dy| <= truncate·sigma`` (None: untruncated). The released code
    (DAML_PoseEstimation ``utils.py`` ``rectify``, lines 77-109, and train_human.py lines 520-523) is
    ``refine=False, truncate=3`` — equal to it for an integer ``3·sigma`` (its window is misplaced by a pixel
    otherwise) and wherever a map's maximum is positive (it puts maps whose maximum is <= 0 at pixel (0, 0)); the
    multilevel step uses that form (tests/test_parity_daml.py).

    Returns ``(targets [B, K, H, W], keep [B, K] bool)``; no gradient flows into them.
    """
    _check_heatmaps(heatmaps, "heatmaps")
    if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, (int, float)) or not 0 <= mask_ratio < 1:
        raise ValueError(f"mask_ratio: expected a fraction in [0, 1), got {mask_ratio!r}")
    heatmaps = heatmaps.detach()
    coords, conf = decode_heatmaps(heatmaps)
    if not torch.isfinite(conf).all():
        raise ValueError("heatmaps: contains NaN or inf (the teacher diverged)")
    if not refine:
        w = heatmaps.shape[-1]
        idx = heatmaps.flatten(-2).argmax(-1)
        coords = torch.stack([idx % w, torch.div(idx, w, rounding_mode="floor")], -1).to(heatmaps.dtype)
    k = int(mask_ratio * conf.numel())
    keep = conf > conf.flatten().kthvalue(k).values if k >= 1 else torch.ones_like(conf, dtype=torch.bool)
    all_visible = torch.ones(conf.shape, dtype=torch.bool, device=conf.device)
    targets = render_heatmaps(coords, all_visible, tuple(heatmaps.shape[-2:]), sigma, truncate=truncate)
    return targets, keep


def consistency_mse(student: Tensor, targets: Tensor, keep: Tensor) -> Tensor:
    """Mean over B, K, H, W of ``keep_bk·(student − targets)²`` (the original's ConsLoss: masked keypoints count
    as zeros in the mean)."""
    _check_heatmaps(student, "student")
    if targets.shape != student.shape or keep.shape != student.shape[:2]:
        raise ValueError(f"targets/keep: expected shapes {tuple(student.shape)} and {tuple(student.shape[:2])}, "
                         f"got {tuple(targets.shape)} and {tuple(keep.shape)}")
    return ((student - targets.detach()).square() * keep.to(student.dtype)[..., None, None]).mean()


def domain_losses(discriminator: torch.nn.Module, source_features: Tensor, target_features: Tensor,
                  coeff: float = 1.0) -> tuple[Tensor, Tensor]:
    """Feature-level alignment: the patch discriminator sees the features through a gradient reversal layer and
    is trained with BCE (source 0, target 1) per patch; the reversal makes the same loss push the pose network to
    confuse it (one backward trains both). Returns ``(loss_source, loss_target)``."""
    ls = discriminator(grad_reverse(source_features, coeff))
    lt = discriminator(grad_reverse(target_features, coeff))
    return (F.binary_cross_entropy_with_logits(ls, torch.zeros_like(ls)),
            F.binary_cross_entropy_with_logits(lt, torch.ones_like(lt)))


def _entropy(logits: Tensor) -> Tensor:
    """Shannon entropy (nats) of ``softmax(logits)`` over the last dim."""
    logp = F.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def information_maximization(heatmaps: Tensor) -> Tensor:
    """Pose-level information maximisation of the multi-level method on unlabelled heatmaps ``[B, K, H, W]``:

    ``L = mean_bk H(p_h) + mean_bk H(p_w) − mean_k H(p_m)`` with ``p_h = softmax_H(mean_W x)``,
    ``p_w = softmax_W(mean_H x)`` (confident, peaked marginals per map) and ``p_m = softmax_{H·W}`` of the batch-mean
    map per keypoint (diverse locations across the batch). Each entropy is divided by ``H·W``, as in the
    released code (``SimCCLoss``) and REFERENCES.md, not by the log of the support size. Needs B ≥ 1.
    """
    _check_heatmaps(heatmaps, "heatmaps")
    b, k, h, w = heatmaps.shape
    if b == 0:
        raise ValueError("heatmaps: expected at least one sample")
    ent_h = _entropy(heatmaps.mean(-1)).mean()
    ent_w = _entropy(heatmaps.mean(-2)).mean()
    ent_m = _entropy(heatmaps.mean(0).reshape(k, h * w)).mean()
    return (ent_h + ent_w - ent_m) / (h * w)
