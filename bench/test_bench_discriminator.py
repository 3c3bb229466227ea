"""PoseAug's 3D discriminator input step, KCS + first layer, forward and backward, per batch of poses.

* ``posefast``: ``part_kcs_compact`` (the distinct entries, [N, 5, 28]) into the compact first layer (what
  ``posefast.methods.poseaug`` runs);
* ``previous``: the full ``part_kcs`` kernel ([N, 5, 15, 15]) gathered by the compact discriminator (this
  repository before the compact op);
* ``poseaug`` / ``poseaug-compile``: PoseAug's own code path, the full KCS matrices computed in torch (the eager
  twin) into a first layer on all 225 entries per part, eagerly and under torch.compile.

All paths compute the same layer output (the compact weights are mapped from the full ones with
``PartKCSDiscriminator.from_full``), checked before timing. Timed: the forward and the gradients of a fixed random
cotangent with respect to the joints and the layer's weight and bias (a discriminator step's share of them).
"""
import os

import pytest
import torch

from workloads import COMPILE, DEVICES, DTYPE, FULL, THREADS, poses, rand, require_device, require_extension, sync

posefast = require_extension()
BATCHES = tuple(int(v) for v in os.environ.get("POSEFAST_BENCH_DISC_BATCHES", "256,1024" if FULL else "256").split(","))
IMPLS = ("posefast", "previous", "poseaug", "poseaug-compile")


def _paths(device: str):
    from posefast import H36M16
    from posefast import reference as ref
    from posefast.models import PartKCSDiscriminator

    torch.manual_seed(0)
    full = PartKCSDiscriminator.from_skeleton(H36M16).to(device=device, dtype=DTYPE)
    compact = PartKCSDiscriminator.from_full(full, H36M16.part_masks).to(device=device, dtype=DTYPE)

    def gather_first(d, psi):  # the compact discriminator's input handling and first layer
        x = psi.flatten(-2)
        x = torch.cat([x, x.new_zeros(*x.shape[:-1], 1)], dim=-1)[..., d.part_arange, d.gather_index]
        return d.first(x)

    paths = {
        "posefast": (lambda j: compact.first(posefast.part_kcs_compact(j, H36M16)), compact.first),
        "previous": (lambda j: gather_first(compact, posefast.part_kcs(j, H36M16)), compact.first),
        "poseaug": (lambda j: full.first(ref.part_kcs(j, H36M16, True, 1e-6).flatten(-2)), full.first),
    }
    paths["poseaug-compile"] = (torch.compile(paths["poseaug"][0], dynamic=False), full.first)
    return paths


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", BATCHES)
@pytest.mark.parametrize("impl", IMPLS)
def test_discriminator_step(benchmark, impl, n, device):
    require_device(device)
    if impl.endswith("compile") and not COMPILE:
        pytest.skip("POSEFAST_BENCH_COMPILE=0")
    from posefast import H36M16

    paths = _paths(device)
    fn, layer = paths[impl]
    joints = poses((n,), H36M16, 0).to(device=device, dtype=DTYPE).requires_grad_(True)
    params = [layer.weight, layer.bias]
    cot = rand((n, 5, 256), 1).to(device=device, dtype=DTYPE)

    def run():
        out = fn(joints)
        grads = torch.autograd.grad(out, [joints, *params], cot)
        sync(device)
        return out, grads

    out, grads = run()  # compiles the compiled path
    ref_out, ref_grads = paths["posefast"][0](joints), None
    ref_grads = torch.autograd.grad(ref_out, [joints], cot)
    scale = max(1.0, float(ref_out.abs().max()))
    assert float((out - ref_out).abs().max()) <= 1e-3 * scale, f"{impl}: layer output differs from posefast's"
    gscale = max(1.0, float(ref_grads[0].abs().max()))
    assert float((grads[0] - ref_grads[0]).abs().max()) <= 1e-3 * gscale, f"{impl}: joint gradient differs"
    run()
    benchmark.group = f"disc/kcs+first-layer/fwd+bwd/{n} poses/{device}"
    benchmark.extra_info.update(family="disc", op="kcs+first_layer", impl=impl, mode="fwd+bwd", n=n, unit="poses",
                                device=device, threads=THREADS, load_1min=round(os.getloadavg()[0], 2))
    benchmark(run)
