"""The epoch loop every training run goes through: the lifting methods (:class:`posefast.engine.trainer.Trainer`)
and each stage of multilevel (:mod:`posefast.methods.multilevel.stage`).

A *task* (:class:`EpochTask`) says what one step trains and how an epoch is scored; :class:`EpochLoop` owns the
order of the batches, the files and resumption::

    out/checkpoint.pt   {"epoch", "step", **task.checkpoint_state(), "settings", "rng", "loss_sums"}: written
                        atomically at every epoch end and every ``checkpoint_every`` steps inside an epoch; ``resume``
                        continues from it bit for bit, mid-epoch too (the epoch's batches are a pure function of seed
                        and epoch, the RNG states and the epoch's loss sums so far are in the checkpoint), and
                        refuses it when ``task.resume_settings()`` differs from the saved ``settings
    out/metrics.jsonl   one line per epoch: {"epoch", "losses": means over the epoch's steps, **task.evaluate(),
                        "diagnostics": task.epoch_diagnostics() when not empty} — bit-identical for the same
                        command, seed and thread count
    out/timing.jsonl    the wall time of each epoch (kept out of metrics.jsonl, which holds only what a run computes)

Every training step, every evaluation and the task's ``begin_epoch`` / ``end_epoch`` (which train too: PoseDA's LPA
pass, PoseAug's release-schedule lifter passes) run inside ``precision.networks()`` (:mod:`posefast.engine.precision`,
``--precision``): the one place where the networks' forward passes go to bf16. The checkpoint records the resolved
precision (``"precision": "fp32"|"bf16"``) and a resume at another one is refused: its bits would differ.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import torch
from tqdm import tqdm

from posefast.engine import checkpoint as ckpt
from posefast.engine.distributed import DistContext
from posefast.engine.precision import FP32, Precision
from posefast.seeds import derive_seed

__all__ = ["Draw", "EpochPlan", "EpochTask", "EpochLoop", "epoch_order", "batch_indices", "settings_mismatches"]


@dataclass(frozen=True)
class Draw:
    """A set of ``size`` training samples from which every step of an epoch takes one batch, in the order of the
    permutation ``stream`` (:func:`epoch_order`). ``wrap``: a batch that runs past the end of the permutation
    continues at its start (a set smaller than the epoch's steps × batch size); without it the batch ends there."""
    size: int
    stream: int = 0
    wrap: bool = False


@dataclass(frozen=True)
class EpochPlan:
    """What an epoch draws: ``steps`` for a full epoch (before ``steps_per_epoch`` caps it) and one batch of
    indices per :class:`Draw` at every step."""
    steps: int
    draws: tuple[Draw, ...]


class EpochTask(Protocol):
    """What :class:`EpochLoop` trains. ``name`` labels the checkpoint, progress bar and lines."""
    name: str

    def begin_epoch(self, epoch: int) -> EpochPlan: ...

    def train_step(self, indices: tuple[torch.Tensor, ...], epoch: int, step: int) -> dict[str, float | torch.Tensor]:
        """One optimisation step on the batches ``indices`` (one index tensor per draw of the plan, this rank's
        share); returns the step's losses, as floats or (better: no host read per step) 0-dim tensors."""

    def end_epoch(self, epoch: int) -> None: ...

    def evaluate(self) -> dict:
        """The epoch's scores (the metrics line holds them); must not draw from the global RNGs."""

    def epoch_diagnostics(self) -> dict: ...

    def checkpoint_state(self) -> dict:
        """Everything of the task a resumed run needs (networks, optimisers, schedules, the task's own state)."""

    def load_checkpoint_state(self, state: dict, path: Path) -> None:
        """Restore :meth:`checkpoint_state` (the loop has already checked :meth:`resume_settings`)."""

    def resume_settings(self) -> dict:
        """What must not change between a run and its resumption (nested dicts allowed): the loop stores it in
        every checkpoint and refuses to resume when it differs."""

    def progress_line(self, metrics: dict) -> str: ...


def epoch_order(n: int, seed: int, epoch: int, stream: int = 0, device=None) -> torch.Tensor:
    """The permutation of ``range(n)`` that draw ``stream`` follows in ``epoch``: a pure function of (seed, stream,
    epoch), so a resumed epoch replays it. Streams below 99 and epochs below 10 007 of one seed never share a
    generator seed with each other or with another seed's."""
    g = torch.Generator().manual_seed(derive_seed(seed, "epoch-order", stream=stream, epoch=epoch))
    order = torch.randperm(n, generator=g)
    return order if device is None else order.to(device)


def _flat(values: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in values.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def settings_mismatches(saved: dict, current: dict) -> list[str]:
    """``"name saved (now current)"`` for every setting (dotted for nested dicts) that differs between ``saved`` and
    ``current``; a setting missing on one side shows as None."""
    old, new = _flat(saved), _flat(current)
    return [f"{k} {old.get(k)!r} (now {new.get(k)!r})" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def batch_indices(order: torch.Tensor, step: int, batch_size: int, wrap: bool) -> torch.Tensor:
    """Step ``step``'s batch of ``order``: the ``batch_size`` entries from ``step * batch_size`` (modulo its length)
    on, continuing at the start when ``wrap``, else cut at the end."""
    n = order.shape[0]
    start = (step * batch_size) % n
    if wrap and start + batch_size > n:
        return order[(start + torch.arange(batch_size, device=order.device)) % n]
    return order[start:][:batch_size]


class EpochLoop:
    """Trains ``task`` for ``epochs`` epochs into ``out`` (see the module docstring). ``device``: where the index
    permutations live (that of the training tensors) and checkpoints are loaded to; ``dist``: the process group
    (batches are sharded across ranks, only rank 0 writes); ``precision``: what the networks' forward passes run in
    (:func:`posefast.engine.precision.resolve_precision`; fp32 when not given)."""

    def __init__(self, task: EpochTask, out: str | Path, *, epochs: int, batch_size: int, seed: int,
                 steps_per_epoch: int = 0, checkpoint_every: int = 0, progress: bool = False,
                 dist: DistContext | None = None, device="cpu", precision: Precision = FP32):
        self.task, self.epochs, self.batch_size, self.seed = task, epochs, batch_size, seed
        self.steps_per_epoch, self.checkpoint_every, self.progress = steps_per_epoch, checkpoint_every, progress
        self.dist = dist or DistContext()
        self.device = device
        self.precision = precision
        self.out = Path(out)
        self.checkpoint_path = self.out / "checkpoint.pt"
        self.metrics_path = self.out / "metrics.jsonl"
        # per loss, the epoch's sum so far: float64 0-dim tensors on the losses' device, added without reading them
        # back each step (a host read per loss and step is a synchronisation on a GPU); read once per epoch and at
        # each mid-epoch checkpoint. Adding the float32 losses in float64 in step order rounds exactly as the Python
        # floats did, so the logged means keep their bits.
        self.loss_sums: dict[str, float | torch.Tensor] = {}
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)

    # -- checkpoints ----------------------------------------------------------------------------------------------
    def save(self, epoch: int, step: int) -> None:
        """Checkpoint the state before (``epoch``, ``step``): what a resumed run continues from."""
        if self.dist.is_main:
            # loss_sums: of the epoch so far, so a mid-epoch resume logs the same means
            state = {"epoch": epoch, "step": step, **self.task.checkpoint_state(),
                     "settings": self.task.resume_settings(), "rng": ckpt.rng_state(),
                     "precision": self.precision.name,
                     "loss_sums": {k: float(v) for k, v in self.loss_sums.items()}}
            ckpt.save_atomic(state, self.checkpoint_path)
        self.dist.barrier()

    def restore(self) -> tuple[int, int] | None:
        """The (epoch, step) a resumed run continues from, or None when ``out`` holds no checkpoint yet."""
        if not self.checkpoint_path.exists():
            return None
        try:
            state = ckpt.load(self.checkpoint_path, self.device)
        except ckpt.CheckpointError as exc:
            raise ckpt.CheckpointError(f"--resume: {exc}") from None
        missing = [k for k in ("epoch", "step", "rng", "settings") if k not in state]
        if missing:
            raise ValueError(f"--resume: {self.checkpoint_path} is not a checkpoint of posefast's epoch loop (no "
                             f"{', '.join(missing)}; a run folder from an older posefast?); start a new --out")
        where = f"--resume: {self.checkpoint_path}"
        for key, kind in (("epoch", "count"), ("step", "count"), ("rng", dict), ("settings", dict)):
            ckpt.require(state, where, key, kind)
        loss_sums = state.get("loss_sums", {})
        if not (isinstance(loss_sums, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                    for v in loss_sums.values())):
            raise ckpt.CheckpointError(f"{where}: not a posefast checkpoint ('loss_sums' is not a dict of numbers)")
        bad = settings_mismatches(state["settings"], self.task.resume_settings())
        saved = state.get("precision", "fp32")  # checkpoints from before --precision ran fp32
        if saved != self.precision.name and not any(b.startswith("precision ") for b in bad):
            bad.append(f"precision {saved!r} (now {self.precision.name!r})")
        if bad:
            raise ValueError(f"--resume: {self.checkpoint_path} was written with different settings: {'; '.join(bad)}. "
                             "Resume with the run's own settings, or start a new --out")
        with ckpt.applying(where, "holds no state this run can continue"):
            self.task.load_checkpoint_state(state, self.checkpoint_path)
            ckpt.set_rng_state(state["rng"])
        self.loss_sums = dict(loss_sums)
        return state["epoch"], state["step"]

    def _keep_metrics_before(self, epoch: int) -> None:
        """Drop metric lines of epoch ``epoch`` on (written before a kill, replayed after resume; all of them when a
        run starts from scratch)."""
        if not (self.dist.is_main and self.metrics_path.exists()):
            return
        lines = [ln for ln in self.metrics_path.read_text().splitlines() if ln.strip()]
        kept = [ln for ln in lines if json.loads(ln)["epoch"] < epoch]
        if kept:
            ckpt.write_text_atomic(self.metrics_path, "".join(ln + "\n" for ln in kept))
        else:
            self.metrics_path.unlink()

    # -- the loop -------------------------------------------------------------------------------------------------
    def step(self, indices: tuple[torch.Tensor, ...], epoch: int, step: int) -> dict[str, float | torch.Tensor]:
        """One training step of the task, its losses added to the epoch's sums (see ``loss_sums``)."""
        with self.precision.networks():
            losses = self.task.train_step(indices, epoch, step)
        for k, v in losses.items():
            if isinstance(v, torch.Tensor):
                v = v.detach().to(torch.float64)
            self.loss_sums[k] = self.loss_sums.get(k, 0.0) + v
        return losses

    def fit(self, resume: bool, on_fresh_start: Callable[[], None] | None = None) -> dict:
        """Train the remaining epochs (all of them unless ``resume`` finds a checkpoint; ``on_fresh_start`` runs
        when it does not) and return the last epoch's evaluation (re-evaluated when nothing was left to train)."""
        task = self.task
        restored = self.restore() if resume else None
        start_epoch, start_step = restored or (0, 0)
        if restored is None and on_fresh_start is not None:
            on_fresh_start()
        self._keep_metrics_before(start_epoch)
        metrics = None
        for epoch in range(start_epoch, self.epochs):
            tic = time.perf_counter()
            with self.precision.networks():  # a task may train here (PoseDA's LPA pass)
                plan = task.begin_epoch(epoch)
            orders = [epoch_order(d.size, self.seed, epoch, d.stream, self.device) for d in plan.draws]
            steps = plan.steps
            if self.steps_per_epoch:
                steps = min(steps, self.steps_per_epoch) if steps else self.steps_per_epoch
            if not start_step:
                self.loss_sums = {}
            bar = tqdm(range(start_step, steps), desc=f"{task.name} epoch {epoch + 1}/{self.epochs}", leave=False,
                       disable=not (self.progress and self.dist.is_main), dynamic_ncols=True)
            for step in bar:
                indices = tuple(self.dist.shard(batch_indices(order, step, self.batch_size, d.wrap))
                                for order, d in zip(orders, plan.draws))
                losses = self.step(indices, epoch, step)
                if not bar.disable:  # formatting reads every loss back: only for a bar someone sees
                    bar.set_postfix({k: f"{float(v):.4g}" for k, v in losses.items()}, refresh=False)
                if self.checkpoint_every and (step + 1) % self.checkpoint_every == 0 and step + 1 < steps:
                    self.save(epoch, step + 1)
            done = max(steps, 1)  # the sums hold the whole epoch, resumed or not
            start_step = 0
            with self.precision.networks():  # a task may train here (PoseAug's release-schedule lifter passes)
                task.end_epoch(epoch)
            metrics = self.evaluate()
            record = {"epoch": epoch, "losses": {k: float(v) / done for k, v in self.loss_sums.items()}, **metrics}
            diagnostics = task.epoch_diagnostics()
            if diagnostics:
                record["diagnostics"] = diagnostics
            # The line goes first: a kill before the checkpoint replays this epoch, and a resume drops the line.
            if self.dist.is_main:
                ckpt.append_line(self.metrics_path, json.dumps(record))
            self.save(epoch + 1, 0)
            if self.dist.is_main:
                ckpt.log_epoch_time(self.out, epoch, time.perf_counter() - tic)
            if self.dist.is_main and self.progress:
                tqdm.write(f"[{task.name}] epoch {epoch + 1}/{self.epochs}: {task.progress_line(metrics)}")
        if metrics is None:  # resumed a finished run: report the final state again
            metrics = self.evaluate()
        return metrics

    def evaluate(self) -> dict:
        """The task's evaluation, its networks in the run's precision (as trained)."""
        with self.precision.networks():
            return self.task.evaluate()
