"""Pure-torch twins of the 3D metric ops: same contracts as :mod:`posefast.ops.metrics`, autograd for gradients.

The similarity fit uses ``torch.linalg.svd`` without gradient for the rotation's value and attaches the analytic
derivative of the optimal rotation (the same 1/(l_k + l_l) formula the kernel uses, see
``csrc/include/posefast/procrustes.h``) through an expression that is zero in value: torch's own SVD backward
divides by sigma_k^2 - sigma_l^2 and is not finite for repeated singular values.

:func:`procrustes_align_svd` / :func:`p_mpjpe_svd` are the other kind of twin: the plain SVD fit with every
derivative left to autograd, an oracle independent of the analytic gradient, for well-conditioned poses only.
"""
from __future__ import annotations

import torch
from torch import Tensor


def _skew(w: Tensor) -> Tensor:
    """``[..., 3] -> [..., 3, 3]``: the cross-product matrix [w]x."""
    zero = torch.zeros_like(w[..., 0])
    x, y, z = w.unbind(-1)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).unflatten(-1, (3, 3))


def _vee(a: Tensor) -> Tensor:
    """Inverse of :func:`_skew` on the antisymmetric part's layout: (a[2,1], a[0,2], a[1,0])."""
    return torch.stack([a[..., 2, 1], a[..., 0, 2], a[..., 1, 0]], dim=-1)


def _damped_inverse(d: Tensor, eps2: Tensor) -> Tensor:
    den = d * d + eps2
    return torch.where(den == 0, torch.zeros_like(d), d / torch.where(den == 0, torch.ones_like(den), den))


