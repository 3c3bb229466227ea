"""Skeleton ops: bone vectors, forward kinematics, KCS and fused part-aware KCS (full and compact layouts).

Each op is a ``torch.library`` custom op (so torch.compile and opcheck see through it) with its backward as a
second custom op. The public functions validate input, then route to the kernel or, under
``posefast.use_kernels(False)``, to the twin in :mod:`posefast.reference.skeleton`.

Bones are child-indexed (bone b ends at joint b + 1), see :mod:`posefast.skeleton`.
"""
from __future__ import annotations

from torch import Tensor

from posefast import reference
from posefast._ext import launch
from posefast.geometry import DEFAULT_EPS
from posefast.ops._checks import (check_batch, check_float, check_like, check_points, check_trailing,
                                  fp32_boundary)
from posefast.ops._kernel_op import kernel_op
from posefast.ops._switch import kernels_enabled
from posefast.ops._tables import contiguous_batch, new_like, table
from posefast.skeleton import Skeleton, get_skeleton

__all__ = ["bone_vectors", "forward_kinematics", "kcs", "part_kcs", "part_kcs_compact", "DEFAULT_EPS"]


# ---- bone vectors ----------------------------------------------------------------------------------------------
@kernel_op
class _bone_vectors:
    name = "posefast::bone_vectors"
    saves, grads = ("parents",), ("joints",)

    def forward(joints: Tensor, parents: Tensor) -> Tensor:
        J = joints.shape[-2]
        joints, n = contiguous_batch(joints, 2)
        bones = joints.new_empty(joints.shape[:-2] + (J - 1, 3))
        if n:
            launch("bone_vectors_forward", joints, joints=joints, parents=parents, bones=bones, N=n, J=J)
        return bones

    def fake(joints, parents):
        return joints.new_empty(joints.shape[:-2] + (joints.shape[-2] - 1, 3))

    def backward(grad_bones: Tensor, parents: Tensor) -> Tensor:
        J = grad_bones.shape[-2] + 1
        grad_bones, n = contiguous_batch(grad_bones, 2)
        grad_joints = grad_bones.new_empty(grad_bones.shape[:-2] + (J, 3))
        if n:
            launch("bone_vectors_backward", grad_bones, grad_bones=grad_bones, parents=parents,
                   grad_joints=grad_joints, N=n, J=J)
        return grad_joints

    def backward_fake(grad_bones, parents):
        return grad_bones.new_empty(grad_bones.shape[:-2] + (grad_bones.shape[-2] + 1, 3))


@fp32_boundary
def bone_vectors(joints: Tensor, skeleton: Skeleton | str) -> Tensor:
    """Bone vectors ``child - parent`` of every bone.

    Args:
        joints: ``[..., J, 3]`` joint positions, J = ``skeleton.num_joints``.
        skeleton: layout (``Skeleton`` or name such as ``"h36m17"``).

    Returns:
        ``[..., J - 1, 3]``; bone b ends at joint b + 1.
    """
    skel = get_skeleton(skeleton)
    check_points(joints, "joints", skel.num_joints, 3, f"{skel.num_joints} joints of {skel.name}")
    if not kernels_enabled():
        return reference.bone_vectors(joints, skel)
    return _bone_vectors(joints, table(skel, "parents", joints.device))


# ---- forward kinematics ----------------------------------------------------------------------------------------
@kernel_op
class _forward_kinematics:
    name = "posefast::forward_kinematics"
    saves, grads = ("parents",), ("bones", "root")

    def forward(bones: Tensor, root: Tensor, parents: Tensor) -> Tensor:
        J = bones.shape[-2] + 1
        bones, n = contiguous_batch(bones, 2)
        root = root.contiguous()
        joints = bones.new_empty(bones.shape[:-2] + (J, 3))
        if n:
            launch("forward_kinematics_forward", bones, bones=bones, root=root, parents=parents, joints=joints, N=n,
                   J=J)
        return joints

    def fake(bones, root, parents):
        return bones.new_empty(bones.shape[:-2] + (bones.shape[-2] + 1, 3))

    def backward(grad_joints: Tensor, parents: Tensor) -> tuple[Tensor, Tensor]:
        J = grad_joints.shape[-2]
        grad_joints, n = contiguous_batch(grad_joints, 2)
        grad_bones = grad_joints.new_empty(grad_joints.shape[:-2] + (J - 1, 3))
        grad_root = grad_joints.new_empty(grad_joints.shape[:-2] + (3,))
        if n:
            launch("forward_kinematics_backward", grad_joints, grad_joints=grad_joints, parents=parents,
                   grad_bones=grad_bones, grad_root=grad_root, N=n, J=J)
        return grad_bones, grad_root

    def backward_fake(grad_joints, parents):
        lead = grad_joints.shape[:-2]
        return grad_joints.new_empty(lead + (grad_joints.shape[-2] - 1, 3)), grad_joints.new_empty(lead + (3,))


