"""Camera maths in numpy for data preparation: rotations, world -> camera, projection, screen normalisation.

Conventions (Human3.6M / VideoPose3D, Pavllo et al. CVPR 2019):
- camera frame: x right, y down, z forward, metres;
- quaternions are (w, x, y, z); a camera's orientation quaternion rotates camera axes into world axes and its
  translation is the camera centre in world coordinates, so ``X_cam = R(q)^T (X_world - t)``;
- intrinsics vector ``(fx, fy, cx, cy[, k1, k2, k3, p1, p2])`` in pixels;
- ``normalize_screen``: ``uv / w * 2 - [1, h / w]`` maps x in [0, w] to [-1, 1] and keeps the aspect ratio.

Every function takes any leading batch dims; bad shapes raise ``ValueError`` naming the argument.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "quaternion_to_matrix", "world_to_camera", "camera_to_world", "look_at_rotation", "rotation_x", "rotation_y",
    "rotation_z", "project", "normalize_screen", "unnormalize_screen", "normalize_intrinsics", "pad_camera",
    "fit_pinhole_intrinsics", "solve_root_translation", "in_image",
]


def _last_dim(name: str, a: np.ndarray, size) -> None:
    sizes = size if isinstance(size, tuple) else (size,)
    if a.ndim < 1 or a.shape[-1] not in sizes:
        want = " or ".join(str(s) for s in sizes)
        raise ValueError(f"{name}: expected shape [..., {want}], got {tuple(a.shape)}")


def quaternion_to_matrix(q) -> np.ndarray:
    """[..., 4] unit quaternions (w, x, y, z) -> [..., 3, 3] rotation matrices (renormalised first)."""
    q = np.asarray(q, dtype=np.float64)
    _last_dim("q", q, 4)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if (norm < 1e-8).any() or not np.isfinite(q).all():
        raise ValueError("q: expected finite, non-zero quaternions (w, x, y, z)")
    w, x, y, z = np.moveaxis(q / norm, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def world_to_camera(X, orientation, translation) -> np.ndarray:
    """World points -> camera frame: ``R(q)^T (X - t)``.

    Args:
        X: [..., J, 3] world points (metres).
        orientation: [4] or [..., 4] quaternion (w, x, y, z), camera -> world rotation.
        translation: [3] or [..., 3] camera centre in world coordinates (metres).
    Returns:
        [..., J, 3] camera-frame points.
    """
    X = np.asarray(X, dtype=np.float64)
    _last_dim("X", X, 3)
    R = quaternion_to_matrix(orientation)
    t = np.asarray(translation, dtype=np.float64)
    _last_dim("translation", t, 3)
    # R^T (X - t) on row vectors is (X - t) R
    return np.einsum("...jk,...kl->...jl", X - t[..., None, :], R)


def camera_to_world(X, orientation, translation) -> np.ndarray:
    """Inverse of :func:`world_to_camera`: ``R(q) X + t``; shapes as there."""
    X = np.asarray(X, dtype=np.float64)
    _last_dim("X", X, 3)
    R = quaternion_to_matrix(orientation)
    t = np.asarray(translation, dtype=np.float64)
    _last_dim("translation", t, 3)
    return np.einsum("...jk,...lk->...jl", X, R) + t[..., None, :]


def _axis_rotation(angle, i: int, j: int) -> np.ndarray:
    a = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    R[..., 0, 0] = R[..., 1, 1] = R[..., 2, 2] = 1.0
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., i, j] = -s
    R[..., j, i] = s
    return R


def rotation_x(angle) -> np.ndarray:
    """[...] angles (radians) -> [..., 3, 3] right-handed rotations about x."""
    return _axis_rotation(angle, 1, 2)


def rotation_y(angle) -> np.ndarray:
    """[...] angles (radians) -> [..., 3, 3] right-handed rotations about y."""
    return _axis_rotation(angle, 2, 0)


def rotation_z(angle) -> np.ndarray:
    """[...] angles (radians) -> [..., 3, 3] right-handed rotations about z."""
    return _axis_rotation(angle, 0, 1)


def look_at_rotation(eye, target, up=(0.0, 1.0, 0.0), roll=0.0) -> np.ndarray:
    """World -> camera rotations for cameras at ``eye`` looking at ``target``; world ``up`` maps to image up.

    Args:
        eye, target: [..., 3] world points.
        up: [3] or [..., 3] world up direction (Y-up worlds by default).
        roll: [...] radians about the optical axis (positive turns the image content clockwise).
    Returns:
        [..., 3, 3] R with rows (right, down, forward), so ``X_cam = R (X_world - eye)``.
    """
    eye, target = np.asarray(eye, np.float64), np.asarray(target, np.float64)
    _last_dim("eye", eye, 3)
    _last_dim("target", target, 3)
    up = np.broadcast_to(np.asarray(up, np.float64), np.broadcast_shapes(eye.shape, target.shape))
    f = target - eye
    fn = np.linalg.norm(f, axis=-1, keepdims=True)
    if (fn < 1e-9).any():
        raise ValueError("eye, target: a camera looks at its own centre")
    f = f / fn
    r = np.cross(f, up)
    rn = np.linalg.norm(r, axis=-1, keepdims=True)
    if (rn < 1e-6).any():
        raise ValueError("eye, target: a viewing direction is parallel to up")
    r = r / rn
    d = np.cross(f, r)
    R = np.stack([r, d, f], axis=-2)
    return rotation_z(np.broadcast_to(np.asarray(roll, np.float64), R.shape[:-2])) @ R


def project(X, camera, clamp: bool = True) -> np.ndarray:
    """Camera-frame points -> pixels, pinhole plus optional Brown-Conrady distortion (VideoPose3D convention).

    With ``xx = X_xy / Z`` (clamped to [-1, 1] as VideoPose3D does, which keeps the distortion polynomial in
    its calibrated range), ``r2 = |xx|^2``: ``uv = f * (xx * (1 + k1 r2 + k2 r2^2 + k3 r2^3 + p.xx) + p r2) + c``.

    Args:
        X: [..., J, 3] camera-frame points with Z > 0.
        camera: [..., 4] (fx, fy, cx, cy) or [..., 9] (+ k1, k2, k3, p1, p2), leading dims matching X's.
        clamp: clamp normalised coordinates to [-1, 1] (only matters with distortion).
    Returns:
        [..., J, 2] pixels (float64).
    """
    X = np.asarray(X, dtype=np.float64)
    cam = np.asarray(camera, dtype=np.float64)
    _last_dim("X", X, 3)
    _last_dim("camera", cam, (4, 9))
    if cam.shape[:-1] != X.shape[:-2] and cam.ndim != 1:
        raise ValueError(f"camera: expected leading dims {X.shape[:-2]} (or a single [4|9] camera), "
                         f"got {tuple(cam.shape)}")
    z = X[..., 2:3]
    if (z <= 0).any():
        raise ValueError("X: expected points in front of the camera (Z > 0)")
    xx = X[..., :2] / z
    c = cam[..., None, :]
    f, ctr = c[..., 0:2], c[..., 2:4]
    if cam.shape[-1] == 4:
        return f * xx + ctr
    if clamp:
        xx = np.clip(xx, -1.0, 1.0)
    k, p = c[..., 4:7], c[..., 7:9]
    r2 = np.sum(xx * xx, axis=-1, keepdims=True)
    radial = 1 + k[..., 0:1] * r2 + k[..., 1:2] * r2**2 + k[..., 2:3] * r2**3
    tan = np.sum(p * xx, axis=-1, keepdims=True)
    return f * (xx * (radial + tan) + p * r2) + ctr


def _image_wh(image_size, lead_shape):
    s = np.asarray(image_size, dtype=np.float64)
    _last_dim("image_size", s, 2)
    if s.ndim > 1 and s.shape[:-1] != tuple(lead_shape):
        raise ValueError(f"image_size: expected [2] or leading dims {tuple(lead_shape)}, got {tuple(s.shape)}")
    if (s <= 0).any():
        raise ValueError("image_size: expected positive (width, height)")
    return s[..., None, 0:1], s[..., None, 1:2]


def normalize_screen(uv, image_size) -> np.ndarray:
    """[..., J, 2] pixels -> normalised screen coordinates ``uv / w * 2 - [1, h / w]``.

    ``image_size`` is (width, height): [2] for all, or [..., 2] with the leading dims of ``uv`` (without J).
    """
    uv = np.asarray(uv, dtype=np.float64)
    _last_dim("uv", uv, 2)
    w, h = _image_wh(image_size, uv.shape[:-2])
    return uv / w * 2 - np.concatenate([np.ones_like(h), h / w], axis=-1)


def unnormalize_screen(xy, image_size) -> np.ndarray:
    """Inverse of :func:`normalize_screen`: ``(xy + [1, h / w]) * w / 2``; shapes as there."""
    xy = np.asarray(xy, dtype=np.float64)
    _last_dim("xy", xy, 2)
    w, h = _image_wh(image_size, xy.shape[:-2])
    return (xy + np.concatenate([np.ones_like(h), h / w], axis=-1)) * w / 2


def normalize_intrinsics(camera, image_size) -> np.ndarray:
    """Pixel intrinsics [..., 4|9] -> the same in normalised screen units (f * 2 / w, c normalised), as VideoPose3D.

    Distortion coefficients are unitless and copied unchanged. ``image_size``: [2] or [..., 2].
    """
    cam = np.asarray(camera, dtype=np.float64)
    _last_dim("camera", cam, (4, 9))
    s = np.asarray(image_size, dtype=np.float64)
    _last_dim("image_size", s, 2)
    w, h = s[..., 0:1], s[..., 1:2]
    out = cam.copy()
    out[..., 0:2] = cam[..., 0:2] / w * 2
    out[..., 2:4] = cam[..., 2:4] / w * 2 - np.concatenate([np.ones_like(h), h / w], axis=-1)
    return out


def pad_camera(camera) -> np.ndarray:
    """[..., 4] pinhole intrinsics -> [..., 9] with zero distortion; [..., 9] passes through (float32)."""
    cam = np.asarray(camera, dtype=np.float32)
    _last_dim("camera", cam, (4, 9))
    if cam.shape[-1] == 9:
        return cam
    return np.concatenate([cam, np.zeros(cam.shape[:-1] + (5,), np.float32)], axis=-1)


def fit_pinhole_intrinsics(X, uv) -> np.ndarray:
    """Least-squares pinhole (fx, fy, cx, cy) explaining pixels ``uv`` [N, J, 2] of camera-frame points X [N, J, 3].

    ``u = fx * x/z + cx`` is linear in (fx, cx) (same for v), so each axis is an ordinary 2-parameter fit.
    Used when a dataset gives 2D/3D pairs but no intrinsics. Raises when the fit is degenerate.
    """
    X = np.asarray(X, np.float64).reshape(-1, 3)
    uv = np.asarray(uv, np.float64).reshape(-1, 2)
    if X.shape[0] != uv.shape[0] or X.shape[0] < 3:
        raise ValueError(f"X, uv: expected matching [N, J, 3] / [N, J, 2] with at least 3 points, got "
                         f"{X.shape[0]} and {uv.shape[0]} points")
    if (X[:, 2] <= 0).any():
        raise ValueError("X: expected points in front of the camera (Z > 0)")
    out = []
    for axis in (0, 1):
        a = X[:, axis] / X[:, 2]
        A = np.stack([a, np.ones_like(a)], axis=1)
        sol, _, rank, _ = np.linalg.lstsq(A, uv[:, axis], rcond=None)
        if rank < 2 or sol[0] <= 0:
            raise ValueError("X, uv: the points do not determine a pinhole camera (degenerate or mirrored)")
        out.append(sol)
    (fx, cx), (fy, cy) = out
    return np.array([fx, fy, cx, cy])


def solve_root_translation(relative, uv, camera, weights=None) -> np.ndarray:
    """Translation t [N, 3] that places root-relative poses so they reproject onto ``uv`` (linear least squares).

    For a pinhole camera ``u = fx (X + tx) / (Z + tz) + cx`` rearranges to ``fx tx - (u - cx) tz = (u - cx) Z -
    fx X`` (same for v), linear in t; distortion is ignored. Args: relative [N, J, 3] metres, uv [N, J, 2]
    pixels, camera [N, 4|9], weights [N, J] (0 drops a joint) or None.
    """
    P = np.asarray(relative, np.float64)
    uv = np.asarray(uv, np.float64)
    cam = np.asarray(camera, np.float64)
    if P.ndim != 3 or P.shape[-1] != 3 or uv.shape != P.shape[:-1] + (2,) or cam.shape[:1] != P.shape[:1]:
        raise ValueError(f"relative, uv, camera: expected [N, J, 3], [N, J, 2], [N, 4|9]; got {P.shape}, "
                         f"{uv.shape}, {cam.shape}")
    w = np.ones(P.shape[:2]) if weights is None else np.asarray(weights, np.float64)
    if w.shape != P.shape[:2]:
        raise ValueError(f"weights: expected {P.shape[:2]}, got {w.shape}")
    f, c = cam[:, None, 0:2], cam[:, None, 2:4]
    d = uv - c                                             # [N, J, 2]
    # rows for u: [fx, 0, -du], rhs du Z - fx X; rows for v: [0, fy, -dv], rhs dv Z - fy Y
    A = np.zeros(P.shape[:2] + (2, 3))
    A[..., 0, 0] = f[..., 0]
    A[..., 1, 1] = f[..., 1]
    A[..., :, 2] = -d
    b = d * P[..., 2:3] - f * P[..., :2]
    A = A * w[..., None, None]
    b = b * w[..., None]
    AtA = np.einsum("njrk,njrl->nkl", A, A)
    Atb = np.einsum("njrk,njr->nk", A, b)
    if (np.linalg.det(AtA) <= 1e-12).any():
        raise ValueError("relative, uv: too few usable joints to place a pose")
    return np.linalg.solve(AtA, Atb[..., None])[..., 0]


def in_image(uv, image_size, margin: float = 0.0) -> np.ndarray:
    """[..., J, 2] pixels -> bool [...]: every joint inside the image shrunk by ``margin`` (fraction of width)."""
    uv = np.asarray(uv, dtype=np.float64)
    _last_dim("uv", uv, 2)
    w, h = _image_wh(image_size, uv.shape[:-2])
    m = margin * w
    ok = (uv[..., 0:1] >= m) & (uv[..., 0:1] <= w - m) & (uv[..., 1:2] >= m) & (uv[..., 1:2] <= h - m)
    return ok[..., 0].all(axis=-1)
