"""One stage of a multilevel run — the shared source-only pretraining or one variant — as a task of the shared
epoch loop (:class:`posefast.engine.loop.EpochLoop`), which gives it the lifting methods' batches, metrics lines,
atomic checkpoints and exact (also mid-epoch) resume.

A stage's epoch is one pass over the source crops (capped by ``steps_per_epoch``); an adapted variant also draws a
batch of target crops per step, cycling through them. The metrics line of its last epoch (and of every
``eval_every``-th) holds target PCK@0.05 of the network the paper's code evaluates (the EMA teacher once adapting,
else the student) and, when adapting, the student's; the other lines hold the losses.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from posefast.engine.checkpoint import write_text_atomic
from posefast.engine.jobs import parse_list
from posefast.engine.loop import Draw, EpochLoop, EpochPlan
from posefast.engine.optim import adam
from posefast.engine.precision import resolve_precision
from posefast.evaluation.heatmap2d import evaluate_pck, evaluate_pck_with_records
from posefast.methods.multilevel.steps import Augment, adapt_step, source_step
from posefast.methods.registry import MULTILEVEL_VARIANTS
from posefast.models import BACKBONES, EMATeacher, PatchDiscriminator, PoseResNet, PretrainedUnavailable
from posefast.seeds import derive_seed

__all__ = ["VARIANTS", "variant_levels", "build_pose_net", "Stage", "StageTask", "run_stage"]

VARIANTS = tuple(MULTILEVEL_VARIANTS)  # the registry's list: source-only, mean-teacher, image, ...

# The permutations a stage's epochs follow (posefast.engine.loop.epoch_order, streams (source, target)): the variants'
# differ from the pretraining's, whose epochs they continue.
PRETRAIN_STREAMS, VARIANT_STREAMS = (0, 1), (2, 3)


def order_seed(seed: int) -> int:
    """The seed a stage's loop draws its permutations with (``derive_seed(seed, "multilevel-loop")``): it keeps the
    permutations multilevel drew before it ran on the shared loop, so its earlier runs replay unchanged."""
    return derive_seed(seed, "multilevel-loop")


def variant_levels(variant: str, full_levels: tuple[str, ...]) -> tuple[str, ...] | None:
    """Levels switched on in ``variant``; None for source-only (no mean teacher either)."""
    table = {"source-only": None, "mean-teacher": (), "image": ("image",), "image+feature": ("image", "feature"),
             "multilevel": full_levels}
    if variant not in table:
        raise ValueError(f"variant: unknown {variant!r}; expected one of {VARIANTS}")
    return table[variant]


def _depth(text: str):
    return int(text) if str(text).isdigit() else text


_SCRATCH_SAID: set[str] = set()  # say once per process that the ImageNet package is missing


def build_pose_net(ml, num_keypoints: int, imagenet: bool = True) -> PoseResNet:
    """The student network of the config: ``ml.backbone`` ``efficientnet-lite0`` (its packaged ImageNet weights
    when ``ml.pretrained`` and ``imagenet``; without the package, random weights and one printed line) or ``resnet``
    of ``ml.depth`` (ImageNet weights from the local file ``ml.backbone_weights`` when given). Settings of runs made
    before the backbone choice existed (no ``backbone``) mean ResNet. ``imagenet=False``: skip loading them (the
    caller loads a full state dict next)."""
    backbone = getattr(ml, "backbone", "resnet")
    common = dict(deconv_channels=ml.deconv_channels, num_deconv=ml.num_deconv)
    if backbone == "resnet":
        return PoseResNet(num_keypoints, depth=_depth(ml.depth), backbone_weights=ml.backbone_weights or None,
                          **common)
    if backbone not in BACKBONES:
        raise ValueError(f"multilevel.backbone: expected one of {list(BACKBONES)}, got {backbone!r}")
    if ml.backbone_weights:
        raise ValueError(f"multilevel.backbone_weights: a torchvision ResNet file; {backbone} takes its ImageNet "
                         f"weights from its package (multilevel.pretrained), set multilevel.backbone=resnet to use it")
    net = PoseResNet(num_keypoints, backbone=backbone, frozen_stages=int(getattr(ml, "frozen_stages", 0)),
                     stages=int(getattr(ml, "backbone_stages", 7)), **common)
    if imagenet and getattr(ml, "pretrained", False):
        try:
            net.backbone.load_imagenet()
        except PretrainedUnavailable as err:
            if backbone not in _SCRATCH_SAID:
                _SCRATCH_SAID.add(backbone)
                print(f"[multilevel] {err}: the {backbone} backbone starts from scratch", flush=True)
    return net


def _positive_int(text) -> int:
    if isinstance(text, bool) or not str(text).strip().isdigit() or int(text) < 1:
        raise ValueError(text)
    return int(text)


def _widths(value) -> tuple[int, ...]:
    return tuple(parse_list(value, "multilevel.discriminator_widths", item=_positive_int, distinct=False,
                            expected="positive ints like '256,128,128'", allow_empty_items=True))


def _device(module) -> torch.device:
    return next(module.parameters()).device


class Stage:
    """The trainable state of one stage (pretraining or a variant) and its checkpoint format."""

    def __init__(self, name: str, levels, student, lr: float, ml, style_net=None):
        self.name, self.levels, self.student = name, levels, student
        self.optimizer = adam(student.parameter_groups(lr, float(getattr(ml, "backbone_lr_mult", 1.0))), lr=lr)
        self.teacher = self.discriminator = self.optimizer_d = None
        self.style_net = style_net
        if levels is not None:
            self.teacher = EMATeacher(student, ml.ema_alpha)
        if levels is not None and "feature" in levels:
            widths = _widths(ml.discriminator_widths)
            self.discriminator = PatchDiscriminator(student.feature_channels, widths).to(_device(student))
            self.optimizer_d = adam(self.discriminator.parameters(), lr=ml.lr_discriminator)

    @property
    def eval_model(self):
        """The network the paper's code evaluates: the EMA teacher once adapting, else the student."""
        return self.teacher.teacher if self.teacher is not None else self.student

    def state_dict(self) -> dict:
        opt = lambda o: None if o is None else o.state_dict()  # noqa: E731
        return {"student": self.student.state_dict(), "optimizer": self.optimizer.state_dict(),
                "teacher": opt(self.teacher), "discriminator": opt(self.discriminator),
                "optimizer_d": opt(self.optimizer_d)}

    def load_state_dict(self, state: dict) -> None:
        self.student.load_state_dict(state["student"])
        self.optimizer.load_state_dict(state["optimizer"])
        for key in ("teacher", "discriminator", "optimizer_d"):
            obj = getattr(self, key)
            if (obj is None) != (state[key] is None):
                raise ValueError(f"--resume: checkpoint of stage {self.name!r} does not match its levels ({key})")
            if obj is not None:
                obj.load_state_dict(state[key])


