"""Routes the public ops to the compiled kernels or to their pure-torch twins in ``posefast.reference``."""
from __future__ import annotations

_enabled = [True]


def kernels_enabled() -> bool:
    return _enabled[0]


class ProcessSwitch:
    """A process-wide on/off setting held in the subclass's one-element list ``_state``: called plainly it sets
    the setting; as a context manager it restores the previous one when the block ends."""

    _state: list

    def __init__(self, enabled: bool = True):
        self._previous = self._state[0]
        self._state[0] = bool(enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._state[0] = self._previous
        return False


class use_kernels(ProcessSwitch):
    """Switch between the compiled kernels (True, default) and the pure-torch reference ops (False).

    Called plainly it sets the switch for the process: ``posefast.use_kernels(False)``. As a context manager it
    restores the previous setting when the block ends::

        with posefast.use_kernels(False):
            loss = step(batch)   # runs on posefast.reference
    """

    _state = _enabled
