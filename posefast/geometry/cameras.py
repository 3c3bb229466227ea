"""Camera maths in torch: world <-> camera, projection with distortion, screen normalisation, in-image tests and
the least-squares fits the dataset loaders need.

Conventions (Human3.6M / VideoPose3D, Pavllo et al. CVPR 2019):
- camera frame: x right, y down, z forward, metres;
- quaternions are (w, x, y, z); a camera's orientation quaternion rotates camera axes into world axes and its
  translation is the camera centre in world coordinates, so ``X_cam = R(q)^T (X_world - t)``;
- a camera is ``(fx, fy, cx, cy)`` or ``(fx, fy, cx, cy, k1, k2, k3, p1, p2)`` (Brown-Conrady distortion),
  in pixels, or in normalised screen units after :func:`normalize_camera`;
- normalised screen coordinates: ``uv / w · 2 − [1, h / w]`` maps x in [0, w] to [−1, 1] and keeps the aspect.

Every function takes any leading batch dims and keeps a float tensor's dtype and device; numpy arrays and numbers
become float64 tensors (the dataset loaders call these with arrays and take ``.numpy()`` of the result). These are
also the pure-torch twins of the ops of the same names (``posefast.project`` etc., which add the kernels and the
stricter argument checks of the ops). Bad shapes raise ``ValueError`` naming the argument.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from posefast.geometry._inputs import as_float, check_last, positive
from posefast.geometry.constants import DEFAULT_MIN_DEPTH
from posefast.geometry.rotations import quaternion_to_matrix

__all__ = ["BEHIND_CAMERA", "project", "normalize_screen", "denormalize_screen", "normalize_camera", "in_image",
           "world_to_camera", "camera_to_world", "fit_pinhole_intrinsics", "solve_root_translation"]

#: What :func:`project` does with a point nearer than ``min_depth``: ``"clamp"`` raises its depth to ``min_depth``
#: (finite, far outside the image, zero gradient w.r.t. depth: what a training loss needs); ``"raise"`` raises a
#: ValueError (what data preparation needs: such a point is a bug in the data, not a sample).
BEHIND_CAMERA = ("clamp", "raise")


def _check_camera(camera: Tensor, lead: torch.Size, lead_name: str) -> None:
    check_last(camera, "camera", (4, 9), "(fx, fy, cx, cy) pinhole, or + (k1, k2, k3, p1, p2) distortion")
    if camera.dim() > 1 and camera.shape[:-1] != lead:
        raise ValueError(f"camera: expected leading dims {list(lead)} (one camera per pose of {lead_name}) or a "
                         f"single [4|9] camera for all, got {list(camera.shape)}")


def project(points, camera, min_depth: float = DEFAULT_MIN_DEPTH, behind_camera: str = "clamp") -> Tensor:
    """Camera-frame points -> image coordinates, VideoPose3D's camera model.

    ``xy = X_xy / max(Z, min_depth)``; with distortion ``xy`` is clamped to [−1, 1] (VideoPose3D does, which keeps
    the polynomial in its calibrated range), ``r2 = |xy|²`` and
    ``xy' = xy (1 + k1 r2 + k2 r2² + k3 r2³ + p·xy) + p r2``; the result is ``f · xy' + c``.

    Args:
        points: ``[..., N, 3]`` camera-frame points.
        camera: ``[..., 4|9]`` with the leading dims of ``points.shape[:-2]`` (one camera per pose), or a single
            ``[4|9]`` camera for all.
        min_depth: positive depth floor, points' units.
        behind_camera: ``"clamp"`` or ``"raise"`` for points nearer than ``min_depth`` (see :data:`BEHIND_CAMERA`).
    Returns:
        ``[..., N, 2]`` (pixels for a pixel camera, normalised screen for a :func:`normalize_camera` camera).
    """
    points, camera = as_float(points, "points"), as_float(camera, "camera")
    check_last(points, "points", (3,), "3D points in the camera frame", min_dim=2)
    _check_camera(camera, points.shape[:-2], "points")
    min_depth = positive(min_depth, "min_depth")
    if behind_camera not in BEHIND_CAMERA:
        raise ValueError(f"behind_camera: expected one of {BEHIND_CAMERA}, got {behind_camera!r}")
    z = points[..., 2:]
    if behind_camera == "raise":
        near = z < min_depth
        if bool(near.any()):
            raise ValueError(f"points: {int(near.sum())} point(s) less than min_depth={min_depth:g} in front of the "
                             "camera (Z must be >= min_depth; pass behind_camera='clamp' to project them anyway)")
    cam = camera[..., None, :]
    xy = points[..., :2] / z.clamp(min=min_depth)
    if camera.shape[-1] == 9:
        xy = xy.clamp(-1, 1)
        r2 = (xy * xy).sum(-1, keepdim=True)
        k, p = cam[..., 4:7], cam[..., 7:9]
        radial = 1 + (k * torch.cat([r2, r2**2, r2**3], -1)).sum(-1, keepdim=True)
        tangential = (p * xy).sum(-1, keepdim=True)
        xy = xy * (radial + tangential) + p * r2
    return cam[..., :2] * xy + cam[..., 2:4]


def _image_size(w, h, like: Tensor, lead: torch.Size, lead_name: str, trailing: int) -> tuple[Tensor, Tensor]:
    """w, h as tensors of ``like``'s dtype with ``trailing`` singleton dims. Each is a positive number or one
    value per pose (shape ``lead``); values that arrive as numbers or arrays are checked to be positive (tensors are
    not: that would synchronise with a GPU)."""
    out = []
    for v, name in ((w, "w"), (h, "h")):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            positive(v, name)
        elif not isinstance(v, Tensor):
            arr = np.asarray(v, dtype=np.float64)
            if not (np.isfinite(arr).all() and (arr > 0).all()):
                raise ValueError(f"{name}: expected positive finite image sizes")
        t = torch.as_tensor(v, dtype=like.dtype, device=like.device)
        if t.dim() and t.shape != lead:
            raise ValueError(f"{name}: expected a number or shape {list(lead)} (one image size per pose of "
                             f"{lead_name}), got {list(t.shape)}")
        out.append(t.reshape(t.shape + (1,) * trailing))
    return out[0], out[1]


def normalize_screen(uv, w, h) -> Tensor:
    """``[..., N, 2]`` pixels -> normalised screen coordinates ``uv / w · 2 − [1, h / w]``.

    ``w``, ``h``: image width and height, numbers or one per pose (shape ``uv.shape[:-2]``).
    """
    uv = as_float(uv, "uv")
    check_last(uv, "uv", (2,), "2D points", min_dim=2)
    w, h = _image_size(w, h, uv, uv.shape[:-2], "uv", 2)
    return uv / w * 2 - torch.cat([torch.ones_like(h), h / w], -1)


def denormalize_screen(uv, w, h) -> Tensor:
    """Inverse of :func:`normalize_screen`: ``(uv + [1, h / w]) · w / 2``; same arguments."""
    uv = as_float(uv, "uv")
    check_last(uv, "uv", (2,), "2D points", min_dim=2)
    w, h = _image_size(w, h, uv, uv.shape[:-2], "uv", 2)
    return (uv + torch.cat([torch.ones_like(h), h / w], -1)) * w / 2


def normalize_camera(camera, w, h) -> Tensor:
    """Pixel camera ``[..., 4|9]`` -> normalised-screen camera, so that
    ``project(p, normalize_camera(c, w, h)) == normalize_screen(project(p, c), w, h)``: ``f · 2 / w``,
    ``c · 2 / w − [1, h / w]``; the distortion terms act on x/z, y/z and are unchanged.

    ``w``, ``h``: numbers or one per camera (shape ``camera.shape[:-1]``).
    """
    camera = as_float(camera, "camera")
    check_last(camera, "camera", (4, 9), "(fx, fy, cx, cy) pinhole, or + (k1, k2, k3, p1, p2) distortion")
    w, h = _image_size(w, h, camera, camera.shape[:-1], "camera", 1)
    f = camera[..., :2] * 2 / w
    c = camera[..., 2:4] * 2 / w - torch.cat([torch.ones_like(h), h / w], -1)
    return torch.cat([f, c, camera[..., 4:]], -1)


def in_image(uv, w, h, margin: float = 0.0) -> Tensor:
    """``[..., N, 2]`` pixels -> bool ``[...]``: every point inside the image shrunk by ``margin`` (a fraction of
    the width) on each side. ``w``, ``h``: numbers or one per pose (shape ``uv.shape[:-2]``)."""
    uv = as_float(uv, "uv")
    check_last(uv, "uv", (2,), "2D points", min_dim=2)
    w, h = _image_size(w, h, uv, uv.shape[:-2], "uv", 1)
    m = margin * w
    u, v = uv[..., 0], uv[..., 1]
    return ((u >= m) & (u <= w - m) & (v >= m) & (v <= h - m)).all(-1)


def _extrinsics(points, orientation, translation) -> tuple[Tensor, Tensor, Tensor]:
    points = as_float(points, "points")
    check_last(points, "points", (3,), "3D points", min_dim=2)
    R = quaternion_to_matrix(orientation).to(points)
    t = as_float(translation, "translation").to(points)
    check_last(t, "translation", (3,), "the camera centre in world coordinates")
    return points, R, t


def world_to_camera(points, orientation, translation) -> Tensor:
    """World points -> camera frame: ``R(q)ᵀ (X − t)``.

    Args:
        points: ``[..., N, 3]`` world points.
        orientation: ``[4]`` or ``[..., 4]`` quaternion (w, x, y, z), camera -> world rotation.
        translation: ``[3]`` or ``[..., 3]`` camera centre in world coordinates.
    Returns:
        ``[..., N, 3]`` camera-frame points.
    """
    points, R, t = _extrinsics(points, orientation, translation)
    # Rᵀ (X − t) on row vectors is (X − t) R
    return torch.einsum("...jk,...kl->...jl", points - t[..., None, :], R)


def camera_to_world(points, orientation, translation) -> Tensor:
    """Inverse of :func:`world_to_camera`: ``R(q) X + t``; same arguments."""
    points, R, t = _extrinsics(points, orientation, translation)
    return torch.einsum("...jk,...lk->...jl", points, R) + t[..., None, :]


def fit_pinhole_intrinsics(points, uv) -> Tensor:
    """Least-squares pinhole ``(fx, fy, cx, cy)`` explaining pixels ``uv`` ``[..., 2]`` of camera-frame points
    ``points`` ``[..., 3]`` (all of them, one camera).

    ``u = fx · x/z + cx`` is linear in (fx, cx) (same for v), so each axis is an ordinary 2-parameter fit. Used
    when a dataset gives 2D/3D pairs but no intrinsics. Raises when the fit is degenerate or a point is behind
    the camera.
    """
    X = as_float(points, "points").reshape(-1, 3)
    uv = as_float(uv, "uv").to(X).reshape(-1, 2)
    if X.shape[0] != uv.shape[0] or X.shape[0] < 3:
        raise ValueError(f"points, uv: expected matching [..., 3] / [..., 2] with at least 3 points, got "
                         f"{X.shape[0]} and {uv.shape[0]} points")
    if bool((X[:, 2] <= 0).any()):
        raise ValueError("points: expected points in front of the camera (Z > 0)")
    out = []
    for axis in (0, 1):
        a = X[:, axis] / X[:, 2]
        A = torch.stack([a, torch.ones_like(a)], 1)
        fit = torch.linalg.lstsq(A, uv[:, axis:axis + 1], driver="gelsd")
        sol = fit.solution[:, 0]
        if int(fit.rank) < 2 or bool(sol[0] <= 0):
            raise ValueError("points, uv: the points do not determine a pinhole camera (degenerate or mirrored)")
        out.append(sol)
    (fx, cx), (fy, cy) = out
    return torch.stack([fx, fy, cx, cy])


def solve_root_translation(relative, uv, camera, weights=None) -> Tensor:
    """Translation ``t`` ``[N, 3]`` that places root-relative poses so they reproject onto ``uv`` (linear least
    squares).

    For a pinhole camera ``u = fx (X + tx) / (Z + tz) + cx`` rearranges to
    ``fx tx − (u − cx) tz = (u − cx) Z − fx X`` (same for v), linear in t; distortion is ignored.

    Args:
        relative: ``[N, J, 3]``; uv: ``[N, J, 2]`` pixels; camera: ``[N, 4|9]``;
        weights: ``[N, J]`` (0 drops a joint) or None.
    """
    P = as_float(relative, "relative")
    uv, cam = as_float(uv, "uv").to(P), as_float(camera, "camera").to(P)
    if P.dim() != 3 or P.shape[-1] != 3 or uv.shape != P.shape[:-1] + (2,) or cam.shape[:1] != P.shape[:1] \
            or cam.dim() != 2:
        raise ValueError(f"relative, uv, camera: expected [N, J, 3], [N, J, 2], [N, 4|9]; got {list(P.shape)}, "
                         f"{list(uv.shape)}, {list(cam.shape)}")
    w = torch.ones(P.shape[:2], dtype=P.dtype, device=P.device) if weights is None \
        else as_float(weights, "weights").to(P)
    if w.shape != P.shape[:2]:
        raise ValueError(f"weights: expected {list(P.shape[:2])}, got {list(w.shape)}")
    f, c = cam[:, None, 0:2], cam[:, None, 2:4]
    d = uv - c                                             # [N, J, 2]
    # rows for u: [fx, 0, -du], rhs du Z - fx X; rows for v: [0, fy, -dv], rhs dv Z - fy Y
    A = P.new_zeros(P.shape[:2] + (2, 3))
    A[..., 0, 0] = f[..., 0]
    A[..., 1, 1] = f[..., 1]
    A[..., :, 2] = -d
    b = d * P[..., 2:3] - f * P[..., :2]
    A = A * w[..., None, None]
    b = b * w[..., None]
    AtA = torch.einsum("njrk,njrl->nkl", A, A)
    Atb = torch.einsum("njrk,njr->nk", A, b)
    if bool((torch.linalg.det(AtA) <= 1e-12).any()):
        raise ValueError("relative, uv: too few usable joints to place a pose")
    return torch.linalg.solve(AtA, Atb[..., None])[..., 0]
