"""Atomic checkpoints with every RNG state, so a run killed at any instant resumes bit-for-bit.

A checkpoint holds plain data only (format :data:`FORMAT_VERSION`, under :data:`FORMAT_KEY`): tensors, numbers,
strings, ``None`` and lists / tuples / dicts of them. Configs are plain dicts, and the Python and NumPy RNG states are
stored as tensors and numbers (:func:`rng_state`), so every posefast file is read with
``torch.load(weights_only=True)``, which builds nothing but those; a file that needs more (a pickled object: what
posefast before format 2 wrote for the NumPy RNG state, or a file made to run code when unpickled) is refused with
:class:`CheckpointError`, never unpickled. Converting one's own old run is the explicit
``python -m posefast.convert_checkpoint OLD NEW --trust`` (:mod:`posefast.cli.convert_checkpoint`).
"""
from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

__all__ = ["FORMAT_KEY", "FORMAT_VERSION", "CheckpointError", "WriteError", "rng_state", "set_rng_state",
           "seed_everything", "check_plain", "save_atomic", "load", "require", "applying", "append_line",
           "write_text_atomic",
           "log_epoch_time", "CONVERT_COMMAND"]

FORMAT_KEY = "posefast_format"
# 1 (implicit, no key): pickled NumPy RNG state; 2: plain data only, readable with weights_only=True.
FORMAT_VERSION = 2
CONVERT_COMMAND = "python -m posefast.convert_checkpoint OLD NEW --trust"


class CheckpointError(ValueError):
    """A file that is not a checkpoint posefast reads; the message starts with the path."""


class WriteError(OSError):
    """A checkpoint or run file could not be written; the message says what is kept on disk."""


