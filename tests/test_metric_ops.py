"""3D metric ops (MPJPE, N-MPJPE, P-MPJPE, Procrustes alignment, fused pose_errors / PCK / AUC) against independent
float64 numpy references: VideoPose3D's P-MPJPE formula (np.linalg.svd), scipy's orthogonal Procrustes / Kabsch as a
second opinion, and PoseAug's per-sample compute_PCK / compute_AUC semantics."""
import math

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

import posefast
from op_testing import assert_finite, compare_with_twin, cpu_path, cpu_paths, leaves
from posefast.reference.metrics import _skew as skew


# ---- independent numpy references (float64) ---------------------------------------------------------------------
def np_mpjpe(pred, target, root=None):
    d = pred - target
    if root is not None:
        d = d - d[..., root : root + 1, :]
    return np.sqrt((d**2).sum(-1)).mean(-1)


def np_n_mpjpe(pred, target):
    """VideoPose3D n_mpjpe: scale = mean <target, pred> / mean <pred, pred> over joints, about the origin."""
    scale = (target * pred).sum((-1, -2)) / (pred * pred).sum((-1, -2))
    return np_mpjpe(scale[..., None, None] * pred, target)


def np_procrustes(pred, target):
    """VideoPose3D p_mpjpe's fit: unit-Frobenius centred poses, H = X0^T Y0 = U S V^T, R = V U^T with the last
    column of V (and last singular value) negated when det R < 0; scale = sum(S) |X0| / |Y0|.
    Returns aligned, scale, R (row vectors: aligned = scale * pred @ R + t), t."""
    mu_x, mu_y = target.mean(-2, keepdims=True), pred.mean(-2, keepdims=True)
    x0, y0 = target - mu_x, pred - mu_y
    nx = np.sqrt((x0**2).sum((-1, -2), keepdims=True))
    ny = np.sqrt((y0**2).sum((-1, -2), keepdims=True))
    h = np.swapaxes(x0 / nx, -1, -2) @ (y0 / ny)
    u, s, vt = np.linalg.svd(h)
    v = np.swapaxes(vt, -1, -2).copy()
    flip = np.sign(np.linalg.det(v @ np.swapaxes(u, -1, -2)))
    v[..., :, -1] *= flip[..., None]
    s = s.copy()
    s[..., -1] *= flip
    r = v @ np.swapaxes(u, -1, -2)
    scale = s.sum(-1)[..., None, None] * nx / ny
    t = mu_x - scale * (mu_y @ r)
    return scale * (pred @ r) + t, scale[..., 0, 0], r, t[..., 0, :]


def np_p_mpjpe(pred, target):
    aligned = np_procrustes(pred, target)[0]
    return np.sqrt(((aligned - target) ** 2).sum(-1)).mean(-1)


def np_pose_errors_loop(pred_m, target_m, joints, thresholds, root):
    """Element-wise reference, one pose at a time like PoseAug's compute_PCK: errors in mm, strict '<' threshold,
    PCK in percent, AUC = mean PCK over the thresholds."""
    n = pred_m.shape[0]
    mp, pm, errs = np.empty(n), np.empty(n), np.empty((n, len(joints)))
    for i in range(n):
        p, x = pred_m[i] * 1000.0, target_m[i] * 1000.0
        if root is not None:
            p, x = p - p[root], x - x[root]
        e = np.sqrt(((p - x) ** 2).sum(-1))[joints]
        errs[i] = e
        mp[i] = e.mean()
        pm[i] = np_p_mpjpe(pred_m[i][joints] * 1000.0, target_m[i][joints] * 1000.0)
    curve = np.array([100.0 * (errs < t).sum() / errs.size for t in thresholds])
    return mp, pm, errs, curve


# ---- pose generators -----------------------------------------------------------------------------------------------
def random_pair(shape, J=17, seed=0, noise=0.05, dtype=torch.float64, scale=1.0, device="cpu"):
    """target: random poses (~0.3 m spread, offset from the origin); pred: rotated, scaled, shifted, noisy copy."""
    g = np.random.default_rng(seed)
    n = int(np.prod(shape)) if len(shape) else 1
    target = 0.3 * g.standard_normal((n, J, 3)) + g.standard_normal((n, 1, 3))
    rot = Rotation.random(n, random_state=seed).as_matrix() if n else np.zeros((0, 3, 3))
    s = g.uniform(0.5, 2.0, (n, 1, 1))
    pred = s * (target @ rot) + g.standard_normal((n, 1, 3)) + noise * g.standard_normal((n, J, 3))
    to = lambda a: torch.tensor(a.reshape(*shape, J, 3) * scale, dtype=dtype, device=device)
    return to(pred), to(target)


def as_np(t):
    return t.detach().double().cpu().numpy()


# ---- forward values ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernels", [True, False], ids=["kernel", "twin"])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
def test_forward_matches_numpy(dtype, tol, kernels, device):
    pred, target = random_pair((4, 5), seed=1, dtype=dtype, device=device)
    p, x = as_np(pred), as_np(target)
    with posefast.use_kernels(kernels):
        np.testing.assert_allclose(as_np(posefast.mpjpe(pred, target)), np_mpjpe(p, x), rtol=tol, atol=tol)
        np.testing.assert_allclose(as_np(posefast.mpjpe(pred, target, root=0)), np_mpjpe(p, x, 0), rtol=tol, atol=tol)
        np.testing.assert_allclose(as_np(posefast.n_mpjpe(pred, target)), np_n_mpjpe(p, x), rtol=tol, atol=tol)
        np.testing.assert_allclose(as_np(posefast.p_mpjpe(pred, target)), np_p_mpjpe(p, x), rtol=tol, atol=tol)
        aligned, scale, rot, trans = posefast.procrustes_align(pred, target)
    ref = np_procrustes(p, x)
    for got, want in zip((aligned, scale, rot, trans), ref):
        np.testing.assert_allclose(as_np(got), want, rtol=tol, atol=tol * 10)


