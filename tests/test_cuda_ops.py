"""The CUDA kernels against the CPU kernels (issue 17), for the GPU check: every kernel op in float32 and float64,
forward and backward, on a non-default stream, on cuda:1 when there is one, with unused outputs (null cotangents),
plus the launch guards (a CPU pointer never reaches a kernel; POSEFAST_CUDA_SYNC=1 names a faulting op).

Marked ``cuda``: ``pytest -m cuda`` runs every GPU test; without a GPU or a CUDA build of posefast they skip.
Tolerances: the GPU runs the CPU's algorithm but fuses multiply-adds, rounds its math library differently and sums
part-KCS's backward in another order; the CPU build with the device branches and FMA (CI) differs from the plain CPU
build by at most 5e-7 (float32) / 1e-14 (float64) of each output's largest magnitude. Held here to 1e-5 / 1e-11.
"""
import os
import subprocess
import sys

import pytest
import torch

import posefast
from posefast import H36M16, H36M17
from posefast.ops._tables import table
from op_testing import cameras, pipeline_inputs, poses, rand

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
    pytest.mark.skipif(not posefast.build_info()["cuda"], reason="this posefast build has no CUDA backend"),
]

TOL = {torch.float32: 1e-5, torch.float64: 1e-11}
N = 257  # > 2 blocks of 128 threads, not a multiple of the block


def _inputs(dtype, skel=H36M17, n=N):
    x, d, r, rv, t, cam = (v.to(dtype) for v in pipeline_inputs((n,), skel, 7))
    return {
        "x": x, "d": d, "r": r, "rv": rv, "t": t, "cam": cam,
        "target": poses((n,), skel, 9, dtype=dtype),
        "bones": rand((n, skel.num_bones, 3), 10, 0.3, dtype),
        "tgt2d": posefast.project(poses((n,), skel, 8, depth=6.0, dtype=dtype), cameras((n,), 11, 4, dtype)),
        "pts": x + torch.tensor([0.0, 0.0, 5.0], dtype=dtype),
        "kp": torch.rand(n, 16, 2, generator=torch.Generator().manual_seed(12), dtype=torch.float64).to(dtype) * 64,
        "vis": torch.rand(n, 16, generator=torch.Generator().manual_seed(13)) > 0.2,
        "maps": rand((n, 16, 16, 12), 14, 1.0, dtype),
    }


#: name -> (function of the inputs dict and the skeleton, keys of its differentiable inputs)
OPS = {
    "bone_vectors": (lambda i, S: posefast.bone_vectors(i["x"], S), ["x"]),
    "forward_kinematics": (lambda i, S: posefast.forward_kinematics(i["bones"], S, i["t"]), ["bones", "t"]),
    "kcs": (lambda i, S: posefast.kcs(i["bones"]), ["bones"]),
    "part_kcs": (lambda i, S: posefast.part_kcs(i["x"], S), ["x"]),
    "part_kcs_raw": (lambda i, S: posefast.part_kcs(i["x"], S, normalize=False), ["x"]),
    "mpjpe": (lambda i, S: posefast.mpjpe(i["x"], i["target"], root=0), ["x", "target"]),
    "n_mpjpe": (lambda i, S: posefast.n_mpjpe(i["x"], i["target"]), ["x", "target"]),
    "p_mpjpe": (lambda i, S: posefast.p_mpjpe(i["x"], i["target"]), ["x", "target"]),
    "procrustes_align": (lambda i, S: posefast.procrustes_align(i["x"], i["target"]), ["x", "target"]),
    "rotvec_to_rotmat": (lambda i, S: posefast.rotvec_to_rotmat(i["rv"]), ["rv"]),
    "bone_angle_augment": (lambda i, S: posefast.bone_angle_augment(i["x"], i["d"], S), ["x", "d"]),
    "bone_length_augment": (lambda i, S: posefast.bone_length_augment(i["x"], i["r"], S), ["x", "r"]),
    "rigid_transform": (lambda i, S: posefast.rigid_transform(i["x"], i["rv"], i["t"]), ["x", "rv", "t"]),
    "project": (lambda i, S: posefast.project(i["pts"], i["cam"]), ["pts", "cam"]),
    "project_pinhole": (lambda i, S: posefast.project(i["pts"], i["cam"][..., :4]), ["pts", "cam"]),
    "global_position_align": (lambda i, S: posefast.global_position_align(i["x"], i["tgt2d"], i["cam"][..., :4]),
                              ["x", "tgt2d", "cam"]),
    "augment_pipeline": (lambda i, S: posefast.augment_pipeline(i["x"], i["d"], i["r"], i["rv"], i["t"], i["cam"], S),
                         ["x", "d", "r", "rv", "t", "cam"]),
    "render_heatmaps": (lambda i, S: posefast.render_heatmaps(i["kp"] / 4, i["vis"], (16, 12), 2.0), []),
    "decode_heatmaps": (lambda i, S: posefast.decode_heatmaps(i["maps"]), []),
}


