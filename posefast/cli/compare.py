"""The main job (``python -m posefast.train``): lifting methods compared on one source → target pair with the
papers' pretrain → adapt protocol, over several seeds, with paired intervals (:mod:`posefast.engine.staged`,
:mod:`posefast.evaluation.stats`).

Per seed: source-only trains ``compare.pretrain_epochs`` epochs (lr ``compare.pretrain_lr`` decaying linearly)
into ``OUT/seed<S>/pretrain``; then every method of ``compare.methods`` — source-only among them, the fair baseline
that simply trains on — starts from that checkpoint (``--init``) and trains ``compare.adapt_epochs`` more epochs at
lr ``compare.adapt_lr`` with the same number of lifter steps, into ``OUT/seed<S>/<method>``. ``OUT/summary.{md,json}`` hold the table: mean ±
std over seeds of target MPJPE, P-MPJPE, PCK@150 and AUC, each method's paired MPJPE difference to source-only with
its 95 % interval ("no measurable effect" when the interval holds 0), and target MPJPE per pose class where the
target is labelled (the embedded synthetic domains), split into the classes the source repertoire also has and
the classes it never shows — where local augmentation (LPA) can and cannot help.

Several targets (``--target A,B,...``; ``--factors`` = :data:`FACTOR_TARGETS`, the single-factor targets of
``synthetic:h36m``): the source-only pretraining is the same network for every target — its training reads only
the source (the target test split it scores per epoch changes no weight) — so it runs once per seed into
``OUT/seed<S>/pretrain`` (scored on the first target) and every target adapts from it into
``OUT/<target>/seed<S>/<method>``, with that target's full summary in ``OUT/<target>/summary.{md,json}``;
``OUT/summary.{md,json}`` hold one table, methods × targets, of the paired MPJPE gains over source-only with their
intervals and the P-MPJPE (:func:`posefast.evaluation.tables.targets_table`).
"""
from __future__ import annotations

import copy
import json
import time
from functools import partial
from pathlib import Path

import numpy as np

from posefast.data.domains import load_domains
from posefast.engine.checkpoint import write_text_atomic
from posefast.engine.distributed import init_from_env
from posefast.engine.run_folder import default_out
from posefast.engine.staged import parse_seeds, plan_workers, run_staged
from posefast.methods.registry import BASELINE, LIFTING_METHODS, label
from posefast.methods.run import run_lifting
from posefast.evaluation.stats import mean_of, mean_std, paired_difference
from posefast.evaluation.tables import LIFTING_METRICS, comparison_table, targets_table

KEYS = tuple(k for k, _ in LIFTING_METRICS)
# Extra paired comparisons reported when both methods ran: (method, against) — LPA's share of PoseDA.
PAIRS = (("poseda", "gpa"),)

_DOMAINS: dict = {}  # per process: the loaded domains of a seed (one per target), shared by its stages

# ``--factors``: the targets that differ from ``synthetic:h36m`` in one factor each (``synthetic.FACTOR_PRESETS``)
FACTOR_TARGETS = ("synthetic:h36m+position", "synthetic:h36m+view", "synthetic:h36m+bodies", "synthetic:h36m+local",
                  "synthetic:h36m+classes")


def parse_methods(text: str, known) -> list[str]:
    names = [s.strip() for s in str(text).split(",") if s.strip()]
    bad = [n for n in names if n not in known]
    if bad or not names or len(set(names)) != len(names):
        raise ValueError(f"compare.methods: expected distinct comma-separated names from {sorted(known)}, got {text!r}")
    if BASELINE not in names:
        raise ValueError(f"compare.methods: must include {BASELINE!r}, the baseline every method is compared with")
    return [BASELINE] + [n for n in names if n != BASELINE]


def parse_targets(text: str) -> list[str]:
    """``--target A,B,...`` → ``[A, B, ...]``: distinct, non-empty specs whose folder names differ."""
    specs = [t.strip() for t in str(text).split(",")]
    tags = [target_tag(t) for t in specs if t]
    if not all(specs) or len(set(specs)) != len(specs) or len(set(tags)) != len(tags):
        raise ValueError(f"--target: expected one spec or distinct comma-separated specs, got {text!r}")
    return specs


