"""The four splits a domain-adaptation run sees, as tensors on the training device."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from posefast.skeleton import Skeleton, get_skeleton


@dataclass
class DomainData:
    """Each split is a dict of tensors: ``joints_2d_norm`` [N, J, 2] (normalised screen), ``joints_2d`` [N, J, 2]
    (pixels), ``camera`` [N, 4|9], ``image_size`` [N, 2], and ``joints_3d`` [N, J, 3] (camera frame, metres) where
    labels may be used. ``target_train`` never carries 3D: an unsupervised target is 2D only."""

    skeleton: Skeleton
    source_train: dict
    source_test: dict
    target_train: dict
    target_test: dict
    source_spec: str = ""
    target_spec: str = ""


def _tensors(dataset, device) -> dict:
    return dataset.tensors(device=device, normalized_2d=True)


def load_domains(source: str, target: str, skeleton: str | Skeleton, device, n_source: int, n_target: int,
                 n_test: int, seed: int) -> DomainData:
    """Resolve the source and target specs (see :func:`posefast.data.load`) into train/test splits."""
    from posefast.data import load

    skel = get_skeleton(skeleton)

    def get(spec, split, n):  # n = 0: everything the spec holds (real data); synthetic specs need a count
        return load(spec, split=split, skeleton=skel.name, seed=seed, **({"n": n} if n else {}))

    src_train, src_test = get(source, "train", n_source), get(source, "test", n_test)
    tgt_train, tgt_test = get(target, "train", n_target).without_3d(), get(target, "test", n_test)
    if not src_train.has_3d:
        raise ValueError(f"--source {source!r}: a source domain needs 3D labels (joints_3d)")
    if not tgt_test.has_3d:
        raise ValueError(f"--target {target!r}: the target test split needs 3D labels to be evaluated")
    return DomainData(skel, _tensors(src_train, device), _tensors(src_test, device), _tensors(tgt_train, device),
                      _tensors(tgt_test, device), source, target)


def root_relative(joints_3d: torch.Tensor) -> torch.Tensor:
    """``[..., J, 3]`` relative to the root joint (index 0 in every layout)."""
    return joints_3d - joints_3d[..., :1, :]
