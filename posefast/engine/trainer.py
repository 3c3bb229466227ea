"""The lifting methods on the shared epoch loop (:mod:`posefast.engine.loop`): what a lifting step trains, how an
epoch is scored (target and source-test metrics), and the run's final files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from posefast.engine import checkpoint as ckpt
from posefast.engine.config import TrainConfig, sections
from posefast.engine.loop import Draw, EpochLoop, EpochPlan
from posefast.engine.precision import resolve_precision
from posefast.evaluation.lifting import (evaluate_lifter, per_class_mpjpe, per_pose_metrics, predict, summarize,
                                         view_elevation_deg)
from posefast.models.lifting.spec import lifter_spec

# Settings a resumed run may change: where it writes and runs, not what it computes. The checkpoint cadence changes
# no number; ``init`` only seeds a fresh run's first step; the device is the user's to move (a GPU's rounding differs
# from the CPU's, but a run continued elsewhere is still that run).
# "precision" is left to the epoch loop, which compares the *resolved* precision ("auto" and "bf16" may be the same
# run) and reads a checkpoint from before the setting existed as fp32
RESUMABLE_SETTINGS = frozenset({"out", "resume", "progress", "plots", "device", "jobs", "seeds", "init",
                                "checkpoint_every", "precision"})


def lifting_resume_settings(config: dict, section: str | None) -> dict:
    """What decides a lifting method's numbers in its settings ``config``: every top-level setting except
    :data:`RESUMABLE_SETTINGS` and the sections, plus the method's own section (``poseaug`` for PoseAug); other
    methods' sections do not matter (a source-only stage ignores ``poseaug.*``)."""
    kept = {k: v for k, v in config.items() if k not in RESUMABLE_SETTINGS and k not in sections()}
    if section:
        kept[section] = config[section]
    return kept


