"""3D pose metrics: MPJPE, N-MPJPE, P-MPJPE, the similarity Procrustes alignment and the fused evaluation pass.

Per-pose ops return one value per pose (the caller reduces) in the input's unit. ``mpjpe``, ``n_mpjpe``,
``p_mpjpe`` and ``procrustes_align`` are differentiable (analytic backward kernels); ``pose_errors`` (and ``pck``,
``auc`` on top of it) is an evaluation-only forward kernel.

Conventions follow VideoPose3D (Pavllo et al., CVPR 2019, ``common/loss.py``): P-MPJPE aligns the prediction onto
the target with the least-squares similarity transform, reflections excluded; N-MPJPE scales the prediction about
the origin. PCK/AUC follow the MPI-INF-3DHP protocol (Mehta et al., 3DV 2017) as evaluated by PoseAug (Gong et al.,
CVPR 2021): root-relative joint errors, a joint counts when its error is strictly below the threshold, AUC is the
mean PCK over the thresholds 0, 5, ..., 150 mm.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from posefast import reference
from posefast._ext import launch
from posefast.ops._checks import (check_batch, check_float, check_like, check_points, check_trailing,
                                  fp32_boundary)
from posefast.ops._kernel_op import kernel_op
from posefast.ops._switch import kernels_enabled
from posefast.ops._tables import contiguous_batch, new_like

__all__ = ["mpjpe", "n_mpjpe", "p_mpjpe", "procrustes_align", "pose_errors", "pck", "auc", "PCK_THRESHOLDS_MM",
           "UNIT_TO_MM", "ProcrustesAlignment", "PoseErrors"]

#: The 3DHP PCK curve: 0, 5, ..., 150 mm (31 thresholds, as ``mpii_compute_3d_pck.m`` and PoseAug's compute_AUC).
PCK_THRESHOLDS_MM = tuple(float(t) for t in range(0, 151, 5))
#: Input units accepted by :func:`pose_errors`.
UNIT_TO_MM = {"m": 1000.0, "cm": 10.0, "mm": 1.0}


class ProcrustesAlignment(NamedTuple):
    """:func:`procrustes_align`'s result: ``aligned = scale * pred @ rotation + translation``. A tuple in this order,
    so ``aligned, scale, rotation, translation = procrustes_align(pred, target)`` still unpacks."""

    aligned: Tensor  #: ``[..., J, 3]`` pred after the fit
    scale: Tensor  #: ``[...]``
    rotation: Tensor  #: ``[..., 3, 3]``, row-vector convention (det = +1)
    translation: Tensor  #: ``[..., 3]``


class PoseErrors(NamedTuple):
    """:func:`pose_errors`'s result, all tensors on the input's device (a NamedTuple, so ``torch.compile`` traces
    through it with ``fullgraph=True``: nothing here forces a host sync)."""

    mpjpe: Tensor  #: ``[...]`` per-pose MPJPE (mm)
    p_mpjpe: Tensor  #: ``[...]`` per-pose P-MPJPE (mm)
    joint_errors: Tensor  #: ``[..., J']`` per-pose per-joint errors (mm)
    per_joint: Tensor  #: ``[J']`` mean error of each evaluated joint over all poses (mm, float64)
    thresholds: Tensor  #: ``[T]`` ascending (mm, float64)
    pck_curve: Tensor  #: ``[T]`` percent of evaluated joints strictly below each threshold (float64)
    pck: Tensor  #: ``[]`` the curve at ``pck_threshold`` (percent, float64); ``float(errors.pck)`` for a number
    auc: Tensor  #: ``[]`` mean of the curve (percent, float64; PoseAug's compute_AUC)


def _check_pair(pred, target) -> None:
    check_points(pred, "pred", None, 3, "3D joints")
    if pred.shape[-2] < 1:
        raise ValueError(f"pred: expected at least one joint, got shape {list(pred.shape)}")
    check_float(target, "target")
    check_like(target, "target", pred, "pred")
    check_trailing(target, "target", (pred.shape[-2], 3), f"{pred.shape[-2]} 3D joints like pred")
    check_batch(target, "target", pred.shape[:-2], "pred", 2)


def _check_root(root, num_joints: int) -> int:
    """``root`` as a joint index, -1 for None."""
    if root is None:
        return -1
    if isinstance(root, bool) or not isinstance(root, numbers.Integral):
        raise TypeError(f"root: expected an int joint index or None, got {root!r}")
    if not 0 <= root < num_joints:
        raise ValueError(f"root: expected a joint index in [0, {num_joints}), got {root}")
    return int(root)


def _pair_contiguous(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor, int, int]:
    J = pred.shape[-2]
    pred, n = contiguous_batch(pred, 2)
    return pred, target.contiguous(), n, J


def _pair_backward(name: str, grad: Tensor, pred: Tensor, target: Tensor, **extra) -> tuple[Tensor, Tensor]:
    pred, target, n, J = _pair_contiguous(pred, target)
    grad = grad.contiguous()
    gp, gx = new_like(pred), new_like(target)
    if n:
        launch(name, pred, grad_err=grad, pred=pred, target=target, grad_pred=gp, grad_target=gx, N=n, J=J, **extra)
    return gp, gx


def _per_pose_error(name: str, pred: Tensor, target: Tensor, **extra) -> Tensor:
    pred, target, n, J = _pair_contiguous(pred, target)
    err = pred.new_empty(pred.shape[:-2])
    if n:
        launch(name, pred, pred=pred, target=target, err=err, N=n, J=J, **extra)
    return err


def _per_pose_fake(pred, target, *extra):
    return pred.new_empty(pred.shape[:-2])


def _pair_fake(grad, pred, target, *extra):
    return new_like(pred), new_like(target)


# ---- MPJPE -----------------------------------------------------------------------------------------------------
@kernel_op
class _mpjpe:
    name = "posefast::mpjpe"
    saves, grads = ("pred", "target", "root"), ("pred", "target")
    fake, backward_fake = _per_pose_fake, _pair_fake

    def forward(pred: Tensor, target: Tensor, root: int) -> Tensor:
        return _per_pose_error("mpjpe_forward", pred, target, root=root)

    def backward(grad: Tensor, pred: Tensor, target: Tensor, root: int) -> tuple[Tensor, Tensor]:
        return _pair_backward("mpjpe_backward", grad, pred, target, root=root)


@fp32_boundary
def mpjpe(pred: Tensor, target: Tensor, root: int | None = None) -> Tensor:
    """Mean per-joint position error of each pose (Protocol #1), differentiable.

    Args:
        pred: ``[..., J, 3]`` predicted joints.
        target: ``[..., J, 3]`` ground truth, same shape, dtype and device.
        root: when given, both poses are first made relative to joint ``root`` (its own error is then 0).

    Returns:
        ``[...]`` mean over joints of ``|pred_j - target_j|`` in the input's unit. The gradient of a joint with
        zero error is 0 (the subgradient torch's norm also uses).
    """
    _check_pair(pred, target)
    r = _check_root(root, pred.shape[-2])
    if not kernels_enabled():
        return reference.mpjpe(pred, target, None if r < 0 else r)
    return _mpjpe(pred, target, r)


# ---- N-MPJPE ---------------------------------------------------------------------------------------------------
def _pair_metric_op(metric: str):
    """The description shared by N-MPJPE and P-MPJPE: ``(pred, target) -> err [...]``, both inputs differentiable,
    both saved, kernels ``<metric>_forward`` / ``<metric>_backward``."""

    class description:
        name = f"posefast::{metric}"
        saves, grads = ("pred", "target"), ("pred", "target")
        fake, backward_fake = _per_pose_fake, _pair_fake

        def forward(pred: Tensor, target: Tensor) -> Tensor:
            return _per_pose_error(f"{metric}_forward", pred, target)

        def backward(grad: Tensor, pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
            return _pair_backward(f"{metric}_backward", grad, pred, target)

    return kernel_op(description)


_n_mpjpe = _pair_metric_op("n_mpjpe")


@fp32_boundary
def n_mpjpe(pred: Tensor, target: Tensor) -> Tensor:
    """MPJPE after the least-squares scale of ``pred`` onto ``target`` (VideoPose3D ``n_mpjpe``), differentiable.

    The scale ``s = <target, pred> / <pred, pred>`` is taken about the origin (no centring), as in VideoPose3D,
    so inputs are normally root-relative already. All-zero ``pred`` gives ``s = 0`` (error = mean ``|target_j|``).

    Args:
        pred: ``[..., J, 3]`` predicted joints.
        target: ``[..., J, 3]``, the same shape, dtype and device as ``pred``.

    Returns:
        ``[...]`` mean over joints of ``|s pred_j - target_j|`` in the input's unit.
    """
    _check_pair(pred, target)
    if not kernels_enabled():
        return reference.n_mpjpe(pred, target)
    return _n_mpjpe(pred, target)


# ---- P-MPJPE ---------------------------------------------------------------------------------------------------
_p_mpjpe = _pair_metric_op("p_mpjpe")


_DEGENERATE_DOC = """
    Degenerate poses (no NaN unless the input has one; non-finite input gives NaN):
        * all ``pred`` joints coincident: ``scale = 0``, every aligned joint sits on the target centroid;
        * all ``target`` joints coincident (``M = 0``): ``rotation = I``, ``scale = 0``;
        * collinear poses: the spin about the line is undetermined; one optimal rotation is returned (its value
          can differ from the twin's, the aligned pose cannot when both poses are collinear);
        * exact mirror images: the best proper rotation is returned (never a reflection).
    """


@fp32_boundary
def p_mpjpe(pred: Tensor, target: Tensor) -> Tensor:
    """P-MPJPE (Protocol #2): MPJPE after the similarity Procrustes fit of ``pred`` onto ``target``, per pose.

    Scale, rotation (reflections excluded, as VideoPose3D's sign fix) and translation are solved in closed form per
    pose (Horn's quaternion formulation by QCP, ``csrc/include/posefast/quaternion_fit.h``), on the CPU eight poses
    at a time in SIMD lanes with AVX-512/AVX2 chosen at run time; the few poses the solver cannot certify
    (near-collinear, degenerate) take a Jacobi eigen-solve of the same 4x4 matrix. Computed in float64 whatever the
    input dtype; no LAPACK, no host sync. Differentiable with the analytic backward of :func:`procrustes_align`.

    Args:
        pred: ``[..., J, 3]`` predicted joints.
        target: ``[..., J, 3]``, the same shape, dtype and device as ``pred``.

    Returns:
        ``[...]`` in the input's unit.
    """
    _check_pair(pred, target)
    if not kernels_enabled():
        return reference.p_mpjpe(pred, target)
    return _p_mpjpe(pred, target)


if p_mpjpe.__doc__:  # None under python -OO
    p_mpjpe.__doc__ += _DEGENERATE_DOC


# ---- Procrustes alignment --------------------------------------------------------------------------------------
@kernel_op
class _procrustes_align:
    name = "posefast::procrustes_align"
    saves, grads = ("pred", "target"), ("pred", "target")

    def forward(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        pred, target, n, J = _pair_contiguous(pred, target)
        lead = pred.shape[:-2]
        aligned = new_like(pred)
        scale = pred.new_empty(lead)
        rotation = pred.new_empty(lead + (3, 3))
        translation = pred.new_empty(lead + (3,))
        if n:
            launch("procrustes_align_forward", pred, pred=pred, target=target, aligned=aligned, scale=scale,
                   rotation=rotation, translation=translation, N=n, J=J)
        return aligned, scale, rotation, translation

    def fake(pred, target):
        lead = pred.shape[:-2]
        return new_like(pred), pred.new_empty(lead), pred.new_empty(lead + (3, 3)), pred.new_empty(lead + (3,))

    # autograd materialises an unused output's gradient as zeros (materialize_grads is on), so none is None here
    def backward(grad_aligned: Tensor, grad_scale: Tensor, grad_rotation: Tensor, grad_translation: Tensor,
                 pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        pred, target, n, J = _pair_contiguous(pred, target)
        gp, gx = new_like(pred), new_like(target)
        if n:
            launch("procrustes_align_backward", pred, grad_aligned=grad_aligned.contiguous(),
                   grad_scale=grad_scale.contiguous(), grad_rotation=grad_rotation.contiguous(),
                   grad_translation=grad_translation.contiguous(), pred=pred, target=target, grad_pred=gp,
                   grad_target=gx, N=n, J=J)
        return gp, gx

    def backward_fake(grad_aligned, grad_scale, grad_rotation, grad_translation, pred, target):
        return new_like(pred), new_like(target)


@fp32_boundary
def procrustes_align(pred: Tensor, target: Tensor) -> ProcrustesAlignment:
    """Similarity Procrustes alignment of ``pred`` onto ``target`` (VideoPose3D's P-MPJPE fit), differentiable.

    Row-vector convention as VideoPose3D: ``aligned = scale * pred @ rotation + translation`` minimises
    ``sum_j |aligned_j - target_j|^2`` over scale, proper rotations (det = +1) and translation. For the
    column-vector convention use ``rotation.transpose(-1, -2)``.

    Backward: analytic, one kernel. The rotation's derivative involves ``1 / (l_k + l_l)`` of the signed singular
    values ``l = (s1, s2, sign(det M) s3)`` of ``M = (pred - mean)^T (target - mean)``, never
    ``1 / (s_k^2 - s_l^2)``, so it is finite for repeated singular values. As ``l2 + l3 -> 0`` (``s2 + s3 -> 0``:
    a collinear pose; or ``s2 = s3`` with ``det M < 0``) the spin about the first axis becomes undetermined and the
    exact gradient would grow like ``1 / (l2 + l3)``: each ``1/d`` is applied as ``d / (d^2 + eps^2)`` with
    ``eps = sqrt(machine eps) * s1``, exact while ``d >> eps``, at most ``1 / (2 eps)``, and exactly zero on the
    undetermined component at ``d = 0``.

    Args:
        pred: ``[..., J, 3]`` predicted joints.
        target: ``[..., J, 3]``, the same shape, dtype and device as ``pred``.

    Returns:
        :class:`ProcrustesAlignment` ``(aligned [..., J, 3], scale [...], rotation [..., 3, 3], translation [..., 3])``.
    """
    _check_pair(pred, target)
    if not kernels_enabled():
        return ProcrustesAlignment(*reference.procrustes_align(pred, target))
    return ProcrustesAlignment(*_procrustes_align(pred, target))


if procrustes_align.__doc__:  # None under python -OO
    procrustes_align.__doc__ += _DEGENERATE_DOC


# ---- fused evaluation ------------------------------------------------------------------------------------------
@kernel_op
class _pose_errors:
    name = "posefast::pose_errors"  # evaluation only: no backward

    def forward(pred: Tensor, target: Tensor, joints: Tensor, thresholds: Tensor, root: int,
                to_mm: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        pred, target, n, J = _pair_contiguous(pred, target)
        lead = pred.shape[:-2]
        Je, K = joints.shape[0], thresholds.shape[0]
        mp, pm = pred.new_empty(lead), pred.new_empty(lead)
        err, hits = pred.new_empty(lead + (Je,)), pred.new_empty(lead + (K,))
        if n:
            launch("pose_errors_forward", pred, pred=pred, target=target, joints=joints,
                   thresholds=thresholds.contiguous(), mpjpe=mp, p_mpjpe=pm, joint_err=err, hits=hits, N=n, J=J,
                   Je=Je, K=K, root=root, to_mm=to_mm)
        return mp, pm, err, hits

    def fake(pred, target, joints, thresholds, root, to_mm):
        lead = pred.shape[:-2]
        return (pred.new_empty(lead), pred.new_empty(lead), pred.new_empty(lead + (joints.shape[0],)),
                pred.new_empty(lead + (thresholds.shape[0],)))


def _joint_index(joints, num_joints: int, device: torch.device) -> Tensor:
    if joints is None:
        return torch.arange(num_joints, device=device)
    if isinstance(joints, Tensor):
        if joints.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.bool):
            raise TypeError(f"joints: expected integer joint indices, got dtype {joints.dtype}")
        if joints.dim() != 1:
            raise ValueError(f"joints: expected a 1-D list of joint indices, got shape {list(joints.shape)}")
        ids = [int(j) for j in joints.tolist()]
    else:
        ids = list(joints)
        if any(isinstance(j, bool) or not isinstance(j, numbers.Integral) for j in ids):
            raise TypeError(f"joints: expected a sequence of int joint indices, got {joints!r}")
        ids = [int(j) for j in ids]
    if not ids:
        raise ValueError("joints: expected at least one joint to evaluate")
    if any(not 0 <= j < num_joints for j in ids):
        raise ValueError(f"joints: indices must lie in [0, {num_joints}), got {ids}")
    if len(set(ids)) != len(ids):
        raise ValueError(f"joints: indices must be unique, got {ids}")
    return torch.tensor(ids, dtype=torch.int64, device=device)


def _threshold_list(thresholds) -> list[float]:
    if isinstance(thresholds, Tensor) and thresholds.dim() != 1:
        raise ValueError(f"thresholds: expected a 1-D sequence of mm values, got shape {list(thresholds.shape)}")
    if isinstance(thresholds, Tensor):
        values = thresholds.tolist()
    elif isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, Sequence):
        raise TypeError(f"thresholds: expected a sequence of mm values, got {thresholds!r}")
    else:
        values = list(thresholds)
    if not values:
        raise ValueError("thresholds: expected at least one threshold")
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"thresholds: expected numbers in mm, got {thresholds!r}") from None
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise ValueError(f"thresholds: expected finite non-negative mm values, got {values}")
    return sorted(values)  # the kernel's tallies need them ascending


@fp32_boundary
def pose_errors(pred: Tensor, target: Tensor, thresholds: Sequence[float] | Tensor = PCK_THRESHOLDS_MM,
                joints: Sequence[int] | Tensor | None = None, unit: str = "m", root: int | None = 0,
                pck_threshold: float = 150.0) -> PoseErrors:
    """Every 3D evaluation number of a batch in one kernel pass (evaluation only: no autograd, inputs detached).

    One read of each pose yields its MPJPE, P-MPJPE, per-joint errors and PCK tallies over all thresholds; the
    batch reductions are sums of those per-pose outputs. MPJPE, per-joint errors and PCK are root-relative
    (``root``, the 3DHP protocol); P-MPJPE is computed on the evaluated joints (translation-invariant anyway).

    Args:
        pred: ``[..., J, 3]`` predicted joints; at least one pose.
        target: ``[..., J, 3]``, the same shape, dtype and device as ``pred``.
        thresholds: PCK thresholds in mm (default 0, 5, ..., 150: PCK@150 and AUC from the same pass); the curve
            is reported in ascending threshold order.
        joints: evaluated joint ids (default all J). 3DHP evaluates all 16/17 joints of the layout; 3DPW
            commonly 14.
        unit: unit of the input, ``"m"``, ``"cm"`` or ``"mm"``; every result is in mm.
        root: joint subtracted from both poses before MPJPE/PCK (index into the full layout), None for absolute
            errors. Default 0 (the pelvis of H36M16/H36M17).
        pck_threshold: which threshold ``"pck"`` reports; must be one of ``thresholds``.

    Returns:
        :class:`PoseErrors`: per pose ``mpjpe``, ``p_mpjpe`` ``[...]`` and ``joint_errors`` ``[..., J']``; over the
        batch ``per_joint`` ``[J']``, ``thresholds``/``pck_curve`` ``[T]`` and ``pck``/``auc`` ``[]`` (mm or
        percent; the batch numbers in float64). A pose with a non-finite error makes the aggregates NaN (a NaN never
        counts as a miss). Nothing synchronises with the device (``float(errors.pck)`` for a Python number), so
        ``torch.compile(fullgraph=True)`` traces it whole when ``joints`` is None or a sequence of ints.
    """
    _check_pair(pred, target)
    if pred.numel() == 0:
        raise ValueError(f"pred: expected at least one pose to evaluate, got shape {list(pred.shape)}")
    if unit not in UNIT_TO_MM:
        raise ValueError(f"unit: expected one of {sorted(UNIT_TO_MM)}, got {unit!r}")
    to_mm = UNIT_TO_MM[unit]
    J = pred.shape[-2]
    r = _check_root(root, J)
    idx = _joint_index(joints, J, pred.device)
    thr = _threshold_list(thresholds)
    try:
        k_pck = thr.index(float(pck_threshold))
    except (ValueError, TypeError):
        raise ValueError(f"pck_threshold: expected one of the thresholds {thr}, got {pck_threshold!r}") from None
    thr_t = torch.tensor(thr, dtype=torch.float64, device=pred.device)  # compared exactly as given
    pred, target = pred.detach(), target.detach()
    if kernels_enabled():
        mp, pm, err, hits = _pose_errors(pred, target, idx, thr_t, r, to_mm)
    else:
        mp, pm, err, hits = reference.pose_errors_per_pose(pred, target, idx, thr_t, r, to_mm)
    Je = idx.shape[0]
    n = mp.numel()
    per_joint = err.reshape(n, Je).to(torch.float64).mean(0)
    curve = hits.reshape(n, len(thr)).sum(0, dtype=torch.float64) * (100.0 / (n * Je))
    return PoseErrors(mp, pm, err, per_joint, thr_t, curve, curve[k_pck], curve.mean())


@fp32_boundary
def pck(pred: Tensor, target: Tensor, threshold: float = 150.0, joints: Sequence[int] | Tensor | None = None,
        unit: str = "m", root: int | None = 0) -> float:
    """3D PCK in percent: root-relative joints with error strictly below ``threshold`` mm (3DHP: 150 mm).

    A thin convenience over :func:`pose_errors` (same arguments); evaluation only.
    """
    return pose_errors(pred, target, thresholds=(threshold,), joints=joints, unit=unit, root=root,
                       pck_threshold=threshold).pck.item()


@fp32_boundary
def auc(pred: Tensor, target: Tensor, thresholds: Sequence[float] | Tensor = PCK_THRESHOLDS_MM,
        joints: Sequence[int] | Tensor | None = None, unit: str = "m", root: int | None = 0) -> float:
    """3D AUC in percent: the mean PCK over ``thresholds`` (3DHP: 0, 5, ..., 150 mm), via :func:`pose_errors`."""
    thr = _threshold_list(thresholds)
    return pose_errors(pred, target, thresholds=thr, joints=joints, unit=unit, root=root,
                       pck_threshold=thr[-1]).auc.item()
