"""The errors a user's input raises, shared by every layer: a loader, a checkpoint reader or a run folder raises
:class:`UsageError` (or one of :data:`USER_ERRORS`) with a message that starts with the argument it is about, and
the command-line layer (:mod:`posefast.cli.common`) turns it into one line ``error: ...``."""
from __future__ import annotations

import contextlib
import pickle

__all__ = ["UsageError", "USER_ERRORS", "for_argument"]


class UsageError(ValueError):
    """Bad command-line input; the message starts with the argument it is about."""


# What a user's input can raise from the loaders and checks (bad specs, files, settings, checkpoints). A bug in
# posefast raises something else (or raises these from deep inside a computation): POSEFAST_DEBUG=1 shows where.
USER_ERRORS = (ValueError, TypeError, OSError, pickle.UnpicklingError)


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
