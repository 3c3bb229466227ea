"""2D heatmap ops (render, decode, soft-argmax, PCK@0.05) against independent float64 numpy references, including
SimpleBaseline's quarter-pixel decoding and TLlib's (RegDA/UDAPE) keypoint accuracy."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import posefast
from op_testing import leaves


# ---- independent numpy references --------------------------------------------------------------------------------
def np_render(kp, vis, H, W, sigma, truncate=None):
    """Direct 2D formula per map (not separable), pixel (y, x) centred at coordinate (x, y)."""
    kp = kp.reshape(-1, 2)
    out = np.zeros((kp.shape[0], H, W))
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    for m, (kx, ky) in enumerate(kp):
        if not vis.reshape(-1)[m]:
            continue
        g = np.exp(-((xs - kx) ** 2 + (ys - ky) ** 2) / (2 * sigma**2))
        if truncate is not None:
            g[(np.abs(xs - kx) > truncate * sigma) | (np.abs(ys - ky) > truncate * sigma)] = 0.0
        out[m] = g
    return out


def np_decode(maps):
    """First argmax, then per axis a quarter pixel toward the larger neighbour where both neighbours exist."""
    H, W = maps.shape[-2:]
    flat = maps.reshape(-1, H, W)
    coords, maxvals = np.zeros((flat.shape[0], 2)), np.zeros(flat.shape[0])
    for m, h in enumerate(flat):
        if np.isnan(h).any():
            coords[m], maxvals[m] = np.nan, np.nan
            continue
        i = int(np.argmax(h))
        py, px = divmod(i, W)
        x, y = float(px), float(py)
        if 0 < px < W - 1:
            x += 0.25 * np.sign(h[py, px + 1] - h[py, px - 1])
        if 0 < py < H - 1:
            y += 0.25 * np.sign(h[py + 1, px] - h[py - 1, px])
        coords[m], maxvals[m] = (x, y), h[py, px]
    return coords.reshape(maps.shape[:-2] + (2,)), maxvals.reshape(maps.shape[:-2])


def simplebaseline_final_preds(maps):
    """SimpleBaseline/HRNet get_final_preds without the affine back-transform: argmax, then both axes shifted by a
    quarter pixel only when the peak is inside 1 < px < W-1 and 1 < py < H-1."""
    N, K, H, W = maps.shape
    out = np.zeros((N, K, 2))
    for n in range(N):
        for k in range(K):
            h = maps[n, k]
            py, px = divmod(int(np.argmax(h)), W)
            c = np.array([px, py], dtype=np.float64)
            if 1 < px < W - 1 and 1 < py < H - 1:
                c += 0.25 * np.sign([h[py, px + 1] - h[py, px - 1], h[py + 1, px] - h[py - 1, px]])
            out[n, k] = c
    return out


def tllib_style_accuracy(pred, target, visible, hm_size, thr=0.5):
    """TLlib keypoint accuracy: distances divided by heatmap size / 10, hit when < 0.5, ground truth ignored when
    invisible; per keypoint hits and counts."""
    N, K, _ = pred.shape
    hits, counts = np.zeros(K), np.zeros(K)
    for k in range(K):
        for n in range(N):
            if not visible[n, k]:
                continue
            d = np.linalg.norm(pred[n, k] / (hm_size / 10) - target[n, k] / (hm_size / 10))
            counts[k] += 1
            hits[k] += d < thr
    return hits, counts


def random_keypoints(shape, K, H, W, seed=0, dtype=torch.float64, margin=4.0):
    g = torch.Generator().manual_seed(seed)
    kp = torch.rand(*shape, K, 2, generator=g, dtype=torch.float64)
    kp = kp * torch.tensor([W - 1 + 2 * margin, H - 1 + 2 * margin], dtype=torch.float64) - margin
    vis = torch.rand(*shape, K, generator=g) > 0.2
    return kp.to(dtype), vis


# ---- render ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernels", [True, False], ids=["kernel", "twin"])
@pytest.mark.parametrize("truncate", [None, 3.0])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-14), (torch.float32, 1e-6)])
def test_render_matches_numpy(dtype, tol, truncate, kernels, device):
    kp, vis = random_keypoints((3,), 6, 32, 24, seed=1, dtype=dtype)
    kp, vis = kp.to(device), vis.to(device)
    with posefast.use_kernels(kernels):
        maps = posefast.render_heatmaps(kp, vis, (32, 24), 2.0, truncate=truncate)
    assert maps.shape == (3, 6, 32, 24) and maps.dtype == dtype
    ref = np_render(kp.double().cpu().numpy(), vis.cpu().numpy(), 32, 24, 2.0, truncate)
    np.testing.assert_allclose(maps.double().cpu().numpy().reshape(ref.shape), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_render_never_writes_denormals(dtype):
    # Gaussian tails far from the keypoint underflow: the kernel flushes factors below sqrt(smallest normal) to 0
    # (denormal multiplies are ~5x slower), so no output is denormal and the change is below that threshold
    kp, vis = random_keypoints((8,), 16, 64, 64, seed=3, dtype=dtype)
    maps = posefast.render_heatmaps(kp, vis, (64, 64), 2.0)
    tiny = torch.finfo(dtype).tiny
    assert not ((maps != 0) & (maps.abs() < tiny)).any()
    with posefast.use_kernels(False):
        ref = posefast.render_heatmaps(kp, vis, (64, 64), 2.0)
    assert ((ref != 0) & (ref.abs() < tiny)).any() or dtype == torch.float64  # the twin does produce them (float32)
    torch.testing.assert_close(maps, ref, rtol=1e-6, atol=1.1 * math.sqrt(tiny))  # threshold 1.1e-19 in float32


def test_render_pixel_convention_and_visibility():
    kp = torch.tensor([[[3.0, 5.0], [10.0, 2.0], [float("nan"), 1.0], [float("nan"), 0.0]]])
    vis = torch.tensor([[True, False, True, False]])
    maps = posefast.render_heatmaps(kp, vis, (8, 12), 1.5)
    assert maps[0, 0, 5, 3] == 1.0 and maps[0, 0].argmax() == 5 * 12 + 3  # (x, y) = (3, 5) peaks at [row 5, col 3]
    assert maps[0, 1].abs().max() == 0 and maps[0, 3].abs().max() == 0  # invisible: zeros, whatever the coordinates
    assert torch.isnan(maps[0, 2]).all()  # a visible NaN keypoint never renders as a valid target


# ---- decode ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernels", [True, False], ids=["kernel", "twin"])
def test_decode_matches_numpy(kernels, device):
    g = torch.Generator().manual_seed(2)
    maps = torch.rand(4, 5, 16, 12, generator=g, dtype=torch.float64).to(device)
    maps[0, 0] = 0.0  # all equal: first pixel, no shift
    maps[0, 1, 0, 11] = 5.0  # a corner peak: no neighbours on either axis
    maps[0, 2, 3, 4] = maps[0, 2, 3, 6] = 9.0  # a tie: the first in row-major order wins
    maps[0, 3, 7, 7] = float("nan")
    with posefast.use_kernels(kernels):
        coords, maxvals = posefast.decode_heatmaps(maps)
    ref_c, ref_m = np_decode(maps.cpu().numpy())
    np.testing.assert_array_equal(coords.cpu().numpy(), ref_c)
    np.testing.assert_array_equal(maxvals.cpu().numpy(), ref_m)
    assert coords[0, 0].tolist() == [0.0, 0.0] and coords[0, 1].tolist() == [11.0, 0.0]
    assert coords[0, 2].tolist()[0] in (3.75, 4.0, 4.25) and math.isnan(coords[0, 3, 0].item())


def test_decode_agrees_with_simplebaseline_away_from_the_border():
    kp, _ = random_keypoints((6,), 8, 64, 48, seed=3, margin=-2.0)  # peaks at least 2 px inside
    maps = posefast.render_heatmaps(kp, torch.ones(6, 8, dtype=torch.bool), (64, 48), 2.0)
    maps = maps + 1e-3 * torch.rand(maps.shape, generator=torch.Generator().manual_seed(4), dtype=maps.dtype)
    coords, _ = posefast.decode_heatmaps(maps)
    np.testing.assert_array_equal(coords.numpy(), simplebaseline_final_preds(maps.numpy()))


def test_render_then_decode_roundtrip():
    kp, vis = random_keypoints((4,), 7, 64, 64, seed=5, margin=-1.0)
    vis[:] = True
    maps = posefast.render_heatmaps(kp, vis, (64, 64), 2.0)
    coords, maxvals = posefast.decode_heatmaps(maps)
    # argmax is the nearest pixel (offset d in [-0.5, 0.5]); the quarter shift goes toward sign(d): |d - 0.25 sign d|
    torch.testing.assert_close(coords, kp.round() + 0.25 * torch.sign(kp - kp.round()), rtol=0, atol=0)
    assert (coords - kp).abs().max() <= 0.25 + 1e-12
    assert (maxvals > 0.88).all()  # exp(-0.5 / 4): the nearest pixel is within half a pixel per axis
    integer = posefast.render_heatmaps(kp.round(), vis, (64, 64), 2.0)
    torch.testing.assert_close(posefast.decode_heatmaps(integer)[0], kp.round(), rtol=0, atol=0)


# ---- soft-argmax ------------------------------------------------------------------------------------------------
def np_soft_argmax(maps, beta):
    H, W = maps.shape[-2:]
    z = beta * maps.reshape(maps.shape[:-2] + (H * W,))
    p = np.exp(z - z.max(-1, keepdims=True))
    p = (p / p.sum(-1, keepdims=True)).reshape(maps.shape)
    ys, xs = np.mgrid[0:H, 0:W]
    return np.stack([(p * xs).sum((-1, -2)), (p * ys).sum((-1, -2))], -1)


def test_soft_argmax_values_and_gradients():
    kp, vis = random_keypoints((2,), 3, 16, 20, seed=6, margin=-3.0)
    vis[:] = True
    maps = posefast.render_heatmaps(kp, vis, (16, 20), 1.5)
    out = posefast.soft_argmax(maps, 20.0)
    np.testing.assert_allclose(out.numpy(), np_soft_argmax(maps.numpy(), 20.0), rtol=1e-12, atol=1e-12)
    # softmax of a Gaussian's log is that Gaussian: its expectation is the sub-pixel centre (far from the border)
    inner, _ = random_keypoints((2,), 3, 24, 28, seed=7, margin=-8.0)
    logits = posefast.render_heatmaps(inner, vis, (24, 28), 1.2).log()
    torch.testing.assert_close(posefast.soft_argmax(logits, 1.0), inner, rtol=0, atol=1e-7)
    # large beta approaches the hard argmax pixel
    hard = posefast.soft_argmax(maps, 1e4)
    torch.testing.assert_close(hard, kp.round(), rtol=0, atol=1e-6)
    (m,) = leaves(torch.randn(2, 3, 6, 5, dtype=torch.float64))
    assert torch.autograd.gradcheck(lambda h: posefast.soft_argmax(h, 3.0), (m,))


# ---- PCK@0.05 ---------------------------------------------------------------------------------------------------
def test_pck_2d_matches_tllib_accuracy():
    g = np.random.default_rng(7)
    N, K, size = 40, 16, 64
    target = g.uniform(0, size, (N, K, 2))
    pred = target + g.normal(0, 3.0, (N, K, 2))
    visible = (g.uniform(size=(N, K)) > 0.1) & (target > 1).all(-1)  # TLlib ignores GT within 1 px of top/left
    hits, counts = posefast.pck_2d(torch.tensor(pred), torch.tensor(target), torch.tensor(visible), float(size))
    ref_h, ref_c = tllib_style_accuracy(pred, target, visible, size)
    np.testing.assert_array_equal(hits.numpy(), ref_h)
    np.testing.assert_array_equal(counts.numpy(), ref_c)
    assert hits.dtype == counts.dtype == torch.float64
    # per-sample normaliser tensor; leading batch dims are summed
    norm = torch.full((4, 10), float(size), dtype=torch.float64)
    h2, c2 = posefast.pck_2d(torch.tensor(pred).reshape(4, 10, K, 2), torch.tensor(target).reshape(4, 10, K, 2),
                             torch.tensor(visible).reshape(4, 10, K), norm)
    torch.testing.assert_close(h2, hits)
    torch.testing.assert_close(c2, counts)


def test_pck_2d_nan_never_counts_as_a_miss():
    pred = torch.zeros(3, 2, 2)
    target = torch.zeros(3, 2, 2)
    pred[0, 0, 0] = float("nan")
    hits, counts = posefast.pck_2d(pred, target, torch.ones(3, 2, dtype=torch.bool), 64.0)
    assert math.isnan(hits[0]) and hits[1] == 3 and counts.tolist() == [3.0, 3.0]
    vis = torch.tensor([[False, True]] * 3)
    hits, counts = posefast.pck_2d(pred, target, vis, 64.0)  # an invisible NaN is ignored
    assert hits.tolist() == [0.0, 3.0] and counts.tolist() == [0.0, 3.0]


# ---- the op contract ----------------------------------------------------------------------------------------------
def test_opcheck():
    kp, vis = random_keypoints((2,), 3, 9, 7, seed=8)
    ops = torch.ops.posefast
    torch.library.opcheck(ops.render_heatmaps, (kp, vis, 9, 7, 1.5, math.inf))
    torch.library.opcheck(ops.render_heatmaps, (kp.float(), vis, 9, 7, 1.5, 4.5))
    maps = torch.randn(2, 3, 9, 7, dtype=torch.float64)
    torch.library.opcheck(ops.decode_heatmaps, (maps,))


def test_torch_compile_fullgraph():
    def f(kp, vis, maps):
        target = posefast.render_heatmaps(kp, vis, (16, 16), 2.0)
        coords, maxvals = posefast.decode_heatmaps(maps)
        return target.sum() + coords.sum() + maxvals.sum() + posefast.soft_argmax(maps, 5.0).square().sum()

    kp, vis = random_keypoints((3,), 4, 16, 16, seed=9, dtype=torch.float32)
    maps = torch.randn(3, 4, 16, 16, requires_grad=True)
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    out_c = compiled(kp, vis, maps)
    (g_c,) = torch.autograd.grad(out_c, maps)
    out_e = f(kp, vis, maps)
    (g_e,) = torch.autograd.grad(out_e, maps)
    torch.testing.assert_close(out_c, out_e)
    torch.testing.assert_close(g_c, g_e)


# ---- random shapes and values --------------------------------------------------------------------------------------
batch_shapes = st.lists(st.integers(0, 3), min_size=0, max_size=2).map(tuple)


@given(shape=batch_shapes, K=st.integers(1, 4), H=st.integers(1, 12), W=st.integers(1, 12),
       sigma=st.sampled_from([0.5, 1.0, 2.0, 3.7]), truncate=st.sampled_from([None, 1.0, 3.0]),
       dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 2**31 - 1))
def test_hypothesis_render(shape, K, H, W, sigma, truncate, dtype, seed):
    kp, vis = random_keypoints(shape, K, H, W, seed=seed, dtype=dtype)
    maps = posefast.render_heatmaps(kp, vis, (H, W), sigma, truncate=truncate)
    assert maps.shape == shape + (K, H, W)
    ref = np_render(kp.double().numpy(), vis.numpy(), H, W, sigma, truncate)
    tol = 1e-13 if dtype == torch.float64 else 1e-6
    np.testing.assert_allclose(maps.double().numpy().reshape(ref.shape), ref, rtol=tol, atol=tol)


@given(shape=batch_shapes, K=st.integers(1, 4), H=st.integers(1, 9), W=st.integers(1, 9),
       levels=st.sampled_from([2, 5, 1000]), dtype=st.sampled_from([torch.float32, torch.float64]),
       seed=st.integers(0, 2**31 - 1))
def test_hypothesis_decode(shape, K, H, W, levels, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    maps = torch.randint(0, levels, shape + (K, H, W), generator=g).to(dtype) / levels  # ties are common
    coords, maxvals = posefast.decode_heatmaps(maps)
    assert coords.shape == shape + (K, 2) and maxvals.shape == shape + (K,)
    ref_c, ref_m = np_decode(maps.double().numpy())
    np.testing.assert_array_equal(coords.double().numpy(), ref_c)
    np.testing.assert_array_equal(maxvals.double().numpy(), ref_m)
    with posefast.use_kernels(False):
        twin_c, twin_m = posefast.decode_heatmaps(maps)
    torch.testing.assert_close(twin_c, coords, rtol=0, atol=0)
    torch.testing.assert_close(twin_m, maxvals, rtol=0, atol=0)


@given(shape=batch_shapes, K=st.integers(1, 5), seed=st.integers(0, 2**31 - 1), size=st.sampled_from([1.0, 64.0, 256.0]),
       threshold=st.sampled_from([0.05, 0.1, 0.5]), per_sample=st.booleans(), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_hypothesis_pck_2d(shape, K, seed, size, threshold, per_sample, dtype):
    g = np.random.default_rng(seed)
    target = g.uniform(0, size, shape + (K, 2))
    pred = target + g.normal(0, 0.05 * size, shape + (K, 2))
    visible = g.uniform(size=shape + (K,)) > 0.3
    norm = torch.full(shape, size, dtype=dtype) if per_sample else size
    hits, counts = posefast.pck_2d(torch.tensor(pred, dtype=dtype), torch.tensor(target, dtype=dtype),
                                   torch.tensor(visible), norm, threshold)
    p32, t32 = torch.tensor(pred, dtype=dtype).double().numpy(), torch.tensor(target, dtype=dtype).double().numpy()
    d = np.sqrt(((p32 - t32) ** 2).sum(-1)) / size
    ref_h = ((d < threshold) & visible).reshape(-1, K).sum(0)
    if dtype == torch.float32:  # a float32 distance may round across the threshold
        assert np.abs(hits.numpy() - ref_h).max() <= (np.abs(d - threshold) < 1e-5).sum()
    else:
        np.testing.assert_array_equal(hits.numpy(), ref_h)
    np.testing.assert_array_equal(counts.numpy(), visible.reshape(-1, K).sum(0))


@given(shape=batch_shapes, K=st.integers(1, 3), H=st.integers(1, 8), W=st.integers(1, 8),
       beta=st.sampled_from([0.1, 1.0, 30.0]), seed=st.integers(0, 2**31 - 1))
def test_hypothesis_soft_argmax(shape, K, H, W, beta, seed):
    maps = torch.randn(shape + (K, H, W), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    out = posefast.soft_argmax(maps, beta)
    assert out.shape == shape + (K, 2)
    np.testing.assert_allclose(out.numpy(), np_soft_argmax(maps.numpy(), beta), rtol=1e-10, atol=1e-10)
    assert (out >= -1e-12).all() and (out[..., 0] <= W - 1 + 1e-12).all() and (out[..., 1] <= H - 1 + 1e-12).all()


# ---- bad input ------------------------------------------------------------------------------------------------------
def test_bad_inputs_are_named():
    kp, vis = torch.zeros(2, 3, 2), torch.ones(2, 3, dtype=torch.bool)
    cases = [
        (lambda: posefast.render_heatmaps(torch.zeros(2, 3, 3), vis, (8, 8), 2.0), r"keypoints: expected shape \[\.\.\., \*, 2\]"),
        (lambda: posefast.render_heatmaps(kp.long(), vis, (8, 8), 2.0), r"keypoints: expected float32 or float64"),
        (lambda: posefast.render_heatmaps(kp, vis.float(), (8, 8), 2.0), r"visible: expected dtype torch.bool"),
        (lambda: posefast.render_heatmaps(kp, vis[:1], (8, 8), 2.0), r"visible: expected leading dims \[2, 3\]"),
        (lambda: posefast.render_heatmaps(kp, vis, (8, 0), 2.0), r"size: expected \(H, W\)"),
        (lambda: posefast.render_heatmaps(kp, vis, 8, 2.0), r"size: expected \(H, W\)"),
        (lambda: posefast.render_heatmaps(kp, vis, (8, 8), 0.0), r"sigma: expected a positive finite number"),
        (lambda: posefast.render_heatmaps(kp, vis, (8, 8), 2.0, truncate=-1.0), r"truncate: expected a positive"),
        (lambda: posefast.decode_heatmaps(torch.zeros(8, 8)), r"heatmaps: expected shape \[\.\.\., K, H, W\]"),
        (lambda: posefast.decode_heatmaps(torch.zeros(2, 3, 0, 8)), r"heatmaps: expected shape \[\.\.\., K, H, W\]"),
        (lambda: posefast.decode_heatmaps(torch.zeros(2, 3, 8, 8, dtype=torch.int32)), r"heatmaps: expected float32"),
        (lambda: posefast.soft_argmax(torch.zeros(2, 3, 8, 8), -1.0), r"beta: expected a positive finite number"),
        (lambda: posefast.pck_2d(kp, torch.zeros(2, 4, 2), vis, 64.0), r"target: expected shape \[\.\.\., 3, 2\]"),
        (lambda: posefast.pck_2d(kp, kp.double(), vis, 64.0), r"target: expected dtype torch.float32"),
        (lambda: posefast.pck_2d(kp, kp, vis, torch.ones(3)), r"normalizer: expected leading dims \[2\]"),
        (lambda: posefast.pck_2d(kp, kp, vis, 0.0), r"normalizer: expected a positive finite number"),
        (lambda: posefast.pck_2d(kp, kp, vis, 64.0, threshold=float("nan")), r"threshold: expected a positive finite"),
        (lambda: posefast.pck_2d(kp, kp, vis.long(), 64.0), r"visible: expected dtype torch.bool"),
    ]
    for call, match in cases:
        with pytest.raises((ValueError, TypeError), match=match):
            call()


def test_empty_batches():
    maps = posefast.render_heatmaps(torch.zeros(0, 3, 2), torch.zeros(0, 3, dtype=torch.bool), (4, 5), 1.0)
    assert maps.shape == (0, 3, 4, 5)
    coords, maxvals = posefast.decode_heatmaps(maps)
    assert coords.shape == (0, 3, 2) and maxvals.shape == (0, 3)
    hits, counts = posefast.pck_2d(torch.zeros(0, 3, 2), torch.zeros(0, 3, 2), torch.zeros(0, 3, dtype=torch.bool), 1.0)
    assert hits.tolist() == [0.0] * 3 and counts.tolist() == [0.0] * 3


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu():
    kp, vis = random_keypoints((8,), 16, 64, 48, seed=10, dtype=torch.float32)
    for truncate in (None, 3.0):
        mc = posefast.render_heatmaps(kp, vis, (64, 48), 2.0, truncate=truncate)
        mg = posefast.render_heatmaps(kp.cuda(), vis.cuda(), (64, 48), 2.0, truncate=truncate)
        torch.testing.assert_close(mg.cpu(), mc, rtol=1e-5, atol=1e-6)
    noisy = mc + 1e-3 * torch.rand(mc.shape, generator=torch.Generator().manual_seed(11))
    cc, vc = posefast.decode_heatmaps(noisy)
    cg, vg = posefast.decode_heatmaps(noisy.cuda())
    torch.testing.assert_close(cg.cpu(), cc, rtol=0, atol=0)
    torch.testing.assert_close(vg.cpu(), vc, rtol=0, atol=0)
