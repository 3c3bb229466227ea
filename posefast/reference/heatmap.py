"""Pure-torch twins of the heatmap ops (same contracts as :mod:`posefast.ops.heatmap`).

``soft_argmax`` and ``pck_2d`` are pure torch in both places: the public ops validate and call these.
Pixel convention: pixel (row y, column x) is centred on the coordinate (x, y).
"""
from __future__ import annotations

import torch
from torch import Tensor


def render_heatmaps(keypoints: Tensor, visible: Tensor, size: tuple[int, int], sigma: float,
                    truncate: float | None = None) -> Tensor:
    """``[..., K, 2], [..., K] -> [..., K, H, W]`` Gaussian targets, zero maps for invisible keypoints."""
    H, W = size
    xs = torch.arange(W, dtype=keypoints.dtype, device=keypoints.device)
    ys = torch.arange(H, dtype=keypoints.dtype, device=keypoints.device)
    dx = xs - keypoints[..., 0:1]  # [..., K, W]
    dy = ys - keypoints[..., 1:2]  # [..., K, H]
    gx = torch.exp(-dx.square() / (2 * sigma * sigma))
    gy = torch.exp(-dy.square() / (2 * sigma * sigma))
    if truncate is not None:
        radius = truncate * sigma
        gx = torch.where(dx.abs() > radius, torch.zeros_like(gx), gx)
        gy = torch.where(dy.abs() > radius, torch.zeros_like(gy), gy)
    maps = gy[..., :, None] * gx[..., None, :]
    return torch.where(visible[..., None, None], maps, torch.zeros_like(maps))


def decode_heatmaps(heatmaps: Tensor) -> tuple[Tensor, Tensor]:
    """``[..., K, H, W] -> (coords [..., K, 2], maxvals [..., K])``: argmax + quarter-pixel shift per axis."""
    H, W = heatmaps.shape[-2:]
    flat = heatmaps.flatten(-2)
    has_nan = torch.isnan(flat).any(-1)
    masked = torch.where(torch.isnan(flat), torch.full_like(flat, -float("inf")), flat)
    idx = masked.argmax(-1)  # the first maximum, like the kernel
    maxvals = masked.gather(-1, idx[..., None])[..., 0]
    px, py = idx % W, idx // W

    def at(y, x):
        yc, xc = y.clamp(0, H - 1), x.clamp(0, W - 1)
        return flat.gather(-1, (yc * W + xc)[..., None])[..., 0]

    dx = torch.where((px > 0) & (px < W - 1), at(py, px + 1) - at(py, px - 1), torch.zeros_like(maxvals))
    dy = torch.where((py > 0) & (py < H - 1), at(py + 1, px) - at(py - 1, px), torch.zeros_like(maxvals))
    coords = torch.stack([px.to(heatmaps.dtype) + 0.25 * torch.sign(dx), py.to(heatmaps.dtype) + 0.25 * torch.sign(dy)],
                         dim=-1)
    nan = torch.full_like(maxvals, float("nan"))
    coords = torch.where(has_nan[..., None], nan[..., None], coords)
    maxvals = torch.where(has_nan, nan, maxvals)
    return coords, maxvals


def soft_argmax(heatmaps: Tensor, beta: float) -> Tensor:
    """``[..., K, H, W] -> [..., K, 2]``: expected (x, y) under ``softmax(beta * heatmap)`` over the H*W pixels."""
    H, W = heatmaps.shape[-2:]
    p = torch.softmax(beta * heatmaps.flatten(-2), dim=-1).unflatten(-1, (H, W))
    xs = torch.arange(W, dtype=heatmaps.dtype, device=heatmaps.device)
    ys = torch.arange(H, dtype=heatmaps.dtype, device=heatmaps.device)
    return torch.stack([(p.sum(-2) * xs).sum(-1), (p.sum(-1) * ys).sum(-1)], dim=-1)


def pck_2d(pred: Tensor, target: Tensor, visible: Tensor, normalizer: Tensor | float,
           threshold: float = 0.05) -> tuple[Tensor, Tensor]:
    """Per-keypoint (hits [K], counts [K]) float64, summed over the batch; see :func:`posefast.pck_2d`."""
    dist = torch.linalg.vector_norm(pred - target, dim=-1)
    if isinstance(normalizer, Tensor):
        normalizer = normalizer[..., None]
    nd = dist / normalizer
    hit = (nd < threshold).to(torch.float64)
    hit = torch.where(torch.isfinite(nd), hit, torch.full_like(hit, float("nan")))  # NaN never counts as a miss
    vis = visible.to(torch.float64)
    hit = torch.where(visible, hit, torch.zeros_like(hit))
    K = pred.shape[-2]
    return hit.reshape(-1, K).sum(0), vis.reshape(-1, K).sum(0)
