"""Helpers shared by the op tests and the benchmarks (``bench/workloads.py`` imports the input builders below, so
the benchmarked inputs are the tested ones): pull the same cotangents through kernel and twin, check the op
contract, and build the op tests' pose/camera workloads."""
from __future__ import annotations

import contextlib

import torch


def leaves(*tensors, dtype=torch.float64):
    return [t.detach().to(dtype).clone().requires_grad_(True) for t in tensors]


def compare_with_twin(fn, inputs, rtol=1e-9, atol=1e-9, seed=0):
    """Run ``fn`` with kernels on and off on the same inputs; compare outputs and the gradients of one random
    cotangent pulled back through each path. ``fn`` returns a tensor or a tuple of tensors."""
    import posefast  # here, not at the top: bench/ imports the workload builders before checking the extension

    results = []
    for enabled in (True, False):
        xs = leaves(*inputs, dtype=inputs[0].dtype)
        with posefast.use_kernels(enabled):
            out = fn(*xs)
        outs = out if isinstance(out, tuple) else (out,)
        gen = torch.Generator().manual_seed(seed)
        cot = [torch.randn(o.shape, generator=gen, dtype=o.dtype).to(o.device) for o in outs]
        diff = [o for o in outs if o.requires_grad]
        grads = torch.autograd.grad(diff, xs, [c for o, c in zip(outs, cot) if o.requires_grad], allow_unused=True) if diff else [None] * len(xs)
        results.append((outs, grads))
    (k_out, k_grad), (r_out, r_grad) = results
    for a, b in zip(k_out, r_out):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)
    for a, b in zip(k_grad, r_grad):
        if a is None or b is None:
            assert a is None and b is None or (a if a is not None else b).abs().max() == 0
            continue
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


def cpu_paths() -> list[str]:
    """The CPU code paths of the lane kernels (posefast/cpu_isa.h): the per-pose path (the GPU's code, one pose
    per call) and every instruction set this CPU runs, lowest first."""
    from posefast import _C

    return ["per_pose", *_C.cpu_isa_levels()]


@contextlib.contextmanager
def cpu_path(name: str):
    """Run the CPU kernels on one code path of :func:`cpu_paths` inside the block."""
    from posefast import _C

    _C.set_cpu_isa(name)
    try:
        yield
    finally:
        _C.set_cpu_isa("auto")


def assert_finite(*tensors):
    for t in tensors:
        assert torch.isfinite(t).all(), "non-finite values"


# ---- workloads: human-sized poses and cameras near a Human3.6M camera ---------------------------------------------
F64 = torch.float64
PIXEL_CAM = [1145.0, 1143.8, 512.5, 515.5, -0.207, 0.248, -0.003, -0.0010, -0.0014]  # Human3.6M-like, 1000×1002


def gen(seed):
    return torch.Generator().manual_seed(seed)


def rand(shape, seed, scale=1.0, dtype=F64):
    return (torch.randn(*shape, generator=gen(seed), dtype=F64) * scale).to(dtype)


def poses(shape, skel, seed, dtype=F64, depth=0.0):
    """``shape + [J, 3]`` human-sized random poses (±0.3 m per joint) with the root near the given depth."""
    x = rand(shape + (skel.num_joints, 3), seed, 0.3)
    x[..., 2] += depth
    return x.to(dtype)


def cameras(shape, seed, kind=9, dtype=F64):
    """``shape + [kind]`` pixel cameras within ±10 % of PIXEL_CAM, one per pose."""
    base = torch.tensor(PIXEL_CAM[:kind], dtype=F64)
    jitter = torch.rand(*shape, kind, generator=gen(seed), dtype=F64) * 0.2 + 0.9
    return (base * jitter).to(dtype)


def pipeline_inputs(shape, skel, seed, kind=9, dtype=F64):
    """PoseAug generator outputs for ``augment_pipeline``: joints, BA offsets, BL ratios, rotation, translation
    (root about 5 m in front of the camera), camera."""
    return [poses(shape, skel, seed), rand(shape + (skel.num_bones, 3), seed + 1, 0.3),
            rand(shape + (skel.num_groups,), seed + 2, 0.1), rand(shape + (3,), seed + 3, 1.0),
            rand(shape + (3,), seed + 4, 0.5) + torch.tensor([0.0, 0.0, 5.0], dtype=F64),
            cameras(shape, seed + 5, kind)]
