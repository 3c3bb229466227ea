"""Pose-transform ops: PoseAug's BA / BL / RT augmentations, camera projection, PoseDA's global position alignment,
and the fused BA → BL → RT → project pipeline of PoseAug's generator.

Every op is differentiable w.r.t. every float input (first order), runs on the compiled kernels (one forward and one
backward kernel per op; the math lives in ``csrc/include/posefast/transforms.h``) and has a pure-torch twin in
:mod:`posefast.reference.transforms` that ``posefast.use_kernels(False)`` switches to.

References: Gong et al., *PoseAug*, CVPR 2021 (BA, BL, RT); Chai et al., *PoseDA*, ICCV 2023 (GPA);
Pavllo et al., *VideoPose3D*, CVPR 2019 (camera model and ``normalize_screen_coordinates``).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import Tensor

from posefast import reference
from posefast._ext import launch
from posefast.geometry import DEFAULT_DEPTH_RANGE, DEFAULT_EPS, DEFAULT_MIN_DEPTH, DEFAULT_MIN_SCALE
from posefast.ops._checks import (check_batch, check_float, check_like, check_points, check_trailing,
                                  fp32_boundary)
from posefast.ops._kernel_op import kernel_op
from posefast.ops._switch import kernels_enabled
from posefast.ops._tables import contiguous_batch, new_like, table
from posefast.skeleton import Skeleton, get_skeleton

__all__ = [
    "rotvec_to_rotmat", "bone_angle_augment", "bone_length_augment", "rigid_transform", "project",
    "normalize_screen", "denormalize_screen", "normalize_camera", "global_position_align", "augment_pipeline",
    "DEFAULT_MIN_DEPTH", "DEFAULT_DEPTH_RANGE", "DEFAULT_MIN_SCALE",
]

def _null(t: Optional[Tensor]):
    """A tensor for the kernel, or 0 (a null pointer: the kernel reads zeros)."""
    return 0 if t is None else t.contiguous()


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)


_FROZEN_CACHE: dict = {}


def _frozen_table(skel: Skeleton, frozen: Sequence[str] | None, device: torch.device) -> Tensor:
    """uint8 [B] mask of the bones whose direction BA keeps (``frozen`` = child-joint names, None = skeleton's)."""
    if frozen is None:
        return table(skel, "frozen", device, torch.uint8)
    if isinstance(frozen, str) or not all(isinstance(n, str) for n in frozen):
        raise TypeError(f"frozen: expected a sequence of child-joint names, got {frozen!r}")
    names = tuple(frozen)
    key = (skel.name, names, str(device))
    cached = _FROZEN_CACHE.get(key)
    if cached is None:
        mask = [0] * skel.num_bones
        for name in names:
            if name not in skel.joint_names or skel.joint(name) == 0:
                raise ValueError(f"frozen: {name!r} is not a bone of {skel.name} (expected the name of a bone's "
                                 f"child joint, one of {list(skel.joint_names[1:])})")
            mask[skel.bone(name)] = 1
        cached = _FROZEN_CACHE[key] = torch.tensor(mask, dtype=torch.uint8, device=device)
    return cached


def _check_camera(camera, ref: Tensor, ref_name: str, batch: torch.Size, sizes: tuple) -> Tensor:
    check_float(camera, "camera")
    check_like(camera, "camera", ref, ref_name)
    if camera.dim() < 1 or camera.shape[-1] not in sizes:
        want = " or ".join(f"[..., {s}]" for s in sizes)
        raise ValueError(f"camera: expected shape {want} ((fx, fy, cx, cy) pinhole"
                         + (", or + (k1, k2, k3, p1, p2) distortion" if 9 in sizes else "")
                         + f"), got [{', '.join(map(str, camera.shape))}]")
    return check_batch(camera, "camera", batch, ref_name, 1)


def _check_rooted(joints, name: str, dim: int) -> Tensor:
    check_float(joints, name)
    check_trailing(joints, name, (None, dim), f"{dim}D points")
    if joints.shape[-2] < 1:
        raise ValueError(f"{name}: expected at least one joint (joint 0 is the root), got shape {list(joints.shape)}")
    return joints


# ---- rotvec -> rotmat ------------------------------------------------------------------------------------------
@kernel_op
class _rotvec_to_rotmat:
    name = "posefast::rotvec_to_rotmat"
    saves, grads = ("rotvec",), ("rotvec",)

    def forward(rotvec: Tensor) -> Tensor:
        rotvec, n = contiguous_batch(rotvec, 1)
        out = rotvec.new_empty(rotvec.shape[:-1] + (3, 3))
        if n:
            launch("rotvec_to_rotmat_forward", rotvec, rotvec=rotvec, rotmat=out, N=n)
        return out

    def fake(rotvec):
        return rotvec.new_empty(rotvec.shape[:-1] + (3, 3))

    def backward(grad_rotmat: Tensor, rotvec: Tensor) -> Tensor:
        rotvec, n = contiguous_batch(rotvec, 1)
        grad_rotmat = grad_rotmat.contiguous()
        grad = new_like(rotvec)
        if n:
            launch("rotvec_to_rotmat_backward", rotvec, grad_rotmat=grad_rotmat, rotvec=rotvec, grad_rotvec=grad, N=n)
        return grad

    def backward_fake(grad_rotmat, rotvec):
        return new_like(rotvec)


@fp32_boundary
def rotvec_to_rotmat(rotvec: Tensor) -> Tensor:
    """Rotation matrices from rotation vectors (axis · angle), Rodrigues' formula.

    ``R = cos θ·I + (sin θ/θ)·[r]x + ((1 − cos θ)/θ²)·r rᵀ`` with θ = |r|. Below θ² = 0.1 the three coefficients and
    their derivatives come from their Taylor series, so the value and the gradient are exact to rounding at and
    near zero rotation (at r = 0: R = I, dR/dr = the cross-product generators). Angles of π and beyond need no
    special case (Rodrigues is smooth there).

    Args:
        rotvec: ``[..., 3]``.

    Returns:
        ``[..., 3, 3]``, acting on column vectors (``R @ x``).
    """
    check_float(rotvec, "rotvec")
    check_trailing(rotvec, "rotvec", (3,), "rotation vector (axis · angle in radians)")
    if not kernels_enabled():
        return reference.rotvec_to_rotmat(rotvec)
    return _rotvec_to_rotmat(rotvec)


# ---- bone-angle augmentation -----------------------------------------------------------------------------------
@kernel_op
class _bone_angle_augment:
    name = "posefast::bone_angle_augment"
    saves, grads = ("joints", "delta", "parents", "frozen", "eps"), ("joints", "delta")
    materialize_grads = False  # an unused output's cotangent reaches the kernel as a null pointer

    def forward(joints: Tensor, delta: Tensor, parents: Tensor, frozen: Tensor, eps: float) -> tuple[Tensor, Tensor]:
        J = joints.shape[-2]
        joints, n = contiguous_batch(joints, 2)
        delta = delta.contiguous()
        out = new_like(joints)
        cos_change = joints.new_empty(joints.shape[:-2] + (J - 1,))
        if n:
            launch("bone_angle_augment_forward", joints, joints=joints, delta=delta, parents=parents, frozen=frozen,
                   out=out, cos_change=cos_change, N=n, J=J, eps=eps)
        return out, cos_change

    def fake(joints, delta, parents, frozen, eps):
        return new_like(joints), joints.new_empty(joints.shape[:-2] + (joints.shape[-2] - 1,))

    def backward(grad_out: Optional[Tensor], grad_cos: Optional[Tensor], joints: Tensor, delta: Tensor,
                 parents: Tensor, frozen: Tensor, eps: float) -> tuple[Tensor, Tensor]:
        J = joints.shape[-2]
        joints, n = contiguous_batch(joints, 2)
        delta = delta.contiguous()
        grad_joints, grad_delta = new_like(joints), new_like(delta)
        if n:
            launch("bone_angle_augment_backward", joints, grad_out=_null(grad_out), grad_cos=_null(grad_cos),
                   joints=joints, delta=delta, parents=parents, frozen=frozen, grad_joints=grad_joints,
                   grad_delta=grad_delta, N=n, J=J, eps=eps)
        return grad_joints, grad_delta

    def backward_fake(grad_out, grad_cos, joints, delta, parents, frozen, eps):
        return new_like(joints), new_like(delta)


def _check_ba_inputs(joints, delta, skel: Skeleton, eps) -> float:
    check_points(joints, "joints", skel.num_joints, 3, f"{skel.num_joints} joints of {skel.name}")
    check_float(delta, "delta")
    check_like(delta, "delta", joints, "joints")
    check_trailing(delta, "delta", (skel.num_bones, 3), f"one offset per bone of {skel.name}")
    check_batch(delta, "delta", joints.shape[:-2], "joints", 2)
    return _positive(eps, "eps")


@fp32_boundary
def bone_angle_augment(joints: Tensor, delta: Tensor, skeleton: Skeleton | str, frozen: Sequence[str] | None = None,
                       eps: float = DEFAULT_EPS) -> tuple[Tensor, Tensor]:
    """PoseAug's bone-angle augmentation (BA; Gong et al., CVPR 2021).

    Per bone b (child-indexed): u = b / max(|b|, eps), u' = normalize(u + delta_b) (same eps guard), new bone =
    |b| · u' (lengths kept); bones in ``frozen`` keep their vector exactly. Joints are rebuilt by forward kinematics
    from the original root. ``cos_change = 1 − <u', u>`` (0 for frozen bones) is PoseAug's ``ba_diff``.

    Degenerate cases: a zero-length bone has u = 0, so it stays zero-length, its cos change is 1 and its gradients
    are finite; if u + delta = 0 the new direction is 0 (the bone collapses to zero length), again finite.

    Args:
        joints: ``[..., J, 3]``.
        delta: ``[..., B, 3]`` offsets added to the unit bones (same leading dims; B = J − 1).
        skeleton: layout or name.
        frozen: child-joint names of the bones that keep their direction; ``None`` = ``skeleton.frozen_bones``
            (pelvis→spine and spine→thorax, as PoseAug), ``()`` = none.
        eps: length below which a vector is not normalised to unit length (see ``posefast.ops.DEFAULT_EPS``).

    Returns:
        ``(joints_out [..., J, 3], cos_change [..., B])``.
    """
    skel = get_skeleton(skeleton)
    eps = _check_ba_inputs(joints, delta, skel, eps)
    frozen_mask = _frozen_table(skel, frozen, joints.device)
    if not kernels_enabled():
        return reference.bone_angle_augment(joints, delta, skel, frozen, eps)
    return _bone_angle_augment(joints, delta, table(skel, "parents", joints.device), frozen_mask, eps)


# ---- bone-length augmentation ----------------------------------------------------------------------------------
@kernel_op
class _bone_length_augment:
    name = "posefast::bone_length_augment"
    saves, grads = ("joints", "ratio", "parents", "groups"), ("joints", "ratio")

    def forward(joints: Tensor, ratio: Tensor, parents: Tensor, groups: Tensor) -> Tensor:
        J, G = joints.shape[-2], ratio.shape[-1]
        joints, n = contiguous_batch(joints, 2)
        ratio = ratio.contiguous()
        out = new_like(joints)
        if n:
            launch("bone_length_augment_forward", joints, joints=joints, ratio=ratio, parents=parents, groups=groups,
                   out=out, N=n, J=J, G=G)
        return out

    def fake(joints, ratio, parents, groups):
        return new_like(joints)

    def backward(grad_out: Tensor, joints: Tensor, ratio: Tensor, parents: Tensor,
                 groups: Tensor) -> tuple[Tensor, Tensor]:
        J, G = joints.shape[-2], ratio.shape[-1]
        joints, n = contiguous_batch(joints, 2)
        ratio = ratio.contiguous()
        grad_out = grad_out.contiguous()
        grad_joints, grad_ratio = new_like(joints), new_like(ratio)
        if n:
            launch("bone_length_augment_backward", joints, grad_out=grad_out, joints=joints, ratio=ratio,
                   parents=parents, groups=groups, grad_joints=grad_joints, grad_ratio=grad_ratio, N=n, J=J, G=G)
        return grad_joints, grad_ratio

    def backward_fake(grad_out, joints, ratio, parents, groups):
        return new_like(joints), new_like(ratio)


def _check_bl_inputs(joints, ratio, skel: Skeleton) -> None:
    check_points(joints, "joints", skel.num_joints, 3, f"{skel.num_joints} joints of {skel.name}")
    check_float(ratio, "ratio")
    check_like(ratio, "ratio", joints, "joints")
    check_trailing(ratio, "ratio", (skel.num_groups,), f"one ratio per bone group of {skel.name}")
    check_batch(ratio, "ratio", joints.shape[:-2], "joints", 1)


@fp32_boundary
def bone_length_augment(joints: Tensor, ratio: Tensor, skeleton: Skeleton | str) -> Tensor:
    """PoseAug's bone-length augmentation (BL; Gong et al., CVPR 2021).

    Every bone b is scaled by ``1 + ratio[group(b)]`` (``skeleton.bone_group_index``: left/right bones share a
    group) and the joints are rebuilt from the original root. The ratio is not bounded here (PoseAug bounds it by
    tanh · 0.2): ratio = −1 collapses a bone, below −1 flips it. Zero-length bones stay zero-length.

    Args:
        joints: ``[..., J, 3]``.
        ratio: ``[..., G]``, G = ``skeleton.num_groups`` (same leading dims).
        skeleton: layout or name.

    Returns:
        ``[..., J, 3]``.
    """
    skel = get_skeleton(skeleton)
    _check_bl_inputs(joints, ratio, skel)
    if not kernels_enabled():
        return reference.bone_length_augment(joints, ratio, skel)
    return _bone_length_augment(joints, ratio, table(skel, "parents", joints.device),
                                table(skel, "bone_groups", joints.device))


# ---- rigid transform -------------------------------------------------------------------------------------------
@kernel_op
class _rigid_transform:
    name = "posefast::rigid_transform"
    saves, grads = ("joints", "rotvec"), ("joints", "rotvec", "translation")

    def forward(joints: Tensor, rotvec: Tensor, translation: Tensor) -> Tensor:
        J = joints.shape[-2]
        joints, n = contiguous_batch(joints, 2)
        out = new_like(joints)
        if n:
            launch("rigid_transform_forward", joints, joints=joints, rotvec=rotvec.contiguous(),
                   translation=translation.contiguous(), out=out, N=n, J=J)
        return out

    def fake(joints, rotvec, translation):
        return new_like(joints)

    def backward(grad_out: Tensor, joints: Tensor, rotvec: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        J = joints.shape[-2]
        joints, n = contiguous_batch(joints, 2)
        rotvec = rotvec.contiguous()
        grad_joints, grad_rotvec, grad_translation = new_like(joints), new_like(rotvec), new_like(rotvec)
        if n:
            launch("rigid_transform_backward", joints, grad_out=grad_out.contiguous(), joints=joints, rotvec=rotvec,
                   grad_joints=grad_joints, grad_rotvec=grad_rotvec, grad_translation=grad_translation, N=n, J=J)
        return grad_joints, grad_rotvec, grad_translation

    def backward_fake(grad_out, joints, rotvec):
        return new_like(joints), new_like(rotvec), new_like(rotvec)


def _check_rt_inputs(joints, rotvec, translation) -> None:
    for t, name, what in ((rotvec, "rotvec", "rotation vector"), (translation, "translation", "new root position")):
        check_float(t, name)
        check_like(t, name, joints, "joints")
        check_trailing(t, name, (3,), what)
        check_batch(t, name, joints.shape[:-2], "joints", 1)


@fp32_boundary
def rigid_transform(joints: Tensor, rotvec: Tensor, translation: Tensor) -> Tensor:
    """PoseAug's rigid transform (RT; Gong et al., CVPR 2021): ``R(rotvec) (x_j − x_0) + translation``.

    The root-relative pose is rotated about the root by the axis-angle ``rotvec`` (see :func:`rotvec_to_rotmat`),
    then the root is placed at ``translation`` (an absolute position in the camera frame, as PoseAug's generator
    produces it). Joint 0 is the root.

    Args:
        joints: ``[..., J, 3]`` (J >= 1).
        rotvec: ``[..., 3]`` (same leading dims).
        translation: ``[..., 3]``.

    Returns:
        ``[..., J, 3]``.
    """
    _check_rooted(joints, "joints", 3)
    _check_rt_inputs(joints, rotvec, translation)
    if not kernels_enabled():
        return reference.rigid_transform(joints, rotvec, translation)
    return _rigid_transform(joints, rotvec, translation)


# ---- projection ------------------------------------------------------------------------------------------------
@kernel_op
class _project:
    name = "posefast::project"
    saves, grads = ("points", "camera", "min_depth"), ("points", "camera")

    def forward(points: Tensor, camera: Tensor, min_depth: float) -> Tensor:
        P, C = points.shape[-2], camera.shape[-1]
        points, n = contiguous_batch(points, 2)
        uv = points.new_empty(points.shape[:-1] + (2,))
        if n:
            launch("project_forward", points, points=points, camera=camera.contiguous(), uv=uv, N=n, P=P, C=C,
                   min_depth=min_depth)
        return uv

    def fake(points, camera, min_depth):
        return points.new_empty(points.shape[:-1] + (2,))

    def backward(grad_uv: Tensor, points: Tensor, camera: Tensor, min_depth: float) -> tuple[Tensor, Tensor]:
        P, C = points.shape[-2], camera.shape[-1]
        points, n = contiguous_batch(points, 2)
        camera = camera.contiguous()
        grad_points, grad_camera = new_like(points), new_like(camera)
        if n:
            launch("project_backward", points, grad_uv=grad_uv.contiguous(), points=points, camera=camera,
                   grad_points=grad_points, grad_camera=grad_camera, N=n, P=P, C=C, min_depth=min_depth)
        return grad_points, grad_camera

    def backward_fake(grad_uv, points, camera, min_depth):
        return new_like(points), new_like(camera)


@fp32_boundary
def project(points: Tensor, camera: Tensor, min_depth: float = DEFAULT_MIN_DEPTH) -> Tensor:
    """Camera-frame points to image coordinates, Human3.6M / VideoPose3D camera model (Pavllo et al., CVPR 2019).

    ``camera = (fx, fy, cx, cy)``: pinhole, ``uv = f · (X, Y)/Z + c``. ``camera = (fx, fy, cx, cy, k1, k2, k3, p1,
    p2)``: ``(x, y) = clamp((X, Y)/Z, −1, 1)``, ``r² = x² + y²``, ``q = 1 + k1 r² + k2 r⁴ + k3 r⁶ + p1 x + p2 y``,
    ``uv = f · ((x, y) q + (p1, p2) r²) + c`` — VideoPose3D's formula, including its clamp (and its tangential
    form, which differs from OpenCV's). Pixel cameras give pixels; cameras mapped by :func:`normalize_camera` give
    normalised screen coordinates.

    Points at or behind the camera plane: Z is raised to ``min_depth`` before dividing, so such points land far
    outside the image (pinhole) or on the clamp border (distortion model), always finite, with zero gradient
    w.r.t. Z. Outside the clamp the gradient w.r.t. that coordinate is zero (as torch.clamp).

    Args:
        points: ``[..., N, 3]`` in the camera frame.
        camera: ``[..., 4]`` or ``[..., 9]``, one camera per pose: leading dims equal ``points.shape[:-2]``
            (no broadcasting).
        min_depth: positive depth floor, points' units (see :data:`DEFAULT_MIN_DEPTH`).

    Returns:
        ``[..., N, 2]``.
    """
    check_float(points, "points")
    check_trailing(points, "points", (None, 3), "3D points in the camera frame")
    _check_camera(camera, points, "points", points.shape[:-2], (4, 9))
    min_depth = _positive(min_depth, "min_depth")
    if not kernels_enabled():
        return reference.project(points, camera, min_depth)
    return _project(points, camera, min_depth)


# ---- screen normalisation (elementwise; plain torch is the right tool) -----------------------------------------
def _check_image_size(w, h, ref: Tensor, batch: torch.Size, ref_name: str) -> None:
    for v, name in ((w, "w"), (h, "h")):
        if isinstance(v, Tensor):
            check_float(v, name)
            check_like(v, name, ref, ref_name)
            if v.shape != batch:
                raise ValueError(f"{name}: expected a number or a tensor of shape {list(batch)} (one image size per "
                                 f"pose of {ref_name}), got {list(v.shape)}")
        else:
            _positive(v, name)


@fp32_boundary
def normalize_screen(uv: Tensor, w, h) -> Tensor:
    """Pixels → normalised screen coordinates (VideoPose3D): ``uv / w · 2 − [1, h / w]``.

    x maps [0, w] to [−1, 1]; y is scaled by the same factor (aspect ratio kept), so [0, h] maps to [−h/w, h/w].

    Args:
        uv: ``[..., N, 2]`` pixels.
        w: image width: a positive number, or a float tensor of shape ``uv.shape[:-2]``.
        h: image height, likewise.
    """
    check_float(uv, "uv")
    check_trailing(uv, "uv", (None, 2), "2D points")
    _check_image_size(w, h, uv, uv.shape[:-2], "uv")
    return reference.normalize_screen(uv, w, h)


@fp32_boundary
def denormalize_screen(uv: Tensor, w, h) -> Tensor:
    """Inverse of :func:`normalize_screen`: ``(uv + [1, h / w]) · w / 2``; same arguments."""
    check_float(uv, "uv")
    check_trailing(uv, "uv", (None, 2), "2D points")
    _check_image_size(w, h, uv, uv.shape[:-2], "uv")
    return reference.denormalize_screen(uv, w, h)


@fp32_boundary
def normalize_camera(camera: Tensor, w, h) -> Tensor:
    """Pixel camera → normalised-screen camera, so that
    ``project(p, normalize_camera(c, w, h)) == normalize_screen(project(p, c), w, h)``.

    ``f' = f · 2 / w`` (both fx and fy over the width), ``c' = c · 2 / w − [1, h / w]``; the distortion terms act on
    X/Z, Y/Z and are unchanged.

    Args:
        camera: ``[..., 4]`` or ``[..., 9]``.
        w: image width: a positive number, or a float tensor of shape ``camera.shape[:-1]``.
        h: image height, likewise.
    """
    check_float(camera, "camera")
    if camera.dim() < 1 or camera.shape[-1] not in (4, 9):
        raise ValueError(f"camera: expected shape [..., 4] or [..., 9], got {list(camera.shape)}")
    _check_image_size(w, h, camera, camera.shape[:-1], "camera")
    return reference.normalize_camera(camera, w, h)


# ---- global position alignment ---------------------------------------------------------------------------------
@kernel_op
class _global_position_align:
    name = "posefast::global_position_align"
    saves = ("joints", "target", "camera", "min_scale", "z_min", "z_max")
    grads = ("joints", "target", "camera")

    def forward(joints: Tensor, target: Tensor, camera: Tensor, min_scale: float, z_min: float,
                z_max: float) -> Tensor:
        J = joints.shape[-2]
        joints, n = contiguous_batch(joints, 2)
        out = new_like(joints)
        if n:
            launch("global_position_align_forward", joints, joints=joints, target=target.contiguous(),
                   camera=camera.contiguous(), out=out, N=n, J=J, min_scale=min_scale, z_min=z_min, z_max=z_max)
        return out

    def fake(joints, target, camera, min_scale, z_min, z_max):
        return new_like(joints)

    def backward(grad_out: Tensor, joints: Tensor, target: Tensor, camera: Tensor, min_scale: float, z_min: float,
                 z_max: float) -> tuple[Tensor, Tensor, Tensor]:
        J = joints.shape[-2]
        joints, n = contiguous_batch(joints, 2)
        target, camera = target.contiguous(), camera.contiguous()
        grad_joints, grad_target, grad_camera = new_like(joints), new_like(target), new_like(camera)
        if n:
            launch("global_position_align_backward", joints, grad_out=grad_out.contiguous(), joints=joints,
                   target=target, camera=camera, grad_joints=grad_joints, grad_target=grad_target,
                   grad_camera=grad_camera, N=n, J=J, min_scale=min_scale, z_min=z_min, z_max=z_max)
        return grad_joints, grad_target, grad_camera

    def backward_fake(grad_out, joints, target, camera, min_scale, z_min, z_max):
        return new_like(joints), new_like(target), new_like(camera)


@fp32_boundary
def global_position_align(joints_3d: Tensor, target_2d: Tensor, camera: Tensor,
                          depth_range: tuple[float, float] = DEFAULT_DEPTH_RANGE,
                          min_scale: float = DEFAULT_MIN_SCALE) -> Tensor:
    """PoseDA's global position alignment (GPA; Chai et al., ICCV 2023), one camera per pose.

    Keeps the root-relative pose and moves the root (joint 0) onto the camera ray through the target's 2D root
    ``(u0, v0)``, at the depth where the pose's projected size matches the target's 2D scale:
    ``s = (w + h) / 2`` of the target keypoints' box, ``Δx, Δy`` = the pose's 3D extent, ``z = (fx Δx + fy Δy) /
    (2 s)``, ``root = z · ((u0 − cx)/fx, (v0 − cy)/fy, 1)``.

    Unlike the published function, every pose uses its own camera. Re-projected with that camera (z inside
    ``depth_range``) the root lands exactly on ``(u0, v0)``, and the projected scale s' matches ``s`` exactly under
    weak perspective (every joint at the root depth z). Under full perspective joint j's projection moves by
    ``|uv_j − c| · |z_j − z| / z``, so ``|s' − s| <= (max_j |u_j − cx| + max_j |v_j − cy|) · max_j |z_j − z| / z``:
    a few percent for a person (±0.3 m of depth) 4–6 m away near the optical axis, more close up or off-axis.

    Guards: ``s`` is raised to ``min_scale`` before dividing (a collapsed target box gives a finite, large depth),
    and z is clamped to ``depth_range`` (the gradient through z is zero outside it, as torch.clamp). Extents use
    max/min, whose gradient goes to the extreme joints (shared evenly on ties, as torch.amax). ``fx``, ``fy`` must
    be non-zero (values are not checked: that would synchronise the GPU).

    Args:
        joints_3d: ``[..., J, 3]`` source poses (camera frame).
        target_2d: ``[..., J, 2]`` paired target 2D poses, same leading dims, in the camera's image coordinates
            (pixels for a pixel camera, normalised screen for a :func:`normalize_camera` camera).
        camera: ``[..., 4]`` pinhole ``(fx, fy, cx, cy)``, same leading dims.
        depth_range: ``(min, max)`` root depth, joints' units (see :data:`DEFAULT_DEPTH_RANGE`).
        min_scale: positive floor for ``s``, target_2d's units (see :data:`DEFAULT_MIN_SCALE`).

    Returns:
        ``[..., J, 3]`` aligned poses.
    """
    _check_rooted(joints_3d, "joints_3d", 3)
    check_float(target_2d, "target_2d")
    check_like(target_2d, "target_2d", joints_3d, "joints_3d")
    J = joints_3d.shape[-2]
    check_trailing(target_2d, "target_2d", (J, 2), f"{J} 2D keypoints like joints_3d")
    check_batch(target_2d, "target_2d", joints_3d.shape[:-2], "joints_3d", 2)
    _check_camera(camera, joints_3d, "joints_3d", joints_3d.shape[:-2], (4,))
    try:
        z_min, z_max = (float(v) for v in depth_range)
    except (TypeError, ValueError):
        raise ValueError(f"depth_range: expected (min, max), got {depth_range!r}") from None
    if not (0 < z_min < z_max < math.inf):
        raise ValueError(f"depth_range: expected 0 < min < max < inf, got {depth_range!r}")
    min_scale = _positive(min_scale, "min_scale")
    if not kernels_enabled():
        return reference.global_position_align(joints_3d, target_2d, camera, (z_min, z_max), min_scale)
    return _global_position_align(joints_3d, target_2d, camera, min_scale, z_min, z_max)


# ---- fused augmentation pipeline -------------------------------------------------------------------------------
@kernel_op
class _augment_pipeline:
    name = "posefast::augment_pipeline"
    outputs = ("joints_ba", "joints_bl", "joints_rt", "uv_rt", "cos_change")
    saves = ("joints", "delta", "ratio", "rotvec", "camera", "joints_ba", "joints_bl", "joints_rt", "parents",
             "frozen", "groups", "eps", "min_depth")
    grads = ("joints", "delta", "ratio", "rotvec", "translation", "camera")
    materialize_grads = False  # unused outputs' cotangents reach the kernel as null pointers

    def forward(joints: Tensor, delta: Tensor, ratio: Tensor, rotvec: Tensor, translation: Tensor, camera: Tensor,
                parents: Tensor, frozen: Tensor, groups: Tensor, eps: float,
                min_depth: float) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        J, G, C = joints.shape[-2], ratio.shape[-1], camera.shape[-1]
        joints, n = contiguous_batch(joints, 2)
        joints_ba, joints_bl, joints_rt = new_like(joints), new_like(joints), new_like(joints)
        uv_rt = joints.new_empty(joints.shape[:-1] + (2,))
        cos_change = joints.new_empty(joints.shape[:-2] + (J - 1,))
        if n:
            launch("augment_pipeline_forward", joints, joints=joints, delta=delta.contiguous(),
                   ratio=ratio.contiguous(), rotvec=rotvec.contiguous(), translation=translation.contiguous(),
                   camera=camera.contiguous(), parents=parents, frozen=frozen, groups=groups, joints_ba=joints_ba,
                   joints_bl=joints_bl, joints_rt=joints_rt, uv_rt=uv_rt, cos_change=cos_change, N=n, J=J, G=G, C=C,
                   eps=eps, min_depth=min_depth)
        return joints_ba, joints_bl, joints_rt, uv_rt, cos_change

    def fake(joints, delta, ratio, rotvec, translation, camera, parents, frozen, groups, eps, min_depth):
        J = joints.shape[-2]
        return (new_like(joints), new_like(joints), new_like(joints),
                joints.new_empty(joints.shape[:-1] + (2,)), joints.new_empty(joints.shape[:-2] + (J - 1,)))

    def backward(grad_ba: Optional[Tensor], grad_bl: Optional[Tensor], grad_rt: Optional[Tensor],
                 grad_uv: Optional[Tensor], grad_cos: Optional[Tensor], joints: Tensor, delta: Tensor,
                 ratio: Tensor, rotvec: Tensor, camera: Tensor, joints_ba: Tensor, joints_bl: Tensor,
                 joints_rt: Tensor, parents: Tensor, frozen: Tensor, groups: Tensor, eps: float,
                 min_depth: float) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        J, G, C = joints.shape[-2], ratio.shape[-1], camera.shape[-1]
        joints, n = contiguous_batch(joints, 2)
        delta, ratio, rotvec, camera = delta.contiguous(), ratio.contiguous(), rotvec.contiguous(), camera.contiguous()
        grads = (new_like(joints), new_like(delta), new_like(ratio), new_like(rotvec), new_like(rotvec),
                 new_like(camera))
        if n:
            launch("augment_pipeline_backward", joints, grad_ba=_null(grad_ba), grad_bl=_null(grad_bl),
                   grad_rt=_null(grad_rt), grad_uv=_null(grad_uv), grad_cos=_null(grad_cos), joints=joints,
                   delta=delta, ratio=ratio, rotvec=rotvec, camera=camera, joints_ba=joints_ba.contiguous(),
                   joints_bl=joints_bl.contiguous(), joints_rt=joints_rt.contiguous(), parents=parents,
                   frozen=frozen, groups=groups, grad_joints=grads[0], grad_delta=grads[1], grad_ratio=grads[2],
                   grad_rotvec=grads[3], grad_translation=grads[4], grad_camera=grads[5], N=n, J=J, G=G, C=C,
                   eps=eps, min_depth=min_depth)
        return grads

    def backward_fake(grad_ba, grad_bl, grad_rt, grad_uv, grad_cos, joints, delta, ratio, rotvec, camera, joints_ba,
                      joints_bl, joints_rt, parents, frozen, groups, eps, min_depth):
        return (new_like(joints), new_like(delta), new_like(ratio), new_like(rotvec), new_like(rotvec),
                new_like(camera))


@fp32_boundary
def augment_pipeline(joints: Tensor, delta: Tensor, ratio: Tensor, rotvec: Tensor, translation: Tensor,
                     camera: Tensor, skeleton: Skeleton | str, frozen: Sequence[str] | None = None,
                     eps: float = DEFAULT_EPS,
                     min_depth: float = DEFAULT_MIN_DEPTH) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """PoseAug's generator path fused: BA → BL → RT → project, one forward and one backward kernel.

    Equals ``bone_angle_augment(joints, delta)`` → ``bone_length_augment(·, ratio)`` →
    ``rigid_transform(·, rotvec, translation)`` → ``project(·, camera)`` (same degenerate-case rules), with every
    stage's result returned. Any subset of the outputs may feed the loss.

    Args:
        joints: ``[..., J, 3]``.
        delta: ``[..., B, 3]`` BA offsets.
        ratio: ``[..., G]`` BL ratios per bone group.
        rotvec: ``[..., 3]`` RT rotation (axis · angle).
        translation: ``[..., 3]`` RT root position.
        camera: ``[..., 4]`` or ``[..., 9]`` (see :func:`project`).
        skeleton: as :func:`bone_angle_augment`.
        frozen: as :func:`bone_angle_augment`.
        eps: as :func:`bone_angle_augment`.
        min_depth: as :func:`project`.

    Returns:
        ``(joints_ba, joints_bl, joints_rt [..., J, 3], uv_rt [..., J, 2], cos_change [..., B])``.
    """
    skel = get_skeleton(skeleton)
    eps = _check_ba_inputs(joints, delta, skel, eps)
    _check_bl_inputs(joints, ratio, skel)
    _check_rt_inputs(joints, rotvec, translation)
    _check_camera(camera, joints, "joints", joints.shape[:-2], (4, 9))
    min_depth = _positive(min_depth, "min_depth")
    frozen_mask = _frozen_table(skel, frozen, joints.device)
    if not kernels_enabled():
        return reference.augment_pipeline(joints, delta, ratio, rotvec, translation, camera, skel, frozen, eps,
                                          min_depth)
    return _augment_pipeline(joints, delta, ratio, rotvec, translation, camera, table(skel, "parents", joints.device),
                             frozen_mask, table(skel, "bone_groups", joints.device), eps, min_depth)
