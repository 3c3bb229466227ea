"""What every ``python -m posefast.*`` entry point shares: a mistake in the user's input ends in one line
``error: ...`` naming the argument and what was expected (exit status 2, as argparse's own usage errors), and the
traceback only with ``POSEFAST_DEBUG=1``."""
from __future__ import annotations

import os
import sys

from posefast.errors import USER_ERRORS

__all__ = ["run_cli", "DEBUG_VARIABLE"]

DEBUG_VARIABLE = "POSEFAST_DEBUG"


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