def test_rotation_matches_scipy_second_opinion():
    pred, target = random_pair((50,), seed=2)
    aligned, scale, rot, trans = posefast.procrustes_align(pred, target)
    for i in range(50):
        p0 = pred[i].numpy() - pred[i].numpy().mean(0)
        x0 = target[i].numpy() - target[i].numpy().mean(0)
        r_orth, sv_sum = scipy.linalg.orthogonal_procrustes(p0, x0)  # min |p0 R - x0|, reflections allowed
        assert np.linalg.det(r_orth) > 0  # a noisy rotated copy never prefers a mirror
        np.testing.assert_allclose(rot[i].numpy(), r_orth, atol=1e-10)
        np.testing.assert_allclose(scale[i].item(), sv_sum / (p0**2).sum(), rtol=1e-10)
        kabsch, _ = Rotation.align_vectors(x0, p0)  # min |x0_j - C p0_j|, proper rotations only
        np.testing.assert_allclose(rot[i].numpy(), kabsch.as_matrix().T, atol=1e-10)


def test_alignment_identities():
    pred, target = random_pair((30,), seed=3)
    aligned, scale, rot, trans = posefast.procrustes_align(pred, target)
    eye = torch.eye(3, dtype=rot.dtype).expand_as(rot)
    torch.testing.assert_close(rot.transpose(-1, -2) @ rot, eye, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(30, dtype=rot.dtype), atol=1e-12, rtol=0)
    torch.testing.assert_close(aligned, scale[:, None, None] * pred @ rot + trans[:, None, :], atol=1e-12, rtol=0)
    err = torch.linalg.vector_norm(aligned - target, dim=-1).mean(-1)
    torch.testing.assert_close(posefast.p_mpjpe(pred, target), err, atol=1e-13, rtol=0)
    # the fit is optimal: perturbing scale, rotation or translation never lowers the squared error
    sq = (aligned - target).square().sum((-1, -2))
    for k in range(5):
        w = torch.randn(30, 3, dtype=rot.dtype) * 1e-3
        r2 = rot @ torch.linalg.matrix_exp(skew(w))
        a2 = (scale * (1 + 1e-3 * (k - 2)))[:, None, None] * pred @ r2 + trans[:, None, :] + 1e-3
        assert ((a2 - target).square().sum((-1, -2)) >= sq - 1e-12).all()


# ---- degenerate poses ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernels", [True, False], ids=["kernel", "twin"])
def test_identical_poses_give_zero_error(kernels):
    _, target = random_pair((6,), seed=4)
    with posefast.use_kernels(kernels):
        for fn in (posefast.mpjpe, posefast.n_mpjpe, posefast.p_mpjpe):
            assert fn(target, target).abs().max() < 1e-12
        aligned, scale, rot, trans = posefast.procrustes_align(target, target)
    torch.testing.assert_close(scale, torch.ones(6, dtype=scale.dtype), atol=1e-13, rtol=0)
    torch.testing.assert_close(rot, torch.eye(3, dtype=rot.dtype).expand_as(rot), atol=1e-13, rtol=0)
    torch.testing.assert_close(aligned, target, atol=1e-13, rtol=0)


@pytest.mark.parametrize("kernels", [True, False], ids=["kernel", "twin"])
def test_coincident_joints(kernels):
    pred, target = random_pair((2,), seed=5)
    pred[0] = pred[0, :1]  # every predicted joint at one point: scale 0, all aligned joints at the target centroid
    target[1] = target[1, 3:4]  # every target joint at one point: M = 0, R = I, scale 0, exact fit
    with posefast.use_kernels(kernels):
        aligned, scale, rot, trans = posefast.procrustes_align(pred, target)
        err = posefast.p_mpjpe(pred, target)
        nerr = posefast.n_mpjpe(torch.zeros_like(pred), target)
    assert scale.tolist() == [0.0, 0.0]
    torch.testing.assert_close(aligned[0], target[0].mean(0).expand(17, 3), atol=1e-14, rtol=0)
    torch.testing.assert_close(rot[1], torch.eye(3, dtype=rot.dtype))
    torch.testing.assert_close(aligned[1], target[1], atol=1e-14, rtol=0)
    x0 = target[0] - target[0].mean(0)
    torch.testing.assert_close(err, torch.stack([x0.norm(dim=-1).mean(), torch.zeros((), dtype=err.dtype)]),
                               atol=1e-14, rtol=0)
    torch.testing.assert_close(nerr, target.norm(dim=-1).mean(-1))
    for fn in (posefast.p_mpjpe, lambda a, b: posefast.procrustes_align(a, b)[0].sum((-1, -2))):
        p, x = leaves(pred, target)
        with posefast.use_kernels(kernels):
            grads = torch.autograd.grad(fn(p, x).sum(), (p, x))
        assert_finite(*grads)


def _collinear(n, J, seed):
    g = np.random.default_rng(seed)
    d = g.standard_normal((n, 1, 3))
    return g.standard_normal((n, J, 1)) * d + g.standard_normal((n, 1, 3))


def test_collinear_poses():
    # both poses on lines: the spin about the line is free but the aligned pose is not
    pred = torch.tensor(_collinear(8, 17, 6))
    target = torch.tensor(_collinear(8, 17, 7))
    err = posefast.p_mpjpe(pred, target)
    np.testing.assert_allclose(err.numpy(), np_p_mpjpe(pred.numpy(), target.numpy()), rtol=1e-9, atol=1e-12)
    with posefast.use_kernels(False):
        torch.testing.assert_close(posefast.p_mpjpe(pred, target), err)
    aligned, scale, rot, _ = posefast.procrustes_align(pred, target)
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(8, dtype=rot.dtype))
    np.testing.assert_allclose(aligned.numpy(), np_procrustes(pred.numpy(), target.numpy())[0], atol=1e-10)
    # gradients stay finite (the undetermined spin is damped, see procrustes_align's docstring) and bounded
    p, x = leaves(pred, target)
    gp, gx = torch.autograd.grad(posefast.procrustes_align(p, x)[2].sum(), (p, x))
    assert_finite(gp, gx)
    assert gp.abs().max() < 1e9 and gx.abs().max() < 1e9
    # only one pose collinear: squared error (what the fit minimises) still matches VideoPose3D's fit
    pred2, target2 = random_pair((8,), seed=8)
    aligned2 = posefast.procrustes_align(pred2, target)[0]
    sq = (aligned2 - target).square().sum((-1, -2)).numpy()
    sq_ref = ((np_procrustes(pred2.numpy(), target.numpy())[0] - target.numpy()) ** 2).sum((-1, -2))
    np.testing.assert_allclose(sq, sq_ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kernels", [True, False], ids=["kernel", "twin"])
def test_planar_poses_and_exact_reflections(kernels):
    pred, target = random_pair((10,), seed=9)
    planar = target.clone()
    planar[..., 2] = 0.7  # all joints in a plane z = const: sigma3 = 0
    mirrored = target * torch.tensor([-1.0, 1.0, 1.0], dtype=target.dtype)  # an exact reflection
    with posefast.use_kernels(kernels):
        for p, x in ((pred, planar), (planar, pred), (mirrored, target), (planar, planar @ torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)))):
            np.testing.assert_allclose(posefast.p_mpjpe(p, x).numpy(), np_p_mpjpe(p.numpy(), x.numpy()), rtol=1e-9,
                                       atol=1e-12)
            rot = posefast.procrustes_align(p, x)[2]
            torch.testing.assert_close(torch.linalg.det(rot), torch.ones(10, dtype=rot.dtype))
        # a mirror image of a (non-planar) pose cannot be matched by a rotation
        assert (posefast.p_mpjpe(mirrored, target) > 1e-3).all()


