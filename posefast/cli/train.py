"""``python -m posefast.train [METHOD] [options]`` — see ``--help``."""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from posefast.engine.device import DEVICE_CHOICES, resolve_device
from posefast.engine.precision import PRECISION_CHOICES, resolve_precision
from posefast.cli.compare import FACTOR_REFERENCES, FACTOR_TARGETS, run_comparison
from posefast.engine.distributed import is_main_process, shutdown
from posefast.engine.run_folder import default_out, prepare_run_folder
from posefast.errors import UsageError
from posefast.methods.multilevel import apply_generic_settings, main_multilevel
from posefast.methods.multilevel.config import TASKS
from posefast.methods.registry import IMAGE_METHODS, LIFTING_METHODS
from posefast.methods.run import run_lifting
from posefast.cli.config import TrainConfig, apply_overrides, dump_yaml, load_yaml, parse_setting
from posefast.engine.checkpoint import write_text_atomic
from posefast.engine.config import RESOLVED

COMPARE_HELP = ("the main job: per seed (--seeds), source-only pretrains (compare.pretrain_epochs), then every lifting "
                "method adapts from that checkpoint (compare.adapt_epochs, compare.adapt_lr; --epochs and --lr set "
                "these) on SOURCE -> TARGET; mean +- std over seeds, paired 95 % intervals vs source-only, "
                "per-pose-class MPJPE; OUT/summary.md and OUT/summary.json")
METHODS = (*LIFTING_METHODS, *IMAGE_METHODS, "compare")


def _method_lines() -> str:
    """METHOD's help, one wrapped entry per method of the registry."""
    entries = [(n, m.help) for n, m in {**LIFTING_METHODS, **IMAGE_METHODS}.items()] + [("compare", COMPARE_HELP)]
    return "\n".join(textwrap.fill(text, 118, initial_indent=f"  {name:<13} ", subsequent_indent=" " * 16)
                     for name, text in entries)


