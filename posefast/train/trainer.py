"""The epoch loop every lifting method runs: deterministic batches, per-epoch evaluation, JSON-lines metrics,
atomic checkpoints and exact resume."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from tqdm import tqdm

from posefast.evaluate import evaluate_lifter
from posefast.train import checkpoint as ckpt


def epoch_order(n: int, seed: int, epoch: int, device) -> torch.Tensor:
    """The source permutation of one epoch, a pure function of (seed, epoch): resuming mid-epoch replays it."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g).to(device)


class Trainer:
    """Runs ``method`` for ``cfg.epochs`` epochs and writes the run folder::

        out/checkpoint.pt   latest state (atomic), what --resume continues from
        out/metrics.jsonl   one line per epoch: losses, source-test and target metrics, seconds
        out/metrics.json    {"method", "target": {...}, "source_test": {...}} after the last epoch
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

    def restore(self) -> tuple[int, int]:
        if not self.checkpoint_path.exists():
            return 0, 0
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
        lifter = m.eval_lifter
        skel = m.skeleton
        return {
            "target": evaluate_lifter(lifter, m.data.target_test, skel, cfg.flip_test, cfg.eval_batch_size),
            "source_test": evaluate_lifter(lifter, m.data.source_test, skel, False, cfg.eval_batch_size),
        }

    def fit(self) -> dict:
        cfg, m = self.cfg, self.method
        start_epoch, start_step = self.restore() if cfg.resume else (0, 0)
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
            record = {"epoch": epoch, "losses": {k: v / done for k, v in sums.items()},
                      "seconds": time.perf_counter() - tic, **metrics}
            # The line goes first: a kill before the checkpoint replays this epoch, and restore() drops the line.
            if self.dist.is_main:
                with open(self.metrics_path, "a") as f:
                    f.write(json.dumps(record) + "\n")
            self.save(epoch + 1, 0)
            if self.dist.is_main and cfg.progress:
                t, s = metrics["target"], metrics["source_test"]
                tqdm.write(f"[{m.name}] epoch {epoch + 1}/{cfg.epochs}: target MPJPE {t['mpjpe']:.1f} mm, "
                           f"PCK {t['pck']:.1f} %, AUC {t['auc']:.1f} %; source test MPJPE {s['mpjpe']:.1f} mm")
        if metrics is None:  # resumed a finished run: report the final state again
            metrics = self.evaluate()
        final = {"method": m.name, "source": m.data.source_spec, "target_spec": m.data.target_spec, **metrics}
        if self.dist.is_main:
            with open(self.out / "metrics.json", "w") as f:
                json.dump(final, f, indent=2)
        return final