# ---- gradients -----------------------------------------------------------------------------------------------------
def test_gradcheck(device):
    pred, target = random_pair((2, 2), J=6, seed=10, device=device)
    p, x = leaves(pred, target)
    assert torch.autograd.gradcheck(posefast.mpjpe, (p, x))
    assert torch.autograd.gradcheck(lambda a, b: posefast.mpjpe(a, b, root=2), (p, x))
    assert torch.autograd.gradcheck(posefast.n_mpjpe, (p, x))
    assert torch.autograd.gradcheck(posefast.p_mpjpe, (p, x))
    assert torch.autograd.gradcheck(posefast.procrustes_align, (p, x))
    with posefast.use_kernels(False):  # the twin's attached rotation derivative is checked on its own too
        assert torch.autograd.gradcheck(posefast.procrustes_align, (p[:1], x[:1]))


def _with_singular_values(sv, J=9, seed=0, reflect=False):
    """pred with orthonormal centred columns scaled by sv, target = a rotated (optionally mirrored) scaled copy:
    M = pred0^T target0 then has singular values proportional to sv**2."""
    g = np.random.default_rng(seed)
    a = g.standard_normal((J, 3))
    a -= a.mean(0)
    q, _ = np.linalg.qr(a)
    pred = q * np.asarray(sv) + g.standard_normal(3)
    rot = Rotation.random(random_state=seed).as_matrix()
    if reflect:
        rot = rot @ np.diag([1.0, 1.0, -1.0])
    target = 1.3 * pred @ rot + g.standard_normal(3) + 1e-4 * g.standard_normal((J, 3))
    return torch.tensor(pred), torch.tensor(target)


@pytest.mark.parametrize("sv", [(1.0, 1.0, 0.5), (1.0, 1.0 + 1e-7, 0.5), (1.0, 0.5, 0.5), (1.0, 0.5, 0.5 + 1e-7),
                                (1.0, 1.0, 1.0), (1.0, 0.7, 0.05)], ids=lambda v: "sv=" + ",".join(map(str, v)))
def test_gradcheck_repeated_singular_values(sv):
    pred, target = _with_singular_values(sv, seed=int(sum(sv) * 1e3) % 1000)
    p, x = leaves(pred, target)
    assert torch.autograd.gradcheck(posefast.procrustes_align, (p, x))
    assert torch.autograd.gradcheck(posefast.p_mpjpe, (p, x))
    compare_with_twin(posefast.procrustes_align, [pred, target], rtol=1e-7, atol=1e-8)


def test_gradient_with_reflection_is_finite_and_matches_twin():
    # det M < 0 with well separated l2 + l3 = s2 - s3
    pred, target = _with_singular_values((1.0, 0.8, 0.3), seed=11, reflect=True)
    p, x = leaves(pred, target)
    assert torch.autograd.gradcheck(posefast.procrustes_align, (p, x))
    compare_with_twin(posefast.procrustes_align, [pred, target], rtol=1e-7, atol=1e-8)


