"""2D keypoint heatmaps for the 2D adaptation loop: Gaussian targets, argmax decoding, soft-argmax and PCK@0.05.

Pixel convention (SimpleBaseline, Xiao et al. ECCV 2018, as used by RegDA / UDAPE / DAML): coordinates are
``(x, y) = (column, row)`` in heatmap pixels and pixel ``(row y, column x)`` is centred on the coordinate
``(x, y)``; so a keypoint at ``(3, 5)`` peaks exactly at ``heatmap[5, 3]``, and the pixel covers
``[x - 0.5, x + 0.5] x [y - 0.5, y + 0.5]``. Image coordinates map to it as ``image_xy / stride`` (TLlib's
``keypoint / feat_stride``).

``render_heatmaps`` and ``decode_heatmaps`` are kernels (one (sample, keypoint) map per work item), evaluation /
target construction only (no autograd). ``soft_argmax`` and ``pck_2d`` are plain torch: softmax and the two
expectations (or one distance and a comparison) are memory-bound passes that torch already runs as fused kernels
(and torch.compile fuses into one); a custom kernel would add a hand-written backward for no measurable gain.
"""
from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

from posefast import reference
from posefast._ext import launch
from posefast.ops._checks import check_batch, check_float, check_like, check_trailing, fp32_boundary
from posefast.ops._kernel_op import kernel_op
from posefast.ops._switch import kernels_enabled

__all__ = ["render_heatmaps", "decode_heatmaps", "soft_argmax", "pck_2d"]


def _positive(value, name: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a positive number ({what}), got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a positive finite number ({what}), got {value!r}")
    return float(value)


def _check_visible(visible, batch: torch.Size, ref: Tensor, ref_name: str) -> Tensor:
    if not isinstance(visible, Tensor):
        raise TypeError(f"visible: expected a torch.Tensor of dtype bool, got {type(visible).__name__}")
    if visible.dtype != torch.bool:
        raise TypeError(f"visible: expected dtype torch.bool (e.g. `weight > 0`), got {visible.dtype}")
    if visible.device != ref.device:
        raise ValueError(f"visible: expected device {ref.device} (like {ref_name}), got {visible.device}")
    check_batch(visible, "visible", batch, ref_name, 0)
    return visible


def _check_heatmaps(heatmaps) -> Tensor:
    check_float(heatmaps, "heatmaps")
    if heatmaps.dim() < 3 or heatmaps.shape[-1] < 1 or heatmaps.shape[-2] < 1:
        raise ValueError(f"heatmaps: expected shape [..., K, H, W] with H, W >= 1, got {list(heatmaps.shape)}")
    return heatmaps


# ---- rendering -------------------------------------------------------------------------------------------------
@kernel_op
class _render_heatmaps:
    name = "posefast::render_heatmaps"  # target construction only: no backward

    def forward(keypoints: Tensor, visible: Tensor, height: int, width: int, sigma: float, radius: float) -> Tensor:
        keypoints, visible = keypoints.contiguous(), visible.contiguous()
        maps = keypoints.new_empty(keypoints.shape[:-1] + (height, width))
        m = visible.numel()
        if m:
            launch("render_heatmaps_forward", keypoints, keypoints=keypoints, visible=visible, maps=maps, M=m,
                   H=height, W=width, sigma=sigma, radius=radius)
        return maps

    def fake(keypoints, visible, height, width, sigma, radius):
        return keypoints.new_empty(keypoints.shape[:-1] + (height, width))


@fp32_boundary
def render_heatmaps(keypoints: Tensor, visible: Tensor, size: tuple[int, int], sigma: float,
                    truncate: float | None = None) -> Tensor:
    """Gaussian heatmap targets ``exp(-((x - kx)^2 + (y - ky)^2) / (2 sigma^2))``, peak 1 (no normalisation).

    The centre is the sub-pixel keypoint itself (SimpleBaseline/TLlib first round it to the nearest pixel: pass
    ``keypoints.round()`` to reproduce that). Target construction only: not differentiable (inputs detached).

    Args:
        keypoints: ``[..., K, 2]`` (x, y) in heatmap pixels (see the module's pixel convention).
        visible: ``[..., K]`` bool; invisible keypoints give all-zero maps (whatever their coordinates).
        size: ``(H, W)`` of the maps.
        sigma: Gaussian standard deviation in pixels (2 for 64x64 maps in RegDA/UDAPE).
        truncate: when given, the Gaussian is cut to the square ``|x - kx|, |y - ky| <= truncate * sigma``
            (SimpleBaseline's ``6 sigma + 1`` patch is ``truncate=3`` with rounded centres); None: untruncated.

    Returns:
        ``[..., K, H, W]`` in the keypoints' dtype. A NaN coordinate of a visible keypoint gives a NaN map.
    """
    check_float(keypoints, "keypoints")
    check_trailing(keypoints, "keypoints", (None, 2), "(x, y) keypoints in heatmap pixels")
    _check_visible(visible, keypoints.shape[:-1], keypoints, "keypoints")
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in size)):
        raise ValueError(f"size: expected (H, W) with positive ints, got {size!r}")
    sigma = _positive(sigma, "sigma", "Gaussian std in pixels")
    radius = math.inf if truncate is None else _positive(truncate, "truncate", "half-width in sigmas") * sigma
    H, W = int(size[0]), int(size[1])
    keypoints = keypoints.detach()
    if not kernels_enabled():
        return reference.render_heatmaps(keypoints, visible, (H, W), sigma, truncate)
    return _render_heatmaps(keypoints, visible, H, W, sigma, radius)


