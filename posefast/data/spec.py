"""``load(spec, **options)``: one entry point from a data spec string to a :class:`PoseDataset`.

Specs: ``synthetic:h36m`` / ``synthetic:3dhp`` / ``synthetic:3dpw`` (and the single-factor targets
``synthetic:h36m+position`` / ``+view`` / ``+bodies`` / ``+local`` / ``+classes``), ``h36m:<dir>``, ``3dhp:<file>``,
``3dpw:<sequenceFiles dir | split dir | .pkl | .npz>``, ``cmu:<dir>``, or the path of a pose archive (``.npz``);
what each loader assumes is in ``ARCHIVE.md``. Options go to the loader (see each
loader's docstring); ``stride`` (keep every k-th sample) and ``skeleton`` work for every spec, ``subjects`` for
archives too. An option a loader does not take raises ``TypeError`` listing the accepted ones.
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path

import numpy as np

from posefast.data.pose3d.cmu import load_cmu
from posefast.data.pose3d.dataset import PoseDataset
from posefast.data.pose3d.h36m import load_h36m
from posefast.data.pose3d.mpi3dhp import load_3dhp
from posefast.data.pose3d.pw3d import load_3dpw
from posefast.data.synth3d.synthetic import generate_synthetic

__all__ = ["load", "LOADERS"]


def _load_archive(path, *, subjects=None, split=None, skeleton=None) -> PoseDataset:
    if split not in (None, "all"):
        raise ValueError(f"split: an archive has no predefined split; pass subjects=[...] (got split={split!r})")
    ds = PoseDataset.load(path)
    if subjects is not None:
        ds = ds.select_subjects(subjects)
    return ds if skeleton is None else ds.to_skeleton(skeleton)


LOADERS = {
    "synthetic": generate_synthetic,
    "h36m": load_h36m,
    "3dhp": load_3dhp,
    "3dpw": load_3dpw,
    "cmu": load_cmu,
}


def _call(name: str, fn, target, options: dict) -> PoseDataset:
    params = inspect.signature(fn).parameters
    accepted = [p for p in params if params[p].kind == inspect.Parameter.KEYWORD_ONLY or
                (p not in ("preset", "directory", "path") and params[p].default is not inspect.Parameter.empty)]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(f"load({name}:...): unknown option(s) {unknown}; accepted: {sorted(accepted + ['stride'])}")
    return fn(target, **options)


def load(spec: "str | os.PathLike", **options) -> PoseDataset:
    """Resolve a data spec (see the module docstring) and return its :class:`PoseDataset`.

    Examples: ``load("synthetic:3dhp", n=20000, seed=1, split="test")``,
    ``load("h36m:data/", keypoints="gt", split="train", stride=5)``, ``load("runs/target.npz")``.
    """
    stride = options.pop("stride", None)
    if stride is not None and (not isinstance(stride, (int, np.integer)) or stride < 1):
        raise ValueError(f"stride: expected a positive integer, got {stride!r}")
    text = os.fspath(spec)
    prefix, sep, rest = text.partition(":")
    if sep and prefix in LOADERS:
        if not rest:
            raise ValueError(f"spec: {text!r} names no {'preset' if prefix == 'synthetic' else 'path'} after ':'")
        if prefix == "h36m" and stride is not None:  # Human3.6M strides within each sequence
            options["stride"], stride = stride, None
        ds = _call(prefix, LOADERS[prefix], rest, options)
    else:
        path = Path(text)
        if not path.is_file():
            if not (sep and prefix.isalnum()) and (text.endswith(".npz") or os.sep in text):  # a missing file
                raise FileNotFoundError(f"spec: {text!r}: no such file (expected a pose archive .npz or one of "
                                        f"{', '.join(p + ':...' for p in LOADERS)})")
            raise ValueError(f"spec: {text!r} is neither an existing archive file nor one of "
                             f"{', '.join(p + ':...' for p in LOADERS)}")
        ds = _call("archive", _load_archive, path, options)
    if stride is not None and stride > 1:
        ds = ds.subset(np.arange(0, len(ds), stride))
    ds.meta.setdefault("spec", text)
    return ds