def _well_conditioned_pairs(seed, n=6):
    """Noisy similarity copies (mirror images among them) for the SVD oracle below. Torch's SVD backward divides by
    s_k^2 - s_l^2, so the oracle's gradient is only trustworthy where M's singular values are well apart and
    non-zero: each centred pred has orthogonal principal axes of lengths 1 : 0.7 : 0.4 (an anisotropic, body-like
    spread), so M's singular values sit near 1 : 0.49 : 0.16; the test asserts the gaps of the actual draws."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, 17, 3, generator=g, dtype=torch.float64)
    q = torch.linalg.qr(a - a.mean(-2, keepdim=True))[0]  # [n, 17, 3] centred orthonormal columns
    pred = 2.0 * q * torch.tensor([1.0, 0.7, 0.4], dtype=torch.float64) + torch.randn(n, 1, 3, generator=g,
                                                                                      dtype=torch.float64)
    rot = torch.linalg.qr(torch.randn(n, 3, 3, generator=g, dtype=torch.float64))[0]
    rot = rot * torch.sign(torch.linalg.det(rot))[:, None, None]  # proper rotations
    rot[::3] = rot[::3] @ torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))  # every third: a mirror
    target = 1.2 * pred @ rot + torch.randn(n, 1, 3, generator=g, dtype=torch.float64)
    target = target + 0.02 * torch.randn(target.shape, generator=g, dtype=torch.float64)
    return pred, target


@pytest.mark.parametrize("fn", ["p_mpjpe", "procrustes_align"])
def test_gradients_match_the_autograd_svd_oracle(fn):
    # The analytic twin attaches the kernel's own derivative formula, so kernel == twin cannot catch an error in
    # that formula; reference.*_svd differentiates the SVD fit by autograd alone, an independent check.
    from posefast.reference import metrics as ref

    pred, target = _well_conditioned_pairs(seed=21)
    P = pred - pred.mean(-2, keepdim=True)
    S = torch.linalg.svdvals(P.transpose(-1, -2) @ (target - target.mean(-2, keepdim=True)))
    gaps = torch.cat([S[:, :-1] - S[:, 1:], S[:, -1:]], -1) / S[:, :1]
    assert gaps.min() > 0.1  # distinct, non-zero singular values: torch's SVD gradient is well-defined here
    oracle = {"p_mpjpe": ref.p_mpjpe_svd, "procrustes_align": ref.procrustes_align_svd}[fn]
    kernel, twin = getattr(posefast, fn), getattr(ref, fn)
    results = []
    for impl in (kernel, twin, oracle):
        p, x = leaves(pred, target)
        out = impl(p, x)
        outs = out if isinstance(out, tuple) else (out,)
        gen = torch.Generator().manual_seed(22)
        cots = [torch.randn(o.shape, generator=gen, dtype=o.dtype) for o in outs]
        results.append((outs, torch.autograd.grad(outs, (p, x), cots)))
    (k_out, k_grad), (t_out, t_grad), (o_out, o_grad) = results
    for got in (k_out, t_out):
        for a, b in zip(got, o_out):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    for got in (k_grad, t_grad):
        for a, b in zip(got, o_grad):
            torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("fn", ["mpjpe", "n_mpjpe", "p_mpjpe", "procrustes_align"])
def test_same_cotangents_through_kernel_and_twin(fn):
    pred, target = random_pair((3, 4), seed=12)
    compare_with_twin(getattr(posefast, fn), [pred, target], rtol=1e-9, atol=1e-10)
    if fn == "mpjpe":
        compare_with_twin(lambda a, b: posefast.mpjpe(a, b, root=5), [pred, target])


# ---- the op contract: opcheck, torch.compile -----------------------------------------------------------------------
def test_opcheck():
    pred, target = random_pair((3,), J=7, seed=13)
    p, x = pred.requires_grad_(True), target.requires_grad_(True)
    ops = torch.ops.posefast
    g = torch.randn(3, dtype=torch.float64)
    torch.library.opcheck(ops.mpjpe, (p, x, 2))
    torch.library.opcheck(ops.mpjpe_backward, (g, p.detach(), x.detach(), -1))
    torch.library.opcheck(ops.n_mpjpe, (p, x))
    torch.library.opcheck(ops.n_mpjpe_backward, (g, p.detach(), x.detach()))
    torch.library.opcheck(ops.p_mpjpe, (p, x))
    torch.library.opcheck(ops.p_mpjpe_backward, (g, p.detach(), x.detach()))
    torch.library.opcheck(ops.procrustes_align, (p, x))
    torch.library.opcheck(ops.procrustes_align_backward,
                          (torch.randn(3, 7, 3, dtype=torch.float64), g, torch.randn(3, 3, 3, dtype=torch.float64),
                           torch.randn(3, 3, dtype=torch.float64), p.detach(), x.detach()))
    thr = torch.tensor([0.0, 50.0, 150.0], dtype=torch.float64)
    torch.library.opcheck(ops.pose_errors, (p.detach(), x.detach(), torch.tensor([0, 2, 3, 6]), thr, 0, 1000.0))
    torch.library.opcheck(ops.pose_errors, (p.detach().float(), x.detach().float(), torch.tensor([1, 5]), thr, -1, 1.0))


def test_torch_compile_fullgraph():
    def f(a, b):
        aligned, scale, rot, trans = posefast.procrustes_align(a, b)
        return (posefast.p_mpjpe(a, b).sum() + posefast.mpjpe(a, b, root=0).sum() + posefast.n_mpjpe(a, b).sum()
                + aligned.square().sum() + scale.sum() + rot.sum() + trans.sum())

    pred, target = random_pair((5,), seed=14, dtype=torch.float32)
    p, x = leaves(pred, target, dtype=torch.float32)
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    out_c = compiled(p, x)
    g_c = torch.autograd.grad(out_c, (p, x))
    out_e = f(p, x)
    g_e = torch.autograd.grad(out_e, (p, x))
    torch.testing.assert_close(out_c, out_e)
    for a, b in zip(g_c, g_e):
        torch.testing.assert_close(a, b)


def test_pose_errors_compiles_fullgraph():
    # PoseErrors is a NamedTuple of tensors and pose_errors syncs nothing, so dynamo traces it without a break
    # (fullgraph=True raises on one); its fields come out of the graph by name, as in eager
    def f(a, b):
        errors = posefast.pose_errors(a, b, thresholds=(0.0, 50.0, 150.0), joints=[0, 2, 5, 9], unit="mm")
        return errors.p_mpjpe.mean() + errors.mpjpe.mean(), errors

    pred, target = random_pair((6,), seed=19, dtype=torch.float32)
    torch._dynamo.reset()
    total_c, out_c = torch.compile(f, fullgraph=True, backend="aot_eager")(pred, target)
    total_e, out_e = f(pred, target)
    assert type(out_c) is posefast.PoseErrors and out_c._fields == out_e._fields
    torch.testing.assert_close(total_c, total_e)
    for name in out_e._fields:
        torch.testing.assert_close(getattr(out_c, name), getattr(out_e, name), rtol=0, atol=0, msg=name)
    assert out_c.pck.shape == () and out_c.pck.dtype == torch.float64
    assert float(out_c.pck) == posefast.pck(pred, target, threshold=150.0, joints=[0, 2, 5, 9], unit="mm")


def test_procrustes_align_result_is_named():
    pred, target = random_pair((4,), seed=20)
    fit = posefast.procrustes_align(pred, target)
    assert isinstance(fit, posefast.ProcrustesAlignment) and isinstance(fit, tuple)
    aligned, scale, rotation, translation = fit  # unpacks in the documented order
    assert (fit.aligned is aligned and fit.scale is scale and fit.rotation is rotation
            and fit.translation is translation)
    torch.testing.assert_close(fit.aligned, fit.scale[:, None, None] * pred @ fit.rotation + fit.translation[:, None])
    with posefast.use_kernels(False):
        assert type(posefast.procrustes_align(pred, target)) is posefast.ProcrustesAlignment


# ---- random shapes and values --------------------------------------------------------------------------------------
batch_shapes = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)


@given(shape=batch_shapes, seed=st.integers(0, 2**31 - 1), scale=st.sampled_from([1e-3, 1.0, 1e3]),
       noise=st.sampled_from([0.0, 1e-3, 0.1, 2.0]), J=st.sampled_from([1, 2, 3, 4, 14, 17]))
def test_hypothesis_p_mpjpe(shape, seed, scale, noise, J):
    pred, target = random_pair(shape, J=J, seed=seed, noise=noise, scale=scale)
    err = posefast.p_mpjpe(pred, target)
    assert err.shape == shape
    if J >= 3:  # fewer joints: the rotation is not unique, VideoPose3D's choice differs (its error too)
        np.testing.assert_allclose(err.numpy(), np_p_mpjpe(pred.numpy(), target.numpy()), rtol=1e-8,
                                   atol=1e-10 * scale)
    # float32 against the float64 reference, relative to the pose scale
    err32 = posefast.p_mpjpe(pred.float(), target.float())
    spread = np.sqrt(((target.numpy() - target.numpy().mean(-2, keepdims=True)) ** 2).sum(-1).mean(-1))
    np.testing.assert_array_less(np.abs(as_np(err32) - as_np(posefast.p_mpjpe(pred.float().double(), target.float().double()))),
                                 2e-5 * spread + 1e-30)


@given(shape=batch_shapes, seed=st.integers(0, 2**31 - 1), noise=st.sampled_from([0.0, 0.01, 0.5]),
       root=st.sampled_from([None, 0, 3]), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_hypothesis_mpjpe_n_mpjpe(shape, seed, noise, root, dtype):
    pred, target = random_pair(shape, J=17, seed=seed, noise=noise, dtype=dtype)
    p, x = as_np(pred), as_np(target)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(as_np(posefast.mpjpe(pred, target, root=root)), np_mpjpe(p, x, root), rtol=tol,
                               atol=tol)
    np.testing.assert_allclose(as_np(posefast.n_mpjpe(pred, target)), np_n_mpjpe(p, x), rtol=tol, atol=tol)


@given(shape=batch_shapes.filter(lambda s: 0 not in s), seed=st.integers(0, 2**31 - 1),
       noise=st.sampled_from([1e-3, 0.1, 1.0]), J=st.sampled_from([3, 5, 17]))
def test_hypothesis_procrustes_align(shape, seed, noise, J):
    pred, target = random_pair(shape, J=J, seed=seed, noise=noise)
    out = posefast.procrustes_align(pred, target)
    ref = np_procrustes(pred.numpy(), target.numpy())
    for got, want in zip(out, ref):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-8, atol=1e-9)
    compare_with_twin(posefast.procrustes_align, [pred, target], rtol=1e-7, atol=1e-8, seed=seed)


@given(n=st.integers(1, 6), seed=st.integers(0, 2**31 - 1), J=st.sampled_from([3, 16, 17]),
       subset=st.booleans(), root=st.sampled_from([None, 0, 2]), unit=st.sampled_from(["m", "cm", "mm"]),
       thresholds=st.lists(st.floats(0, 400), min_size=1, max_size=6), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_hypothesis_pose_errors(n, seed, J, subset, root, unit, thresholds, dtype):
    factor = {"m": 1.0, "cm": 100.0, "mm": 1000.0}[unit]
    pred, target = random_pair((n,), J=J, seed=seed, noise=0.08)
    pred = target + (pred - target) * 0.5  # errors of tens to hundreds of mm
    joints = list(range(0, J, 2)) if subset else list(range(J))
    out = posefast.pose_errors((pred * factor).to(dtype), (target * factor).to(dtype), thresholds=thresholds,
                               joints=joints, unit=unit, root=root, pck_threshold=thresholds[0])
    p_in, x_in = as_np((pred * factor).to(dtype)) / factor, as_np((target * factor).to(dtype)) / factor
    mp, pm, errs, _ = np_pose_errors_loop(p_in, x_in, joints, thresholds, root)
    tol = 1e-9 if dtype == torch.float64 else 1e-3  # mm
    np.testing.assert_allclose(as_np(out.mpjpe), mp, rtol=1e-5, atol=tol)
    np.testing.assert_allclose(as_np(out.p_mpjpe), pm, rtol=1e-5, atol=tol)
    np.testing.assert_allclose(as_np(out.joint_errors), errs, rtol=1e-5, atol=tol)
    # the curve comes in ascending threshold order
    ordered = sorted(thresholds)
    assert out.thresholds.tolist() == ordered
    # PCK from the op's own errors (a float32 error may sit on the other side of a threshold than the float64 one)
    e = as_np(out.joint_errors)
    curve = np.array([100.0 * (e < t).mean() for t in ordered])
    np.testing.assert_allclose(out.pck_curve.numpy(), curve, atol=1e-9)
    assert out.pck == pytest.approx(curve[ordered.index(thresholds[0])]) and out.auc == pytest.approx(curve.mean())
    if dtype == torch.float64:
        ref_curve = np.array([100.0 * (errs < t).mean() for t in ordered])
        np.testing.assert_allclose(out.pck_curve.numpy(), ref_curve, atol=1e-9)


# ---- the closed-form fit (QCP) on every CPU code path ------------------------------------------------------------
# The P-MPJPE forward and pose_errors fit every pose with QCP (csrc/include/posefast/quaternion_fit.h): eight poses
# per call in SIMD lanes on the CPU (per instruction set), one pose per call on the GPU ("per_pose", run here on the
# CPU); the poses its conditioning test flags are recomputed with the Jacobi fit. Bounds: float64 within 1e-12 of VideoPose3D's
# numpy formula (relative to the pose's spread), float32 within 1e-6 relative of the float64 result on the same
# float32 values.
CPU_PATHS = cpu_paths()


def spread(x):
    """RMS distance of each pose's joints from its centroid (numpy)."""
    return np.sqrt(((x - x.mean(-2, keepdims=True)) ** 2).sum(-1).mean(-1))


