"""Batched random affine warps and colour jitter for the mean teacher of the multi-level 2D method (Chen et al.,
ICME 2024, built on UDAPE, Kim et al., ECCV 2022): student and teacher see independently warped views of a target
image, and the teacher's heatmaps are carried into the student's frame.

Representation: one affine map per sample as a ``[N, 3, 3]`` matrix acting on *normalised* coordinates
``u = 2·x/W − 1`` (``align_corners=False``, so −1 and 1 are the outer edges of the border pixels). The same
matrix therefore moves an image and its lower-resolution heatmaps alike, which is what lets the teacher's maps be
warped with the matrices drawn for the images. A matrix ``A`` moves content from ``p`` to ``A·p``. Crops must be
square (a rotation in normalised coordinates of a non-square image would also shear it).

Pixel conventions: image keypoints are continuous pixel coordinates where pixel ``j`` covers ``[j, j + 1)``
(``posefast.data.image2d``); heatmap keypoints put pixel ``k``'s centre at ``k`` (``posefast.ops.heatmap``). So a
heatmap of stride ``s`` sees image point ``x`` at ``x / s − 0.5``
(:func:`posefast.evaluation.heatmap2d.image_to_heatmap`).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["AffineRanges", "sample_affine", "warp_images", "warp_heatmaps", "transform_keypoints",
           "color_jitter"]


class AffineRanges:
    """Ranges of the random affine augmentation (UDAPE's RandomAffineRotation): rotation ``±rotation`` degrees,
    scale ``U(scale_min, scale_max)``, shear ``±shear`` degrees on each axis, translation ``±translate`` of the
    image side on each axis."""

    def __init__(self, rotation: float, scale_min: float, scale_max: float, shear: float, translate: float):
        for name, v in (("rotation", rotation), ("shear", shear), ("translate", translate)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name}: expected a non-negative finite number, got {v!r}")
        if not (isinstance(scale_min, (int, float)) and isinstance(scale_max, (int, float))
                and 0 < scale_min <= scale_max < math.inf):
            raise ValueError(f"scale_min/scale_max: expected 0 < scale_min <= scale_max, got {scale_min!r}, "
                             f"{scale_max!r}")
        if shear >= 90:
            raise ValueError(f"shear: expected less than 90 degrees, got {shear!r}")
        self.rotation, self.shear, self.translate = float(rotation), float(shear), float(translate)
        self.scale_min, self.scale_max = float(scale_min), float(scale_max)


def _uniform(n: int, low: float, high: float, generator, device) -> Tensor:
    return torch.rand(n, generator=generator, device=device) * (high - low) + low


def sample_affine(n: int, ranges: AffineRanges, generator: torch.Generator | None = None,
                  device: torch.device | str = "cpu") -> Tensor:
    """``[n, 3, 3]`` random matrices ``A = T · R · S · Sh`` about the image centre, in normalised coordinates.

    Draws from ``generator`` (the global torch RNG when None). ``translate`` is a fraction of the image side,
    i.e. ``2·translate`` in normalised units.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n: expected a non-negative int, got {n!r}")
    r = ranges
    angle = torch.deg2rad(_uniform(n, -r.rotation, r.rotation, generator, device))
    scale = _uniform(n, r.scale_min, r.scale_max, generator, device)
    shear = torch.tan(torch.deg2rad(_uniform(2 * n, -r.shear, r.shear, generator, device))).view(n, 2)
    shift = _uniform(2 * n, -2 * r.translate, 2 * r.translate, generator, device).view(n, 2)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    rs = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # [n, 2, 2]
    sh = torch.eye(2, device=device).repeat(n, 1, 1)
    sh[:, 0, 1], sh[:, 1, 0] = shear[:, 0], shear[:, 1]
    a = torch.eye(3, device=device).repeat(n, 1, 1)
    a[:, :2, :2] = rs @ sh
    a[:, :2, 2] = shift
    return a


def _check_matrices(m, name: str, n: int, ref: Tensor) -> Tensor:
    if not isinstance(m, Tensor) or not m.is_floating_point() or m.shape != (n, 3, 3):
        raise ValueError(f"{name}: expected a floating tensor [{n}, 3, 3] of affine matrices, got "
                         f"{tuple(m.shape) if isinstance(m, Tensor) else type(m).__name__}")
    if m.device != ref.device:
        raise ValueError(f"{name}: expected device {ref.device}, got {m.device}")
    return m.to(ref.dtype)


def _check_maps(x, name: str) -> Tensor:
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() != 4:
        raise ValueError(f"{name}: expected a floating tensor [N, C, H, W], got "
                         f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name}: expected square maps (H == W) for normalised-coordinate affines, got "
                         f"{tuple(x.shape[-2:])}")
    return x


