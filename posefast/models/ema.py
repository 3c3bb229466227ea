"""Mean teacher (Tarvainen & Valpola, NeurIPS 2017) as used by UDAPE and the multi-level alignment method:
teacher parameters are an exponential moving average of the student's (α = 0.999), buffers are copied."""
from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["EMATeacher"]


class EMATeacher(nn.Module):
    """Holds a frozen copy of ``student`` and updates it with ``θ_t ← α·θ_t + (1 − α)·θ_s``.

    The update is one fused multi-tensor ``torch._foreach_lerp_`` over all parameters (lerp with weight
    1 − α is exactly that average); buffers (BN statistics, counters) are copied from the student, as UDAPE
    does. The teacher stays in eval mode and runs without autograd.
    """

    def __init__(self, student: nn.Module, alpha: float = 0.999):
        super().__init__()
        self.alpha = self._check_alpha(alpha)
        self.teacher = copy.deepcopy(student)
        self.teacher.requires_grad_(False)
        self.teacher.eval()
        self._param_names = [n for n, _ in self.teacher.named_parameters()]
        self._buffer_names = [n for n, _ in self.teacher.named_buffers()]

    @staticmethod
    def _check_alpha(alpha) -> float:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha: expected a value in [0, 1], got {alpha!r}")
        return float(alpha)

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()  # the teacher never uses batch statistics or dropout
        return self

    def _matching(self, student: nn.Module):
        s_params = dict(student.named_parameters())
        s_buffers = dict(student.named_buffers())
        if list(s_params) != self._param_names or list(s_buffers) != self._buffer_names:
            raise ValueError("student: its parameters/buffers do not match the teacher's (a different model?)")
        return [s_params[n] for n in self._param_names], [s_buffers[n] for n in self._buffer_names]

    @torch.no_grad()
    def update(self, student: nn.Module, alpha: float | None = None) -> None:
        """One EMA step from ``student`` (``alpha`` overrides the stored decay for this step, e.g. a warm-up)."""
        a = self.alpha if alpha is None else self._check_alpha(alpha)
        s_params, s_buffers = self._matching(student)
        t_params = [p for _, p in self.teacher.named_parameters()]
        for t, s in zip(t_params, s_params):
            if t.shape != s.shape:
                raise ValueError(f"student: parameter shape {tuple(s.shape)} differs from the teacher's "
                                 f"{tuple(t.shape)}")
        if t_params:
            torch._foreach_lerp_(t_params, [s.detach() for s in s_params], 1.0 - a)
        for t, s in zip((b for _, b in self.teacher.named_buffers()), s_buffers):
            t.copy_(s)

    def forward(self, *args, **kwargs):
        with torch.no_grad():
            return self.teacher(*args, **kwargs)