def assert_p_mpjpe_exact(pred, target, tol=1e-12, f32_floor=0.0):
    """posefast.p_mpjpe (float64) within tol * spread of the numpy formula (plus the rounding of the coordinates
    themselves, 64 eps |x|, which no method avoids); float32 within 1e-6 relative of the float64 result on the same
    float32 values; pose_errors' P-MPJPE (same fit, in mm) likewise."""
    got = posefast.p_mpjpe(pred, target).numpy()
    want = np_p_mpjpe(pred.numpy(), target.numpy())
    magnitude = np.maximum(np.abs(pred.numpy()).max((-1, -2)), np.abs(target.numpy()).max((-1, -2)))
    bound = tol * spread(target.numpy()) + 64 * np.finfo(np.float64).eps * magnitude
    bad = ~(np.abs(got - want) <= bound)
    assert not bad.any(), f"{bad.sum()} poses off, worst |err| {np.abs(got - want)[bad].max():.3g}"
    p32, x32 = pred.float(), target.float()
    got32 = posefast.p_mpjpe(p32, x32).double().numpy()
    want32 = np_p_mpjpe(p32.double().numpy(), x32.double().numpy())
    floor = (f32_floor + 1e-6 * tol) * spread(x32.double().numpy())
    np.testing.assert_array_less(np.abs(got32 - want32), 1e-6 * want32 + floor + 1e-30)
    pm = posefast.pose_errors(pred, target, unit="mm", root=None).p_mpjpe.numpy()
    assert not (np.abs(pm - want) > bound).any()