def target_tag(spec: str) -> str:
    """The folder of a target's stages in a several-target run: the preset of a synthetic spec, else the spec
    with every character but letters, digits and ``+-._`` replaced by ``_``."""
    text = spec.split(":", 1)[1] if spec.startswith("synthetic:") else spec
    return "".join(c if c.isalnum() or c in "+-._" else "_" for c in text).strip("._") or "target"


def _domains(cfg):
    key = (cfg.source, cfg.target, cfg.skeleton, cfg.device, cfg.n_source, cfg.n_target, cfg.n_test, cfg.seed)
    if key not in _DOMAINS:
        for k in [k for k in _DOMAINS if k[-1] != cfg.seed]:
            del _DOMAINS[k]  # one seed at a time per process (its targets' domains stay together)
        _DOMAINS[key] = load_domains(cfg.source, cfg.target, cfg.skeleton, cfg.device, cfg.n_source, cfg.n_target,
                                     cfg.n_test, cfg.seed)
    return _DOMAINS[key]


def seed_dir(out, seed: int) -> Path:
    return Path(out) / f"seed{seed}"


def _stage_cfg(cfg, out, seed: int, stage: str):
    c = copy.deepcopy(cfg)
    c.seed, c.out = seed, str(seed_dir(out, seed) / stage)
    return c


def pretrain_stage(cfg, out, seed: int) -> dict:
    """Source-only from scratch for ``compare.pretrain_epochs`` epochs: the checkpoint every method adapts from."""
    c = _stage_cfg(cfg, out, seed, "pretrain")
    c.epochs, c.lr, c.init = cfg.compare.pretrain_epochs, cfg.compare.pretrain_lr, ""
    return run_lifting(c, BASELINE, data=_domains(c))


def adapt_stage(cfg, out, seed: int, method: str, pretrained=None) -> dict:
    """``method`` for ``compare.adapt_epochs`` epochs at ``compare.adapt_lr`` from the seed's pretrained lifter
    (``pretrained``: the run folder holding ``seed<S>/pretrain``, default ``out``)."""
    c = _stage_cfg(cfg, out, seed, method)
    c.epochs, c.lr = cfg.compare.adapt_epochs, cfg.compare.adapt_lr
    c.init = str(seed_dir(pretrained or out, seed) / "pretrain" / "checkpoint.pt")
    return run_lifting(c, method, data=_domains(c))


def adapt_target_stage(cfg, out, seed: int, variant: tuple) -> dict:
    """A several-target run's stage: ``variant = (target spec, method)`` adapts from ``OUT/seed<S>/pretrain`` into
    ``OUT/<target>/seed<S>/<method>``."""
    target, method = variant
    c = copy.deepcopy(cfg)
    c.target = target
    return adapt_stage(c, Path(out) / target_tag(target), seed, method, pretrained=out)


def load_records(out, seed: int, method: str) -> dict:
    with np.load(seed_dir(out, seed) / method / "target_errors.npz") as f:
        return {k: f[k] for k in f.files}


def class_groups(records: dict, source_classes) -> dict:
    """``{"in source repertoire (...)": mask, "not in source repertoire (...)": mask}`` over the target test poses of
    a labelled synthetic target (empty for real data)."""
    names = [str(n) for n in records.get("class_names", ())]
    if not names or "pose_class" not in records or not source_classes:
        return {}  # a source without pose classes (real mocap) has no repertoire to compare with
    seen = np.isin(np.array(names), list(source_classes))
    is_seen = seen[records["pose_class"]]
    inside = ", ".join(n for n, k in zip(names, seen) if k)
    outside = ", ".join(n for n, k in zip(names, seen) if not k)
    return {f"in source repertoire ({inside})": is_seen, f"not in source repertoire ({outside})": ~is_seen}


def each_class(records: dict) -> dict:
    """``{class name: mask}`` over the target test poses of a labelled synthetic target (empty for real data)."""
    names = [str(n) for n in records.get("class_names", ())]
    if not names or "pose_class" not in records:
        return {}
    return {n: records["pose_class"] == i for i, n in enumerate(names)}


