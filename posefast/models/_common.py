"""Small helpers shared by the model modules: argument checks and PoseAug-style initialisation."""
from __future__ import annotations

import math

import torch
from torch import nn


def check_tensor(x, name: str, trailing: tuple, min_dims: int | None = None) -> None:
    """Raise ``ValueError`` unless ``x`` is a floating tensor whose trailing dims equal ``trailing``.

    ``None`` in ``trailing`` matches any size. ``min_dims`` (default ``len(trailing)``) is the least
    number of dims accepted, so leading batch dims stay optional.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating tensor, got dtype {x.dtype}")
    need = len(trailing) if min_dims is None else min_dims
    shape = tuple(x.shape)
    expected = "[..., " + ", ".join("*" if t is None else str(t) for t in trailing) + "]"
    if x.dim() < need or any(t is not None and s != t for s, t in zip(shape[-len(trailing):], trailing)):
        raise ValueError(f"{name}: expected shape {expected}, got {shape}")


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return value


def check_probability(value, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not (0.0 <= value < 1.0):
        raise ValueError(f"{name}: expected a dropout probability in [0, 1), got {value!r}")
    return float(value)


def kaiming_linear_init(module: nn.Module) -> None:
    """PoseAug initialises every ``nn.Linear`` weight with Kaiming-normal (fan-in, ReLU gain), biases default."""
    if isinstance(module, nn.Linear):
        nn.init.kaiming_normal_(module.weight)


def default_bias_bound(fan_in: int) -> float:
    """The uniform bound torch's ``nn.Linear`` uses for its bias."""
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