DESCRIPTION = f"""\
Train a pose network with one of posefast's methods.

METHOD (default: compare)
{_method_lines()}

SPEC (data): synthetic:h36m, synthetic:3dhp, synthetic:3dpw (embedded, no download), h36m:<dir with
  data_3d_h36m.npz + data_2d_h36m_gt.npz>, 3dhp:<test_3dhp.npz or data_3dhp_gt_test.npz>, 3dpw:<npz>,
  cmu:<ASF/AMC+BVH dir>, or a path to a posefast pose archive (.npz).

Run folder (--out): checkpoint.pt (latest, atomic; --resume continues it exactly), metrics.jsonl (per epoch),
metrics.json (final), plots (with the viz extra). A folder that holds a run needs --resume or --overwrite.
Multi-process: torchrun --nproc_per_node N -m posefast.train ... (rank 0 prints and writes).
Errors in the input print one line (exit status 2); POSEFAST_DEBUG=1 shows the traceback.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m posefast.train", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("method", nargs="?", default="compare", choices=METHODS, metavar="METHOD",
                   help="one of: " + ", ".join(METHODS))
    p.add_argument("--config", help="YAML file of settings (e.g. configs/poseaug_paper.yaml); the options below win")
    p.add_argument("--source", help="source SPEC with 3D labels (default synthetic:h36m)")
    p.add_argument("--target", help="target SPEC; only its 2D is used for training (default synthetic:3dhp); compare "
                   "takes several, comma-separated: one shared pretraining per seed, one table methods x targets")
    p.add_argument("--factors", action="store_true", help="compare: the single-factor targets, --target " +
                   ",".join(FACTOR_TARGETS) + " (each differs from synthetic:h36m in one factor of synthetic:3dhp); unless "
                   "compare.methods is set, the methods plus the " + ", ".join(FACTOR_REFERENCES) + " reference row "
                   "(the target's labels: each factor's closable gap, not a method)")
    p.add_argument("--task", choices=TASKS, help="multilevel/adain: what the 2D job learns: human (default: Body16 "
                   "figures), animal (dm-control's dog, synthetic -> photo-like; tigdog18 keypoints) or mouse (the "
                   "rodent -> the real mirror-mouse video, tested on its labelled frames); an animal task's data are "
                   "the animal section's (--set animal.n_source=...)")
    p.add_argument("--keypoint-map", help="an animal task's labelled dlc: file (or tigdog:/synanimal: data, whose "
                   "keypoints are tigdog18's): a named map (mirror-mouse-top, mirror-mouse-bot) or "
                   "'bodypart=keypoint,...'; bodyparts it leaves out are ignored")
    p.add_argument("--backbone", help="lifter: simple, videopose, semgcn, stgcn (default simple)")
    p.add_argument("--epochs", type=int, help="epochs each method trains from its starting point: one method's run "
                   "(default 8); compare and multilevel: each method's adaptation after the shared source-only "
                   "pretraining (compare.pretrain_epochs / multilevel.pretrain_epochs)")
    p.add_argument("--batch-size", type=int, help="global batch size (default 256)")
    p.add_argument("--lr", type=float, help="lifter learning rate (default 1e-3)")
    p.add_argument("--out", help="run folder (default runs/<timestamp>)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--init", metavar="CHECKPOINT", help="start the lifter from a lifting run's checkpoint.pt (the "
                   "papers' pretrain -> adapt protocol); same backbone, width and skeleton")
    p.add_argument("--seeds", help="compare/multilevel: comma-separated seeds, one full run each (default 0,1,2)")
    p.add_argument("--jobs", type=int, help="compare/multilevel: worker processes (default: one per seed, at most "
                   "one per thread)")
    p.add_argument("--overwrite", action="store_true", help="delete the run in --out and start again")
    p.add_argument("--device", choices=DEVICE_CHOICES, help="auto (default: CUDA when torch sees a GPU and posefast "
                   "was built with CUDA, else CPU), cpu or cuda")
    p.add_argument("--precision", choices=PRECISION_CHOICES, help="what the networks' forward passes run in: fp32 "
                   "(default), bf16 (autocast; losses, posefast's ops, optimiser state and checkpoints stay "
                   "fp32/fp64), auto (bf16 where the hardware has bf16 matrix units: CPU amx_bf16/avx512_bf16, GPU "
                   "compute capability >= 8.0)")
    p.add_argument("--flip-test", action="store_true", help="evaluate the target with the flip test")
    p.add_argument("--no-plots", action="store_true", help="skip the skeleton plots")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config field, dotted for sections: --set poseaug.feedback=paper --set n_source=5000")
    return p


def config_from_args(args) -> TrainConfig:
    cfg = TrainConfig()
    methods_given = False  # compare.methods set by --config or --set (--factors then adds no reference row)
    given = {}  # top-level settings the user gave (--config, flags, --set): multilevel maps or refuses them
    if args.config:
        values = load_yaml(args.config)
        resolved = values.pop(RESOLVED, False) is True  # a run folder's config.yaml: applied as it is
        apply_overrides(cfg, values, args.config)
        if not resolved:
            given.update(values)
        methods_given = resolved or "methods" in (values.get("compare") or {})
    direct = {"source": args.source, "target": args.target, "backbone": args.backbone, "epochs": args.epochs,
              "batch_size": args.batch_size, "lr": args.lr, "out": args.out, "seed": args.seed,
              "device": args.device, "init": args.init, "seeds": args.seeds, "jobs": args.jobs,
              "precision": args.precision}
    apply_overrides(cfg, {k: v for k, v in direct.items() if v is not None}, "command line")
    given.update({k: v for k, v in direct.items() if v is not None})
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise UsageError(f"--set: expected KEY=VALUE, got {item!r}")
        value = parse_setting(raw, f"--set {key}")
        *path, leaf = key.split(".")
        nested = {leaf: value}
        for part in reversed(path):
            nested = {part: nested}
        apply_overrides(cfg, nested, "--set")
        methods_given = methods_given or key == "compare.methods"
        if not path:
            given[leaf] = value
    cfg.resume = cfg.resume or args.resume
    cfg.flip_test = cfg.flip_test or args.flip_test
    cfg.plots = cfg.plots and not args.no_plots
    cfg.progress = cfg.progress and not args.quiet
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise UsageError(f"--epochs and --batch-size: expected positive numbers, got {cfg.epochs} and "
                         f"{cfg.batch_size}")
    if args.method in ("compare", "multilevel") and args.seed is not None:
        # the comparison jobs run several seeds: --seed N means that one seed
        if args.seeds is not None:
            raise UsageError("--seed and --seeds: give one of them (the comparison jobs take --seeds 0,1,2)")
        cfg.seeds = [args.seed]
    if args.method not in ("compare", "multilevel") and (args.seeds is not None or args.jobs is not None):
        raise UsageError(f"--seeds/--jobs: only the comparison jobs (compare, multilevel) run several seeds; "
                         f"{args.method} runs one (--seed N)")
    if args.method == "compare":  # the generic flags mean the adaptation stage's epochs and learning rate
        if "epochs" in given:
            cfg.compare.adapt_epochs = cfg.epochs
        if "lr" in given:
            cfg.compare.adapt_lr = cfg.lr
    if args.factors:
        if args.method != "compare" or args.target is not None:
            raise UsageError("--factors: runs the comparison (compare) on the single-factor targets; give it without "
                             "--target and without a METHOD")
        cfg.target = ",".join(FACTOR_TARGETS)
        if not methods_given:  # the factor table's ceiling: how much of each factor's gap can be closed at all
            cfg.compare.methods = [*cfg.compare.methods, *(r for r in FACTOR_REFERENCES
                                                           if r not in cfg.compare.methods)]
    elif args.method != "compare" and "," in cfg.target:
        raise UsageError(f"--target: {args.method} trains on one target; several (comma-separated) are for compare")
    if args.method == "compare" and args.init:
        raise UsageError("--init: compare pretrains its own source-only lifter per seed (compare.pretrain_epochs); "
                         "use --init with a single method, e.g. python -m posefast.train poseaug --init RUN/checkpoint.pt")
    if args.method == "adain" and cfg.precision != "fp32":
        raise UsageError(f"--precision {cfg.precision}: the adain job trains its decoder outside the epoch loop, in "
                         "fp32 only; leave --precision out")
    if (args.task is not None or args.keypoint_map is not None) and args.method not in IMAGE_METHODS:
        raise UsageError(f"--task/--keypoint-map: for the 2D job (multilevel, adain), not {args.method}")
    if args.task is not None:
        cfg.multilevel.task = args.task
    if args.keypoint_map is not None:
        cfg.animal.keypoint_map = args.keypoint_map
    if args.method in IMAGE_METHODS:
        apply_generic_settings(cfg, {k.replace("-", "_"): v for k, v in given.items()}, args.method,
                               flip_test=args.flip_test)
    return cfg


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cfg = config_from_args(args)
    device, chosen = resolve_device(cfg.device)
    cfg.device = str(device)
    precision = resolve_precision(cfg.precision, device)
    cfg.out = cfg.out or default_out(args.method)
    prepare_run_folder(cfg.out, cfg.resume, args.overwrite, is_main_process())
    if is_main_process() and not cfg.resume:  # a resumed run keeps its own (and may be refused: nothing written)
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(cfg.out) / "config.yaml", dump_yaml(cfg))  # the resolved settings (--config reads it)
        print(f"[posefast] device: {chosen}; precision: {precision.describe()}; run folder: {cfg.out}",
              file=sys.stderr, flush=True)
    if args.method == "compare":
        run_comparison(cfg)
    elif args.method in LIFTING_METHODS:
        metrics = run_lifting(cfg, args.method)
        t = metrics["target"]
        if is_main_process():
            print(json.dumps({"method": args.method, "target": {k: round(t[k], 2) for k in ("mpjpe", "p_mpjpe", "pck", "auc")}}))
    elif args.method in IMAGE_METHODS:
        main_multilevel(cfg, args.method)
    shutdown()
    return 0
