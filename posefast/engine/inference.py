"""Inference helpers: read a run's checkpoint, load a trained lifter and lift pixel 2D poses to root-relative 3D."""
from __future__ import annotations

from pathlib import Path

import torch

from posefast.errors import UsageError
from posefast.models import build_lifter
from posefast.models.lifting import lifter_width_kwargs
from posefast.skeleton import get_skeleton
from posefast.engine import checkpoint as ckpt
from posefast.ops import normalize_screen

__all__ = ["read_checkpoint", "load_lifter", "lift"]


def read_checkpoint(path, device="cpu", flag: str = "--checkpoint") -> dict:
    """The state dict a ``posefast.train`` run saved (a lifting run's ``checkpoint.pt`` or one of a multilevel
    run's stages); a missing or foreign file is a :class:`~posefast.errors.UsageError` naming ``flag``."""
    path = Path(path)
    what = "the checkpoint.pt of a posefast.train run"
    if not path.is_file():
        raise UsageError(f"{flag} {path}: no such file (expected {what})")
    try:
        state = ckpt.load(path, device)
    except ckpt.CheckpointError as exc:  # starts with the path
        raise UsageError(f"{flag} {exc}") from None
    if not isinstance(state, dict) or not ({"config", "modules"} <= set(state) or "stage" in state):
        raise UsageError(f"{flag} {path}: not a posefast checkpoint (expected {what})")
    try:
        if "stage" in state:  # a multilevel stage: what the 2D evaluation reads
            stage = ckpt.require(state, path, "stage", dict)
            ckpt.require(stage, path, "student", "weights", " stage")
            if stage.get("teacher") is not None:
                ckpt.require(stage, path, "teacher", "weights", " stage")
            settings = ckpt.require(state, path, "settings", dict)
            ckpt.require(settings, path, "seed", int, " stage's settings")
            ckpt.require(settings, path, "multilevel", dict, " stage's settings")
        else:
            cfg = ckpt.require(state, path, "config", dict)
            for key in ("skeleton", "backbone"):
                ckpt.require(cfg, path, key, str, "'s config")
            ckpt.require(cfg, path, "backbone_width", int, "'s config")
            ckpt.require(ckpt.require(state, path, "modules", dict), path, "lifter", "weights", "'s modules")
    except ckpt.CheckpointError as exc:
        raise UsageError(f"{flag} {exc}") from None
    return state


def load_lifter(checkpoint_path, device="cpu", state: dict | None = None):
    """(lifter in eval mode, skeleton, config dict) from a ``posefast.train`` lifting checkpoint (``state``: the
    checkpoint already read by :func:`read_checkpoint`)."""
    state = read_checkpoint(checkpoint_path, device) if state is None else state
    if "stage" in state:
        raise UsageError(f"--checkpoint {checkpoint_path}: holds a multilevel (2D) network, not a 3D lifter; use "
                         "the checkpoint.pt of a lifting run (source-only, poseaug, poseda, gpa, lpa)")
    cfg = state["config"]
    try:
        skeleton = get_skeleton(cfg["skeleton"])
        lifter = build_lifter(cfg["backbone"], skeleton,
                              **lifter_width_kwargs(cfg["backbone"], cfg["backbone_width"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise UsageError(f"--checkpoint {checkpoint_path}: its config names no lifter this posefast builds "
                         f"({type(exc).__name__}: {exc})") from None
    try:
        lifter.load_state_dict(state["modules"]["lifter"])
    except (KeyError, RuntimeError) as exc:
        raise UsageError(f"--checkpoint {checkpoint_path}: its lifter does not match a {cfg['backbone']!r} "
                         f"backbone of width {cfg['backbone_width']} ({exc})") from exc
    return lifter.to(device).eval(), skeleton, cfg


@torch.no_grad()
def lift(model: torch.nn.Module, joints_2d: torch.Tensor, camera: torch.Tensor | None, image_size) -> torch.Tensor:
    """Lift pixel 2D joints to root-relative 3D (metres, camera orientation).

    Args:
        model: a lifter (``posefast.models``), e.g. from :func:`load_lifter`.
        joints_2d: ``[..., J, 2]`` pixels.
        camera: ``[..., 4|9]`` intrinsics or None. The lifters take normalised screen coordinates and were trained
            with the camera implicit, so the camera is only checked for shape here; keep it for API symmetry with
            pipelines that need it.
        image_size: ``(width, height)`` or ``[..., 2]``.

    Returns:
        ``[..., J, 3]`` root-relative joints.
    """
    if not isinstance(joints_2d, torch.Tensor) or not joints_2d.is_floating_point():
        raise TypeError("joints_2d: expected a float tensor [..., J, 2] in pixels")
    size = torch.as_tensor(image_size, dtype=joints_2d.dtype, device=joints_2d.device)
    if size.shape[-1] != 2:
        raise ValueError(f"image_size: expected (width, height) or [..., 2], got shape {tuple(size.shape)}")
    if camera is not None and camera.shape[-1] not in (4, 9):
        raise ValueError(f"camera: expected [..., 4] or [..., 9] intrinsics, got shape {tuple(camera.shape)}")
    w = size[..., 0].expand(joints_2d.shape[:-2])
    h = size[..., 1].expand(joints_2d.shape[:-2])
    was_training = model.training
    model.eval()
    out = model(normalize_screen(joints_2d, w, h))
    model.train(was_training)
    return out