def _resample(x: Tensor, theta: Tensor, mode: str) -> Tensor:
    """``out(p) = x(theta · p)`` for every output location ``p``: one affine_grid + grid_sample for the batch."""
    grid = F.affine_grid(theta[:, :2], list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


def warp_images(images: Tensor, matrices: Tensor) -> Tensor:
    """Move each image's content by its matrix: ``out(A·p) = images(p)``; uncovered pixels are 0.

    ``images [N, C, H, W]`` (H == W), ``matrices [N, 3, 3]`` -> ``[N, C, H, W]``.
    """
    _check_maps(images, "images")
    a = _check_matrices(matrices, "matrices", images.shape[0], images)
    return _resample(images, torch.linalg.inv(a), "bilinear")


def warp_heatmaps(heatmaps: Tensor, from_matrices: Tensor, to_matrices: Tensor) -> Tensor:
    """Carry heatmaps seen in one augmented view into another view of the same image.

    Both views are warps of a common frame, ``p_from = A_from·p`` and ``p_to = A_to·p``, so the map in the new view
    is ``out(p_to) = heatmaps(A_from · A_to⁻¹ · p_to)``: the per-sample matrices are composed first and the whole
    batch is resampled with a single ``affine_grid``/``grid_sample``. Regions the first view did not cover are 0.
    Bicubic, not bilinear: a bilinear resample keeps a peak on a node of the source grid, so after a scale change
    the argmax of a warped Gaussian can be ~0.8 px off; bicubic keeps it within the decoder's ~0.4 px.

    ``heatmaps [N, K, h, w]`` (h == w), ``from_matrices``/``to_matrices [N, 3, 3]`` -> ``[N, K, h, w]``.
    """
    _check_maps(heatmaps, "heatmaps")
    n = heatmaps.shape[0]
    a_from = _check_matrices(from_matrices, "from_matrices", n, heatmaps)
    a_to = _check_matrices(to_matrices, "to_matrices", n, heatmaps)
    return _resample(heatmaps, a_from @ torch.linalg.inv(a_to), "bicubic")


def transform_keypoints(keypoints: Tensor, matrices: Tensor, size: int) -> Tensor:
    """Image keypoints ``[N, K, 2]`` (pixels, pixel ``j`` covers ``[j, j + 1)``) of ``size × size`` crops moved by
    ``matrices [N, 3, 3]`` as :func:`warp_images` moves the pixels."""
    if not isinstance(keypoints, Tensor) or not keypoints.is_floating_point() or keypoints.dim() != 3 \
            or keypoints.shape[-1] != 2:
        raise ValueError(f"keypoints: expected a floating tensor [N, K, 2], got "
                         f"{tuple(keypoints.shape) if isinstance(keypoints, Tensor) else type(keypoints).__name__}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size: expected a positive int (crop side in pixels), got {size!r}")
    a = _check_matrices(matrices, "matrices", keypoints.shape[0], keypoints)
    u = keypoints * (2.0 / size) - 1.0
    u = u @ a[:, :2, :2].transpose(1, 2) + a[:, None, :2, 2]
    return (u + 1.0) * (size / 2.0)


def color_jitter(images: Tensor, strength: float, generator: torch.Generator | None = None) -> Tensor:
    """Per-image brightness, contrast and saturation factors drawn from ``U(1 − strength, 1 + strength)``
    (torchvision's ColorJitter(s, s, s) in a fixed order), on RGB ``[N, 3, H, W]`` in [0, 1]; output clamped."""
    if not isinstance(images, Tensor) or images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images: expected RGB images [N, 3, H, W], got "
                         f"{tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__}")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength < 1:
        raise ValueError(f"strength: expected a number in [0, 1), got {strength!r}")
    if strength == 0:
        return images
    n, dev = images.shape[0], images.device
    f = _uniform(3 * n, 1 - strength, 1 + strength, generator, dev).view(3, n, 1, 1, 1).to(images.dtype)
    weights = torch.tensor([0.299, 0.587, 0.114], device=dev, dtype=images.dtype).view(1, 3, 1, 1)
    x = (images * f[0]).clamp(0, 1)
    mean = (x * weights).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    x = torch.lerp(mean, x, f[1]).clamp(0, 1)
    gray = (x * weights).sum(1, keepdim=True)
    return torch.lerp(gray, x, f[2]).clamp(0, 1)
