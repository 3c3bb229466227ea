"""What the benchmarks time: the inputs, the implementations compared for each op, and the timed callables.

Inputs come from the op tests' own builders (``tests/op_testing.py``: human-sized poses of ±0.3 m per joint,
cameras near a Human3.6M camera, PoseAug pipeline inputs), so the inputs timed here are the inputs those tests
check. Training-time ops (skeleton, transforms) use PoseAug's 16-joint layout (``H36M16``, the
default ``TrainConfig.skeleton``); metrics use the 17-joint evaluation layout (``H36M17``); 2D ops use 16 keypoints
on 64x64 heatmaps.

Implementations compared in each group (see ``bench/NOTES.md`` for why these):

* ``posefast``: the public op (argument checks included) on the compiled kernels;
* ``eager``: its ``posefast.reference`` twin called directly with the arguments the public op would pass it under
  ``use_kernels(False)`` (no argument checks, so the twin is never charged for them);
* ``compile``: that same twin call under ``torch.compile`` (inductor, static shapes, compiled before timing);
* ``numpy`` (P-MPJPE only): VideoPose3D's formula (Pavllo et al., CVPR 2019, ``common/loss.py``) written here with
  a batched ``np.linalg.svd``;
* ``torch-svd`` (P-MPJPE only): the same formula in torch with ``torch.linalg.svd`` and its autograd;
* ``full-eager`` / ``full-compile`` (compact part-KCS only): the full-layout twin ``[N, P, B, B]`` and the gather of
  the compact entries from it, eagerly and under torch.compile: how the compact features were obtained before;
* ``floor``: no computation, only the memory traffic any implementation has: every input read once per pass
  (``sum``), every output (and, for fwd+bwd, every cotangent read and every gradient) allocated and written once
  (``empty(...).fill_(0)``), with torch's own vectorised loops on the same threads. A kernel at the floor cannot be
  beaten by a better loop; a tie with torch.compile there is a tie at the floor.
"""
from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the op tests' workload builders
from op_testing import F64, cameras, gen, pipeline_inputs, poses, rand  # noqa: E402


