"""Skeleton tables as tensors on the device the kernels run on, cached so hot loops copy nothing."""
from __future__ import annotations

import numpy as np
import torch

from posefast.skeleton import Skeleton, get_skeleton


_CACHE: dict = {}


def compact_kcs_by_bone(pairs: np.ndarray, num_bones: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR lists for the compact part-KCS backward: for bone b, ``items[offsets[b]:offsets[b + 1]]`` are the
    (flat entry index, other bone) of every entry ``<u_b, u_k>`` of the compact layout ``pairs [P, D, 2]`` that
    contains b, in entry order; a diagonal entry (b, b) is listed twice (its derivative is 2 u_b)."""
    flat = pairs.reshape(-1, 2)
    lists = [[] for _ in range(num_bones)]
    for e, (i, k) in enumerate(flat.tolist()):
        if i < 0:
            continue
        lists[i].append((e, k))
        lists[k].append((e, i))
    offsets = np.cumsum([0] + [len(items) for items in lists]).astype(np.int64)
    items = np.array([item for items in lists for item in items], dtype=np.int64).reshape(-1, 2)
    return offsets, items


def _build(skel: Skeleton, table: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    if table in ("compact_offsets", "compact_items"):
        offsets, items = compact_kcs_by_bone(skel.compact_kcs_pairs, skel.num_bones)
        values = offsets if table == "compact_offsets" else items
    else:
        values = {
            "parents": skel.parents_array,
            "part_masks": skel.part_masks,
            "bone_groups": skel.bone_group_index,
            "frozen": skel.frozen_bone_mask,
            "compact_pairs": skel.compact_kcs_pairs.reshape(-1, 2),
        }[table]
    return torch.tensor(np.array(values), dtype=dtype, device=device)  # a copy: the skeleton tables are read-only


def table(skeleton: Skeleton | str, name: str, device: torch.device, dtype: torch.dtype = torch.int64) -> torch.Tensor:
    """``name`` in parents [J] / part_masks [P, B] / bone_groups [B] / frozen [B] / compact_pairs [P * D, 2] /
    compact_offsets [B + 1] / compact_items [L, 2] (the compact part-KCS layout and its per-bone lists) of
    ``skeleton``, on ``device``."""
    skel = get_skeleton(skeleton).require_kinematic()  # a keypoint set (body16) has no kinematic tables
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
