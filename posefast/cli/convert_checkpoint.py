"""Convert a checkpoint written by an earlier posefast (format 1, with pickled NumPy objects) to the current format:
``python -m posefast.convert_checkpoint OLD NEW --trust``.

This is the one place posefast unpickles a file (``torch.load(weights_only=False)``), which runs whatever code the
file was made to run; so it does so only when asked by name and with ``--trust``, for a run the user made. The
result holds plain data only (:mod:`posefast.engine.checkpoint`): the RNG states in their tensor form, NumPy arrays
as tensors, NumPy scalars as Python numbers. Numbers are carried over exactly, so a converted run resumes bit for
bit.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from posefast.engine import checkpoint as ckpt
from posefast.errors import UsageError

__all__ = ["convert_state", "main"]


def _rng(old) -> dict:
    """A format-1 RNG dict (``random.getstate()`` and ``np.random.get_state()`` tuples) in the format-2 form."""
    if not isinstance(old, dict) or not isinstance(old.get("python"), tuple):
        return _plain(old)
    version, words, gauss_next = old["python"]
    name, keys, pos, has_gauss, cached = old["numpy"]
    new = {"python": {"version": int(version), "state": torch.tensor(words, dtype=torch.int64),
                      "gauss_next": gauss_next},
           "numpy": {"name": str(name), "keys": torch.from_numpy(np.asarray(keys).astype(np.int64)),
                     "pos": int(pos), "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
           "torch": old["torch"]}
    if "cuda" in old:
        new["cuda"] = list(old["cuda"])
    return new


def _plain(value):
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            raise TypeError(f"a NumPy array of dtype {value.dtype} has no tensor form")
        return torch.from_numpy(value.copy())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return type(value)((k, _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def convert_state(state: dict) -> dict:
    """The format-2 form of a format-1 checkpoint dict (already unpickled)."""
    if not isinstance(state, dict):
        raise TypeError(f"expected a checkpoint dict, got {type(state).__name__}")
    out = {k: (_rng(v) if k == "rng" else _plain(v)) for k, v in state.items()}
    out.pop(ckpt.FORMAT_KEY, None)  # save_atomic writes the current one
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m posefast.convert_checkpoint", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("old", metavar="OLD", help="checkpoint written by an earlier posefast (your own run)")
    p.add_argument("new", metavar="NEW", help="where to write the converted checkpoint (must not exist)")
    p.add_argument("--trust", action="store_true",
                   help="confirm OLD is your own file: converting unpickles it, which runs any code it holds")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    old, new = Path(args.old), Path(args.new)
    if not args.trust:
        raise UsageError(f"--trust: converting {old} unpickles it, which runs any code the file was made to run; "
                         "pass --trust only for a checkpoint you wrote yourself")
    if not old.is_file():
        raise UsageError(f"OLD {old}: no such file")
    if new.exists():
        raise UsageError(f"NEW {new}: already exists; name a new file (then move it over the old one)")
    if not new.parent.is_dir():
        raise UsageError(f"NEW {new}: no folder {new.parent}")
    try:
        state = torch.load(old, map_location="cpu", weights_only=False)  # the one unpickling load (see above)
    except Exception as exc:  # noqa: BLE001 - whatever the file is, it is not a checkpoint we can convert
        raise UsageError(f"OLD {old}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    try:
        converted = convert_state(state)
    except TypeError as exc:
        raise UsageError(f"OLD {old}: cannot be converted ({exc})") from None
    ckpt.save_atomic(converted, new)
    print(f"wrote {new} (checkpoint format {ckpt.FORMAT_VERSION}); it loads without unpickling")
    return 0