# ---- run configuration (environment switches, read once) ------------------------------------------------------
def _env_ints(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        values = tuple(int(float(v)) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{name}: expected comma-separated positive counts, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise ValueError(f"{name}: expected comma-separated positive counts, got {text!r}")
    return values


FULL = os.environ.get("POSEFAST_BENCH_FULL", "0") == "1"
#: poses per batch for the 3D ops; the default run is one mid-size point, the full sweep training batch sizes
#: (256, 1024: the per-call overhead against the eager twin) and the evaluation sizes of the spec (1e4, 1e5)
POSE_COUNTS = _env_ints("POSEFAST_BENCH_SIZES", (256, 1_024, 10_000, 100_000) if FULL else (10_000,))
#: torch.compile rows from this many poses on (the compile goals are at 1e4-1e5; each size is a fresh compile)
COMPILE_MIN_POSES = _env_ints("POSEFAST_BENCH_COMPILE_MIN_POSES", (10_000,))[0]
#: images per batch for the 2D ops (16 keypoints, 64x64 heatmaps): a training batch, and an evaluation batch
IMAGE_BATCHES = _env_ints("POSEFAST_BENCH_IMAGES", (32, 256) if FULL else (32,))
#: intra-op threads for torch and for posefast's OpenMP loops (1: ratios compare single-core work)
THREADS = _env_ints("POSEFAST_BENCH_THREADS", (1,))[0]
#: torch.compile rows (0 skips them: compiling dominates the wall time of a first run)
COMPILE = os.environ.get("POSEFAST_BENCH_COMPILE", "1") != "0"
#: the size of the peak-memory comparison (spec: 1e5 poses)
MEMORY_POSES = _env_ints("POSEFAST_BENCH_MEMORY_POSES", (100_000,))[0]

DTYPE = torch.float32
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
MODES = ("fwd", "fwd+bwd")
HEATMAP_SIZE = (64, 64)
NUM_KEYPOINTS = 16
SIGMA = 2.0  # heatmap Gaussian std in pixels (multilevel default, RegDA/UDAPE at 64x64)


def require_extension():
    """Import posefast or skip the calling bench module: nothing can be timed without the compiled kernels."""
    try:
        import posefast
    except ImportError as exc:
        pytest.skip(f"posefast's compiled extension is not importable ({exc}); build it first",
                    allow_module_level=True)
    return posefast


def require_device(device: str) -> None:
    import posefast

    if device == "cuda" and not posefast.build_info()["cuda"]:
        pytest.skip("this posefast build has no CUDA backend: no GPU numbers without GPU kernels")


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


# ---- inputs (the op tests' distributions) ------------------------------------------------------------------------
IMAGE_W, IMAGE_H = 1000, 1002  # PIXEL_CAM's image


# ---- P-MPJPE alternatives written for the comparison ------------------------------------------------------------
def numpy_p_mpjpe(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """VideoPose3D's P-MPJPE formula, batched numpy: ``[N, J, 3] x2 -> [N]`` per-pose error after the similarity
    fit of ``pred`` onto ``target`` (reflections excluded by flipping the last singular direction)."""
    mu_t, mu_p = target.mean(1, keepdims=True), pred.mean(1, keepdims=True)
    t0, p0 = target - mu_t, pred - mu_p
    norm_t = np.sqrt((t0 ** 2).sum(axis=(1, 2), keepdims=True))
    norm_p = np.sqrt((p0 ** 2).sum(axis=(1, 2), keepdims=True))
    t0, p0 = t0 / norm_t, p0 / norm_p
    u, s, vt = np.linalg.svd(np.matmul(t0.transpose(0, 2, 1), p0))
    v = vt.transpose(0, 2, 1)
    sign = np.sign(np.linalg.det(np.matmul(v, u.transpose(0, 2, 1))))
    v[:, :, -1] *= sign[:, None]
    s[:, -1] *= sign
    rot = np.matmul(v, u.transpose(0, 2, 1))
    scale = s.sum(1)[:, None, None] * norm_t / norm_p
    aligned = scale * np.matmul(pred, rot) + (mu_t - scale * np.matmul(mu_p, rot))
    return np.linalg.norm(aligned - target, axis=-1).mean(-1)


def torch_svd_p_mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The same formula in torch (``torch.linalg.svd``; gradients by torch's SVD backward): ``[..., J, 3] -> [...]``."""
    mu_t, mu_p = target.mean(-2, keepdim=True), pred.mean(-2, keepdim=True)
    t0, p0 = target - mu_t, pred - mu_p
    norm_t = t0.square().sum((-1, -2), keepdim=True).sqrt()
    norm_p = p0.square().sum((-1, -2), keepdim=True).sqrt()
    t0, p0 = t0 / norm_t, p0 / norm_p
    u, s, vt = torch.linalg.svd(t0.transpose(-1, -2) @ p0)
    v = vt.transpose(-1, -2)
    sign = torch.sign(torch.linalg.det(v @ u.transpose(-1, -2)))
    flip = torch.stack([torch.ones_like(sign), torch.ones_like(sign), sign], dim=-1)  # [..., 3]
    v, s = v * flip[..., None, :], s * flip
    rot = v @ u.transpose(-1, -2)
    scale = s.sum(-1)[..., None, None] * norm_t / norm_p
    aligned = scale * (pred @ rot) + (mu_t - scale * (mu_p @ rot))
    return torch.linalg.vector_norm(aligned - target, dim=-1).mean(-1)


# ---- the ops and their implementations ---------------------------------------------------------------------------
@dataclass(frozen=True)
class OpCase:
    """One benchmarked op.

    ``inputs(n, device)`` builds the float32 tensors (``n`` poses or images); ``kernel`` and ``twin`` take them
    positionally; ``grad_inputs`` are the indices of the inputs a backward pass differentiates (None: the op is
    forward-only, e.g. evaluation metrics and heatmap targets); ``extra`` maps further implementation names to
    ``(fn, backend)`` with backend "torch" or "numpy" (numpy receives the inputs as arrays, forward only)."""

    family: str
    name: str
    inputs: Callable[[int, str], list]
    kernel: Callable
    twin: Callable
    grad_inputs: Optional[tuple[int, ...]]
    unit: str = "poses"
    extra: tuple = ()
    compared: Optional[Callable] = None  # output -> the tensors checked against posefast's (default: all)

    def implementations(self, mode: str) -> list[str]:
        names = ["posefast", "eager", "compile"]
        for name, (_, backend) in self.extra:
            if mode == "fwd" or backend in ("torch", "compile"):
                names.append(name)
        return names + ["floor"]

    def modes(self) -> tuple[str, ...]:
        return MODES if self.grad_inputs is not None else ("fwd",)

    def extra_fn(self, name: str):
        return dict(self.extra)[name]


@functools.lru_cache(maxsize=6)
def _cached(builder: Callable, n: int, device: str) -> tuple:
    return tuple(t.to(device) for t in builder(n))


def _cache_inputs(builder: Callable) -> Callable[[int, str], list]:
    return lambda n, device: list(_cached(builder, n, device))


def _cases() -> dict[str, OpCase]:
    import posefast
    from posefast import H36M16, H36M17
    from posefast import reference as ref
    from posefast.ops import DEFAULT_EPS, DEFAULT_MIN_DEPTH, DEFAULT_MIN_SCALE

    train, evals = H36M16, H36M17
    f32 = DTYPE

    def skel_joints(n):
        return [poses((n,), train, 0, f32)]

    def skel_bones(n):
        x = poses((n,), train, 0)
        return [torch.stack([x[:, c] - x[:, p] for p, c in train.bones], 1).to(f32), x[:, 0].to(f32)]

    def pipeline(n):
        a = pipeline_inputs((n,), train, 0, 9)
        a[5] = posefast.normalize_camera(a[5], IMAGE_W, IMAGE_H)  # PoseAug projects to normalised screen
        return [t.to(f32) for t in a]

    def gpa(n):  # PoseDA: source poses, paired target 2D in pixels, that target's pinhole camera
        cam = cameras((n,), 13, kind=4)
        target = posefast.project(poses((n,), train, 14) + rand((n, 1, 3), 15, 1.0)
                                  + torch.tensor([0.0, 0.0, 6.0], dtype=F64), cam)
        return [poses((n,), train, 16, f32, depth=3.0), target.to(f32), cam.to(f32)]

    def projection(n):
        return [poses((n,), train, 11, f32, depth=5.0), cameras((n,), 12, 9, f32)]

    def metric_pair(n):  # a prediction 5 cm per coordinate off a target
        target = poses((n,), evals, 21)
        return [(target + rand(target.shape, 22, 0.05)).to(f32), target.to(f32)]

    def keypoints(n):
        g = gen(31)
        kp = torch.rand(n, NUM_KEYPOINTS, 2, generator=g) * (HEATMAP_SIZE[1] - 1)
        return [kp.to(f32), torch.rand(n, NUM_KEYPOINTS, generator=g) < 0.9]

    def heatmaps(n):  # network-like maps: Gaussians at the keypoints plus noise
        kp, vis = keypoints(n)
        maps = ref.render_heatmaps(kp, torch.ones_like(vis), HEATMAP_SIZE, SIGMA)
        return [(maps + 0.05 * torch.rand(maps.shape, generator=gen(32))).to(f32)]

    def pck_inputs(n):
        kp, vis = keypoints(n)
        return [kp + 2.0 * torch.randn(kp.shape, generator=gen(33)), kp, vis]

    thresholds = torch.tensor(posefast.PCK_THRESHOLDS_MM, dtype=f32)
    all_joints = torch.arange(evals.num_joints)

    compact_pairs = torch.tensor(train.compact_kcs_pairs)
    compact_valid = compact_pairs[..., 0] >= 0

    def full_then_gather(j):  # the full-layout twin, then the compact entries gathered from it (zero padding)
        full = ref.part_kcs(j, train, True, DEFAULT_EPS)
        pairs, valid = compact_pairs.to(j.device), compact_valid.to(j.device)
        parts = torch.arange(train.num_parts, device=j.device)[:, None]
        picked = full[..., parts, pairs[..., 0].clamp_min(0), pairs[..., 1].clamp_min(0)]
        return torch.where(valid, picked, torch.zeros_like(picked))

    def pose_errors_twin(pred, target):
        return ref.pose_errors_per_pose(pred, target, all_joints.to(pred.device), thresholds.to(pred.device), 0,
                                        1000.0)

    cases = [
        OpCase("skeleton", "bone_vectors", _cache_inputs(skel_joints), lambda j: posefast.bone_vectors(j, train),
               lambda j: ref.bone_vectors(j, train), (0,)),
        OpCase("skeleton", "forward_kinematics", _cache_inputs(skel_bones),
               lambda b, r: posefast.forward_kinematics(b, train, r), lambda b, r: ref.forward_kinematics(b, train, r),
               (0, 1)),
        OpCase("skeleton", "part_kcs", _cache_inputs(skel_joints), lambda j: posefast.part_kcs(j, train),
               lambda j: ref.part_kcs(j, train, True, DEFAULT_EPS), (0,)),
        OpCase("skeleton", "part_kcs_compact", _cache_inputs(skel_joints), lambda j: posefast.part_kcs_compact(j, train),
               lambda j: ref.part_kcs_compact(j, train, True, DEFAULT_EPS), (0,),
               extra=(("full-eager", (full_then_gather, "torch")), ("full-compile", (full_then_gather, "compile")))),
        OpCase("transforms", "augment_pipeline", _cache_inputs(pipeline),
               lambda *a: posefast.augment_pipeline(*a, train),
               lambda *a: ref.augment_pipeline(*a, train, None, DEFAULT_EPS, DEFAULT_MIN_DEPTH), (0, 1, 2, 3, 4, 5)),
        OpCase("transforms", "global_position_align", _cache_inputs(gpa),
               lambda x, t, c: posefast.global_position_align(x, t, c, depth_range=(1.0, 20.0)),
               lambda x, t, c: ref.global_position_align(x, t, c, (1.0, 20.0), DEFAULT_MIN_SCALE), (0, 1, 2)),
        OpCase("transforms", "project", _cache_inputs(projection), posefast.project,
               lambda p, c: ref.project(p, c, DEFAULT_MIN_DEPTH), (0, 1)),
        OpCase("metrics", "mpjpe", _cache_inputs(metric_pair), posefast.mpjpe, lambda p, t: ref.mpjpe(p, t, None),
               (0, 1)),
        OpCase("metrics", "p_mpjpe", _cache_inputs(metric_pair), posefast.p_mpjpe, ref.p_mpjpe, (0, 1),
               extra=(("numpy", (numpy_p_mpjpe, "numpy")), ("torch-svd", (torch_svd_p_mpjpe, "torch")))),
        # the public op (checks, the fused per-pose pass, then batch aggregation and two host syncs) against the
        # twin of its per-pose pass alone: the ratio understates the kernel's advantage
        OpCase("metrics", "pose_errors", _cache_inputs(metric_pair), posefast.pose_errors, pose_errors_twin, None,
               compared=_per_pose_errors),
        OpCase("heatmap", "render_heatmaps", _cache_inputs(keypoints),
               lambda k, v: posefast.render_heatmaps(k, v, HEATMAP_SIZE, SIGMA),
               lambda k, v: ref.render_heatmaps(k, v, HEATMAP_SIZE, SIGMA, None), None, "images"),
        OpCase("heatmap", "decode_heatmaps", _cache_inputs(heatmaps), posefast.decode_heatmaps, ref.decode_heatmaps,
               None, "images"),
        # pck_2d has no kernel by design (plain torch in both places, see posefast/ops/heatmap.py): the posefast row
        # is the twin plus the public op's checks
        OpCase("heatmap", "pck_2d", _cache_inputs(pck_inputs),
               lambda p, t, v: posefast.pck_2d(p, t, v, float(HEATMAP_SIZE[0]), 0.05),
               lambda p, t, v: ref.pck_2d(p, t, v, float(HEATMAP_SIZE[0]), 0.05), None, "images"),
    ]
    return {c.name: c for c in cases}


@functools.lru_cache(maxsize=None)
def cases() -> dict[str, OpCase]:
    return _cases()


def case_params(family: str) -> list:
    """``pytest.param(op, impl, mode, n)`` for every benchmark of one family (ids ``op-impl-mode-n``); the calling
    module has already required the extension."""
    out = []
    for case in cases().values():
        if case.family != family:
            continue
        counts = IMAGE_BATCHES if case.unit == "images" else POSE_COUNTS
        for mode in case.modes():
            for impl in case.implementations(mode):
                compiled = impl == "compile" or dict(case.extra).get(impl, (None, None))[1] == "compile"
                for n in counts:
                    if compiled and case.unit == "poses" and n < COMPILE_MIN_POSES:
                        continue
                    out.append(pytest.param(case.name, impl, mode, n, id=f"{case.name}-{impl}-{mode}-{n}"))
    return out


# ---- timed callables ---------------------------------------------------------------------------------------------
def _as_tuple(out) -> tuple:
    return out if isinstance(out, tuple) else (out,)  # pose_errors' PoseErrors is a tuple of tensors too


def _per_pose_errors(out) -> tuple:
    """mpjpe, p_mpjpe and joint errors (mm), from the public op's PoseErrors or the twin's per-pose tuple."""
    return (out.mpjpe, out.p_mpjpe, out.joint_errors) if hasattr(out, "joint_errors") else tuple(out[:3])


def _compiled(fn: Callable) -> Callable:
    return torch.compile(fn, dynamic=False)


def _impl_fn(case: OpCase, impl: str) -> tuple[Callable, str]:
    if impl == "posefast":
        return case.kernel, "torch"
    if impl == "eager":
        return case.twin, "torch"
    if impl == "compile":
        return _compiled(case.twin), "torch"
    fn, backend = case.extra_fn(impl)
    return (_compiled(fn), "torch") if backend == "compile" else (fn, backend)


def make_runner(case: OpCase, impl: str, mode: str, n: int, device: str) -> tuple[Callable, Callable]:
    """``(run, result)``: ``run()`` is what is timed (one forward, or forward + backward of fixed random
    cotangents through every output into every ``grad_inputs`` tensor); ``result()`` runs it once more and returns
    ``(outputs, gradients)`` as float64 CPU tensors for the correctness check."""
    if impl == "floor":
        return _floor_runner(case, mode, n, device)
    fn, backend = _impl_fn(case, impl)
    inputs = case.inputs(n, device)
    if backend == "numpy":
        if device != "cpu":
            pytest.skip("the numpy reference runs on the CPU only")
        arrays = [t.numpy() for t in inputs]

        def run():
            return fn(*arrays)

        def result():
            return [torch.from_numpy(np.asarray(run())).double()], []

        return run, result

    if mode == "fwd":
        def run():
            out = fn(*inputs)
            sync(device)
            return out

        def result():
            out = run()
            outs = case.compared(out) if case.compared else _as_tuple(out)
            return [o.detach().double().cpu() for o in outs], []

        return run, result

    leaves = [t.detach().clone().requires_grad_(i in case.grad_inputs) for i, t in enumerate(inputs)]
    diff = [leaves[i] for i in case.grad_inputs]
    shapes = [o.shape for o in _as_tuple(case.kernel(*[t.detach() for t in inputs]))]
    cots = [rand(s, 100 + i).to(device=device, dtype=DTYPE) for i, s in enumerate(shapes)]

    def run():
        outs = _as_tuple(fn(*leaves))
        grads = torch.autograd.grad(outs, diff, cots)
        sync(device)
        return outs, grads

    def result():
        outs, grads = run()
        return [o.detach().double().cpu() for o in outs], [g.double().cpu() for g in grads]

    return run, result


def _floor_runner(case: OpCase, mode: str, n: int, device: str) -> tuple[Callable, Callable]:
    """The memory-traffic floor of one op (see the module docstring): shapes from posefast's own outputs."""
    inputs = case.inputs(n, device)
    out_shapes = [o.shape for o in _as_tuple(case.kernel(*inputs))]
    passes = 1 if mode == "fwd" else 2  # a backward pass reads the inputs (or what it saved of them) again
    grad_shapes = [] if mode == "fwd" else [inputs[i].shape for i in case.grad_inputs]
    cots = [] if mode == "fwd" else [rand(s, 100 + i).to(device=device, dtype=DTYPE) for i, s in enumerate(out_shapes)]

    def run():
        for _ in range(passes):
            for t in inputs:
                t.sum()
        for c in cots:
            c.sum()
        written = [torch.empty(s, dtype=DTYPE, device=device).fill_(0) for s in out_shapes + grad_shapes]
        sync(device)
        return written

    return run, lambda: ([], [])


def check_against_kernel(case: OpCase, impl: str, got, expected) -> None:
    """The implementations must compute the same thing (float32: agreement to 1e-3 of each tensor's scale)."""
    for kind, a_list, b_list in (("output", got[0], expected[0]), ("gradient", got[1], expected[1])):
        if len(a_list) != len(b_list):
            raise AssertionError(f"{case.name}/{impl}: {len(a_list)} {kind}s, posefast gives {len(b_list)}")
        for i, (a, b) in enumerate(zip(a_list, b_list)):
            scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
            err = float((a - b).abs().max()) if b.numel() else 0.0
            if a.shape != b.shape or not err <= 1e-3 * scale:
                raise AssertionError(f"{case.name}/{impl}: {kind} {i} differs from posefast's "
                                     f"(shape {tuple(a.shape)} vs {tuple(b.shape)}, max |diff| {err:.3g}, "
                                     f"scale {scale:.3g})")


def group_name(family: str, name: str, mode: str, n: int, unit: str, device: str) -> str:
    return f"{family}/{name}/{mode}/{n} {unit}/{device}"


def bench_op(benchmark, op: str, impl: str, mode: str, n: int, device: str) -> None:
    """Time one implementation of one op: warm up (compiling first for ``compile``), check its result against
    posefast's on the same inputs, then hand the timed callable to pytest-benchmark."""
    require_device(device)
    case = cases()[op]
    if (impl == "compile" or dict(case.extra).get(impl, (None, None))[1] == "compile") and not COMPILE:
        pytest.skip("POSEFAST_BENCH_COMPILE=0")
    run, result = make_runner(case, impl, mode, n, device)
    got = result()  # the first call compiles (compile time is not timed)
    run()
    if impl not in ("posefast", "floor"):
        check_against_kernel(case, impl, got, make_runner(case, "posefast", mode, n, device)[1]())
    benchmark.group = group_name(case.family, case.name, mode, n, case.unit, device)
    benchmark.extra_info.update(family=case.family, op=case.name, impl=impl, mode=mode, n=n, unit=case.unit,
                                device=device, dtype=str(DTYPE).replace("torch.", ""), threads=THREADS,
                                load_1min=round(os.getloadavg()[0], 2))
    benchmark(run)