@fp32_boundary
def forward_kinematics(bones: Tensor, skeleton: Skeleton | str, root: Tensor | None = None) -> Tensor:
    """Joint positions from bone vectors: the exact inverse of :func:`bone_vectors` given the root.

    Args:
        bones: ``[..., B, 3]`` with B = ``skeleton.num_bones``.
        skeleton: layout or its name.
        root: ``[..., 3]`` root position (same leading dims); the origin when None.

    Returns:
        ``[..., B + 1, 3]``.
    """
    skel = get_skeleton(skeleton)
    check_points(bones, "bones", skel.num_bones, 3, f"{skel.num_bones} bones of {skel.name}")
    if root is None:
        root = bones.new_zeros(bones.shape[:-2] + (3,))
    else:
        check_float(root, "root")
        check_like(root, "root", bones, "bones")
        check_trailing(root, "root", (3,), "root position")
        check_batch(root, "root", bones.shape[:-2], "bones", 1)
    if not kernels_enabled():
        return reference.forward_kinematics(bones, skel, root)
    return _forward_kinematics(bones, root, table(skel, "parents", bones.device))


# ---- KCS -------------------------------------------------------------------------------------------------------
@kernel_op
class _kcs:
    name = "posefast::kcs"
    saves, grads = ("bones",), ("bones",)

    def forward(bones: Tensor) -> Tensor:
        B = bones.shape[-2]
        bones, n = contiguous_batch(bones, 2)
        out = bones.new_empty(bones.shape[:-2] + (B, B))
        if n:
            launch("kcs_forward", bones, bones=bones, kcs=out, N=n, B=B)
        return out

    def fake(bones):
        B = bones.shape[-2]
        return bones.new_empty(bones.shape[:-2] + (B, B))

    def backward(grad_kcs: Tensor, bones: Tensor) -> Tensor:
        B = bones.shape[-2]
        bones, n = contiguous_batch(bones, 2)
        grad_kcs = grad_kcs.contiguous()
        grad_bones = new_like(bones)
        if n:
            launch("kcs_backward", bones, grad_kcs=grad_kcs, bones=bones, grad_bones=grad_bones, N=n, B=B)
        return grad_bones

    def backward_fake(grad_kcs, bones):
        return new_like(bones)


@fp32_boundary
def kcs(bones: Tensor) -> Tensor:
    """Kinematic Chain Space matrix ``B Bᵀ`` (Wandt & Rosenhahn, RepNet, CVPR 2019).

    Args:
        bones: ``[..., B, 3]`` bone vectors.

    Returns:
        ``[..., B, B]`` Gram matrix: bone lengths² on the diagonal, inner products off it.
    """
    check_points(bones, "bones", None, 3, "bone vectors")
    if not kernels_enabled():
        return reference.kcs(bones)
    return _kcs(bones)


# ---- fused part-aware KCS --------------------------------------------------------------------------------------
@kernel_op
class _part_kcs:
    name = "posefast::part_kcs"
    saves, grads = ("joints", "parents", "masks", "normalize", "eps"), ("joints",)

    def forward(joints: Tensor, parents: Tensor, masks: Tensor, normalize: bool, eps: float) -> Tensor:
        J, P = joints.shape[-2], masks.shape[0]
        joints, n = contiguous_batch(joints, 2)
        out = joints.new_empty(joints.shape[:-2] + (P, J - 1, J - 1))
        if n:
            launch("part_kcs_forward", joints, joints=joints, parents=parents, masks=masks, out=out, N=n, J=J, P=P,
                   normalize=normalize, eps=eps)
        return out

    def fake(joints, parents, masks, normalize, eps):
        B = joints.shape[-2] - 1
        return joints.new_empty(joints.shape[:-2] + (masks.shape[0], B, B))

    def backward(grad_out: Tensor, joints: Tensor, parents: Tensor, masks: Tensor, normalize: bool,
                 eps: float) -> Tensor:
        J, P = joints.shape[-2], masks.shape[0]
        joints, n = contiguous_batch(joints, 2)
        grad_out = grad_out.contiguous()
        grad_joints = new_like(joints)
        if n:
            launch("part_kcs_backward", joints, grad_out=grad_out, joints=joints, parents=parents, masks=masks,
                   grad_joints=grad_joints, N=n, J=J, P=P, normalize=normalize, eps=eps)
        return grad_joints

    def backward_fake(grad_out, joints, parents, masks, normalize, eps):
        return new_like(joints)