# ---- decoding --------------------------------------------------------------------------------------------------
@kernel_op
class _decode_heatmaps:
    name = "posefast::decode_heatmaps"  # evaluation only: no backward

    def forward(heatmaps: Tensor) -> tuple[Tensor, Tensor]:
        H, W = heatmaps.shape[-2:]
        heatmaps = heatmaps.contiguous()
        lead = heatmaps.shape[:-2]
        coords, maxvals = heatmaps.new_empty(lead + (2,)), heatmaps.new_empty(lead)
        m = maxvals.numel()
        if m:
            launch("decode_heatmaps_forward", heatmaps, maps=heatmaps, coords=coords, maxvals=maxvals, M=m, H=H, W=W)
        return coords, maxvals

    def fake(heatmaps):
        lead = heatmaps.shape[:-2]
        return heatmaps.new_empty(lead + (2,)), heatmaps.new_empty(lead)


@fp32_boundary
def decode_heatmaps(heatmaps: Tensor) -> tuple[Tensor, Tensor]:
    """Argmax decoding with SimpleBaseline's quarter-pixel refinement (not differentiable; inputs detached).

    The peak is the first maximal pixel in row-major order (as ``torch.argmax``); each coordinate then moves by
    0.25 px toward the larger of its two neighbours along that axis (no move on a tie). Unlike SimpleBaseline's
    ``get_final_preds``, which refines only when the peak is at least 2 px from every border, each axis is refined
    whenever both its neighbours exist. Peaks are not masked by ``maxval > 0`` (TLlib zeroes those coordinates):
    use ``maxvals`` for that.

    Args:
        heatmaps: ``[..., K, H, W]``.

    Returns:
        ``(coords [..., K, 2], maxvals [..., K])``; coords are (x, y) in heatmap pixels (module convention).
        A map containing NaN decodes to NaN coordinates and a NaN maximum.
    """
    _check_heatmaps(heatmaps)
    heatmaps = heatmaps.detach()
    if not kernels_enabled():
        return reference.decode_heatmaps(heatmaps)
    return _decode_heatmaps(heatmaps)


@fp32_boundary
def soft_argmax(heatmaps: Tensor, beta: float) -> Tensor:
    """Differentiable soft-argmax: the expected (x, y) under ``softmax(beta * heatmap)`` over the H*W pixels.

    Plain torch (see the module docstring for why). Large ``beta`` approaches the hard argmax (pixel centres, no
    quarter shift); ``beta`` multiplies the raw heatmap values, so its useful range depends on their scale.

    Args:
        heatmaps: ``[..., K, H, W]``.
        beta: positive inverse temperature.

    Returns:
        ``[..., K, 2]`` (x, y) in heatmap pixels (module convention).
    """
    _check_heatmaps(heatmaps)
    beta = _positive(beta, "beta", "inverse temperature")
    return reference.soft_argmax(heatmaps, beta)


@fp32_boundary
def pck_2d(pred: Tensor, target: Tensor, visible: Tensor, normalizer: Tensor | float,
           threshold: float = 0.05) -> tuple[Tensor, Tensor]:
    """2D PCK tallies per keypoint: a visible keypoint is a hit when ``|pred - target| / normalizer < threshold``.

    This is the PCK@0.05 of RegDA / UDAPE / DAML (TLlib ``keypoint_detection`` accuracy): their test decodes
    predicted and ground-truth heatmaps by argmax and compares ``distance / (heatmap size / 10) < 0.5``, i.e.
    ``normalizer = heatmap size`` (64) with ``threshold = 0.05`` (equivalently image size with image-pixel
    coordinates). They ignore keypoints whose ground truth is invisible or within 1 px of the top/left border
    (``target > 1`` on both axes): pass ``visible & (target > 1).all(-1)`` to reproduce that. Their reported
    accuracy is the mean over keypoints of ``hits / counts`` (keypoints with counts > 0), averaged over a body
    subset of keypoints.

    Args:
        pred: ``[..., K, 2]`` predicted keypoints.
        target: ``[..., K, 2]`` keypoints, the same shape, dtype and device as ``pred``.
        visible: ``[..., K]`` bool: which keypoints are evaluated.
        normalizer: positive ``[...]`` tensor (one per sample, pred's dtype/device) or a positive number.
        threshold: fraction of the normalizer.

    Returns:
        ``(hits [K], counts [K])`` float64, summed over all leading dims (so batches can be accumulated).
        A visible keypoint with a non-finite normalised distance makes its ``hits`` NaN instead of a miss.
    """
    check_float(pred, "pred")
    check_trailing(pred, "pred", (None, 2), "2D keypoints")
    check_float(target, "target")
    check_like(target, "target", pred, "pred")
    check_trailing(target, "target", (pred.shape[-2], 2), f"{pred.shape[-2]} 2D keypoints like pred")
    check_batch(target, "target", pred.shape[:-2], "pred", 2)
    _check_visible(visible, pred.shape[:-1], pred, "pred")
    if isinstance(normalizer, Tensor):
        check_float(normalizer, "normalizer")
        check_like(normalizer, "normalizer", pred, "pred")
        check_batch(normalizer, "normalizer", pred.shape[:-2], "pred", 0)
    else:
        normalizer = _positive(normalizer, "normalizer", "distance normaliser, e.g. the heatmap size")
    threshold = _positive(threshold, "threshold", "fraction of the normaliser")
    return reference.pck_2d(pred.detach(), target.detach(), visible,
                            normalizer.detach() if isinstance(normalizer, Tensor) else normalizer, threshold)
