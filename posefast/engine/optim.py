"""The optimiser every method builds (issue 27): the one place that says which implementation of Adam runs.

:func:`adam` is ``torch.optim.Adam`` with its multi-tensor ("foreach") update. torch picks that update by itself only
for CUDA tensors; on the CPU its default is the single-tensor loop, which launches each of Adam's elementwise
operations once per parameter tensor (and reads each parameter's step count back as a Python float). The foreach
update runs the same elementwise operations in the same order on the same float32 values, so a run's bits do not
change (checked on every method: bench/NOTES.md, "Mixed precision"); ``fused=True`` would be faster still but
rounds differently (other bits, so other tables), which is why it is not used.

A checkpoint stores the flag in its optimiser's ``param_groups`` and ``load_state_dict`` restores it as saved, so a
run resumed from a checkpoint written before this choice continues on the single-tensor loop: the same bits, only
slower.
"""
from __future__ import annotations

from typing import Iterable

import torch

__all__ = ["adam"]


def adam(params: Iterable, lr: float) -> torch.optim.Adam:
    """Adam (torch's defaults: betas (0.9, 0.999), eps 1e-8, no weight decay) over ``params`` (tensors or
    parameter groups, as ``torch.optim.Adam`` takes them) at learning rate ``lr``, with the foreach update."""
    return torch.optim.Adam(params, lr=lr, foreach=True)