# Viewpoint bins by the elevation of the body axis (pelvis → thorax) toward the camera: > 0 seen from above.
VIEW_BINS = ((-90.0, -10.0), (-10.0, 5.0), (5.0, 20.0), (20.0, 35.0), (35.0, 90.0))


def view_groups(records: dict) -> dict:
    """``{"view elevation a..b°": mask}`` over the target test poses (every target with 3D labels)."""
    if "view_elevation_deg" not in records:
        return {}
    e = records["view_elevation_deg"]
    return {f"{lo:+.0f}° to {hi:+.0f}°": (e > lo) & (e <= hi) for lo, hi in VIEW_BINS}


def grouped_gains(records: dict, seeds, methods, groups_of, n_boot: int) -> dict:
    """Per group of target test poses (``groups_of(records) -> {name: mask}``, the same poses at every seed of a
    synthetic target's test draw, so each seed's own masks are used): every method's MPJPE (mean over seeds) and
    its paired gain vs source-only (and the :data:`PAIRS` gains) on that group, with intervals."""
    mpjpe = mean_of("mpjpe")
    out = {}
    for name in groups_of(records[BASELINE][seeds[0]]):
        masks = {s: groups_of(records[BASELINE][s])[name] for s in seeds}
        if any(not m.any() for m in masks.values()):
            continue  # a seed without poses in this group: nothing to pair
        sub = {m: {s: {"mpjpe": records[m][s]["mpjpe"][masks[s]]} for s in seeds} for m in methods}
        entry = {"n": int(np.mean([masks[s].sum() for s in seeds])), "methods": {}}
        for m in methods:
            e = {"mpjpe": mean_std(float(np.mean(sub[m][s]["mpjpe"])) for s in seeds)[0]}
            if m != BASELINE:
                e["vs_source_only"] = paired_difference(sub[BASELINE], sub[m], mpjpe, False, n_boot)
            entry["methods"][m] = e
        for m, against in PAIRS:
            if m in methods and against in methods:
                entry["methods"][m][f"vs_{against}"] = paired_difference(sub[against], sub[m], mpjpe, False, n_boot)
        out[name] = entry
    return out


def summarize(out, seeds, methods, stage_results: dict, meta: dict, n_boot: int, pretrained=None) -> dict:
    """The summary dict of a finished comparison (what it holds: the module docstring).
    ``pretrained``: the run folder of the pretraining stages (default ``out``); its per-epoch target curve is kept
    only where that pretraining scored this summary's target."""
    records = {m: {s: load_records(out, s, m) for s in seeds} for m in methods}
    errors = {m: {s: {"mpjpe": records[m][s]["mpjpe"]} for s in seeds} for m in methods}
    per_seed = {m: {s: stage_results[s][m]["target"] for s in seeds} for m in methods}
    methods_out = {}
    mpjpe = mean_of("mpjpe")
    for m in methods:
        row = {}
        for k in KEYS:
            row[k], _ = mean_std(per_seed[m][s][k] for s in seeds)
        row["std"] = {k: mean_std(per_seed[m][s][k] for s in seeds)[1] for k in KEYS}
        row["seeds"] = {str(s): {k: per_seed[m][s][k] for k in KEYS} for s in seeds}
        if m != BASELINE:
            row["vs_source_only"] = paired_difference(errors[BASELINE], errors[m], mpjpe, higher_is_better=False,
                                                      n_boot=n_boot)
        classes = per_seed[m][seeds[0]].get("per_class")
        if classes:
            row["per_class"] = {c: mean_std(per_seed[m][s]["per_class"][c]["mpjpe"] for s in seeds)[0]
                                for c in classes}
        methods_out[m] = row
    source_classes = meta.get("source_classes", ())
    pairs = {f"{m}_vs_{a}": paired_difference(errors[a], errors[m], mpjpe, False, n_boot)
             for m, a in PAIRS if m in methods and a in methods}
    curves = {}
    for s in seeds:
        folder = seed_dir(pretrained or out, s) / "pretrain"
        lines = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines() if x.strip()]
        curves[str(s)] = {"source_test_mpjpe": [x["source_test"]["mpjpe"] for x in lines]}
        if pretrained is None or json.loads((folder / "metrics.json").read_text())["target_spec"] == meta["target"]:
            curves[str(s)]["target_mpjpe"] = [x["target"]["mpjpe"] for x in lines]
    return {**meta, "seeds": list(seeds), "methods": methods_out, "pairs": pairs,
            "class_groups": grouped_gains(records, seeds, methods, lambda r: class_groups(r, source_classes), n_boot),
            "view_groups": grouped_gains(records, seeds, methods, view_groups, n_boot),
            "classes": grouped_gains(records, seeds, methods, each_class, n_boot),
            "pretrain_curves": curves}


