"""2D→3D lifting backbones and their registry.

Every lifter maps 2D joints ``[..., J, 2]`` in normalised screen coordinates to root-relative 3D joints
``[..., J, 3]`` (root row exactly zero); J comes from the skeleton (``"h36m16"``/``"h36m17"`` or a
:class:`~posefast.skeleton.Skeleton`).
"""
from __future__ import annotations

from posefast.models.lifting.base import Lifter
from posefast.models.lifting.semgcn import SemGCN, SemGraphConv
from posefast.models.lifting.simple_baseline import SimpleBaseline
from posefast.models.lifting.stgcn import STGCNSingleFrame
from posefast.models.lifting.videopose import VideoPose3DSingleFrame

__all__ = ["Lifter", "SimpleBaseline", "VideoPose3DSingleFrame", "SemGCN", "SemGraphConv", "STGCNSingleFrame",
           "LIFTERS", "build_lifter", "lifter_width_kwargs"]

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


def lifter_width_kwargs(name: str, width: int) -> dict:
    """Constructor arguments of lifter ``name`` for a run's ``backbone_width``: ``-1`` the backbone's CPU-sized
    width (``cpu_width``: SimpleBaseline and VideoPose 512, SemGCN 128), ``0`` its own default (the papers':
    1024 for SimpleBaseline and VideoPose), ``N > 0`` N channels. ST-GCN has no single width: only -1 and 0."""
    try:
        cls = LIFTERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"backbone: unknown lifter {name!r}; expected one of {sorted(LIFTERS)}") from None
    if isinstance(width, bool) or not isinstance(width, int) or width < -1:
        raise ValueError(f"backbone_width: expected -1 (CPU width), 0 (the backbone's own) or a positive int, "
                         f"got {width!r}")
    if width == 0 or (width == -1 and cls.cpu_width is None):
        return {}
    if cls.width_argument is None:
        raise ValueError(f"backbone_width: the {name} backbone has no width setting (its channels are fixed); "
                         f"use -1 or 0, got {width}")
    return {cls.width_argument: cls.cpu_width if width == -1 else width}
