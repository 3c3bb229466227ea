"""What every ``python -m posefast.*`` entry point shares: a mistake in the user's input ends in one line
``error: ...`` naming the argument and what was expected (exit status 2, as argparse's own usage errors), and the
traceback only with ``POSEFAST_DEBUG=1``; and ``--device auto|cpu|cuda`` resolved in one place."""
from __future__ import annotations

import contextlib
import os
import pickle
import sys

__all__ = ["UsageError", "USER_ERRORS", "run_cli", "for_argument", "resolve_device", "DEVICE_CHOICES",
           "DEBUG_VARIABLE"]

DEBUG_VARIABLE = "POSEFAST_DEBUG"
DEVICE_CHOICES = ("auto", "cpu", "cuda")


class UsageError(ValueError):
    """Bad command-line input; the message starts with the argument it is about."""


# What a user's input can raise from the loaders and checks (bad specs, files, settings, checkpoints). A bug in
# posefast raises something else (or raises these from deep inside a computation): POSEFAST_DEBUG=1 shows where.
USER_ERRORS = (ValueError, TypeError, OSError, pickle.UnpicklingError)


def _debug() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def run_cli(main, argv=None) -> int:
    """Run ``main(argv)``; a user error prints ``error: <message>`` on stderr and returns 2."""
    try:
        return main(argv)
    except USER_ERRORS as exc:
        if _debug():
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def for_argument(flag: str):
    """Errors raised inside name ``flag``: ``ValueError('spec: ...')`` becomes ``UsageError('--data: ...')``."""
    try:
        yield
    except UsageError:
        raise
    except USER_ERRORS as exc:
        message = str(exc)
        if message.startswith("spec: "):  # the loaders' name for what the user passed as ``flag``
            message = message[len("spec: "):]
        raise UsageError(f"{flag}: {message}") from exc


def resolve_device(name: str, flag: str = "--device"):
    """``(torch.device, why)`` for ``auto``, ``cpu`` or ``cuda[:N]``.

    ``auto`` is CUDA when torch sees a GPU *and* this posefast build has its CUDA backend, else the CPU; ``why``
    says which it chose and the reason. ``cuda`` on a machine or build without CUDA is a :class:`UsageError`.
    """
    import torch

    from posefast._ext import build_info

    text = str(name).strip().lower()
    built = bool(build_info()["cuda"])
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