def _near_collinear(n, J, seed, offset):
    """Poses on a random line plus an off-line component of relative size `offset` (0: exactly collinear)."""
    g = np.random.default_rng(seed)
    line = _collinear(n, J, seed)
    return line + offset * np.abs(line).max() * g.standard_normal((n, J, 3))


@pytest.mark.parametrize("path", CPU_PATHS)
def test_qcp_random_poses_match_numpy(path):
    # 1003 poses: 125 full blocks of eight and a partial one; noise from none to unrelated poses
    pred, target = random_pair((1003,), seed=40, noise=0.05)
    noisy = random_pair((1003,), seed=41, noise=1.0)[0]
    pred[::3] = noisy[::3]
    pred[1::7] = target[1::7] * 0.9  # exact similarity copies
    with cpu_path(path):
        assert_p_mpjpe_exact(pred, target)
        # scale and distance from the origin: the fit is relative to the pose's spread
        assert_p_mpjpe_exact(pred * 1e-3 + 7.0, target * 1e-3 - 3.0)
        assert_p_mpjpe_exact(pred * 1e3, target * 1e3 + 1e4)


@pytest.mark.parametrize("path", CPU_PATHS)
def test_qcp_degenerate_poses_match_numpy(path):
    pred, target = random_pair((64,), seed=42, noise=0.05)
    cases = {
        "collinear pred": (torch.tensor(_collinear(64, 17, 43)), target),
        "collinear both": (torch.tensor(_collinear(64, 17, 44)), torch.tensor(_collinear(64, 17, 45))),
        # an exact similarity copy of a collinear pose: Newton starts on the (double) root and stops there at once,
        # so only the gap certificate can flag it
        "collinear copy": (torch.tensor(_collinear(64, 17, 52)),
                           torch.tensor(1.7 * _collinear(64, 17, 52) @ Rotation.random(random_state=53).as_matrix() + 0.4)),
        "planar": (pred, torch.cat([target[..., :2], torch.full_like(target[..., :1], 0.7)], -1)),
        "mirror": (target * torch.tensor([-1.0, 1.0, 1.0], dtype=target.dtype), target),
    }
    for offset in (1e-9, 1e-7, 1e-5, 1e-3):  # near-collinear: QCP's quartic loses sqrt(eps) near a double root
        cases[f"near-collinear {offset}"] = (torch.tensor(_near_collinear(64, 17, 46, offset)), target)
        cases[f"near-collinear both {offset}"] = (torch.tensor(_near_collinear(64, 17, 47, offset)),
                                                  torch.tensor(_near_collinear(64, 17, 48, offset)))
    for sv, reflect in (((1.0, 1.0, 0.5), False), ((1.0, 0.5, 0.5), True), ((1.0, 1.0, 1.0), False),
                        ((1.0, 1.0, 1.0), True), ((1.0, 0.3, 1e-9), True)):
        pairs = [_with_singular_values(sv, J=17, seed=k, reflect=reflect) for k in range(16)]
        cases[f"sv={sv} reflect={reflect}"] = (torch.stack([a for a, _ in pairs]), torch.stack([b for _, b in pairs]))
    with cpu_path(path):
        for name, (p, x) in cases.items():
            try:
                # rounded to float32, the copy's target is 1e-8 off its line: the spin about the line is then free
                # up to the rounding, and so is the P-MPJPE (all spins fit equally well in the least-squares sense)
                assert_p_mpjpe_exact(p, x, f32_floor=1e-7 if name == "collinear copy" else 0.0)
            except AssertionError as exc:
                raise AssertionError(f"{name}: {exc}") from None


@pytest.mark.parametrize("path", CPU_PATHS)
def test_qcp_lanes_are_independent(path):
    # flagged poses (collinear, coincident, NaN) inside blocks of regular ones: each pose gets its own result
    pred, target = random_pair((37,), seed=49, noise=0.05)
    pred[3] = torch.tensor(_collinear(1, 17, 50)[0])
    pred[9] = pred[9, :1]  # coincident joints
    pred[17, 4, 1] = float("nan")
    target[26, 2, 0] = float("inf")
    with cpu_path(path):
        err = posefast.p_mpjpe(pred, target)
        one_by_one = torch.cat([posefast.p_mpjpe(pred[i : i + 1], target[i : i + 1]) for i in range(37)])
    assert torch.isnan(err[17]) and torch.isnan(err[26])
    finite = torch.isfinite(err)
    assert finite.sum() == 35
    torch.testing.assert_close(err[finite], one_by_one[finite], rtol=0, atol=0)
    regular = [i for i in range(37) if i not in (9, 17, 26)]
    want = np_p_mpjpe(pred[regular].numpy(), target[regular].numpy())
    np.testing.assert_allclose(err[regular].numpy(), want, rtol=0, atol=1e-12)
    x0 = target[9] - target[9].mean(0)  # coincident pred: scale 0, every aligned joint on the target centroid
    torch.testing.assert_close(err[9], x0.norm(dim=-1).mean(), rtol=0, atol=1e-14)


