"""Routes the public ops to the compiled kernels or to their pure-torch twins in ``posefast.reference``."""
from __future__ import annotations

_enabled = [True]


def kernels_enabled() -> bool:
    return _enabled[0]


class use_kernels:
    """Switch between the compiled kernels (True, default) and the pure-torch reference ops (False).

    Called plainly it sets the switch for the process: ``posefast.use_kernels(False)``. As a context manager it
    restores the previous setting when the block ends::

        with posefast.use_kernels(False):
            loss = step(batch)   # runs on posefast.reference
    """

    def __init__(self, enabled: bool = True):
        self._previous = _enabled[0]
        _enabled[0] = bool(enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _enabled[0] = self._previous
        return False
