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
from dataclasses import dataclass
from pathlib import Path

from posefast.data.domains import load_domains
from posefast.engine.config import TrainConfig, listing, section
from posefast.engine.distributed import init_from_env
from posefast.engine.jobs import (Job, Summary, cached, collect_records, parse_list, parse_seeds, read_metrics_lines,
                                  run_job, stage_dir)
from posefast.engine.run_folder import default_out
from posefast.evaluation.comparison import lifting_summary, targets_summary
from posefast.evaluation.plots import plot_pretrain_curves
from posefast.evaluation.tables import comparison_table, targets_table
from posefast.methods.registry import BASELINE, LIFTING_METHODS, is_reference, label
from posefast.methods.run import run_lifting

# Extra paired comparisons reported when both methods ran: (method, against) — LPA's share of PoseDA.
PAIRS = (("poseda", "gpa"),)
RECORDS = "target_errors.npz"  # a lifting stage's per-pose target-test records (engine/trainer.py)

@section("compare")
@dataclass
class CompareConfig:
    """The main job (``python -m posefast.train``, ``compare``): the papers' pretrain → adapt protocol over seeds.

    Per seed, source-only trains ``pretrain_epochs`` epochs at ``pretrain_lr`` (linear decay) until its source-test
    error has plateaued; from that checkpoint every method in ``methods`` (source-only included: the fair baseline)
    trains ``adapt_epochs`` more at ``adapt_lr`` (linear decay) with the same number of lifter steps — PoseAug's
    release pretrains at 1e-3 (run_baseline.py) and adapts at 1e-4 (run_poseaug.py ``--lr_p``). ``--epochs`` and
    ``--lr`` given to compare set ``adapt_epochs`` / ``adapt_lr``."""

    methods: list = listing(["source-only", "gpa", "poseda", "poseaug"], allowed=lambda: sorted(LIFTING_METHODS))
    pretrain_epochs: int = 40
    pretrain_lr: float = 1e-3
    adapt_epochs: int = 8
    adapt_lr: float = 1e-4
    bootstrap: int = 2000  # resamples of the test set per interval (paired within each seed)

    def validate(self, where: str = "compare") -> None:
        """The rules between settings, checked when the section is loaded (and by the job before it runs)."""
        for key in ("pretrain_epochs", "adapt_epochs"):
            if getattr(self, key) < 1:
                raise ValueError(f"{where}.{key}: expected a positive number of epochs, got {getattr(self, key)}")
        for key in ("pretrain_lr", "adapt_lr"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{where}.{key}: expected a positive learning rate, got {getattr(self, key)}")
        parse_methods(self.methods, LIFTING_METHODS)


# ``--factors``: the targets that differ from ``synthetic:h36m`` in one factor each (``synthetic.FACTOR_PRESETS``)
FACTOR_TARGETS = ("synthetic:h36m+position", "synthetic:h36m+view", "synthetic:h36m+bodies", "synthetic:h36m+local",
                  "synthetic:h36m+classes")
# ``--factors`` adds these reference rows to the default ``compare.methods``: the closable gap of each factor
FACTOR_REFERENCES = ("target-labels",)


def parse_methods(value, known) -> list[str]:
    """``compare.methods`` → the method names, the baseline first (it must be among them) and the references
    (``target-labels``: upper bounds that use target labels, not methods) last."""
    names = parse_list(value, "compare.methods", sorted(known))
    if BASELINE not in names:
        raise ValueError(f"compare.methods: must include {BASELINE!r}, the baseline every method is compared with, "
                         f"got {value!r}")
    rest = [n for n in names if n != BASELINE]
    return [BASELINE] + [n for n in rest if not is_reference(n)] + [n for n in rest if is_reference(n)]


def parse_targets(value) -> list[str]:
    """``--target A,B,...`` → ``[A, B, ...]``: distinct, non-empty specs whose folder names differ."""
    specs = parse_list(value, "--target", expected="specs (one or more)", allow_empty_items=True)
    if len({target_tag(t) for t in specs}) != len(specs):
        raise ValueError(f"--target: expected one spec or distinct comma-separated specs, got {value!r} (two of "
                         f"them share a folder name)")
    return specs


def target_tag(spec: str) -> str:
    """The folder of a target's stages in a several-target run: the preset of a synthetic spec, else the spec
    with every character but letters, digits and ``+-._`` replaced by ``_``."""
    text = spec.split(":", 1)[1] if spec.startswith("synthetic:") else spec
    return "".join(c if c.isalnum() or c in "+-._" else "_" for c in text).strip("._") or "target"


class LiftingComparison(Job):
    """The lifting comparison of the module docstring as a :class:`~posefast.engine.jobs.Job`: variants are the
    methods (one target) or ``(target, method)`` pairs (several targets, one shared pretraining per seed)."""

    name = "compare"

    def __init__(self, cfg: TrainConfig, methods=None):
        self.cfg = cfg
        self.methods = parse_methods(list(methods) if methods else cfg.compare.methods, LIFTING_METHODS)
        self.seeds = parse_seeds(cfg.seeds)
        self.targets = parse_targets(cfg.target)
        cfg.compare.validate()
        self.out = Path(cfg.out or default_out("compare"))
        dist = init_from_env(cfg.device)
        self.is_main, self.one_process = dist.is_main, dist.enabled or cfg.device != "cpu"
        self.workers_setting = cfg.jobs
        self.several = len(self.targets) > 1
        self.variants = [(t, m) for t in self.targets for m in self.methods] if self.several else self.methods

    # -- stages -----------------------------------------------------------------------------------------------------
    def _stage_cfg(self, seed: int, folder: Path, target: str):
        c = copy.deepcopy(self.cfg)
        c.seed, c.out, c.target = seed, str(folder), target
        c.progress = c.progress and not self.workers.parallel  # one line per finished stage, not interleaved bars
        return c

    @staticmethod
    def _domains(c):
        key = (c.source, c.target, c.skeleton, c.device, c.n_source, c.n_target, c.n_test)
        return cached(key, c.seed, lambda: load_domains(c.source, c.target, c.skeleton, c.device, c.n_source,
                                                        c.n_target, c.n_test, c.seed))

    def pretrain(self, seed: int) -> dict:
        """Source-only from scratch for ``compare.pretrain_epochs`` epochs into ``OUT/seed<S>/pretrain``: the
        checkpoint every method adapts from. With several targets it scores the first one per epoch (its training
        reads only the source)."""
        c = self._stage_cfg(seed, stage_dir(self.out, seed, "pretrain"), self.targets[0])
        c.epochs, c.lr, c.init = self.cfg.compare.pretrain_epochs, self.cfg.compare.pretrain_lr, ""
        return run_lifting(c, BASELINE, data=self._domains(c))

    def adapt(self, seed: int, variant) -> dict:
        """A method for ``compare.adapt_epochs`` epochs at ``compare.adapt_lr`` from the seed's pretrained lifter,
        into ``OUT/seed<S>/<method>`` (several targets: ``OUT/<target>/seed<S>/<method>``)."""
        target, method = variant if self.several else (self.targets[0], variant)
        c = self._stage_cfg(seed, stage_dir(self._folder(target), seed, method), target)
        c.epochs, c.lr = self.cfg.compare.adapt_epochs, self.cfg.compare.adapt_lr
        c.init = str(stage_dir(self.out, seed, "pretrain") / "checkpoint.pt")
        return run_lifting(c, method, data=self._domains(c))

    def _folder(self, target: str) -> Path:
        return self.out / target_tag(target) if self.several else self.out

    def header(self) -> str:
        several = f" × {len(self.targets)} targets" if self.several else ""
        return (f"{len(self.seeds)} seed(s) × (pretrain + {len(self.methods)} methods{several}) in "
                f"{self.workers.jobs} process(es) × {self.workers.threads or 'default'} thread(s); run folder "
                f"{self.out}")

    def progress(self, seed: int, variant, result: dict) -> str:
        name = "pretrain (source-only)" if variant is None else variant if isinstance(variant, str) else \
            f"{variant[1]} → {variant[0]}"
        t, s = result["target"], result["source_test"]
        return f"{name}: target MPJPE {t['mpjpe']:.1f} mm, source test {s['mpjpe']:.1f} mm"

    # -- tables -----------------------------------------------------------------------------------------------------
    def _target_summary(self, target: str, results: dict) -> tuple[Summary, dict]:
        """One target's summary from its finished stages (``results[seed][method]``), and its records."""
        cfg, seeds, names, folder = self.cfg, self.seeds, self.methods, self._folder(target)
        first = results[seeds[0]]
        meta = {"source": cfg.source, "target": target, "backbone": cfg.backbone,
                "backbone_width": cfg.backbone_width, "pretrain_epochs": cfg.compare.pretrain_epochs,
                "pretrain_lr": cfg.compare.pretrain_lr, "epochs": cfg.compare.adapt_epochs,
                "lr": cfg.compare.adapt_lr, "jobs": self.workers.jobs, "threads_per_job": self.workers.threads,
                "n_target_test": first[BASELINE]["target"]["n"],
                "source_classes": list(first[BASELINE].get("source_classes", ())), "seconds": None}
        curves = {}
        for s in seeds:
            pretrain = stage_dir(self.out, s, "pretrain")
            lines = read_metrics_lines(pretrain)
            curves[str(s)] = {"source_test_mpjpe": [x["source_test"]["mpjpe"] for x in lines]}
            # the shared pretraining of several targets scored only the first one per epoch
            if not self.several or json.loads((pretrain / "metrics.json").read_text())["target_spec"] == target:
                curves[str(s)]["target_mpjpe"] = [x["target"]["mpjpe"] for x in lines]
        records = collect_records(folder, seeds, names, RECORDS)
        per_seed = {m: {s: results[s][m]["target"] for s in seeds} for m in names}
        summary = lifting_summary(records, per_seed, seeds, names, meta, curves, cfg.compare.bootstrap, BASELINE,
                                  PAIRS)
        summary["seconds"] = self.seconds()
        return Summary(folder, summary, comparison_table(summary, label, BASELINE, self._references())), records

    def _references(self) -> list[str]:
        return [m for m in self.methods if is_reference(m)]

    def summarize(self, results: dict) -> list[Summary]:
        if not self.several:
            return [self._target_summary(self.targets[0], results)[0]]
        names, per_target, records = self.methods, {}, {}
        for t in self.targets:
            per_target[t], records[t] = self._target_summary(t, {s: {m: results[s][t, m] for m in names}
                                                                  for s in self.seeds})
        first = per_target[self.targets[0]].data
        summaries = {t: per_target[t].data for t in self.targets}
        folders = {t: target_tag(t) for t in self.targets}
        summary = {"source": self.cfg.source, "targets": self.targets, "seeds": list(self.seeds), "methods": names,
                   **{k: first[k] for k in ("backbone", "backbone_width", "pretrain_epochs", "pretrain_lr", "epochs",
                                            "lr", "jobs", "threads_per_job")},
                   "table": targets_summary(records, self.targets, self.seeds, names, summaries, folders,
                                            self.cfg.compare.bootstrap, BASELINE),
                   "seconds": self.seconds()}
        return [*per_target.values(), Summary(self.out, summary, targets_table(summary, label, BASELINE,
                                                                              self._references()))]

    def finish(self, summaries: list[Summary]) -> None:
        if self.cfg.plots:
            for s in summaries:
                if "pretrain_curves" in s.data:
                    plot_pretrain_curves(s.data["pretrain_curves"], s.folder / "pretrain_curve.png")


def run_comparison(cfg: TrainConfig, methods=None) -> dict:
    """Run the staged comparison of the module docstring; write OUT/summary.{md,json}; return the summary."""
    return run_job(LiftingComparison(cfg, methods))
