"""The epoch loop every lifting method runs: deterministic batches, per-epoch evaluation, JSON-lines metrics,
atomic checkpoints and exact resume."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from tqdm import tqdm

from posefast.evaluation.lifting import (evaluate_lifter, per_class_mpjpe, per_pose_metrics, predict, summarize,
                               view_elevation_deg)
from posefast.models.lifting.spec import lifter_spec
from posefast.engine import checkpoint as ckpt


def epoch_order(n: int, seed: int, epoch: int, device) -> torch.Tensor:
    """The source permutation of one epoch, a pure function of (seed, epoch): resuming mid-epoch replays it."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g).to(device)


class Trainer:
    """Runs ``method`` for ``cfg.epochs`` epochs and writes the run folder::

        out/checkpoint.pt   latest state (atomic), what --resume continues from
        out/metrics.jsonl   one line per epoch: losses, source-test and target metrics, the method's diagnostics
                            (bit-identical for the same command, seed and thread count; wall times: timing.jsonl)
        out/metrics.json    {"method", "target": {...}, "source_test": {...}} after the last epoch
        out/target_errors.npz  per-pose target-test numbers of the final lifter (mpjpe, p_mpjpe, pck, auc and
                            pose_class where the target is labelled): what the comparison's paired intervals resample

    ``cfg.init`` (``--init``) starts the lifter from another run's checkpoint when the run starts fresh.
    """

    def __init__(self, cfg, method, out_dir: str | Path):
        self.cfg, self.method = cfg, method
        self.dist = method.dist
        self.out = Path(out_dir)
        self.checkpoint_path = self.out / "checkpoint.pt"
        self.metrics_path = self.out / "metrics.jsonl"
        self.loss_sums: dict[str, float] = {}
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)

    # -- state ----------------------------------------------------------------------------------------------------
    def state_dict(self, epoch: int, step: int) -> dict:
        m = self.method
        return {
            "epoch": epoch, "step": step, "method": m.name, "config": self.cfg.to_dict(),
            "lifter_spec": lifter_spec(self.cfg),
            "modules": {k: v.state_dict() for k, v in m.modules().items()},
            "optimizers": {k: v.state_dict() for k, v in m.optimizers().items()},
            "schedulers": {k: v.state_dict() for k, v in m.schedulers().items()},
            "extra": m.extra_state(), "rng": ckpt.rng_state(),
            "loss_sums": dict(self.loss_sums),  # of the epoch so far: a mid-epoch resume logs the same means
        }

    def save(self, epoch: int, step: int) -> None:
        if self.dist.is_main:
            ckpt.save_atomic(self.state_dict(epoch, step), self.checkpoint_path)
        self.dist.barrier()

    def start_from_init(self) -> None:
        """Load ``cfg.init``'s lifter into the method (a fresh run's first step; a resumed run has its own)."""
        path = Path(self.cfg.init)
        if not path.is_file():
            raise FileNotFoundError(f"--init: no checkpoint at {path} (expected a lifting run's checkpoint.pt)")
        self.method.init_lifter(ckpt.load(path, self.dist.device), path)

    def restore(self) -> tuple[int, int] | None:
        """The (epoch, step) a resumed run continues from, or None when ``out`` holds no checkpoint yet."""
        if not self.checkpoint_path.exists():
            return None
        state = ckpt.load(self.checkpoint_path, self.dist.device)
        m = self.method
        if state["method"] != m.name:
            raise ValueError(f"--resume: {self.checkpoint_path} holds a {state['method']!r} run, not {m.name!r}")
        for group, objects in (("modules", m.modules()), ("optimizers", m.optimizers()), ("schedulers", m.schedulers())):
            for k, obj in objects.items():
                obj.load_state_dict(state[group][k])
        m.load_extra_state(state["extra"])
        ckpt.set_rng_state(state["rng"])
        self.loss_sums = dict(state.get("loss_sums", {}))
        self._truncate_metrics(state["epoch"])
        return state["epoch"], state["step"]

    def _truncate_metrics(self, epoch: int) -> None:
        """Drop metric lines of epochs after the checkpoint (written before a kill, replayed after resume)."""
        if not (self.dist.is_main and self.metrics_path.exists()):
            return
        lines = [ln for ln in self.metrics_path.read_text().splitlines() if ln.strip()]
        kept = [ln for ln in lines if json.loads(ln)["epoch"] < epoch]
        self.metrics_path.write_text("".join(ln + "\n" for ln in kept))

    # -- the loop -------------------------------------------------------------------------------------------------
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
        import numpy as np

        records = self.target_records()
        classes = np.array(self.method.data.target_classes, dtype=str)
        tmp = self.out / ".target_errors.tmp.npz"
        np.savez(tmp, **records, class_names=classes)
        tmp.replace(self.out / "target_errors.npz")

    def fit(self) -> dict:
        cfg, m = self.cfg, self.method
        restored = self.restore() if cfg.resume else None
        start_epoch, start_step = restored or (0, 0)
        if restored is None and cfg.init:
            self.start_from_init()
        if not cfg.resume and self.dist.is_main and self.metrics_path.exists():
            self.metrics_path.unlink()
        metrics = None
        for epoch in range(start_epoch, cfg.epochs):
            tic = time.perf_counter()
            m.begin_epoch(epoch)
            split = m.train_split(epoch)
            n = next(iter(split.values())).shape[0]
            order = epoch_order(n, cfg.seed, epoch, self.dist.device)
            # The budget is counted in source samples, so methods whose split grows (PoseDA adds generated poses)
            # still take the same number of lifter steps as source-only.
            steps = next(iter(m.data.source_train.values())).shape[0] // cfg.batch_size
            if cfg.steps_per_epoch:
                steps = min(steps, cfg.steps_per_epoch) if steps else cfg.steps_per_epoch
            sums = self.loss_sums = self.loss_sums if start_step else {}
            bar = tqdm(range(start_step, steps), desc=f"{m.name} epoch {epoch + 1}/{cfg.epochs}", leave=False,
                       disable=not (cfg.progress and self.dist.is_main), dynamic_ncols=True)
            for step in bar:
                index = order[(step * cfg.batch_size) % n:][: cfg.batch_size]
                index = self.dist.shard(index)
                batch = {k: v[index] for k, v in split.items()}
                losses = m.train_step(batch, epoch, step)
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + v
                bar.set_postfix({k: f"{v:.4g}" for k, v in losses.items()}, refresh=False)
                if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < steps:
                    self.save(epoch, step + 1)
            done = max(steps, 1)  # sums hold the whole epoch, resumed or not
            start_step = 0
            m.end_epoch(epoch)
            metrics = self.evaluate()
            record = {"epoch": epoch, "losses": {k: v / done for k, v in sums.items()}, **metrics}
            diagnostics = m.epoch_diagnostics()
            if diagnostics:
                record["diagnostics"] = diagnostics
            # The line goes first: a kill before the checkpoint replays this epoch, and restore() drops the line.
            if self.dist.is_main:
                with open(self.metrics_path, "a") as f:
                    f.write(json.dumps(record) + "\n")
            self.save(epoch + 1, 0)
            if self.dist.is_main:
                ckpt.log_epoch_time(self.out, epoch, time.perf_counter() - tic)
            if self.dist.is_main and cfg.progress:
                t, s = metrics["target"], metrics["source_test"]
                tqdm.write(f"[{m.name}] epoch {epoch + 1}/{cfg.epochs}: target MPJPE {t['mpjpe']:.1f} mm, "
                           f"PCK {t['pck']:.1f} %, AUC {t['auc']:.1f} %; source test MPJPE {s['mpjpe']:.1f} mm")
        if metrics is None:  # resumed a finished run: report the final state again
            metrics = self.evaluate()
        final = {"method": m.name, "source": m.data.source_spec, "target_spec": m.data.target_spec,
                 "init": cfg.init or None, "source_classes": list(m.data.source_classes),
                 "target_classes": list(m.data.target_classes), **metrics}
        if self.dist.is_main:
            self.write_target_records()
            with open(self.out / "metrics.json", "w") as f:
                json.dump(final, f, indent=2)
        return final
