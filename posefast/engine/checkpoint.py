"""Atomic checkpoints with every RNG state, so a run killed at any instant resumes bit-for-bit."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def save_atomic(obj, path: str | Path) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``: a reader (or a resumed
    run) sees the old checkpoint or the new one, never a torn file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load(path: str | Path, device: str | torch.device = "cpu") -> dict:
    # weights_only=False: our own checkpoints carry numpy/python RNG states and config dicts.
    return torch.load(Path(path), map_location=device, weights_only=False)


def log_epoch_time(folder: str | Path, epoch: int, seconds: float) -> None:
    """Append an epoch's wall time to ``folder/timing.jsonl``. Kept out of metrics.jsonl, which holds only what a
    run computes, so that the same command, seed and thread count give a bit-identical metrics.jsonl."""
    import json

    with open(Path(folder) / "timing.jsonl", "a") as f:
        f.write(json.dumps({"epoch": epoch, "seconds": seconds}) + "\n")
