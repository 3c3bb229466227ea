"""Argument handling shared by the geometry functions: tensors pass through, arrays become float64 tensors."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def as_float(x, name: str) -> Tensor:
    """A floating tensor: a float tensor as it is (its dtype and device kept, so autograd and float32 training
    work); anything else (numpy arrays, lists, numbers, integer tensors) as float64, the precision data
    preparation works in."""
    if isinstance(x, Tensor):
        return x if x.is_floating_point() else x.to(torch.float64)
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a tensor or an array of numbers, got {type(x).__name__}") from None
    # torch takes neither negative strides nor read-only memory (broadcast views); copy() is C-ordered
    return torch.from_numpy(a if a.flags.c_contiguous and a.flags.writeable else a.copy())


def check_last(x: Tensor, name: str, sizes: tuple, what: str, min_dim: int = 1) -> None:
    """``x.shape[-1]`` in ``sizes`` and at least ``min_dim`` dims, else a ValueError naming ``name``."""
    if x.dim() < min_dim or x.shape[-1] not in sizes:
        want = " or ".join(f"[{', '.join(['...'] + ['*'] * (min_dim - 1) + [str(s)])}]" for s in sizes)
        raise ValueError(f"{name}: expected shape {want} ({what}), got {list(x.shape)}")


def positive(value, name: str) -> float:
    """A positive finite Python number, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)
