"""The released PoseAug's training iteration as a peer of posefast's PoseAug (issue 27): the same batches, the same
network sizes, one process, the same threads, timed in interleaved rounds (bench/RESULTS.md, "PoseAug peer").

    PYTHONPATH=. python bench/peer_poseaug.py --release /path/to/PoseAug [--threads 1] [--iters 8] [--rounds 5] \
        [--results bench/RESULTS.md]

``--release``: a checkout of jfzhang95/PoseAug (measured at f469ce4; its ``common``, ``function_poseaug``,
``models_baseline``, ``models_poseaug``, ``progress`` and ``utils`` folders are what is imported). It needs
``torchgeometry==0.1.2`` and ``tensorboardX`` (``pip install``; neither is a posefast dependency). Nothing of the
release is copied here: its modules are imported and called.

What one *round* is, on both sides (``--iters`` = K GAN iterations of batch 256, one epoch of the release's
schedule; the same K batches of posefast's ``synthetic:h36m`` training split, with its per-pose normalised cameras, distortion 0):

* **release**: ``train_gan`` (function_poseaug/model_gan_train.py:202) over the K batches (generator step with the
  adversarial, diversity and feedback losses, i.e. after warm-up; discriminator steps every ``df`` = 2 iterations
  on pooled fakes), then ``train_posenet`` (function_poseaug/model_pos_train.py:12) over the epoch's in-frame fakes
  and over the K real batches (run_poseaug.py:96-101). Networks as ``get_poseaug_model``
  (function_poseaug/model_gan_preparation.py:11-39: generator and discriminators at the release's defaults, Adam,
  ``init_weights``) and the release's MLP lifter (models_baseline/mlp/linear_model.py:47) at posefast's CPU lifter
  size: width 512, 2 stages, dropout 0.25 (what posefast's ``simple`` backbone is). Changed for a CPU run only:
  ``torch.device("cuda")`` -> CPU inside model_gan_train.py (as tools/parity/poseaug_release_golden.py does), the
  pose plot (``plot_poseaug``) off, a tensorboard writer that drops its scalars (the ``.item()`` reads that feed it
  stay: they are the release's), data loaders without worker processes (``num_workers`` 0: one process).
* **posefast**: ``PoseAug.train_step`` on the same K batches (epoch 1, warm-up 0: the feedback loss on, as on the
  release side; discriminator every 2 steps), then the release-schedule lifter passes (``_lifter_passes``: the
  epoch's in-frame fakes, then the K real batches), the jobs' default settings (bench/test_bench_training.py's
  builder), at fp32 and under ``--precision bf16`` (``Precision.networks()``, as the epoch loop enters it).

The three contenders run one round each in turn (round-robin, after one untimed warm-up round each) and the table
gives the median over ``--rounds`` of the time per GAN iteration (the round's wall time / K, lifter passes
included) and the median over rounds of the release's time / the contender's in the same round (a round's three
runs share the machine's load of the moment). The load average is printed before and after: timings from a shared
machine are only comparable within one run of this script. ``--results`` also writes the table, the command and the
conditions into that RESULTS.md as its section "The released PoseAug as a peer" (bench/report.py keeps the section
when it renders the file again).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_bench_training as tb  # noqa: E402  (the benchmarks' own method builders)
from report import PEER_HEADING, peer_section  # noqa: E402  (bench/report.py carries the section over)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "parity"))
from poseaug_release_golden import _Proxy  # noqa: E402  (``torch`` for one release module, some names replaced)

import posefast  # noqa: E402
from posefast.engine.precision import FP32, resolve_precision  # noqa: E402

BATCH = 256
LIFTER_WIDTH, LIFTER_STAGES, LIFTER_DROPOUT = 512, 2, 0.25  # posefast's `simple` backbone at its CPU width


class _NoWriter:
    def add_scalar(self, *args, **kwargs):
        pass


def _release(path: Path, batches: list[dict], seed: int):
    """A callable running one round of the release (see the module docstring) on ``batches``."""
    if not (path / "models_poseaug" / "gan_generator.py").is_file():
        raise SystemExit(f"--release: {path} does not look like a PoseAug checkout (models_poseaug/ missing)")
    sys.path.insert(0, str(path))
    import function_poseaug.model_gan_train as mgt
    import function_poseaug.model_pos_train as mpt
    from function_poseaug.model_gan_preparation import get_poseaug_model
    from models_baseline.mlp.linear_model import LinearModel, init_weights
    from utils.gan_utils import Sample_from_Pool
    from utils.utils import Summary

    argv, sys.argv = sys.argv, ["run_poseaug.py"]
    from function_poseaug.config import get_parse_args
    args = get_parse_args()  # the release's defaults
    sys.argv = argv
    args.batch_size, args.num_workers = BATCH, 0
    cpu = torch.device("cpu")
    mgt.torch = _Proxy(torch, device=lambda *a, **k: cpu)
    mgt.plot_poseaug = lambda *a, **k: None
    import function_poseaug.model_gan_preparation as prep
    prep.torch = _Proxy(torch, device=lambda *a, **k: cpu)

    class _Dataset:  # what get_poseaug_model reads of its dataset argument
        def skeleton(self):
            return types.SimpleNamespace(num_joints=lambda: 16)

    torch.manual_seed(seed)
    poseaug = get_poseaug_model(args, _Dataset())
    lifter = LinearModel(32, 45, linear_size=LIFTER_WIDTH, num_stage=LIFTER_STAGES, p_dropout=LIFTER_DROPOUT)
    lifter.apply(init_weights)
    opt_lifter = torch.optim.Adam(lifter.parameters(), lr=args.lr_p)  # run_poseaug.py:45
    criterion = torch.nn.MSELoss(reduction="mean")
    pools = Sample_from_Pool(), Sample_from_Pool()
    summary = Summary("/tmp/peer_poseaug_unused")
    summary.epoch = args.warmup + 1  # after warm-up: the feedback loss is on
    gt = [(b["joints_3d"], None, None, b["camera_norm"]) for b in batches]
    data = {"train_gt2d3d_loader": gt, "target_2d_loader": [b["joints_2d_norm"] for b in batches],
            "target_3d_loader": [b["joints_3d"] for b in batches]}
    real = [(b["joints_3d"], b["joints_2d_norm"], None, None) for b in batches]
    writer = _NoWriter()

    def round_():
        with contextlib.redirect_stdout(io.StringIO()):  # its per-epoch prints
            mgt.train_gan(args, poseaug, data, lifter, criterion, *pools, summary, writer)
            mpt.train_posenet(lifter, data["train_fake2d3d_loader"], opt_lifter, criterion, cpu)
            mpt.train_posenet(lifter, real, opt_lifter, criterion, cpu)
    return round_


def _posefast(iters: int, precision):
    """A callable running one round of posefast's PoseAug (see the module docstring) and its K batches."""
    cfg, method = tb._lifting("poseaug", "cpu", n_source=iters * BATCH, **{"poseaug.warmup_epochs": 0})
    assert cfg.poseaug.lifter_schedule == "release" and cfg.poseaug.discriminator_every == 2
    split = method.train_split(1)
    batches = [{k: v[i * BATCH:(i + 1) * BATCH] for k, v in split.items()} for i in range(iters)]

    def round_():
        with precision.networks():
            for i, batch in enumerate(batches):
                method.train_step(batch, 1, i)
            method._lifter_passes()  # what end_epoch runs under the release schedule (less the lr decay)
            method._fakes = []
    return round_, batches, method


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--release", required=True, type=Path, help="path of a jfzhang95/PoseAug checkout")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=8, help="GAN iterations (batches of 256) per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--results", type=Path, help="a RESULTS.md to write the peer section into")
    args = ap.parse_args()
    for name in ("threads", "iters", "rounds"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name}: expected a positive int, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)
    posefast._C.set_num_threads(args.threads)
    bf16 = resolve_precision("bf16", "cpu")
    run_fp32, batches, _ = _posefast(args.iters, FP32)
    run_bf16, _, _ = _posefast(args.iters, bf16)
    # the release's cameras are [f, c, k1..k3, p1, p2]; the synthetic domains' have no distortion: zeros, the same
    # projection
    batches = [{"joints_3d": b["joints_3d"].float().contiguous(),
                "joints_2d_norm": b["joints_2d_norm"].float().contiguous(),
                "camera_norm": torch.cat([b["camera_norm"].float(), b["camera_norm"].new_zeros(BATCH, 5)], 1)}
               for b in batches]
    contenders = {"release (fp32, as released)": _release(args.release.resolve(), batches, 0),
                  "posefast fp32": run_fp32, f"posefast bf16 ({bf16.why})": run_bf16}
    load0 = os.getloadavg()
    for run in contenders.values():  # warm-up: allocator, the pools' first fill
        run()
    times = {k: [] for k in contenders}
    for _ in range(args.rounds):
        for name, run in contenders.items():
            t = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - t) / args.iters)
    load1 = os.getloadavg()
    lines = [f"threads {args.threads}, {args.iters} GAN iterations of {BATCH} per round (+ the lifter passes), "
             f"{args.rounds} rounds; lifter width {LIFTER_WIDTH}; 1-min load average before {load0[0]:.2f}, after "
             f"{load1[0]:.2f}",
             "",
             "| contender | ms per GAN iteration (median) | min | max | release / contender: median of the rounds' "
             "ratios (min–max) |",
             "|---|---:|---:|---:|---:|"]
    release = times["release (fp32, as released)"]
    best = 0.0
    for name, ts in times.items():
        ratios = [r / t for r, t in zip(release, ts)]  # each round's pair: the load they shared
        lines.append(f"| {name} | {statistics.median(ts) * 1e3:.1f} | {min(ts) * 1e3:.1f} | {max(ts) * 1e3:.1f} | "
                     f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) |")
        if ts is not release:
            best = max(best, statistics.median(ratios))
    lines += ["", f"Issue 27's target (posefast ≥ 2× the release): {'met' if best >= 2 else 'not met'}, best "
                  f"{best:.2f}×; the profile that explains the floor: bench/NOTES.md, section 5."]
    print("\n".join(lines))
    if args.results:
        _write_section(args.results, lines, args)


def _write_section(path: Path, lines: list[str], args) -> None:
    """Put the table into ``path``'s peer section (replaced if there, else before "## Machine and run")."""
    command = (f"PYTHONPATH=. python bench/peer_poseaug.py --release PoseAug --threads {args.threads} "
               f"--iters {args.iters} --rounds {args.rounds}")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    section = "\n".join([
        PEER_HEADING, "",
        "One PoseAug training iteration of the released code (jfzhang95/PoseAug, imported from a checkout, its "
        "networks at its defaults and its MLP lifter at posefast's CPU width) against posefast's PoseAug on the same "
        "batches, in one process on the same threads, the three timed in turn (bench/peer_poseaug.py's docstring "
        "says what a round holds). Issue 27's target: posefast ≥ 2× the release.", "",
        f"Measured {when}, `{command}` (commit {_commit()}):", "", *lines, ""])
    text = path.read_text() if path.exists() else ""
    old = peer_section(text)
    if old:
        text = text.replace(old, section + "\n")
    else:
        head, sep, tail = text.partition("\n## Machine and run")
        text = head.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n" + sep + tail
    path.write_text(text)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    main()