class Trainer:
    """Runs ``method`` for ``cfg.epochs`` epochs on :class:`~posefast.engine.loop.EpochLoop` and writes the run
    folder::

        out/checkpoint.pt   latest state (atomic), what --resume continues from: the loop's, with the method's
                            name, config, lifter spec, modules, optimisers, schedulers and extra state
        out/metrics.jsonl   one line per epoch: losses, source-test and target metrics, the method's diagnostics
                            (bit-identical for the same command, seed and thread count; wall times: timing.jsonl)
        out/metrics.json    {"method", "target": {...}, "source_test": {...}} after the last epoch
        out/target_errors.npz  per-pose target-test numbers of the final lifter (mpjpe, p_mpjpe, pck, auc and
                            pose_class where the target is labelled): what the comparison's paired intervals resample

    An epoch draws one batch per step from the method's training split (:meth:`LiftingMethod.train_split`), for as
    many steps as the *source* split fills, so methods whose split grows (PoseDA adds generated poses) still take
    the same number of lifter steps as source-only. ``cfg.init`` (``--init``) starts the lifter from another run's
    checkpoint when the run starts fresh.
    """

    def __init__(self, cfg: TrainConfig, method, out_dir: str | Path):
        self.cfg, self.method = cfg, method
        self.name = method.name
        self.dist = method.dist
        self.loop = EpochLoop(self, out_dir, epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed,
                              steps_per_epoch=cfg.steps_per_epoch, checkpoint_every=cfg.checkpoint_every,
                              progress=cfg.progress, dist=self.dist, device=self.dist.device,
                              precision=resolve_precision(cfg.precision, self.dist.device))
        self.out, self.checkpoint_path = self.loop.out, self.loop.checkpoint_path
        self.metrics_path = self.loop.metrics_path
        self._split: dict = {}

    # -- the task the loop runs -----------------------------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        m = self.method
        return {"method": m.name, "config": self.cfg.to_dict(), "lifter_spec": lifter_spec(self.cfg),
                "modules": {k: v.state_dict() for k, v in m.modules().items()},
                "optimizers": {k: v.state_dict() for k, v in m.optimizers().items()},
                "schedulers": {k: v.state_dict() for k, v in m.schedulers().items()},
                "extra": m.extra_state()}

    def load_checkpoint_state(self, state: dict, path: Path) -> None:
        m = self.method
        for group, objects in (("modules", m.modules()), ("optimizers", m.optimizers()), ("schedulers", m.schedulers())):
            for k, obj in objects.items():
                obj.load_state_dict(state[group][k])
        m.load_extra_state(state["extra"])

    def resume_settings(self) -> dict:
        settings = lifting_resume_settings(self.cfg.to_dict(), self.method.config_section)  # ``method`` among them
        # a diagnostic switch at its off value changes nothing, so it is not recorded: run folders written before
        # the switch existed still resume, and one run with it on is refused as a different run
        section = settings.get(self.method.config_section)
        for key, off in getattr(self.method, "diagnostic_switches", {}).items():
            if isinstance(section, dict) and section.get(key) == off:
                section = settings[self.method.config_section] = {k: v for k, v in section.items() if k != key}
        return settings

    def begin_epoch(self, epoch: int) -> EpochPlan:
        m = self.method
        m.begin_epoch(epoch)
        self._split = m.train_split(epoch)
        n = next(iter(self._split.values())).shape[0]
        steps = next(iter(m.data.source_train.values())).shape[0] // self.cfg.batch_size
        return EpochPlan(steps, (Draw(n),))

    def train_step(self, indices, epoch: int, step: int) -> dict[str, torch.Tensor]:
        index, = indices
        return self.method.train_step({k: v[index] for k, v in self._split.items()}, epoch, step)

    def end_epoch(self, epoch: int) -> None:
        self.method.end_epoch(epoch)

    def epoch_diagnostics(self) -> dict:
        return self.method.epoch_diagnostics()

    def progress_line(self, metrics: dict) -> str:
        t, s = metrics["target"], metrics["source_test"]
        return (f"target MPJPE {t['mpjpe']:.1f} mm, PCK {t['pck']:.1f} %, AUC {t['auc']:.1f} %; source test MPJPE "
                f"{s['mpjpe']:.1f} mm")

    def evaluate(self) -> dict:
        m, cfg = self.method, self.cfg
        self.dist.sync_buffers(*m.modules().values())  # one model on every rank: the one rank 0 saves
        lifter = m.eval_lifter
        skel = m.skeleton
        split = m.data.target_test
        pred = predict(lifter, split["joints_2d_norm"], skel, cfg.flip_test, cfg.eval_batch_size)
        target = summarize(pred, split["joints_3d"])
        if "pose_class" in split:
            target["per_class"] = per_class_mpjpe(self.target_records(pred)["mpjpe"],
                                                  split["pose_class"].cpu().numpy(), m.data.target_classes)
        return {"target": target,
                "source_test": evaluate_lifter(lifter, m.data.source_test, skel, False, cfg.eval_batch_size)}

    # -- the run --------------------------------------------------------------------------------------------------
    def start_from_init(self) -> None:
        """Load ``cfg.init``'s lifter into the method (a fresh run's first step; a resumed run has its own)."""
        path = Path(self.cfg.init)
        if not path.is_file():
            raise FileNotFoundError(f"--init: no checkpoint at {path} (expected a lifting run's checkpoint.pt)")
        try:
            state = ckpt.load(path, self.dist.device)
        except ckpt.CheckpointError as exc:
            raise ckpt.CheckpointError(f"--init: {exc}") from None
        with ckpt.applying(f"--init: {path}", "holds no lifter this run can start from"):
            self.method.init_lifter(state, path)

    def target_records(self, pred=None) -> dict:
        """Per-pose target-test numbers of the current lifter (see :func:`posefast.evaluation.lifting.per_pose_metrics`)."""
        m, cfg = self.method, self.cfg
        split = m.data.target_test
        if pred is None:
            pred = predict(m.eval_lifter, split["joints_2d_norm"], m.skeleton, cfg.flip_test, cfg.eval_batch_size)
        records = per_pose_metrics(pred, split["joints_3d"])
        if "Thorax" in m.skeleton.joint_names:
            records["view_elevation_deg"] = view_elevation_deg(split["joints_3d"], m.skeleton)
        if "pose_class" in split:
            records["pose_class"] = split["pose_class"].cpu().numpy()
        return records

    def write_target_records(self) -> None:
        records = self.target_records()
        classes = np.array(self.method.data.target_classes, dtype=str)
        tmp = self.out / ".target_errors.tmp.npz"
        try:
            np.savez(tmp, **records, class_names=classes)
            tmp.replace(self.out / "target_errors.npz")
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ckpt.WriteError(f"{self.out / 'target_errors.npz'}: could not be written ({exc}); the run's "
                                  "checkpoint is intact and --resume writes it again") from exc

    def fit(self) -> dict:
        cfg, m = self.cfg, self.method
        metrics = self.loop.fit(cfg.resume, self.start_from_init if cfg.init else None)
        final = {"method": m.name, "source": m.data.source_spec, "target_spec": m.data.target_spec,
                 "init": cfg.init or None, "source_classes": list(m.data.source_classes),
                 "target_classes": list(m.data.target_classes), **metrics}
        if self.dist.is_main:
            self.write_target_records()
            ckpt.write_text_atomic(self.out / "metrics.json", json.dumps(final, indent=2))
        return final
