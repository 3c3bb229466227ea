"""One training step of PoseAug, PoseDA and multilevel under ``torch.profiler``, at fp32 and bf16: where a step's
time goes (issue 27; the breakdown is in bench/NOTES.md, "Mixed precision").

    PYTHONPATH=. python bench/profile_step.py [--threads 1] [--steps 3] [--adam-variants]

The methods are built as bench/test_bench_training.py builds them (the jobs' default settings; PoseAug two steps, one
with the discriminator update; PoseDA's LPA pass of 8 steps and one lifter step; multilevel one ``adapt_step`` at
batch 32). Each is warmed up, then ``--steps`` calls are profiled; the table gives per call: the wall time, the
self time of torch's ops by kind (matrix products and convolutions forward and backward; normalisation; dtype casts;
everything else), the posefast ops (each call wrapped in a ``record_function`` named after the op, here only) and the
optimiser steps (torch's ``Optimizer.step#``/``zero_grad#`` ranges) with every op inside them, so the kinds add up
to the time inside ops, how many ``.item()``/``.tolist()``-style host reads
(``aten::_local_scalar_dense``) a call makes (in brackets those inside Adam's step: torch reads each parameter's step
count, a CPU tensor, back as a Python float — twice in the foreach update — which is no device synchronisation even
on a GPU), and the Python time outside any op (wall minus the ops' self time).

``--adam-variants`` also checks, per method, whether Adam's ``foreach`` update (what the methods use:
:func:`posefast.engine.optim.adam`) and its ``fused`` one keep the step's bits (same parameters after the call as
torch's single-tensor update, its CPU default) and times the optimiser share with each.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_bench_training as tb  # noqa: E402  (the benchmarks' own method builders)

from posefast.engine.precision import FP32, resolve_precision  # noqa: E402
from posefast.ops import _kernel_op  # noqa: E402

MATRIX = ("addmm", "mm", "bmm", "matmul", "linear", "conv", "baddbmm")
NORM = ("batch_norm", "instance_norm", "layer_norm", "group_norm")
CASTS = ("aten::to", "aten::_to_copy", "aten::copy_")


def _label_kernel_ops():
    """Wrap every posefast op call in a record_function range named after it (profiling only)."""
    real = _kernel_op.KernelOp.__call__

    def call(self, *args):
        with record_function(self.name):
            return real(self, *args)

    _kernel_op.KernelOp.__call__ = call


def _builders(device: str):
    def poseaug():
        cfg, method = tb._lifting("poseaug", device, **{"poseaug.warmup_epochs": 0})
        split = method.train_split(1)
        bs = cfg.batch_size

        def run():
            for i in range(2):
                method.train_step({k: v[i * bs:(i + 1) * bs] for k, v in split.items()}, 1, i)
        return run, tb._lifting_state(method), method.optimizers()

    def poseda():
        cfg, method = tb._lifting("poseda", device, **{"poseda.lpa_epochs": 1, "poseda.lpa_batch_size": 256})
        method.begin_epoch(0)
        split = method.train_split(0)

        def run():
            method.train_lpa()
            method.train_step({k: v[:cfg.batch_size] for k, v in split.items()}, 0, 0)
        return run, tb._lifting_state(method), method.optimizers()

    def multilevel():
        _, build = tb._multilevel_step_workload(device)  # the bench entries' workload, one step of it
        step, state = build()
        stage = state.objects["stage"]
        optimizers = {k: v for k, v in vars(stage).items() if isinstance(v, torch.optim.Optimizer)}
        return step, state, optimizers

    return {"poseaug (2 steps)": poseaug, "poseda (LPA pass + lifter step)": poseda, "multilevel (1 step)": multilevel}


def _kind(event) -> str:
    """Where an event's self time goes: inside a posefast op or an optimiser step, else by the op's own name."""
    parent = event
    while parent is not None:
        if parent.name.startswith("posefast::"):
            return "posefast"
        if parent.name.startswith("Optimizer.step#") or parent.name.startswith("Optimizer.zero_grad#"):
            return "optimizer"
        parent = parent.cpu_parent
    base = event.name[len("aten::"):] if event.name.startswith("aten::") else ""
    if any(k in base for k in MATRIX):
        return "matrix"
    if any(k in base for k in NORM):
        return "norm"
    if event.name in CASTS:
        return "casts"
    return "other"


def _breakdown(prof, calls: int, wall: float) -> dict:
    """Per call: each event's self time under :func:`_kind` (so the kinds add up to the time inside ops), the
    Python time outside every op, and the host reads."""
    out = dict(matrix=0.0, norm=0.0, casts=0.0, other=0.0, posefast=0.0, optimizer=0.0)
    reads = reads_opt = 0
    for e in prof.events():
        kind = _kind(e)
        out[kind] += e.self_cpu_time_total / 1e6
        if e.name == "aten::_local_scalar_dense":
            reads += 1
            reads_opt += kind == "optimizer"
    inside = sum(out.values())
    out = {k: v / calls for k, v in out.items()}
    out.update(wall=wall / calls, python=(wall - inside) / calls, reads=reads // calls, reads_opt=reads_opt // calls)
    return out


def _profile(run, state, precision, steps: int) -> dict:
    with precision.networks():
        state.restore()
        run()  # warm-up after restore (allocator)
        state.restore()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            t = time.perf_counter()
            for _ in range(steps):
                run()
            wall = time.perf_counter() - t
    return _breakdown(prof, steps, wall)


def _tensors(value) -> list:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def _adam_variants(build, steps: int) -> str:
    """Whether foreach/fused Adam keep the bits of torch's single-tensor Adam (its CPU default, which the methods
    used before ``posefast.engine.optim.adam``) on this method, and the optimiser's time."""
    results = {}
    for variant in ("single-tensor", "foreach", "fused"):
        run, state, optimizers = build()
        for opt in optimizers.values():
            for group in opt.param_groups:
                group["foreach"] = variant == "foreach"
                group["fused"] = variant == "fused"
        torch.manual_seed(0)
        run()
        params = [t.detach().clone() for k, v in state.objects.items() if k.startswith("module/") or k == "stage"
                  for t in _tensors(v.state_dict())]
        times = []
        for _ in range(steps):
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                run()
            times.append(sum(e.cpu_time_total for e in prof.key_averages() if e.key.startswith("Optimizer.step#")))
        results[variant] = (params, statistics.median(times) / 1e3)
    base = results["single-tensor"][0]
    words = []
    for variant, (params, ms) in results.items():
        same = len(params) == len(base) and all(torch.equal(a, b) for a, b in zip(params, base))
        words.append(f"{variant} {ms:.2f} ms" + ("" if variant == "single-tensor" else
                                                  f" ({'same bits' if same else 'other bits'})"))
    return "; ".join(words)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--adam-variants", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import posefast
    posefast._C.set_num_threads(args.threads)
    _label_kernel_ops()
    bf16 = resolve_precision("bf16", args.device)
    print(f"threads {args.threads}, {args.steps} profiled calls each, bf16: {bf16.describe()}, "
          f"load {torch.tensor(__import__('os').getloadavg()).tolist()}")
    head = ("method", "precision", "wall ms", "matrix", "norm", "casts", "other aten", "posefast ops", "optimizer",
            "python", "host reads (in Adam)")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for label, build in _builders(args.device).items():
        for name, precision in (("fp32", FP32), ("bf16", bf16)):
            run, state, _ = build()
            with precision.networks():
                run()
            state.save()
            r = _profile(run, state, precision, args.steps)
            ms = lambda k: f"{r[k] * 1e3:.1f}"  # noqa: E731
            pct = lambda k: f"{r[k] * 1e3:.1f} ({100 * r[k] / r['wall']:.0f} %)"  # noqa: E731
            print(f"| {label} | {name} | {ms('wall')} | {pct('matrix')} | {pct('norm')} | {pct('casts')} | "
                  f"{pct('other')} | {pct('posefast')} | {pct('optimizer')} | {pct('python')} | {r['reads']} ({r['reads_opt']}) |")
        if args.adam_variants:
            print(f"  Adam on {label}: {_adam_variants(build, args.steps)}")


if __name__ == "__main__":
    main()
