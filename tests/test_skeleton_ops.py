"""Skeleton ops (bone vectors, FK, KCS, part-aware KCS) against independent float64 numpy references."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import posefast
from posefast import H36M16, H36M17
from op_testing import assert_finite, compare_with_twin, leaves

SKELETONS = [H36M17, H36M16]


# ---- independent numpy references (loops over the bone table, float64) ----------------------------------------
def np_bones(joints, skel):
    return np.stack([joints[..., c, :] - joints[..., p, :] for p, c in skel.bones], axis=-2)


def np_fk(bones, skel, root):
    out = np.zeros(bones.shape[:-2] + (skel.num_joints, 3))
    out[..., 0, :] = root
    for b, (p, c) in enumerate(skel.bones):
        out[..., c, :] = out[..., p, :] + bones[..., b, :]
    return out


def np_part_kcs(joints, skel, normalize, eps=1e-6):
    b = np_bones(joints, skel)
    if normalize:
        b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), eps)
    gram = np.einsum("...id,...kd->...ik", b, b)
    parts = []
    for members in skel.parts.values():
        m = np.zeros(skel.num_bones)
        m[[skel.bone(c) for c in members]] = 1
        parts.append(gram * np.outer(m, m))
    return np.stack(parts, axis=-3)


def np_part_kcs_compact(joints, skel, normalize, eps=1e-6):
    """The distinct entries of np_part_kcs, gathered with an independent loop over each part's bones (i <= k)."""
    full = np_part_kcs(joints, skel, normalize, eps)
    width = max(len(m) * (len(m) + 1) // 2 for m in skel.parts.values())
    out = np.zeros(joints.shape[:-2] + (skel.num_parts, width))
    for p, members in enumerate(skel.parts.values()):
        bones = sorted(skel.bone(c) for c in members)
        d = 0
        for a, i in enumerate(bones):
            for k in bones[a:]:
                out[..., p, d] = full[..., p, i, k]
                d += 1
    return out


def random_joints(shape, skel, seed=0, dtype=torch.float64, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, skel.num_joints, 3, generator=g, dtype=dtype).to(device)


# ---- forward values --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("skel", SKELETONS, ids=lambda s: s.name)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_forward_matches_numpy(skel, dtype, tol, device):
    x = random_joints((3, 4), skel, dtype=dtype, device=device)
    xn = x.double().cpu().numpy()
    bones = posefast.bone_vectors(x, skel)
    np.testing.assert_allclose(bones.double().cpu().numpy(), np_bones(xn, skel), rtol=tol, atol=tol)
    root = x[..., 0, :]
    np.testing.assert_allclose(posefast.forward_kinematics(bones, skel, root).double().cpu().numpy(),
                               np_fk(np_bones(xn, skel), skel, xn[..., 0, :]), rtol=tol, atol=tol * 10)
    gram = np.einsum("...id,...kd->...ik", np_bones(xn, skel), np_bones(xn, skel))
    np.testing.assert_allclose(posefast.kcs(bones).double().cpu().numpy(), gram, rtol=tol, atol=tol * 10)
    for normalize in (True, False):
        np.testing.assert_allclose(posefast.part_kcs(x, skel, normalize=normalize).double().cpu().numpy(),
                                   np_part_kcs(xn, skel, normalize), rtol=tol, atol=tol * 10)
        np.testing.assert_allclose(posefast.part_kcs_compact(x, skel, normalize=normalize).double().cpu().numpy(),
                                   np_part_kcs_compact(xn, skel, normalize), rtol=tol, atol=tol * 10)


def test_fk_is_inverse_of_bone_vectors_and_default_root_is_origin():
    x = random_joints((7,), H36M17)
    rebuilt = posefast.forward_kinematics(posefast.bone_vectors(x, H36M17), H36M17)
    torch.testing.assert_close(rebuilt, x - x[:, :1], rtol=0, atol=1e-12)


def test_part_kcs_layout_matches_poseaug_tables():
    # PoseAug's 16-joint part tables by bone index (torso, leg, leg, arm, arm).
    expected = [[0, 3, 6, 7, 8, 9, 12], [0, 3, 4, 5, 6], [0, 1, 2, 3, 6], [7, 9, 10, 11], [7, 12, 13, 14]]
    got = [list(np.flatnonzero(m)) for m in H36M16.part_masks]
    assert got == expected
    k = posefast.part_kcs(random_joints((2,), H36M16), H36M16)
    assert k.shape == (2, 5, 15, 15)
    # only each part's own bones are non-zero, and unit bones put ones on the diagonal
    for p, bones_p in enumerate(expected):
        torch.testing.assert_close(torch.diagonal(k[:, p], dim1=-2, dim2=-1)[:, bones_p], torch.ones(2, len(bones_p), dtype=k.dtype))
        outside = [b for b in range(15) if b not in bones_p]
        assert k[:, p][:, outside].abs().max() == 0 and k[:, p][:, :, outside].abs().max() == 0


def test_compact_layout_is_the_distinct_entries_of_the_full_one():
    # PoseAug's h36m16 parts: 7, 5, 5, 4, 4 bones -> 28 + 15 + 15 + 10 + 10 = 78 distinct entries, padded to 28
    assert H36M16.compact_kcs_sizes == (28, 15, 15, 10, 10) and H36M16.compact_kcs_pairs.shape == (5, 28, 2)
    x = random_joints((3,), H36M16, seed=9)
    full, compact = posefast.part_kcs(x, H36M16), posefast.part_kcs_compact(x, H36M16)
    assert compact.shape == (3, 5, 28)
    for p, n in enumerate(H36M16.compact_kcs_sizes):
        i, k = (torch.tensor(H36M16.compact_kcs_pairs[p, :n, c]) for c in (0, 1))
        assert (i <= k).all() and len(set(zip(i.tolist(), k.tolist()))) == n
        torch.testing.assert_close(compact[:, p, :n], full[:, p, i, k], rtol=0, atol=0)
        assert (compact[:, p, n:] == 0).all() and (H36M16.compact_kcs_pairs[p, n:] == -1).all()
        # every non-zero value of the part's matrix is one of its entries
        assert torch.count_nonzero(full[:, p]) == 3 * (2 * n - int((i == k).sum()))


def test_compact_backward_lists_cover_every_entry():
    from posefast.ops._tables import compact_kcs_by_bone

    for skel in SKELETONS:
        offsets, items = compact_kcs_by_bone(skel.compact_kcs_pairs, skel.num_bones)
        assert offsets[0] == 0 and offsets[-1] == len(items) and (np.diff(offsets) >= 0).all()
        flat = skel.compact_kcs_pairs.reshape(-1, 2)
        seen = {}
        for b in range(skel.num_bones):
            for e, k in items[offsets[b]:offsets[b + 1]]:
                assert b in flat[e] and k == (flat[e][1] if flat[e][0] == b else flat[e][0])
                seen[e] = seen.get(e, 0) + 1
        assert all(seen.get(e, 0) == 2 for e in range(len(flat)) if flat[e][0] >= 0)  # each entry feeds 2 bone slots
        assert all(e not in seen for e in range(len(flat)) if flat[e][0] < 0)


# ---- gradients -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("skel", SKELETONS, ids=lambda s: s.name)
def test_gradcheck(skel, device):
    x, = leaves(random_joints((2, 3), skel, seed=1, device=device))
    assert torch.autograd.gradcheck(lambda j: posefast.bone_vectors(j, skel), (x,))
    b, r = leaves(torch.randn(3, skel.num_bones, 3, dtype=torch.float64, device=device), torch.randn(3, 3, dtype=torch.float64, device=device))
    assert torch.autograd.gradcheck(lambda bb, rr: posefast.forward_kinematics(bb, skel, rr), (b, r))
    assert torch.autograd.gradcheck(posefast.kcs, (b,))
    for normalize in (True, False):
        assert torch.autograd.gradcheck(lambda j: posefast.part_kcs(j, skel, normalize=normalize), (x,))
        assert torch.autograd.gradcheck(lambda j: posefast.part_kcs_compact(j, skel, normalize=normalize), (x,))


@pytest.mark.parametrize("skel", SKELETONS, ids=lambda s: s.name)
def test_same_cotangents_through_kernel_and_twin(skel):
    x = random_joints((4,), skel, seed=2)
    compare_with_twin(lambda j: posefast.bone_vectors(j, skel), [x])
    compare_with_twin(lambda j: posefast.part_kcs(j, skel), [x])
    compare_with_twin(lambda j: posefast.part_kcs(j, skel, normalize=False), [x])
    compare_with_twin(lambda j: posefast.part_kcs_compact(j, skel), [x])
    compare_with_twin(lambda j: posefast.part_kcs_compact(j, skel, normalize=False), [x])
    compare_with_twin(lambda b, r: posefast.forward_kinematics(b, skel, r), [x[:, 1:], x[:, 0]])
    compare_with_twin(posefast.kcs, [x[:, 1:]])


# ---- the op contract: opcheck, torch.compile ---------------------------------------------------------------------
def test_opcheck():
    from posefast.ops._tables import table

    x = random_joints((3,), H36M17, seed=3).requires_grad_(True)
    parents = table(H36M17, "parents", x.device)
    masks = table(H36M17, "part_masks", x.device, x.dtype)
    b = torch.randn(3, 16, 3, dtype=torch.float64, requires_grad=True)
    r = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    ops = torch.ops.posefast
    torch.library.opcheck(ops.bone_vectors, (x, parents))
    torch.library.opcheck(ops.forward_kinematics, (b, r, parents))
    torch.library.opcheck(ops.kcs, (b,))
    torch.library.opcheck(ops.part_kcs, (x, parents, masks, True, 1e-6))
    torch.library.opcheck(ops.part_kcs_backward, (torch.randn(3, 5, 16, 16, dtype=torch.float64), x.detach(), parents, masks, True, 1e-6))
    pairs, offsets, items = (table(H36M17, name, x.device) for name in ("compact_pairs", "compact_offsets", "compact_items"))
    width = H36M17.compact_kcs_pairs.shape[1]
    for normalize in (True, False):
        torch.library.opcheck(ops.part_kcs_compact, (x, parents, pairs, offsets, items, width, normalize, 1e-6))
        torch.library.opcheck(ops.part_kcs_compact_backward, (torch.randn(3, 5, width, dtype=torch.float64), x.detach(),
                                                              parents, offsets, items, normalize, 1e-6))
        torch.library.opcheck(ops.part_kcs_compact, (x.detach().float(), parents, pairs, offsets, items, width,
                                                     normalize, 1e-6))


def test_torch_compile_fullgraph():
    def f(j):
        k = posefast.part_kcs(j, H36M16)
        fk = posefast.forward_kinematics(posefast.bone_vectors(j, H36M16), H36M16, j[..., 0, :])
        return (k.square().sum() + posefast.kcs(posefast.bone_vectors(fk, H36M16)).sum()
                + posefast.part_kcs_compact(j, H36M16).exp().sum())

    x = random_joints((5,), H36M16, dtype=torch.float32, seed=4).requires_grad_(True)
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    out_c = compiled(x)
    (g_c,) = torch.autograd.grad(out_c, x)
    out_e = f(x)
    (g_e,) = torch.autograd.grad(out_e, x)
    torch.testing.assert_close(out_c, out_e)
    torch.testing.assert_close(g_c, g_e)


# ---- random shapes and values -------------------------------------------------------------------------------------
batch_shapes = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)


