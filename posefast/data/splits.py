"""Source/target split helpers for domain adaptation (PoseAug / PoseDA protocol).

The source domain is labelled (3D + 2D). The target domain is seen in training through its 2D only; its 3D, when
the data has it, is kept apart for evaluation and never reaches a training loop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from posefast.data.pose3d.dataset import PoseDataset

__all__ = ["DomainPair", "make_domains", "split_by_subject", "random_split"]


@dataclass(frozen=True)
class DomainPair:
    """source: 3D + 2D for supervised training; target: 2D only (training); target_eval: 3D + 2D or None."""

    source: PoseDataset
    target: PoseDataset
    target_eval: "PoseDataset | None"


def make_domains(source: PoseDataset, target: PoseDataset) -> DomainPair:
    """Pair a labelled source with a target whose 3D (if any) is split off for evaluation only."""
    if not source.has_3d:
        raise ValueError(f"source: {source.name} has no joints_3d; a source domain must be labelled")
    if source.skeleton.name != target.skeleton.name:
        raise ValueError(f"source/target: skeletons differ ({source.skeleton.name} vs {target.skeleton.name}); "
                         "convert one with PoseDataset.to_skeleton")
    return DomainPair(source=source, target=target.without_3d() if target.has_3d else target,
                      target_eval=target if target.has_3d else None)


def split_by_subject(dataset: PoseDataset, train_subjects: Iterable[int], test_subjects: Iterable[int]
                     ) -> tuple[PoseDataset, PoseDataset]:
    """(train, test) by subject id; the two subject sets must not overlap."""
    tr, te = set(int(s) for s in train_subjects), set(int(s) for s in test_subjects)
    if tr & te:
        raise ValueError(f"train_subjects/test_subjects: overlap {sorted(tr & te)}")
    return dataset.select_subjects(tr), dataset.select_subjects(te)


def random_split(dataset: PoseDataset, test_fraction: float, seed: int = 0, by: str = "sequence"
                 ) -> tuple[PoseDataset, PoseDataset]:
    """(train, test) drawing whole groups (``by`` = 'sequence' or 'subject') or single samples ('sample').

    Splitting by group keeps near-identical neighbouring frames of one sequence on one side.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a value in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    if by == "sample":
        test = rng.random(len(dataset)) < test_fraction
    elif by in ("sequence", "subject"):
        ids = getattr(dataset, by)
        if ids is None:
            raise ValueError(f"{dataset.name}: has no {by!r} ids; use by='sample'")
        groups = np.unique(ids)
        if len(groups) < 2:
            raise ValueError(f"{dataset.name}: only one {by} ({groups.tolist()}); cannot split by {by}")
        n_test = min(max(1, int(round(test_fraction * len(groups)))), len(groups) - 1)
        test = np.isin(ids, rng.choice(groups, size=n_test, replace=False))
    else:
        raise ValueError(f"by: expected 'sequence', 'subject' or 'sample', got {by!r}")
    if test.all() or not test.any():
        raise ValueError(f"{dataset.name}: split left one side empty; change test_fraction or seed")
    return dataset.subset(~test), dataset.subset(test)