@fp32_boundary
def part_kcs(joints: Tensor, skeleton: Skeleton | str, normalize: bool = True, eps: float = DEFAULT_EPS) -> Tensor:
    """Part-aware KCS of PoseAug's 3D discriminator (Gong et al., CVPR 2021), fused in one pass.

    joints → bones (unit length when ``normalize``: ``b / max(|b|, eps)``, so a zero-length bone contributes a zero
    row and column and a finite gradient) → Gram matrix → one copy per body part with the bones outside the part
    zeroed: ``out[..., p, i, k] = m[p, i] m[p, k] <u_i, u_k>``.

    Args:
        joints: ``[..., J, 3]``.
        skeleton: layout or name; its ``parts`` give the P part masks.
        normalize: use unit bone directions (PoseAug) rather than raw bone vectors.
        eps: length below which a bone is not normalised to unit length (see :data:`DEFAULT_EPS`).

    Returns:
        ``[..., P, B, B]``.
    """
    skel = get_skeleton(skeleton)
    check_points(joints, "joints", skel.num_joints, 3, f"{skel.num_joints} joints of {skel.name}")
    if not eps > 0:
        raise ValueError(f"eps: expected a positive length, got {eps}")
    if not kernels_enabled():
        return reference.part_kcs(joints, skel, normalize, eps)
    masks = table(skel, "part_masks", joints.device, joints.dtype)
    return _part_kcs(joints, table(skel, "parents", joints.device), masks, bool(normalize), float(eps))


# ---- compact part-aware KCS ----------------------------------------------------------------------------------------
# offsets/items (the per-bone entry lists of the backward) are inputs of the forward op only so that its autograd
# formula can save them.
@kernel_op
class _part_kcs_compact:
    name = "posefast::part_kcs_compact"
    saves = ("joints", "parents", "offsets", "items", "normalize", "eps")
    grads = ("joints",)

    def forward(joints: Tensor, parents: Tensor, pairs: Tensor, offsets: Tensor, items: Tensor, width: int,
                normalize: bool, eps: float) -> Tensor:
        J, E = joints.shape[-2], pairs.shape[0]
        joints, n = contiguous_batch(joints, 2)
        out = joints.new_empty(joints.shape[:-2] + (E // width, width))
        if n:
            launch("part_kcs_compact_forward", joints, joints=joints, parents=parents, pairs=pairs, out=out, N=n,
                   J=J, E=E, normalize=normalize, eps=eps)
        return out

    def fake(joints, parents, pairs, offsets, items, width, normalize, eps):
        return joints.new_empty(joints.shape[:-2] + (pairs.shape[0] // width, width))

    def backward(grad_out: Tensor, joints: Tensor, parents: Tensor, offsets: Tensor, items: Tensor, normalize: bool,
                 eps: float) -> Tensor:
        J = joints.shape[-2]
        E = grad_out.shape[-1] * grad_out.shape[-2]
        joints, n = contiguous_batch(joints, 2)
        grad_out = grad_out.contiguous()
        grad_joints = new_like(joints)
        if n:
            launch("part_kcs_compact_backward", joints, grad_out=grad_out, joints=joints, parents=parents,
                   offsets=offsets, items=items, grad_joints=grad_joints, N=n, J=J, E=E, normalize=normalize, eps=eps)
        return grad_joints

    def backward_fake(grad_out, joints, parents, offsets, items, normalize, eps):
        return new_like(joints)


@fp32_boundary
def part_kcs_compact(joints: Tensor, skeleton: Skeleton | str, normalize: bool = True,
                     eps: float = DEFAULT_EPS) -> Tensor:
    """The distinct entries of :func:`part_kcs`, written directly: ``[..., P, D]`` instead of ``[..., P, B, B]``.

    Each part's KCS matrix is symmetric and zero outside the part's bones, so PoseAug's discriminator needs only
    ``out[..., p, d] = <u_i, u_k>`` for the pairs ``(i, k) = skeleton.compact_kcs_pairs[p, d]`` (the layout of
    :func:`posefast.skeleton.compact_kcs_layout`: each part's bones ascending, upper triangle row by row), padded
    with zeros to the largest part (``D`` = 28 for h36m16: 78 real values instead of 1125 per pose, 140 stored).
    :class:`~posefast.models.PartKCSDiscriminator` built with ``compact=True`` takes this tensor as it is.

    Args:
        joints: ``[..., J, 3]``.
        skeleton: layout or name; its ``parts`` give the P parts.
        normalize: use unit bone directions (PoseAug) rather than raw bone vectors.
        eps: length below which a bone is not normalised to unit length (see :data:`DEFAULT_EPS`).

    Returns:
        ``[..., P, D]``; ``out[..., p, d]`` is 0 for ``d >= skeleton.compact_kcs_sizes[p]``.
    """
    skel = get_skeleton(skeleton)
    check_points(joints, "joints", skel.num_joints, 3, f"{skel.num_joints} joints of {skel.name}")
    if not eps > 0:
        raise ValueError(f"eps: expected a positive length, got {eps}")
    if skel.num_parts == 0:
        raise ValueError(f"skeleton: {skel.name} defines no KCS parts")
    if not kernels_enabled():
        return reference.part_kcs_compact(joints, skel, normalize, eps)
    dev = joints.device
    return _part_kcs_compact(joints, table(skel, "parents", dev), table(skel, "compact_pairs", dev),
                             table(skel, "compact_offsets", dev), table(skel, "compact_items", dev),
                             skel.compact_kcs_pairs.shape[1], bool(normalize), float(eps))