def _close(actual, expected, dtype, what):
    """|a - e| <= tol * (|e| + max |e|): relative to each output's scale, as the tolerances above are measured."""
    tol = TOL[dtype]
    assert actual.device.type == "cpu" and actual.dtype == expected.dtype, what
    scale = expected.abs().max().item() if expected.numel() else 0.0
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol * max(scale, 1e-30), equal_nan=True,
                               msg=lambda m: f"{what}: {m}")


def _run(name, inputs, device, used=None, skel=H36M17):
    """Outputs and input gradients of op ``name`` on ``device``; ``used`` picks the outputs the loss sees."""
    fn, diff_keys = OPS[name]
    ins = {k: (v.to(device).requires_grad_(k in diff_keys) if v.is_floating_point() else v.to(device))
           for k, v in inputs.items()}
    out = fn(ins, skel)
    outs = out if isinstance(out, tuple) else (out,)
    grads = {}
    picked = [k for k, o in enumerate(outs) if o.requires_grad and (used is None or k in used)]
    if picked:
        gen = torch.Generator().manual_seed(1)
        cots = [torch.randn(outs[k].shape, generator=gen, dtype=outs[k].dtype).to(device) for k in picked]
        g = torch.autograd.grad([outs[k] for k in picked], [ins[k] for k in diff_keys], cots, allow_unused=True)
        grads = dict(zip(diff_keys, g))
    return [o.detach().cpu() for o in outs], {k: (v.cpu() if v is not None else None) for k, v in grads.items()}


