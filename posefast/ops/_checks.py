"""Input validation shared by every public op: each error names the argument and what was expected."""
from __future__ import annotations

import functools

import torch

from posefast._ext import MAX_JOINTS

FLOAT_DTYPES = (torch.float32, torch.float64)


def _shape(x: torch.Tensor) -> str:
    return "[" + ", ".join(str(s) for s in x.shape) + "]"


def check_float(x, name: str) -> torch.Tensor:
    """A float32/float64 tensor, else TypeError naming ``name``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        if x.dtype in _LOW:  # computing in it would lose the precision the kernels are written for
            raise TypeError(f"{name}: expected float32 or float64, got {x.dtype}; posefast's ops do not compute in "
                            f"it (cast with .float(); under --precision bf16 the engine casts at the op boundary)")
        raise TypeError(f"{name}: expected float32 or float64, got {x.dtype}")
    return x


_LOW = (torch.bfloat16, torch.float16)


def _cast_low(value):
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype in _LOW else value
    if isinstance(value, (tuple, list)) and not hasattr(value, "_fields"):
        return type(value)(_cast_low(v) for v in value)
    return value


def fp32_boundary(fn):
    """Decorator of every public op: called where autocast is on (inside a network's forward under ``--precision
    bf16``, :mod:`posefast.engine.precision`, or a user's own ``torch.autocast``), its bf16/fp16 tensor arguments
    are cast to float32 and it runs with autocast off, as torch's autocast runs its own float32-policy ops (so the
    pure-torch twins under ``use_kernels(False)`` do not run their matrix products in bf16 either). float64 stays
    float64. Outside autocast it changes nothing, and :func:`check_float` refuses a bf16 tensor."""
    @functools.wraps(fn)
    def op(*args, **kwargs):
        if not torch._C._is_any_autocast_enabled():
            return fn(*args, **kwargs)
        args = tuple(_cast_low(a) for a in args)
        kwargs = {k: _cast_low(v) for k, v in kwargs.items()}
        with torch.autocast("cpu", enabled=False), torch.autocast("cuda", enabled=False):
            return fn(*args, **kwargs)
    return op


def check_trailing(x: torch.Tensor, name: str, trailing: tuple, what: str) -> torch.Tensor:
    """Shape ``[..., *trailing]`` (``None`` in trailing accepts any size there)."""
    k = len(trailing)
    ok = x.dim() >= k and all(t is None or s == t for s, t in zip(x.shape[x.dim() - k:], trailing))
    if not ok:
        want = ", ".join("*" if t is None else str(t) for t in trailing)
        raise ValueError(f"{name}: expected shape [..., {want}] ({what}), got {_shape(x)}")
    return x


def check_points(x, name: str, num: int | None, dim: int, what: str = "") -> torch.Tensor:
    """Float tensor ``[..., num, dim]`` with at most MAX_JOINTS points when ``num`` is free."""
    check_float(x, name)
    check_trailing(x, name, (num, dim), what or f"{dim}D points")
    if x.shape[-2] > MAX_JOINTS:
        raise ValueError(f"{name}: at most {MAX_JOINTS} joints per pose are supported, got {x.shape[-2]}")
    return x


def check_like(x, name: str, ref: torch.Tensor, ref_name: str) -> torch.Tensor:
    """Same dtype and device as ``ref`` (no silent casts or copies across devices)."""
    if x.device != ref.device:
        raise ValueError(f"{name}: expected device {ref.device} (like {ref_name}), got {x.device}")
    if x.dtype != ref.dtype:
        raise TypeError(f"{name}: expected dtype {ref.dtype} (like {ref_name}), got {x.dtype}")
    return x


def check_batch(x: torch.Tensor, name: str, batch: torch.Size, ref_name: str, trailing: int) -> torch.Tensor:
    """Leading dims of ``x`` (all but ``trailing``) equal ``batch`` exactly: nothing is broadcast."""
    lead = x.shape[: x.dim() - trailing]
    if lead != batch:
        raise ValueError(
            f"{name}: expected leading dims {list(batch)} matching {ref_name}, got {list(lead)} "
            f"(shape {_shape(x)}); posefast does not broadcast batch dims"
        )
    return x