def _progress_line(kind: str, seed: int, variant, result: dict) -> None:
    name = "pretrain (source-only)" if variant is None else variant if isinstance(variant, str) else \
        f"{variant[1]} → {variant[0]}"
    t, s = result["target"], result["source_test"]
    print(f"[compare] seed {seed} {name}: target MPJPE {t['mpjpe']:.1f} mm, source test {s['mpjpe']:.1f} mm",
          flush=True)


def plot_pretrain_curves(summary: dict, path: Path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    for s, c in summary["pretrain_curves"].items():
        epochs = np.arange(1, len(c["source_test_mpjpe"]) + 1)
        ax[0].plot(epochs, c["source_test_mpjpe"], label=f"seed {s}")
        if "target_mpjpe" in c:  # a shared pretraining scored another target
            ax[1].plot(epochs, c["target_mpjpe"], label=f"seed {s}")
    for a, title in zip(ax, ("source test", "target test")):
        a.set_xlabel("pretraining epoch"), a.set_ylabel("MPJPE (mm)"), a.set_title(f"source-only: {title}")
        a.grid(alpha=0.3)
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_summary(cfg, out: Path, seeds, names, results: dict, workers: tuple, tic: float, pretrained=None):
    """Summarise one target's finished stages (``results[seed][method]``) into ``out/summary.{md,json}`` (and the
    pretraining plot); returns (summary, Markdown table)."""
    first = results[seeds[0]]
    jobs, threads = workers
    meta = {"source": cfg.source, "target": cfg.target, "backbone": cfg.backbone, "backbone_width": cfg.backbone_width,
            "pretrain_epochs": cfg.compare.pretrain_epochs, "pretrain_lr": cfg.compare.pretrain_lr,
            "epochs": cfg.compare.adapt_epochs, "lr": cfg.compare.adapt_lr, "jobs": jobs,
            "threads_per_job": threads, "n_target_test": first[BASELINE]["target"]["n"],
            "source_classes": list(first[BASELINE].get("source_classes", ())), "seconds": None}
    summary = summarize(out, seeds, names, results, meta, cfg.compare.bootstrap, pretrained)
    summary["seconds"] = time.perf_counter() - tic
    out.mkdir(parents=True, exist_ok=True)
    table = comparison_table(summary, label, BASELINE)
    write_text_atomic(out / "summary.md", table)  # a full disk keeps the old file and says so
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2))
    if cfg.plots:
        plot_pretrain_curves(summary, out / "pretrain_curve.png")
    return summary, table


def targets_summary(out: Path, targets, seeds, names, summaries: dict, n_boot: int) -> dict:
    """The several-target summary: per target, every method's MPJPE and P-MPJPE (mean over seeds) and their
    paired gains over source-only (``vs_source_only``, ``p_mpjpe_vs_source_only``) from the per-pose records."""
    p_mpjpe = mean_of("p_mpjpe")
    table = {}
    for t in targets:
        folder = out / target_tag(t)
        records = {m: {s: {"p_mpjpe": load_records(folder, s, m)["p_mpjpe"]} for s in seeds} for m in names}
        rows = {}
        for m in names:
            row = {k: summaries[t]["methods"][m][k] for k in ("mpjpe", "p_mpjpe", "std")}
            if m != BASELINE:
                row["vs_source_only"] = summaries[t]["methods"][m]["vs_source_only"]
                row["p_mpjpe_vs_source_only"] = paired_difference(records[BASELINE], records[m], p_mpjpe, False,
                                                                  n_boot)
            rows[m] = row
        table[t] = {"folder": target_tag(t), "n_target_test": summaries[t]["n_target_test"], "methods": rows}
    return table


