"""The four splits a domain-adaptation run sees, as tensors on the training device."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from posefast.skeleton import Skeleton, get_skeleton
from posefast.data.spec import load
from posefast.data.spec import LOADERS
from posefast.errors import for_argument
from posefast.seeds import derive_seed


@dataclass(frozen=True)
class Split:
    """One split of a domain pair as tensors on the training device. Fields a split does not have are None; a
    method that needs more makes a new record (:meth:`replace`), it never adds keys to a shared one.

    Read like a mapping of its present fields (``split["joints_3d"]``, ``"pose_class" in split``, ``split.items()``),
    which is what the epoch loop draws its batches from."""

    joints_2d: torch.Tensor  # [N, J, 2] pixels
    joints_2d_norm: torch.Tensor  # [N, J, 2] normalised screen (the lifter's input)
    camera: torch.Tensor  # [N, 4|9] intrinsics (fx, fy, cx, cy[, distortion])
    image_size: torch.Tensor  # [N, 2] int64 (width, height)
    joints_3d: torch.Tensor | None = None  # [N, J, 3] camera frame, metres (never on an unsupervised target's train)
    confidence: torch.Tensor | None = None  # [N, J] detector confidence
    subject: torch.Tensor | None = None  # [N]
    sequence: torch.Tensor | None = None  # [N]
    view: torch.Tensor | None = None  # [N]
    pose_class: torch.Tensor | None = None  # [N] class index of a labelled synthetic target's test poses
    camera_norm: torch.Tensor | None = None  # [N, 4|9] intrinsics in normalised screen units (PoseAug's source)

    @classmethod
    def of(cls, dataset, device, **extra) -> "Split":
        """The tensors of a :class:`~posefast.data.PoseDataset` (and ``extra`` fields) on ``device``."""
        return cls(**dataset.tensors(device=device, normalized_2d=True), **extra)

    def replace(self, **changes) -> "Split":
        return dataclasses.replace(self, **changes)

    def keys(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None]

    def items(self):
        return [(k, getattr(self, k)) for k in self.keys()]

    def values(self):
        return [getattr(self, k) for k in self.keys()]

    def __contains__(self, key) -> bool:
        return key in self.keys()

    def __getitem__(self, key: str) -> torch.Tensor:
        value = getattr(self, key, None) if isinstance(key, str) else None
        if value is None:
            raise KeyError(f"{key!r}: not in this split (it has {self.keys()})")
        return value

    def get(self, key: str, default=None):
        return self[key] if key in self else default


@dataclass
class DomainData:
    """The four splits a domain-adaptation run sees (:class:`Split`). ``target_train`` never carries 3D: an
    unsupervised target is 2D only."""

    skeleton: Skeleton
    source_train: Split
    source_test: Split
    target_train: Split
    target_test: Split
    source_spec: str = ""
    target_spec: str = ""
    # Pose-class names of labelled synthetic domains (``sequence = 100 * subject + class index``); the target test
    # split then carries ``pose_class`` [N]. Empty for real data.
    source_classes: tuple = ()
    target_classes: tuple = ()


HELD_OUT_EVERY = 5  # specs without a predefined split: every 5th sequence is the source test split


def spec_kind(spec: str) -> str:
    """The loader a spec names (``posefast.data.spec.LOADERS``), or ``archive`` for a file path."""
    prefix, sep, _ = str(spec).partition(":")
    return prefix if sep and prefix in LOADERS else "archive"


def split_by_sequence(dataset, split: str):
    """The ``split`` half of a dataset that has no predefined split (CMU mocap, pose archives): every
    ``HELD_OUT_EVERY``-th sequence (sorted ids; all views of a frame stay together) is ``test``, the rest ``train``,
    so no motion is seen in both. Without sequence ids the last fifth of the samples is the test split."""
    if dataset.sequence is not None and np.unique(dataset.sequence).size >= 2:
        ids = np.unique(dataset.sequence)
        held = ids[HELD_OUT_EVERY - 1::HELD_OUT_EVERY] if ids.size >= HELD_OUT_EVERY else ids[-1:]
        is_test = np.isin(dataset.sequence, held)
    else:
        is_test = np.arange(len(dataset)) >= len(dataset) - max(1, len(dataset) // HELD_OUT_EVERY)
    keep = is_test if split == "test" else ~is_test
    return dataset.subset(np.flatnonzero(keep))


def cap(dataset, n: int, seed: int):
    """At most ``n`` samples (a seeded random subset, in original order); ``n = 0`` keeps everything."""
    if not n or len(dataset) <= n:
        return dataset
    pick = np.sort(np.random.default_rng(seed).choice(len(dataset), size=n, replace=False))
    return dataset.subset(pick)


# The per-split seed salt of load_domains' caps: evaluating a run on its own data reproduces its exact subsets.
SPLIT_SALTS = {("source", "train"): 1, ("source", "test"): 2, ("target", "train"): 3, ("target", "test"): 4}


def load_split(spec: str, split: str, n: int, seed: int, salt: int, skeleton: str | Skeleton, cache=None):
    """One split of a data spec as :func:`load_domains` sees it (a :class:`~posefast.data.PoseDataset`).

    Synthetic specs generate exactly ``n`` poses of ``split``; CMU and archives are split by sequence
    (:func:`split_by_sequence`; ``split="all"`` keeps both halves); a 3DHP/3DPW file is one split (both halves are
    the whole file); Human3.6M has its subject split. Real data is then capped at ``n`` with a subset seeded by
    ``seed + salt`` (0 = everything). ``cache`` (a dict) keeps a spec that is read whole and split here, so it is
    read once for both halves.
    """
    skel = get_skeleton(skeleton)
    kind = spec_kind(spec)
    if kind == "synthetic":
        if not n:
            raise ValueError(f"{spec!r}: a synthetic spec needs a pose count (n_source/n_target/n_test > 0)")
        return load(spec, split=split, skeleton=skel.name, seed=seed, n=n)
    if kind in ("cmu", "archive"):
        cache = {} if cache is None else cache
        if spec not in cache:  # read once, split twice
            cache[spec] = load(spec, skeleton=skel.name, **({"seed": seed} if kind == "cmu" else {}))
        whole = cache[spec]
        return cap(whole if split == "all" else split_by_sequence(whole, split), n, derive_seed(seed, "subset", salt=salt))
    if kind in ("3dhp", "3dpw"):  # one file = one split: its 2D is the unlabelled target, its 3D the test
        return cap(load(spec, skeleton=skel.name), n, derive_seed(seed, "subset", salt=salt))
    return cap(load(spec, split=split, skeleton=skel.name), n, derive_seed(seed, "subset", salt=salt))


def load_domains(source: str, target: str, skeleton: str | Skeleton, device, n_source: int, n_target: int,
                 n_test: int, seed: int) -> DomainData:
    """Resolve the source and target specs (see :func:`posefast.data.load`) into train/test splits.

    Synthetic specs generate exactly ``n_*`` poses. Real specs load their predefined split (Human3.6M S1/5/6/7/8
    vs S9/11; a 3DHP/3DPW file is one split and serves both) or, without one (CMU, archives), split by sequence
    (:func:`split_by_sequence`); ``n_*`` then caps each split with a seeded random subset (0 = everything).
    A spec that cannot be read is a ``ValueError`` naming ``--source`` or ``--target``.
    """
    skel = get_skeleton(skeleton)
    for name, n in (("n_source", n_source), ("n_target", n_target), ("n_test", n_test)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"{name}: expected a non-negative int (0 = all of a real dataset), got {n!r}")

    whole = {}

    def get(role, split, n):
        spec = source if role == "source" else target
        with for_argument(f"--{role}"):
            return load_split(spec, split, n, seed, SPLIT_SALTS[role, split], skel, whole)

    src_train, src_test = get("source", "train", n_source), get("source", "test", n_test)
    tgt_train, tgt_test = get("target", "train", n_target).without_3d(), get("target", "test", n_test)
    if not src_train.has_3d:
        raise ValueError(f"--source {source!r}: a source domain needs 3D labels (joints_3d)")
    if not tgt_test.has_3d:
        raise ValueError(f"--target {target!r}: the target test split needs 3D labels to be evaluated")
    target_classes = tuple(tgt_test.meta.get("classes", ()))
    labels = {}
    if target_classes and tgt_test.sequence is not None:
        labels["pose_class"] = torch.as_tensor(np.asarray(tgt_test.sequence) % 100, device=device)
    return DomainData(skel, Split.of(src_train, device), Split.of(src_test, device), Split.of(tgt_train, device),
                      Split.of(tgt_test, device, **labels), source, target, tuple(src_train.meta.get("classes", ())),
                      target_classes)


def load_target_labels(target: str, skeleton: str | Skeleton, device, n_target: int, seed: int) -> Split:
    """The target's *training* split with its 3D labels: the very poses :func:`load_domains` gives as
    ``target_train`` (same spec, count, seed and subset), 3D kept. Only for what is explicitly not adaptation —
    the ``target-labels`` reference stage (the closable gap) and GPA's ``gpa_moments=target-3d`` diagnostic; no
    method reads it. The target's test split is never read here: training on it would score a lifter on the poses
    it learned. A target without a separate labelled training split is a ``ValueError`` naming ``--target``."""
    if spec_kind(target) in ("3dhp", "3dpw"):  # one file serves as both splits (load_split)
        raise ValueError(f"--target {target!r}: target 3D labels need a training split apart from the test split, "
                         f"and a 3DHP/3DPW file is a single split")
    with for_argument("--target"):
        train = load_split(target, "train", n_target, seed, SPLIT_SALTS["target", "train"], get_skeleton(skeleton))
    if not train.has_3d:
        raise ValueError(f"--target {target!r}: target 3D labels need joints_3d on the target's training split, "
                         f"and it has none")
    return Split.of(train, device)


def root_relative(joints_3d: torch.Tensor) -> torch.Tensor:
    """``[..., J, 3]`` relative to the root joint (index 0 in every layout)."""
    return joints_3d - joints_3d[..., :1, :]