def rng_state() -> dict:
    """The Python, NumPy, torch (and CUDA) generator states as tensors and plain numbers."""
    version, words, gauss_next = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": {"version": int(version), "state": torch.tensor(words, dtype=torch.int64),
                        "gauss_next": gauss_next},
             "numpy": {"name": str(name), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    py, npy = state["python"], state["numpy"]
    random.setstate((py["version"], tuple(int(w) for w in py["state"].tolist()), py["gauss_next"]))
    np.random.set_state((npy["name"], npy["keys"].cpu().numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# What torch.load(weights_only=True) rebuilds without running anything else.
_PLAIN_LEAVES = (torch.Tensor, bool, int, float, str, bytes, type(None), torch.dtype, torch.device, torch.Size)


def check_plain(obj, where: str = "checkpoint") -> None:
    """Raise TypeError naming the first value in ``obj`` that ``torch.load(weights_only=True)`` would refuse (a
    bug in posefast: everything it saves must be plain), before anything is written."""
    stack = [(obj, where)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, _PLAIN_LEAVES):
            continue
        if type(value) in (dict, collections.OrderedDict):
            for k, v in value.items():
                if not isinstance(k, (str, int)):
                    raise TypeError(f"{at}: key {k!r} ({type(k).__name__}) is not plain data")
                stack.append((v, f"{at}.{k}"))
        elif type(value) in (list, tuple):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(value))
        else:
            raise TypeError(f"{at}: {type(value).__module__}.{type(value).__qualname__} is not plain data "
                            "(checkpoints hold tensors, numbers, strings and containers of them)")


def save_atomic(obj, path: str | Path) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``: a reader (or a resumed
    run) sees the old checkpoint or the new one, never a torn file. A dict gets the format key. A failing write
    (disk full, ...) removes the temporary file and raises :class:`WriteError` saying the previous file is intact."""
    path = Path(path)
    if isinstance(obj, dict):
        obj = {**obj, FORMAT_KEY: FORMAT_VERSION}
    check_plain(obj, str(path))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch.save reports a failed write as RuntimeError
        tmp.unlink(missing_ok=True)
        kept = (f"the previous {path.name} is intact and the run resumes from it with --resume" if path.exists()
                else "nothing was written")
        raise WriteError(f"{path}: could not be written ({_first_line(exc)}); {kept}") from exc
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _check_archive(path: Path) -> None:
    """Refuse, before torch reads anything, a file whose zip records declare more bytes than the file holds:
    torch's reader allocates a record's declared size (torch.save stores records uncompressed)."""
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise CheckpointError(f"{path}: not a posefast checkpoint (not a readable zip archive: "
                              f"{_first_line(exc)})") from None
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size or \
                info.header_offset + info.compress_size > size:
            raise CheckpointError(f"{path}: not a posefast checkpoint (record {info.filename!r} declares "
                                  f"{info.file_size} bytes in a {size}-byte file)")


def load(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """A checkpoint posefast wrote, read with ``torch.load(weights_only=True)``; anything else raises
    :class:`CheckpointError` (one line, starting with the path)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    _check_archive(path)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types for a file that is not a checkpoint
        if "weights_only" in str(exc) or "Weights only load failed" in str(exc):
            raise CheckpointError(
                f"{path}: holds pickled Python objects, which posefast never unpickles (a file can run code that "
                f"way). A checkpoint written by posefast before format {FORMAT_VERSION} holds them: convert your "
                f"OWN old run with `{CONVERT_COMMAND}` (it unpickles OLD, so only for files you made)") from None
        raise CheckpointError(f"{path}: not a posefast checkpoint ({_first_line(exc)})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a posefast checkpoint (holds a {type(state).__name__}, not a dict)")
    version = state.get(FORMAT_KEY, 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {version!r} is newer than this posefast's "
                              f"({FORMAT_VERSION}); update posefast")
    return state


def require(state: dict, path, key: str, kind, what: str = ""):
    """``state[key]`` when it is a ``kind`` (``"weights"``: a dict of tensors; ``"count"``: an int >= 0); else
    CheckpointError naming the file and the key."""
    value = state.get(key) if isinstance(state, dict) else None
    if kind == "weights":
        ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                             for k, v in value.items())
    elif kind in (int, "count"):
        ok = isinstance(value, int) and not isinstance(value, bool) and (kind is int or value >= 0)
    else:
        ok = isinstance(value, kind)
    if not ok:
        expected = {"weights": "a dict of tensors", "count": "an int >= 0"}.get(kind) if isinstance(kind, str) \
            else f"a {kind.__name__}"
        raise CheckpointError(f"{path}: not a posefast checkpoint{what} ({key!r} is not {expected})")
    return value


def applying(path, what: str):
    """Context: an error raised while a checkpoint's contents are put into networks, optimisers and RNGs (a key
    missing, a value of the wrong type or shape) becomes one CheckpointError naming the file."""
    return _Applying(path, what)


class _Applying:
    def __init__(self, path, what):
        self.path, self.what = path, what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        # ValueErrors are the appliers' own checks, which already say what is wrong
        if kind is not None and issubclass(kind, (KeyError, AttributeError, TypeError, IndexError, RuntimeError)):
            raise CheckpointError(f"{self.path}: {self.what} ({_first_line(exc)})") from exc
        return False


def append_line(path: str | Path, line: str) -> None:
    """Append ``line`` and a newline to ``path``; a failing write (disk full) cuts a partial line off again, so the
    file keeps whole lines only, and raises :class:`WriteError`."""
    path = Path(path)
    data = memoryview((line + "\n").encode())
    with open(path, "ab", buffering=0) as f:  # unbuffered: nothing is left to flush (and fail) on close
        start = f.seek(0, os.SEEK_END)
        try:
            while data:
                data = data[f.write(data):]
        except OSError as exc:
            with contextlib.suppress(OSError):
                f.truncate(start)
            raise WriteError(f"{path}: could not be written ({_first_line(exc)}); the run's checkpoint is intact "
                             "and --resume continues from it") from exc


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (the old file stays on a failing write)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"{path}: could not be written ({_first_line(exc)}); the run's checkpoint is intact and "
                         "--resume continues from it") from exc


def log_epoch_time(folder: str | Path, epoch: int, seconds: float) -> None:
    """Append an epoch's wall time to ``folder/timing.jsonl``. Kept out of metrics.jsonl, which holds only what a
    run computes, so that the same command, seed and thread count give a bit-identical metrics.jsonl."""
    append_line(Path(folder) / "timing.jsonl", json.dumps({"epoch": epoch, "seconds": seconds}))
