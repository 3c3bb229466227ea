"""``--device auto|cpu|cuda[:N]`` resolved in one place, for every entry point and the distributed set-up."""
from __future__ import annotations

import torch

from posefast import _ext
from posefast.errors import UsageError

__all__ = ["DEVICE_CHOICES", "resolve_device"]

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str, flag: str = "--device"):
    """``(torch.device, why)`` for ``auto``, ``cpu`` or ``cuda[:N]``.

    ``auto`` is CUDA when torch sees a GPU *and* this posefast build has its CUDA backend, else the CPU; ``why``
    says which it chose and the reason. ``cuda`` on a machine or build without CUDA is a :class:`UsageError`.
    """
    text = str(name).strip().lower()
    built = bool(_ext.build_info()["cuda"])  # looked up at call time: tests fake the build
    seen = torch.cuda.is_available()
    if text == "auto":
        if seen and built:
            return torch.device("cuda"), f"cuda (auto: {torch.cuda.get_device_name(0)})"
        reason = "torch sees no CUDA device" if not seen else "this posefast build has no CUDA backend"
        return torch.device("cpu"), f"cpu (auto: {reason})"
    if text == "cpu":
        return torch.device("cpu"), "cpu"
    if text == "cuda" or text.startswith("cuda:"):
        try:
            device = torch.device(text)
        except RuntimeError:
            raise UsageError(f"{flag}: expected one of {', '.join(DEVICE_CHOICES)} (or cuda:N), got {name!r}") from None
        if not seen:
            raise UsageError(f"{flag} {name}: torch sees no CUDA device on this machine (torch "
                             f"{torch.__version__}, CUDA {torch.version.cuda or 'not compiled in'}); use --device cpu")
        if not built:
            raise UsageError(f"{flag} {name}: this posefast build has no CUDA backend; reinstall with nvcc on PATH "
                             "(POSEFAST_CUDA=ON) or use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"{flag} {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        return device, str(device)
    raise UsageError(f"{flag}: expected one of {', '.join(DEVICE_CHOICES)} (or cuda:N), got {name!r}")
