"""2D→3D lifting backbones and their registry.

Every lifter maps 2D joints ``[..., J, 2]`` in normalised screen coordinates to root-relative 3D joints
``[..., J, 3]`` (root row exactly zero); J comes from the skeleton (``"h36m16"``/``"h36m17"`` or a
:class:`~posefast.skeleton.Skeleton`).
"""
from __future__ import annotations

from .base import Lifter
from .semgcn import SemGCN, SemGraphConv
from .simple_baseline import SimpleBaseline
from .stgcn import STGCNSingleFrame
from .videopose import VideoPose3DSingleFrame

__all__ = ["Lifter", "SimpleBaseline", "VideoPose3DSingleFrame", "SemGCN", "SemGraphConv", "STGCNSingleFrame",
           "LIFTERS", "build_lifter"]

LIFTERS: dict[str, type[Lifter]] = {
    "simple": SimpleBaseline,
    "videopose": VideoPose3DSingleFrame,
    "semgcn": SemGCN,
    "stgcn": STGCNSingleFrame,
}


def build_lifter(name: str, skeleton="h36m16", zero_output: bool = True, **kwargs) -> Lifter:
    """Construct the lifter registered as ``name`` (see :data:`LIFTERS`) for ``skeleton``; ``kwargs`` go to
    its constructor. ``zero_output`` starts it from the zero pose (:meth:`Lifter.zero_output_`)."""
    try:
        cls = LIFTERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"name: unknown lifter {name!r}; expected one of {sorted(LIFTERS)}") from None
    model = cls(skeleton, **kwargs)
    return model.zero_output_() if zero_output else model