@given(shape=batch_shapes, seed=st.integers(0, 2**31 - 1), scale=st.sampled_from([1e-3, 1.0, 1e3]),
       skel=st.sampled_from(SKELETONS), normalize=st.booleans())
def test_hypothesis_part_kcs(shape, seed, scale, skel, normalize):
    x = random_joints(shape, skel, seed=seed) * scale
    out = posefast.part_kcs(x, skel, normalize=normalize)
    assert out.shape == shape + (skel.num_parts, skel.num_bones, skel.num_bones)
    ref = np_part_kcs(x.numpy(), skel, normalize)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-10 * max(1.0, scale**2))


@given(shape=batch_shapes, seed=st.integers(0, 2**31 - 1), scale=st.sampled_from([1e-3, 1.0, 1e3]),
       skel=st.sampled_from(SKELETONS), normalize=st.booleans(), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_hypothesis_part_kcs_compact(shape, seed, scale, skel, normalize, dtype):
    x = (random_joints(shape, skel, seed=seed) * scale).to(dtype)
    out = posefast.part_kcs_compact(x, skel, normalize=normalize)
    assert out.shape == shape + skel.compact_kcs_pairs.shape[:2] and out.dtype == dtype
    ref = np_part_kcs_compact(x.double().numpy(), skel, normalize)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(out.double().numpy(), ref, rtol=tol, atol=tol * (1.0 if normalize else scale**2))
    if 0 not in shape and dtype == torch.float64:
        compare_with_twin(lambda j: posefast.part_kcs_compact(j, skel, normalize=normalize), [x], seed=seed)


@given(shape=batch_shapes, seed=st.integers(0, 2**31 - 1), skel=st.sampled_from(SKELETONS))
def test_hypothesis_bones_fk_roundtrip_float32(shape, seed, skel):
    x = random_joints(shape, skel, seed=seed, dtype=torch.float32)
    bones = posefast.bone_vectors(x, skel)
    np.testing.assert_allclose(bones.numpy(), np_bones(x.double().numpy(), skel), rtol=1e-5, atol=1e-6)
    rebuilt = posefast.forward_kinematics(bones, skel, x[..., 0, :])
    np.testing.assert_allclose(rebuilt.numpy(), x.numpy(), rtol=1e-5, atol=1e-5)


@given(shape=batch_shapes.filter(lambda s: 0 not in s), seed=st.integers(0, 2**31 - 1), skel=st.sampled_from(SKELETONS))
def test_hypothesis_gradients_match_twin(shape, seed, skel):
    x = random_joints(shape, skel, seed=seed)
    compare_with_twin(lambda j: posefast.part_kcs(j, skel), [x], seed=seed)
    compare_with_twin(lambda b, r: posefast.forward_kinematics(b, skel, r), [x[..., 1:, :], x[..., 0, :]], seed=seed)


# ---- degenerate input ---------------------------------------------------------------------------------------------
def test_zero_length_bones_give_zero_unit_bone_and_finite_gradient():
    x = random_joints((2,), H36M17, seed=5)
    x[0, 2] = x[0, 1]  # RHip -> RKnee has zero length
    x[1] = 0.0  # every joint coincident
    x.requires_grad_(True)
    out = posefast.part_kcs(x, H36M17)
    assert_finite(out)
    b = H36M17.bone("RKnee")
    assert out[0, :, b, :].abs().max() == 0 and out[0, :, :, b].abs().max() == 0
    assert out[1].abs().max() == 0
    (g,) = torch.autograd.grad(out.sum(), x)
    assert_finite(g)
    compare_with_twin(lambda j: posefast.part_kcs(j, H36M17), [x.detach()])
    compact = posefast.part_kcs_compact(x, H36M17)
    assert_finite(compact, *torch.autograd.grad(compact.sum(), x))
    assert compact[1].abs().max() == 0
    compare_with_twin(lambda j: posefast.part_kcs_compact(j, H36M17), [x.detach()])


def test_reflection_keeps_kcs():
    x = random_joints((3,), H36M16, seed=6)
    mirrored = x * torch.tensor([-1.0, 1.0, 1.0], dtype=x.dtype)
    torch.testing.assert_close(posefast.part_kcs(mirrored, H36M16), posefast.part_kcs(x, H36M16))


def test_empty_batch_forward_and_backward():
    x = torch.zeros(0, 17, 3, dtype=torch.float64, requires_grad=True)
    out = posefast.part_kcs(x, H36M17)
    assert out.shape == (0, 5, 16, 16)
    (g,) = torch.autograd.grad(out.sum(), x)
    assert g.shape == x.shape
    compact = posefast.part_kcs_compact(x, H36M17)
    assert compact.shape == (0, 5, 36) and torch.autograd.grad(compact.sum(), x)[0].shape == x.shape
    assert posefast.forward_kinematics(torch.zeros(0, 16, 3), H36M17).shape == (0, 17, 3)


def test_non_contiguous_input():
    x = random_joints((6,), H36M17, seed=7)
    strided = x.transpose(0, 1).contiguous().transpose(0, 1)  # same values, non-contiguous
    assert not strided.is_contiguous()
    torch.testing.assert_close(posefast.part_kcs(strided, H36M17), posefast.part_kcs(x, H36M17))
    torch.testing.assert_close(posefast.part_kcs_compact(strided, H36M17), posefast.part_kcs_compact(x, H36M17))
    torch.testing.assert_close(posefast.bone_vectors(x[:, ::1, :][::2], H36M17), posefast.bone_vectors(x[::2].contiguous(), H36M17))


# ---- bad input ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad,match", [
    (torch.zeros(4, 17, 2), r"joints: expected shape \[\.\.\., 17, 3\]"),
    (torch.zeros(4, 16, 3), r"joints: expected shape \[\.\.\., 17, 3\]"),
    (torch.zeros(17, 3, dtype=torch.int64), r"joints: expected float32 or float64"),
    ([[0.0] * 3] * 17, r"joints: expected a torch.Tensor"),
])
def test_bad_joints_are_named(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        posefast.bone_vectors(bad, H36M17)
    with pytest.raises((ValueError, TypeError), match=match):
        posefast.part_kcs(bad, "h36m17")
    with pytest.raises((ValueError, TypeError), match=match):
        posefast.part_kcs_compact(bad, "h36m17")


def test_bad_root_and_skeleton():
    bones = torch.zeros(4, 16, 3)
    with pytest.raises(ValueError, match=r"root: expected leading dims \[4\]"):
        posefast.forward_kinematics(bones, H36M17, torch.zeros(3))
    with pytest.raises(TypeError, match=r"root: expected dtype torch.float32"):
        posefast.forward_kinematics(bones, H36M17, torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"skeleton: unknown layout 'coco'"):
        posefast.bone_vectors(torch.zeros(17, 3), "coco")
    with pytest.raises(ValueError, match=r"eps: expected a positive length"):
        posefast.part_kcs(torch.zeros(17, 3), H36M17, eps=0.0)
    with pytest.raises(ValueError, match=r"eps: expected a positive length"):
        posefast.part_kcs_compact(torch.zeros(17, 3), H36M17, eps=-1.0)


def test_cuda_tensor_without_cuda_build_is_a_clear_error():
    if posefast.build_info()["cuda"]:
        pytest.skip("this build has CUDA")
    meta = torch.zeros(2, 17, 3, device="meta")
    with pytest.raises(RuntimeError, match="not supported"):
        from posefast._ext import launch
        launch("bone_vectors_forward", meta)
    from posefast._ext import _device_and_stream
    with pytest.raises(RuntimeError, match="has no CUDA backend"):
        _device_and_stream(torch.device("cuda"), "bone_vectors")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu():
    x = random_joints((64,), H36M17, seed=8, dtype=torch.float32)
    for fn in (lambda j: posefast.part_kcs(j, H36M17), lambda j: posefast.bone_vectors(j, H36M17),
               lambda j: posefast.part_kcs_compact(j, H36M17)):
        xc = x.clone().requires_grad_(True)
        xg = x.cuda().requires_grad_(True)
        oc, og = fn(xc), fn(xg)
        torch.testing.assert_close(og.cpu(), oc, rtol=1e-5, atol=1e-6)
        gc, = torch.autograd.grad(oc.square().sum(), xc)
        gg, = torch.autograd.grad(og.square().sum(), xg)
        torch.testing.assert_close(gg.cpu(), gc, rtol=1e-4, atol=1e-5)