def similarity_fit(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Rotation ``[..., 3, 3]`` (row-vector convention), scale ``[...]``, centroids ``[..., 1, 3]`` x2, all float64
    (the fit runs in float64 whatever the input dtype, like the kernel)."""
    damp = torch.finfo(pred.dtype).eps ** 0.5  # the gradient's damping follows the input precision
    pred, target = pred.to(torch.float64), target.to(torch.float64)
    mu_p = pred.mean(-2, keepdim=True)
    mu_x = target.mean(-2, keepdim=True)
    P, X = pred - mu_p, target - mu_x
    M = P.transpose(-1, -2) @ X
    n2 = P.square().sum((-1, -2))
    tol2 = (64 * torch.finfo(pred.dtype).eps) ** 2  # centring rounding: the joints coincide (kernel: coincident())
    n2x = X.square().sum((-1, -2))
    J = pred.shape[-2]
    degenerate = ((n2 <= tol2 * (n2 + J * mu_p.square().sum((-1, -2))))
                  | (n2x <= tol2 * (n2x + J * mu_x.square().sum((-1, -2)))))
    bad = ~(torch.isfinite(M).flatten(-2).all(-1) & torch.isfinite(n2) & torch.isfinite(mu_p).flatten(-2).all(-1)
            & torch.isfinite(mu_x).flatten(-2).all(-1))
    eye = torch.eye(3, dtype=pred.dtype, device=pred.device).expand(M.shape)
    with torch.no_grad():
        Md = torch.where(bad[..., None, None], torch.zeros_like(M), M)
        U, S, Vh = torch.linalg.svd(Md)
        d = torch.linalg.det(U) * torch.linalg.det(Vh)  # +-1: excludes reflections
        ones = torch.ones_like(d)
        sign = torch.stack([ones, ones, torch.sign(d)], dim=-1)
        R0 = U @ (sign[..., :, None] * Vh)
        zero_m = (S[..., 0] == 0) | degenerate
        R0 = torch.where(zero_m[..., None, None], eye, R0)
        lam = torch.where(zero_m[..., None], torch.zeros_like(S), S * sign)  # signed singular values
        eps2 = (damp * lam[..., 0]) ** 2
        w = torch.stack([lam[..., 1] + lam[..., 2], lam[..., 0] + lam[..., 2], lam[..., 0] + lam[..., 1]], -1)
        E_pinv = Vh.transpose(-1, -2) @ (_damped_inverse(w, eps2[..., None])[..., :, None] * Vh)
    # d(R) = R [omega]x with omega = E^+ vee(R^T dM - dM^T R); the value of omega - omega.detach() is exactly zero.
    K = R0.transpose(-1, -2) @ M
    omega = (E_pinv @ _vee(K - K.transpose(-1, -2))[..., None])[..., 0]
    R = R0 + R0 @ _skew(omega - omega.detach())
    tr = (R0 * M).sum((-1, -2))  # d tr = <R, dM> at the optimum (envelope theorem)
    s = torch.where(zero_m, torch.zeros_like(tr), tr / torch.where(zero_m, torch.ones_like(n2), n2))
    nan = torch.full_like(s, float("nan"))
    R = torch.where(bad[..., None, None], nan[..., None, None], R)
    s = torch.where(bad, nan, s)
    return R, s, mu_p, mu_x


def procrustes_align(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``aligned = scale * pred @ rotation + translation``; see :func:`posefast.procrustes_align`."""
    R, s, mu_p, mu_x = similarity_fit(pred, target)
    t = mu_x - s[..., None, None] * (mu_p @ R)
    aligned = s[..., None, None] * ((pred.to(torch.float64) - mu_p) @ R) + mu_x
    dt = pred.dtype
    return aligned.to(dt), s.to(dt), R.to(dt), t[..., 0, :].to(dt)


def procrustes_align_svd(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """An independent oracle for :func:`procrustes_align`: the textbook SVD fit, every derivative by autograd.

    ``M = P^T X = U S V^T`` (centred poses), ``R = U diag(1, 1, d) V^T`` with ``d = det(U V^T)`` (no reflections),
    ``scale = (s1 + s2 + d s3) / |P|^2``; the gradient is torch's own SVD backward, which shares nothing with the
    kernel's analytic formula (nor with :func:`similarity_fit`, which attaches that formula). Torch's SVD
    backward divides by ``s_k^2 - s_l^2``: use it only on poses whose singular values are distinct and non-zero
    (no degenerate-case handling here). Float64 inputs expected; same ``(aligned, scale, rotation, translation)``.
    """
    mu_p, mu_x = pred.mean(-2, keepdim=True), target.mean(-2, keepdim=True)
    P, X = pred - mu_p, target - mu_x
    U, S, Vh = torch.linalg.svd(P.transpose(-1, -2) @ X)
    with torch.no_grad():  # +-1, piecewise constant
        d = torch.sign(torch.linalg.det(U @ Vh))
    signs = torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1)
    R = U @ (signs[..., :, None] * Vh)
    scale = (S * signs).sum(-1) / P.square().sum((-1, -2))
    aligned = scale[..., None, None] * (P @ R) + mu_x
    translation = (mu_x - scale[..., None, None] * (mu_p @ R))[..., 0, :]
    return aligned, scale, R, translation


def p_mpjpe_svd(pred: Tensor, target: Tensor) -> Tensor:
    """P-MPJPE through :func:`procrustes_align_svd` (the autograd-only oracle; same conditions of use)."""
    aligned = procrustes_align_svd(pred, target)[0]
    return torch.linalg.vector_norm(aligned - target, dim=-1).mean(-1)


def mpjpe(pred: Tensor, target: Tensor, root: int | None = None) -> Tensor:
    """``[..., J, 3] x2 -> [...]`` mean joint distance, after subtracting joint ``root`` from both poses."""
    d = pred - target
    if root is not None:
        d = d - d[..., root : root + 1, :]
    return torch.linalg.vector_norm(d, dim=-1).mean(-1)


def n_mpjpe(pred: Tensor, target: Tensor) -> Tensor:
    """Mean joint distance after the least-squares scale of pred (about the origin) onto target."""
    pp = pred.square().sum((-1, -2))
    xp = (pred * target).sum((-1, -2))
    s = torch.where(pp == 0, torch.zeros_like(pp), xp / torch.where(pp == 0, torch.ones_like(pp), pp))
    return torch.linalg.vector_norm(s[..., None, None] * pred - target, dim=-1).mean(-1)


def p_mpjpe(pred: Tensor, target: Tensor) -> Tensor:
    """Mean joint distance after the similarity Procrustes fit of pred onto target (no reflections)."""
    R, s, mu_p, mu_x = similarity_fit(pred, target)
    residual = s[..., None, None] * ((pred.to(torch.float64) - mu_p) @ R) - (target.to(torch.float64) - mu_x)
    return torch.linalg.vector_norm(residual, dim=-1).mean(-1).to(pred.dtype)


def pose_errors_per_pose(pred: Tensor, target: Tensor, joints: Tensor, thresholds: Tensor, root: int,
                         to_mm: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The per-pose part of :func:`posefast.pose_errors`: mpjpe [...], p_mpjpe [...], joint errors [..., Je] and
    PCK tallies [..., K] (joints strictly below each threshold; NaN for a pose with a non-finite error)."""
    d = pred - target
    if root >= 0:
        d = d - d[..., root : root + 1, :]
    err = torch.linalg.vector_norm(d[..., joints, :], dim=-1) * to_mm
    mp = err.mean(-1)
    hits = (err[..., :, None].to(torch.float64) < thresholds).sum(-2).to(pred.dtype)  # thresholds: float64
    hits = torch.where(torch.isfinite(mp)[..., None], hits, torch.full_like(hits, float("nan")))
    pm = p_mpjpe(pred[..., joints, :], target[..., joints, :]) * to_mm
    return mp, pm, err, hits