def test_qcp_paths_agree():
    # every instruction set and the per-pose (GPU) path compute the same numbers up to rounding (FMA contraction)
    pred, target = random_pair((203,), seed=51, noise=0.1)
    results = {}
    for path in CPU_PATHS:
        with cpu_path(path):
            results[path] = (posefast.p_mpjpe(pred, target), posefast.p_mpjpe(pred.float(), target.float()))
    base64, base32 = results["per_pose"]
    for path, (e64, e32) in results.items():
        torch.testing.assert_close(e64, base64, rtol=1e-13, atol=0, msg=path)
        torch.testing.assert_close(e32, base32, rtol=2e-7, atol=0, msg=path)


def test_cpu_isa_switch():
    from posefast import _C

    assert _C.cpu_isa() in ("baseline", "avx2", "avx512") and _C.cpu_isa_levels()[0] == "baseline"
    with cpu_path("per_pose"):
        assert _C.cpu_isa() == "per_pose"
    with pytest.raises(ValueError, match="expected 'auto', 'per_pose', 'baseline', 'avx2' or 'avx512'"):
        _C.set_cpu_isa("sse9")
    if "avx512" not in _C.cpu_isa_levels():
        with pytest.raises(ValueError, match="does not support the avx512"):
            _C.set_cpu_isa("avx512")
    assert _C.cpu_isa() == _C.cpu_isa_levels()[-1]


# ---- fused evaluation ----------------------------------------------------------------------------------------------
def test_pose_errors_matches_elementwise_reference_on_1e4_poses():
    pred, target = random_pair((10_000,), seed=15, noise=0.06)
    target = target - target[:, :1]  # root-relative, like 3DHP test poses (metres)
    pred = target + 0.05 * torch.randn(target.shape, generator=torch.Generator().manual_seed(0), dtype=target.dtype)
    joints = list(range(17))
    out = posefast.pose_errors(pred, target, unit="m")
    mp, pm, errs, curve = np_pose_errors_loop(pred.numpy(), target.numpy(), joints, posefast.PCK_THRESHOLDS_MM, 0)
    np.testing.assert_allclose(out.mpjpe.numpy(), mp, atol=1e-4, rtol=0)
    np.testing.assert_allclose(out.p_mpjpe.numpy(), pm, atol=1e-4, rtol=0)
    np.testing.assert_allclose(out.joint_errors.numpy(), errs, atol=1e-4, rtol=0)
    np.testing.assert_allclose(out.per_joint.numpy(), errs.mean(0), atol=1e-4, rtol=0)
    np.testing.assert_allclose(out.pck_curve.numpy(), curve, atol=1e-4, rtol=0)
    assert abs(out.pck - curve[-1]) < 1e-4 and abs(out.auc - curve.mean()) < 1e-4
    assert 0 < out.auc < out.pck <= 100 and out.pck_curve[0] == 0  # strict '<': nothing is below 0 mm
    with posefast.use_kernels(False):
        twin = posefast.pose_errors(pred, target, unit="m")
    for k in ("mpjpe", "p_mpjpe", "per_joint", "pck_curve"):
        torch.testing.assert_close(getattr(twin, k), getattr(out, k))
    # float32 input: same numbers to float32 precision (a few joints may flip at a threshold boundary)
    out32 = posefast.pose_errors(pred.float(), target.float(), unit="m")
    np.testing.assert_allclose(out32.p_mpjpe.double().numpy(), pm, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out32.pck_curve.numpy(), curve, atol=1e-2)


def test_pose_errors_subset_units_and_root():
    pred, target = random_pair((40,), seed=16, noise=0.1)
    joints = [0, 1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15]  # a 14-joint subset
    thr = (0.0, 25.0, 100.0, 150.0)
    ref_mp, ref_pm, ref_err, ref_curve = np_pose_errors_loop(pred.numpy(), target.numpy(), joints, thr, None)
    for unit, factor in (("m", 1.0), ("cm", 100.0), ("mm", 1000.0)):
        out = posefast.pose_errors(pred * factor, target * factor, thresholds=thr, joints=joints, unit=unit,
                                   root=None, pck_threshold=100.0)
        np.testing.assert_allclose(out.mpjpe.numpy(), ref_mp, rtol=1e-10)
        np.testing.assert_allclose(out.p_mpjpe.numpy(), ref_pm, rtol=1e-9)
        np.testing.assert_allclose(out.pck_curve.numpy(), ref_curve, atol=1e-9)
        assert out.per_joint.shape == (14,) and out.joint_errors.shape == (40, 14)
        assert out.pck == pytest.approx(ref_curve[2]) and out.auc == pytest.approx(ref_curve.mean())
    # pck / auc conveniences
    assert posefast.pck(pred, target, threshold=100.0, joints=joints, root=None) == pytest.approx(ref_curve[2])
    assert posefast.auc(pred, target, thresholds=thr, joints=joints, root=None) == pytest.approx(ref_curve.mean())
    # batch dims are kept per pose
    out = posefast.pose_errors(pred.reshape(4, 10, 17, 3), target.reshape(4, 10, 17, 3))
    assert out.mpjpe.shape == (4, 10) and out.joint_errors.shape == (4, 10, 17)


def test_pose_errors_is_evaluation_only():
    pred, target = random_pair((3,), seed=17)
    out = posefast.pose_errors(pred.requires_grad_(True), target)
    assert not out.mpjpe.requires_grad and not out.p_mpjpe.requires_grad