def _compare(name, inputs, dtype, device="cuda", used=None, skel=H36M17):
    out_c, grad_c = _run(name, inputs, "cpu", used, skel)
    out_g, grad_g = _run(name, inputs, device, used, skel)
    assert len(out_c) == len(out_g)
    for k, (a, b) in enumerate(zip(out_g, out_c)):
        _close(a, b, dtype, f"{name} output {k} on {device}")
    assert grad_c.keys() == grad_g.keys()
    for k in grad_c:
        assert (grad_c[k] is None) == (grad_g[k] is None), f"{name} grad {k}"
        if grad_c[k] is not None:
            _close(grad_g[k], grad_c[k], dtype, f"{name} grad {k} on {device}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_cuda_matches_cpu_kernels(name, dtype):
    _compare(name, _inputs(dtype), dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_pose_errors_cuda_matches_cpu(dtype):
    i = _inputs(dtype)
    cpu = posefast.pose_errors(i["x"], i["target"])
    gpu = posefast.pose_errors(i["x"].cuda(), i["target"].cuda())
    for key in ("mpjpe", "p_mpjpe", "joint_errors", "per_joint"):
        _close(getattr(gpu, key).cpu(), getattr(cpu, key), dtype, f"pose_errors {key}")
    # a joint error within rounding of a threshold may count on one side only: one joint per threshold in float32
    one_joint = 100.0 / i["x"].shape[:-1].numel() if dtype == torch.float32 else 1e-9
    torch.testing.assert_close(gpu.pck_curve.cpu(), cpu.pck_curve, rtol=0, atol=one_joint * 1.001)


@pytest.mark.parametrize("used", [(3,), (4,), (0, 4), (1, 2)], ids=["uv", "cos", "ba+cos", "bl+rt"])
def test_pipeline_with_unused_outputs(used):
    """Only some outputs in the loss: the others' cotangents reach the kernel as null pointers."""
    _compare("augment_pipeline", _inputs(torch.float64), torch.float64, used=used)


@pytest.mark.parametrize("used", [(0,), (1,)], ids=["joints", "cos"])
def test_bone_angle_with_an_unused_output(used):
    _compare("bone_angle_augment", _inputs(torch.float64), torch.float64, used=used)


def test_procrustes_with_only_the_scale_used():
    _compare("procrustes_align", _inputs(torch.float64), torch.float64, used=(1,))


@pytest.mark.parametrize("name", ["part_kcs", "augment_pipeline", "p_mpjpe"])
def test_kernels_run_on_the_current_non_default_stream(name):
    """The input is written on stream s behind a long sleep: a kernel launched anywhere but s reads stale zeros."""
    inputs = _inputs(torch.float32)
    expected, expected_grads = _run(name, inputs, "cpu")
    fn, diff_keys = OPS[name]
    s = torch.cuda.Stream()
    dev = {k: torch.zeros_like(v, device="cuda") for k, v in inputs.items()}
    host = {k: v.pin_memory() for k, v in inputs.items()}
    torch.cuda.synchronize()  # the zeros are written before s starts
    with torch.cuda.stream(s):
        torch.cuda._sleep(200_000_000)  # ~0.1 s of GPU time before the copies
        for k in dev:
            dev[k].copy_(host[k], non_blocking=True)
        ins = {k: (v.requires_grad_(k in diff_keys) if v.is_floating_point() else v) for k, v in dev.items()}
        out = fn(ins, H36M17)
        outs = out if isinstance(out, tuple) else (out,)
        gen = torch.Generator().manual_seed(1)
        cots = [torch.randn(o.shape, generator=gen, dtype=o.dtype).to("cuda") for o in outs if o.requires_grad]
        grads = torch.autograd.grad([o for o in outs if o.requires_grad], [ins[k] for k in diff_keys], cots)
    s.synchronize()
    for k, (a, b) in enumerate(zip(outs, expected)):
        _close(a.detach().cpu(), b, torch.float32, f"{name} output {k} on a side stream")
    for k, g in zip(diff_keys, grads):
        _close(g.cpu(), expected_grads[k], torch.float32, f"{name} grad {k} on a side stream")


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="one GPU: cuda:1 needs two")
@pytest.mark.parametrize("name", ["part_kcs_raw", "augment_pipeline", "procrustes_align", "forward_kinematics"])
def test_tensors_on_the_second_gpu(name):
    before = torch.cuda.current_device()
    _compare(name, _inputs(torch.float64), torch.float64, device="cuda:1")
    assert torch.cuda.current_device() == before  # launch switches device only for the call


def test_a_cpu_pointer_never_reaches_a_cuda_kernel():
    from posefast._ext import launch

    x = torch.randn(4, 17, 3, device="cuda")
    bones = torch.empty(4, 16, 3, device="cuda")
    parents = table(H36M17, "parents", torch.device("cpu"))
    with pytest.raises(ValueError, match=r"kernel argument parents is a tensor on cpu, but the kernel runs on cuda:0"):
        launch("bone_vectors_forward", x, joints=x, parents=parents, bones=bones, N=4, J=17)
    torch.cuda.synchronize()  # the context is still usable
    torch.testing.assert_close(posefast.bone_vectors(x, H36M17).cpu(), posefast.bone_vectors(x.cpu(), H36M17))


def test_driver_check_passes_and_build_info_names_the_runtime():
    info = posefast.build_info()
    assert info["cuda_runtime"] and info["cuda_min_driver"]
    from posefast import _ext
    assert _ext.cuda_driver_problem(_ext._C.cuda_driver_version(), info["cuda_runtime"], torch.version.cuda) is None


def test_cuda_sync_reports_a_fault_at_the_op_that_caused_it():
    """A kernel reading far out of bounds (a corrupt parents table, passed to the raw op) faults; with
    POSEFAST_CUDA_SYNC=1 the error is raised by that op's own call, naming it. In a subprocess: the fault ends the
    CUDA context."""
    code = """
import torch, posefast
x = torch.randn(64, 17, 3, device="cuda")
parents = torch.full((17,), 1 << 40, dtype=torch.int64, device="cuda")
try:
    torch.ops.posefast.bone_vectors(x, parents)
except RuntimeError as exc:
    print("RAISED:", exc)
else:
    print("NOT RAISED")
"""
    env = {**os.environ, "POSEFAST_CUDA_SYNC": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                         cwd=os.path.dirname(__file__))
    assert "RAISED: posefast.bone_vectors_forward:" in out.stdout, out.stdout + out.stderr
    assert "POSEFAST_CUDA_SYNC=1" in out.stdout


@pytest.mark.parametrize("skel", [H36M16, H36M17], ids=lambda s: s.name)
@pytest.mark.parametrize("n", [0, 1])
def test_small_and_empty_batches(skel, n):
    for name in ("part_kcs", "augment_pipeline", "bone_angle_augment"):
        _compare(name, _inputs(torch.float64, skel, n), torch.float64, skel=skel)
