"""Skeleton tables as tensors on the device the kernels run on, cached so hot loops copy nothing."""
from __future__ import annotations

import numpy as np
import torch

from posefast.skeleton import Skeleton, get_skeleton


_CACHE: dict = {}


def _build(skel: Skeleton, table: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    values = {
        "parents": skel.parents_array,
        "part_masks": skel.part_masks,
        "bone_groups": skel.bone_group_index,
        "frozen": skel.frozen_bone_mask,
    }[table]
    return torch.tensor(np.array(values), dtype=dtype, device=device)  # a copy: the skeleton tables are read-only


def table(skeleton: Skeleton | str, name: str, device: torch.device, dtype: torch.dtype = torch.int64) -> torch.Tensor:
    """``name`` in parents [J] / part_masks [P, B] / bone_groups [B] / frozen [B] of ``skeleton``, on ``device``."""
    skel = get_skeleton(skeleton)
    key = (skel.name, name, str(device), dtype)
    cached = _CACHE.get(key)
    if cached is None:
        cached = _CACHE[key] = _build(skel, name, device, dtype)
    return cached


def contiguous_batch(x: torch.Tensor, trailing: int) -> tuple[torch.Tensor, int]:
    """``x`` made contiguous, and the number of items in its leading (batch) dims."""
    n = 1
    for s in x.shape[: x.dim() - trailing]:
        n *= s
    return x.contiguous(), n


def new_like(x: torch.Tensor) -> torch.Tensor:
    """An uninitialised contiguous tensor with ``x``'s shape, dtype and device: the layout every kernel writes.

    Real impls and fake impls both allocate through this, so torch.compile sees the strides the kernel produces
    (``torch.empty_like`` would copy a permuted input's strides into the fake output).
    """
    return x.new_empty(x.shape)