def _run_targets(cfg, run_cfg, out: Path, seeds, names, targets, workers: tuple, dist, tic: float) -> dict:
    """Several targets: one shared pretraining per seed, every (target, method) adapting from it (module
    docstring); writes each target's summary and OUT/summary.{md,json}."""
    run_cfg.target = targets[0]  # what the shared pretraining scores per epoch; its training reads only the source
    variants = [(t, m) for t in targets for m in names]
    results = run_staged(partial(pretrain_stage, run_cfg, out), partial(adapt_target_stage, run_cfg, out), seeds,
                         variants, *workers, on_done=_progress_line if dist.is_main else None)
    if not dist.is_main:
        return {}
    summaries = {}
    for t in targets:
        c = copy.deepcopy(cfg)
        c.target = t
        per_seed = {s: {m: results[s][t, m] for m in names} for s in seeds}
        summaries[t], _ = write_summary(c, out / target_tag(t), seeds, names, per_seed, workers, tic, pretrained=out)
    first = summaries[targets[0]]
    summary = {"source": cfg.source, "targets": targets, "seeds": list(seeds), "methods": names,
               **{k: first[k] for k in ("backbone", "backbone_width", "pretrain_epochs", "pretrain_lr", "epochs",
                                        "lr", "jobs", "threads_per_job")},
               "table": targets_summary(out, targets, seeds, names, summaries, cfg.compare.bootstrap),
               "seconds": time.perf_counter() - tic}
    table = targets_table(summary, label, BASELINE)
    write_text_atomic(out / "summary.md", table)  # a full disk keeps the old file and says so
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2))
    print("\n" + table + f"\nwritten to {out}/summary.md and summary.json, each target's own summary in "
          f"{out}/<target>/ ({summary['seconds']:.0f} s)")
    return summary


def run_comparison(cfg, methods=None) -> dict:
    """Run the staged comparison of the module docstring; write OUT/summary.{md,json}; return the summary."""
    names = parse_methods(",".join(methods) if methods else cfg.compare.methods, LIFTING_METHODS)
    seeds = parse_seeds(cfg.seeds)
    targets = parse_targets(cfg.target)
    for key in ("pretrain_epochs", "adapt_epochs"):
        if getattr(cfg.compare, key) < 1:
            raise ValueError(f"compare.{key}: expected a positive number of epochs, got {getattr(cfg.compare, key)}")
    for key in ("pretrain_lr", "adapt_lr"):
        if not getattr(cfg.compare, key) > 0:
            raise ValueError(f"compare.{key}: expected a positive learning rate, got {getattr(cfg.compare, key)}")
    out = Path(cfg.out or default_out("compare"))
    dist = init_from_env(cfg.device)
    jobs, threads = plan_workers(cfg.jobs, len(seeds))
    if dist.enabled or cfg.device != "cpu":
        jobs, threads = 1, None  # ranks (or one GPU) run the stages one after another
    run_cfg = copy.deepcopy(cfg)
    if jobs > 1:
        run_cfg.progress = False  # one line per finished stage instead of interleaved bars
    tic = time.perf_counter()
    if dist.is_main:
        several = f" × {len(targets)} targets" if len(targets) > 1 else ""
        print(f"[compare] {len(seeds)} seed(s) × (pretrain + {len(names)} methods{several}) in {jobs} process(es) × "
              f"{threads or 'default'} thread(s); run folder {out}", flush=True)
    if len(targets) > 1:
        return _run_targets(cfg, run_cfg, out, seeds, names, targets, (jobs, threads), dist, tic)
    results = run_staged(partial(pretrain_stage, run_cfg, out), partial(adapt_stage, run_cfg, out), seeds, names,
                         jobs, threads, on_done=_progress_line if dist.is_main else None)
    if not dist.is_main:
        return {}
    summary, table = write_summary(cfg, out, seeds, names, results, (jobs, threads), tic)
    print("\n" + table + f"\nwritten to {out}/summary.md and summary.json ({summary['seconds']:.0f} s)")
    return summary
