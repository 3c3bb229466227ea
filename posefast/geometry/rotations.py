"""Rotations in torch: quaternions, rotations about one axis, look-at cameras, rotation vectors (Rodrigues).

Every function takes any leading batch dims, keeps a float tensor's dtype and device (float64 for data
preparation, float32 in training) and turns numpy arrays or numbers into float64 tensors. Matrices act on column
vectors (``R @ x``) and are right-handed.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from posefast.geometry._inputs import as_float, check_last

__all__ = ["quaternion_to_matrix", "rotation_x", "rotation_y", "rotation_z", "look_at_rotation", "rotvec_to_rotmat",
           "RODRIGUES_TAYLOR_BELOW"]

# Below this |r|² Rodrigues' coefficients come from their Taylor series (the kernel, csrc/include/posefast/
# transforms.h, switches at the same value).
RODRIGUES_TAYLOR_BELOW = 0.1


def quaternion_to_matrix(q) -> Tensor:
    """``[..., 4]`` quaternions (w, x, y, z) -> ``[..., 3, 3]`` rotation matrices (renormalised first).

    Raises ValueError for a zero or non-finite quaternion (a value check: it synchronises with a GPU).
    """
    q = as_float(q, "q")
    check_last(q, "q", (4,), "quaternions (w, x, y, z)")
    norm = torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    if bool((norm < 1e-8).any()) or not bool(torch.isfinite(q).all()):
        raise ValueError("q: expected finite, non-zero quaternions (w, x, y, z)")
    w, x, y, z = (q / norm).unbind(-1)
    return torch.stack([
        torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def _axis_rotation(angle, i: int, j: int) -> Tensor:
    a = as_float(angle, "angle")
    c, s = torch.cos(a), torch.sin(a)
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    R = [[one, zero, zero], [zero, one, zero], [zero, zero, one]]
    R[i][i], R[j][j], R[i][j], R[j][i] = c, c, -s, s
    return torch.stack([torch.stack(row, -1) for row in R], -2)


def rotation_x(angle) -> Tensor:
    """``[...]`` angles (radians) -> ``[..., 3, 3]`` right-handed rotations about x."""
    return _axis_rotation(angle, 1, 2)


def rotation_y(angle) -> Tensor:
    """``[...]`` angles (radians) -> ``[..., 3, 3]`` right-handed rotations about y."""
    return _axis_rotation(angle, 2, 0)


def rotation_z(angle) -> Tensor:
    """``[...]`` angles (radians) -> ``[..., 3, 3]`` right-handed rotations about z."""
    return _axis_rotation(angle, 0, 1)


def _cross(a: Tensor, b: Tensor) -> Tensor:
    # Written out (one rounding per product, then one per difference) rather than torch.linalg.cross, whose
    # vectorised kernel may fuse multiply-adds: the synthetic domains were generated with this rounding.
    a1, a2, a3 = a.unbind(-1)
    b1, b2, b3 = b.unbind(-1)
    return torch.stack([a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1], -1)


def _length(v: Tensor) -> Tensor:
    x, y, z = v.unbind(-1)
    return (x * x + y * y + z * z).sqrt().unsqueeze(-1)


def look_at_rotation(eye, target, up=(0.0, 1.0, 0.0), roll=0.0) -> Tensor:
    """World -> camera rotations for cameras at ``eye`` looking at ``target``; world ``up`` maps to image up.

    Args:
        eye: ``[..., 3]`` world point of the camera.
        target: ``[..., 3]`` world point it looks at.
        up: ``[3]`` or ``[..., 3]`` world up direction (Y-up worlds by default).
        roll: ``[...]`` radians about the optical axis (positive turns the image content clockwise).
    Returns:
        ``[..., 3, 3]`` R with rows (right, down, forward), so ``X_cam = R (X_world - eye)``.
    """
    eye, target = as_float(eye, "eye"), as_float(target, "target")
    check_last(eye, "eye", (3,), "world points")
    check_last(target, "target", (3,), "world points")
    f = target - eye
    up = as_float(up, "up").to(f).expand(f.shape)
    fn = _length(f)
    if bool((fn < 1e-9).any()):
        raise ValueError("eye, target: a camera looks at its own centre")
    f = f / fn
    r = _cross(f, up)
    rn = _length(r)
    if bool((rn < 1e-6).any()):
        raise ValueError("eye, target: a viewing direction is parallel to up")
    r = r / rn
    d = _cross(f, r)
    R = torch.stack([r, d, f], -2)
    return rotation_z(as_float(roll, "roll").to(R).expand(R.shape[:-2])) @ R


def _series(t: Tensor, first: float, ratios: Sequence[float]) -> Tensor:
    """first · (1 − t/ratios[0] · (1 − t/ratios[1] · (…))): an alternating series by its term ratios."""
    acc = torch.ones_like(t)
    for d in reversed(ratios):
        acc = 1 - t / d * acc
    return first * acc


def rotvec_to_rotmat(rotvec: Tensor) -> Tensor:
    """``[..., 3] -> [..., 3, 3]``: Rodrigues, R = cos θ·I + (sin θ/θ)·[r]x + ((1 − cos θ)/θ²)·r rᵀ.

    Below θ² = :data:`RODRIGUES_TAYLOR_BELOW` the coefficients come from their Taylor series, so value and autograd
    gradient are exact to rounding at and near zero. This is the pure-torch twin of ``posefast.rotvec_to_rotmat``
    (``posefast.reference.rotvec_to_rotmat`` is this function).
    """
    t = (rotvec * rotvec).sum(-1)
    small = t < RODRIGUES_TAYLOR_BELOW
    t_big = torch.where(small, torch.ones_like(t), t)  # keeps the unused branch (and its gradient) finite
    theta = t_big.sqrt()
    a = torch.where(small, _series(t, 1.0, [6, 20, 42, 72, 110, 156]), torch.sin(theta) / theta)
    b = torch.where(small, _series(t, 0.5, [12, 30, 56, 90, 132, 182]), 2 * torch.sin(theta / 2) ** 2 / t_big)
    c = torch.where(small, 1 - t * b, torch.cos(theta))
    x, y, z = rotvec.unbind(-1)
    zero = torch.zeros_like(x)
    cross = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).unflatten(-1, (3, 3))
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device)
    outer = rotvec.unsqueeze(-1) * rotvec.unsqueeze(-2)
    return c[..., None, None] * eye + a[..., None, None] * cross + b[..., None, None] * outer