# ---- NaN never passes ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernels", [True, False], ids=["kernel", "twin"])
def test_non_finite_input_gives_nan(kernels):
    pred, target = random_pair((3,), seed=18)
    pred[0, 4, 1] = float("nan")
    target[1, 2, 0] = float("inf")
    with posefast.use_kernels(kernels):
        for fn in (posefast.p_mpjpe, posefast.mpjpe, posefast.n_mpjpe):
            err = fn(pred, target)  # NaN or inf (mpjpe of an infinite coordinate is inf), never finite
            assert not torch.isfinite(err[:2]).any() and torch.isfinite(err[2])
            assert torch.isnan(err[0])
        aligned, scale, rot, trans = posefast.procrustes_align(pred, target)
        assert torch.isnan(scale[:2]).all() and torch.isnan(rot[:2]).all() and torch.isfinite(rot[2]).all()
        out = posefast.pose_errors(pred, target)
    assert math.isnan(out.pck) and math.isnan(out.auc) and torch.isnan(out.per_joint).any()
    assert torch.isnan(out.p_mpjpe[:2]).all() and torch.isfinite(out.p_mpjpe[2])


# ---- empty batches, layout ------------------------------------------------------------------------------------------
def test_empty_batch_forward_and_backward():
    p = torch.zeros(0, 17, 3, dtype=torch.float64, requires_grad=True)
    x = torch.zeros(0, 17, 3, dtype=torch.float64)
    for fn in (posefast.mpjpe, posefast.n_mpjpe, posefast.p_mpjpe):
        out = fn(p, x)
        assert out.shape == (0,)
        (g,) = torch.autograd.grad(out.sum(), p)
        assert g.shape == p.shape
    aligned, scale, rot, trans = posefast.procrustes_align(p, x)
    assert aligned.shape == (0, 17, 3) and rot.shape == (0, 3, 3) and trans.shape == (0, 3) and scale.shape == (0,)
    with pytest.raises(ValueError, match="pred: expected at least one pose"):
        posefast.pose_errors(p, x)


def test_non_contiguous_input():
    pred, target = random_pair((6,), seed=19)
    strided = pred.transpose(0, 1).contiguous().transpose(0, 1)
    assert not strided.is_contiguous()
    torch.testing.assert_close(posefast.p_mpjpe(strided, target), posefast.p_mpjpe(pred, target))
    torch.testing.assert_close(posefast.pose_errors(strided[::2], target[::2]).pck_curve,
                               posefast.pose_errors(pred[::2].contiguous(), target[::2].contiguous()).pck_curve)


# ---- bad input -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [posefast.mpjpe, posefast.n_mpjpe, posefast.p_mpjpe, posefast.procrustes_align,
                                posefast.pose_errors])
def test_bad_inputs_are_named(fn):
    good = torch.zeros(4, 17, 3)
    cases = [
        ((torch.zeros(4, 17, 2), good), r"pred: expected shape \[\.\.\., \*, 3\]"),
        ((good, torch.zeros(4, 16, 3)), r"target: expected shape \[\.\.\., 17, 3\]"),
        ((good, torch.zeros(2, 17, 3)), r"target: expected leading dims \[4\]"),
        ((good, torch.zeros(17, 3)), r"target: expected leading dims \[4\]"),
        ((good, torch.zeros(4, 17, 3, dtype=torch.float64)), r"target: expected dtype torch.float32"),
        ((torch.zeros(4, 17, 3, dtype=torch.int64), good), r"pred: expected float32 or float64"),
        (([[0.0] * 3] * 17, good), r"pred: expected a torch.Tensor"),
        ((torch.zeros(4, 0, 3), torch.zeros(4, 0, 3)), r"pred: expected at least one joint"),
        ((torch.zeros(2, 65, 3), torch.zeros(2, 65, 3)), r"pred: at most 64 joints"),
    ]
    for args, match in cases:
        with pytest.raises((ValueError, TypeError), match=match):
            fn(*args)


def test_bad_options_are_named():
    p, x = torch.zeros(4, 17, 3), torch.zeros(4, 17, 3)
    with pytest.raises(ValueError, match=r"root: expected a joint index in \[0, 17\)"):
        posefast.mpjpe(p, x, root=17)
    with pytest.raises(TypeError, match=r"root: expected an int"):
        posefast.mpjpe(p, x, root=1.0)
    with pytest.raises(ValueError, match=r"unit: expected one of"):
        posefast.pose_errors(p, x, unit="inch")
    with pytest.raises(ValueError, match=r"joints: indices must lie in \[0, 17\)"):
        posefast.pose_errors(p, x, joints=[0, 17])
    with pytest.raises(ValueError, match=r"joints: indices must be unique"):
        posefast.pose_errors(p, x, joints=[1, 1])
    with pytest.raises(TypeError, match=r"joints: expected integer joint indices"):
        posefast.pose_errors(p, x, joints=torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"thresholds: expected finite non-negative"):
        posefast.pose_errors(p, x, thresholds=[0.0, -5.0])
    with pytest.raises(ValueError, match=r"thresholds: expected at least one"):
        posefast.pose_errors(p, x, thresholds=[])
    with pytest.raises(TypeError, match=r"thresholds: expected a sequence"):
        posefast.pose_errors(p, x, thresholds=150.0)
    with pytest.raises(ValueError, match=r"pck_threshold: expected one of the thresholds"):
        posefast.pose_errors(p, x, thresholds=[0.0, 100.0])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu():
    pred, target = random_pair((256,), seed=20, dtype=torch.float32)
    for fn in (posefast.p_mpjpe, posefast.mpjpe, posefast.n_mpjpe, lambda a, b: posefast.procrustes_align(a, b)[0]):
        pc, xc = leaves(pred, target, dtype=torch.float32)
        pg, xg = leaves(pred.cuda(), target.cuda(), dtype=torch.float32)
        oc, og = fn(pc, xc), fn(pg, xg)
        torch.testing.assert_close(og.cpu(), oc, rtol=1e-5, atol=1e-5)
        gc = torch.autograd.grad(oc.square().sum(), (pc, xc))
        gg = torch.autograd.grad(og.square().sum(), (pg, xg))
        for a, b in zip(gg, gc):
            torch.testing.assert_close(a.cpu(), b, rtol=1e-4, atol=1e-4)
    oc = posefast.pose_errors(pred, target)
    og = posefast.pose_errors(pred.cuda(), target.cuda())
    torch.testing.assert_close(og["p_mpjpe"].cpu(), oc["p_mpjpe"], rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(og["pck_curve"].cpu(), oc["pck_curve"], rtol=0, atol=0.1)