class StageTask:
    """``stage`` as a task of :class:`~posefast.engine.loop.EpochLoop`. Its checkpoint holds ``{"stage":
    stage.state_dict()}``; ``settings`` (what must not change between a run and its resumption) are its
    :meth:`resume_settings`, which the loop checks."""

    def __init__(self, stage: Stage, data: dict, aug: Augment, ml, settings: dict, batch_size: int,
                 streams: tuple[int, int], epochs: int = 0):
        self.stage, self.data, self.aug, self.ml, self.settings = stage, data, aug, ml, settings
        self.name, self.batch_size, self.streams = stage.name, batch_size, streams
        self.device = _device(stage.student)
        self.epochs = epochs
        self.eval_every = int(getattr(ml, "eval_every", 1))
        self.records = None  # per-crop tallies of the eval model's last full evaluation (the paired intervals')
        self._epoch = None  # the epoch just trained (None: a finished run asked for its final evaluation)

    def begin_epoch(self, epoch: int) -> EpochPlan:
        self.stage.student.train()
        src, tgt = self.data["source"], self.data["target"]
        draws = (Draw(len(src), self.streams[0]),)
        if self.stage.levels is not None:  # every step also takes a batch of target crops, cycling through them
            draws += (Draw(len(tgt), self.streams[1], wrap=True),)
        return EpochPlan(len(src) // self.batch_size, draws)

    def train_step(self, indices, epoch: int, step: int) -> dict[str, torch.Tensor]:
        src = self.data["source"]
        idx = indices[0]
        batch = tuple(t.to(self.device) for t in (src.images[idx], src.keypoints[idx], src.visible[idx]))
        if self.stage.levels is None:
            return source_step(self.stage.student, self.stage.optimizer, self.aug, batch)
        target_images = self.data["target"].images[indices[1]].to(self.device)
        return adapt_step(self.stage, self.aug, self.ml, batch, target_images)

    def end_epoch(self, epoch: int) -> None:
        self._epoch = epoch

    def _evaluates(self) -> bool:
        """The target test split is evaluated after the last epoch and every ``eval_every`` epochs (0: the last
        only): a pass over the test split costs a sizeable part of an epoch's training, for a curve the table does not
        use (timings: docs/results.md)."""
        epoch, self._epoch = self._epoch, None
        if epoch is None or epoch + 1 >= self.epochs:
            return True
        return self.eval_every > 0 and (epoch + 1) % self.eval_every == 0

    def evaluate(self) -> dict:
        if not self._evaluates():
            return {}
        test, batch = self.data["target_test"], self.ml.eval_batch_size
        target, self.records = evaluate_pck_with_records(self.stage.eval_model, test, batch)
        metrics = {"target": target}
        if self.stage.teacher is not None:
            metrics["target_student"] = evaluate_pck(self.stage.student, test, batch)
        return metrics

    def epoch_diagnostics(self) -> dict:
        return {}

    def checkpoint_state(self) -> dict:
        return {"stage": self.stage.state_dict()}

    def resume_settings(self) -> dict:
        return self.settings

    def load_checkpoint_state(self, state: dict, path: Path) -> None:
        self.stage.load_state_dict(state["stage"])

    def progress_line(self, metrics: dict) -> str:
        if "target" not in metrics:
            return "not evaluated (multilevel.eval_every)"
        student = (f", student {metrics['target_student']['pck']:.1f} %" if "target_student" in metrics else "")
        return f"target PCK@0.05 {metrics['target']['pck']:.1f} %{student}"


def run_stage(stage: Stage, epochs: int, data: dict, aug: Augment, ml, cfg, settings: dict, batch_size: int,
              out: Path, streams: tuple[int, int], progress: bool) -> dict:
    """Train ``stage`` for ``epochs`` epochs into ``out`` on the shared loop (resuming when ``cfg.resume``; mid-epoch
    checkpoints every ``cfg.checkpoint_every`` steps) and write ``out/metrics.json``; returns the last epoch's
    metrics (``{"target": {"pck", "per_joint", "count"}, "target_student"?}``) and writes the per-crop tallies of
    its evaluated network (``out/target_records.npz``, :func:`posefast.evaluation.heatmap2d.pck_records`)."""
    task = StageTask(stage, data, aug, ml, settings, batch_size, streams, epochs)
    loop = EpochLoop(task, out, epochs=epochs, batch_size=batch_size, seed=order_seed(cfg.seed),
                     steps_per_epoch=cfg.steps_per_epoch, checkpoint_every=cfg.checkpoint_every, progress=progress,
                     precision=resolve_precision(cfg.precision, _device(stage.student)))
    last = loop.fit(cfg.resume)
    write_text_atomic(Path(out) / "metrics.json", json.dumps({"stage": stage.name, "epochs": epochs, **last}, indent=2))
    np.savez(Path(out) / "target_records.npz", **task.records)
    return last
