"""``--precision fp32|bf16|auto``: the one place where training runs the networks in bf16 (issue 27).

:func:`resolve_precision` turns the setting into a :class:`Precision` (what runs and why); the epoch loop
(:class:`posefast.engine.loop.EpochLoop`) enters :meth:`Precision.networks` around every training step and every
evaluation, so no method grows its own autocast.

What runs in bf16 is exactly the networks' forward passes. Inside the context, the *outermost* ``nn.Module`` call (a
lifter, generator, discriminator, pose network, style network: whatever a method calls) runs under
``torch.autocast(dtype=torch.bfloat16)`` on its parameters' device, and its floating outputs leave it as float32.
Everything between network calls (losses, the custom ops, metrics, the optimiser's update of the float32 master
weights) therefore runs without autocast in the precision the method wrote it in; the custom ops also cast at their
own boundary (:func:`posefast.ops._checks.fp32_boundary`) when one is called inside a network. Backward passes
follow the forward's dtypes, as autograd does. Optimiser state and checkpoints are float32/float64 as before:
autocast never changes a parameter's dtype.

Why module hooks rather than one ``torch.autocast`` around the whole step: a step's own arithmetic (e.g. a loss
written as ``((a - b) ** 2).mean()`` on a network's output, the augmentation maths of PoseAug's generator) would
otherwise run in bf16 wherever both operands came out of a network, and whether it did would depend on how each
method happens to be written.

``auto`` is bf16 where the hardware has bf16 matrix units — on the CPU the ``amx_bf16`` or ``avx512_bf16`` flag
(:func:`posefast._ext.cpu_bf16_units`), on a CUDA GPU compute capability 8.0 or later (bf16 tensor cores) — else
fp32. ``bf16`` is honoured anywhere (without the units torch emulates it, slower than fp32).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from posefast import _ext
from posefast.errors import UsageError

__all__ = ["PRECISION_CHOICES", "Precision", "FP32", "resolve_precision", "hardware_bf16"]

PRECISION_CHOICES = ("fp32", "bf16", "auto")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def hardware_bf16(device) -> tuple[bool, str]:
    """``(has_units, what)``: whether ``device`` has bf16 matrix units, and the evidence in words."""
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False, "torch sees no CUDA device"
        index = device.index if device.index is not None else torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        name = torch.cuda.get_device_name(index)
        if major >= 8:
            return True, f"{name}, compute capability {major}.{minor}: bf16 tensor cores"
        return False, f"{name}, compute capability {major}.{minor}: no bf16 tensor cores (8.0 or later have them)"
    if device.type == "cpu":
        units = _ext.cpu_bf16_units()
        if units:
            return True, f"CPU flags {', '.join(units)}"
        return False, f"the CPU lists none of {', '.join(_ext.CPU_BF16_FLAGS)}"
    return False, f"no bf16 check for device type {device.type!r}"


@dataclass(frozen=True)
class Precision:
    """A resolved precision: ``name`` (``fp32`` or ``bf16``, what the checkpoint records) and ``why`` (the run
    header's words)."""
    name: str
    why: str = ""

    @property
    def dtype(self) -> torch.dtype:
        return _DTYPES[self.name]

    def describe(self) -> str:
        return f"{self.name} ({self.why})" if self.why else self.name

    def networks(self):
        """The context under which the networks' forward passes run in this precision (see the module docstring);
        a no-op for fp32. Re-entrant."""
        if self.name == "fp32":
            return contextlib.nullcontext()
        return _NetworkAutocast(self.dtype)


FP32 = Precision("fp32", "default")


def resolve_precision(name: str, device, flag: str = "--precision") -> Precision:
    """The :class:`Precision` that ``name`` (one of :data:`PRECISION_CHOICES`) means on ``device``."""
    text = str(name).strip().lower()
    if text == "fp32":
        return Precision("fp32", "requested")
    if text == "bf16":
        has, what = hardware_bf16(device)
        return Precision("bf16", "requested" + ("" if has else f"; emulated, slower than fp32: {what}"))
    if text == "auto":
        has, what = hardware_bf16(device)
        return Precision("bf16" if has else "fp32", f"auto: {what}")
    raise UsageError(f"{flag}: expected one of {', '.join(PRECISION_CHOICES)}, got {name!r}")


def _device_type(module: torch.nn.Module, args) -> str:
    for tensor in module.parameters():
        return tensor.device.type
    for tensor in module.buffers():
        return tensor.device.type
    for a in args:
        if isinstance(a, torch.Tensor):
            return a.device.type
    return "cpu"


def _to_fp32(value):
    """Floating tensors below float32 in ``value`` (a tensor, or tuples/lists/dicts of them) as float32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype in (torch.bfloat16, torch.float16) else value
    if isinstance(value, tuple):
        items = [_to_fp32(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [_to_fp32(v) for v in value]
    if isinstance(value, dict):
        return type(value)((k, _to_fp32(v)) for k, v in value.items())
    return value


class _NetworkAutocast:
    """Global module hooks (``torch.nn.modules.module.register_module_forward_*hook``) while entered: the outermost
    module call enters ``torch.autocast`` on its device, the matching hook leaves it and returns the outputs as
    float32. The post-hook is registered ``always_call``, so a forward that raises still leaves autocast."""

    _active: "_NetworkAutocast | None" = None

    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype
        self.depth = 0
        self.open: list = []
        self.handles: list = []
        self.outer = None

    def __enter__(self):
        self.outer = _NetworkAutocast._active
        if self.outer is not None:  # already inside (e.g. an evaluation inside a step): one set of hooks
            return self
        _NetworkAutocast._active = self
        module = torch.nn.modules.module
        self.handles = [module.register_module_forward_pre_hook(self._pre),
                        module.register_module_forward_hook(self._post, always_call=True)]
        return self

    def __exit__(self, *exc):
        if self.outer is not None:
            return False
        for handle in self.handles:
            handle.remove()
        self.handles = []
        while self.open:  # only after an error inside a forward that skipped its hook
            ctx = self.open.pop()
            if ctx is not None:
                ctx.__exit__(None, None, None)
        self.depth = 0
        _NetworkAutocast._active = None
        return False

    def _pre(self, module, args):
        if self.depth == 0:
            device_type = _device_type(module, args)
            ctx = torch.autocast(device_type, dtype=self.dtype) if device_type in ("cpu", "cuda") else None
            if ctx is not None:
                ctx.__enter__()
            self.open.append(ctx)
        self.depth += 1

    def _post(self, module, args, output):
        self.depth -= 1
        if self.depth:
            return None
        ctx = self.open.pop()
        if ctx is None:
            return None
        ctx.__exit__(None, None, None)
        return _to_fp32(output)
