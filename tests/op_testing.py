"""Helpers shared by the op tests: pull the same cotangents through kernel and twin, and check the op contract."""
from __future__ import annotations

import torch

import posefast


def leaves(*tensors, dtype=torch.float64):
    return [t.detach().to(dtype).clone().requires_grad_(True) for t in tensors]


def compare_with_twin(fn, inputs, rtol=1e-9, atol=1e-9, seed=0):
    """Run ``fn`` with kernels on and off on the same inputs; compare outputs and the gradients of one random
    cotangent pulled back through each path. ``fn`` returns a tensor or a tuple of tensors."""
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


def assert_finite(*tensors):
    for t in tensors:
        assert torch.isfinite(t).all(), "non-finite values"
