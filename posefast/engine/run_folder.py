"""A run folder is never overwritten by accident: ``python -m posefast.train`` refuses to start in a folder that
holds a run unless ``--resume`` (continue it) or ``--overwrite`` (start again) says what to do with it."""
from __future__ import annotations

import os
import time
from pathlib import Path

from posefast.engine.jobs import SUMMARY_JSON, SUMMARY_MD
from posefast.errors import UsageError

__all__ = ["RUN_FILES", "run_files", "prepare_run_folder", "default_out"]

# What a posefast run writes (lifting runs, the comparison, multilevel and adain), at the top of the run folder
# or up to two levels down (the comparison's and multilevel's per-method / per-variant / per-stage folders).
RUN_FILES = ("checkpoint.pt", "metrics.json", "metrics.jsonl", SUMMARY_JSON, SUMMARY_MD, "config.json",
             "config.yaml",
             "adain.pt", "samples.png", "predictions.png", "timing.jsonl", "target_errors.npz", "target_records.npz",
             "diagnostics.png", "pretrained.pt", "pretrain_curve.png")
_MARKERS = ("checkpoint.pt", "metrics.json", "metrics.jsonl", SUMMARY_JSON, "adain.pt")


def _is_run_file(path: Path) -> bool:
    # ".checkpoint.pt.tmp-<pid>": what a run killed inside save_atomic leaves behind
    return path.is_file() and (path.name in RUN_FILES or path.name.startswith(".checkpoint.pt.tmp-"))


_DEPTH = 2


def _folders(out: Path, depth: int) -> list[Path]:
    subs = sorted(p for p in out.iterdir() if p.is_dir() and not p.is_symlink()) if depth else []
    return [out] + [f for s in subs for f in _folders(s, depth - 1)]


def run_files(out: "str | os.PathLike") -> list[Path]:
    """The files of a previous run in ``out`` (and its subfolders, two levels down), sorted; empty if there is
    none. A folder holds a run only when it has a checkpoint, metrics or a summary, not merely a plot or config."""
    out = Path(out)
    if not out.is_dir():
        return []
    folders = _folders(out, _DEPTH)
    if not any((f / m).is_file() for f in folders for m in _MARKERS):
        return []
    return sorted(p for f in folders for p in f.iterdir() if _is_run_file(p))


def prepare_run_folder(out: "str | os.PathLike", resume: bool, overwrite: bool, is_main: bool = True) -> None:
    """Check ``out`` before a run starts.

    A folder that holds a run (:func:`run_files`) is an error naming both ways on, unless ``resume`` (the run
    continues from its checkpoint) or ``overwrite`` (the previous run's files are deleted here, by the main process
    only, so nothing of it mixes with the new run; files posefast did not write are left alone).
    """
    if resume and overwrite:
        raise UsageError("--resume and --overwrite: choose one (continue the run in --out, or start it again)")
    found = run_files(out)
    if not found or resume:
        return
    if not overwrite:
        shown = ", ".join(str(p.relative_to(out)) for p in found[:4]) + (", ..." if len(found) > 4 else "")
        raise UsageError(f"--out {os.fspath(out)}: holds a run ({shown}); pass --resume to continue it or "
                         f"--overwrite to delete it and start again (or choose another --out)")
    if is_main:
        for path in found:
            path.unlink()
        for folder in sorted({p.parent for p in found}, key=lambda p: len(p.parts), reverse=True):
            if folder != Path(out) and not any(folder.iterdir()):
                folder.rmdir()


def default_out(name: str) -> str:
    """``runs/<timestamp>-<name>``: the run folder when ``--out`` is not given."""
    return str(Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}")
