"""Inference helpers: load a trained lifter and lift pixel 2D poses to root-relative 3D."""
from __future__ import annotations

import torch

from posefast.models import build_lifter
from posefast.skeleton import get_skeleton


def load_lifter(checkpoint_path, device="cpu"):
    """(lifter in eval mode, skeleton, config dict) from a ``posefast.train`` checkpoint."""
    from posefast.train.checkpoint import load

    state = load(checkpoint_path, device)
    cfg = state["config"]
    skeleton = get_skeleton(cfg["skeleton"])
    kwargs = {"width": cfg["backbone_width"]} if cfg.get("backbone_width") else {}
    lifter = build_lifter(cfg["backbone"], skeleton, **kwargs).to(device)
    lifter.load_state_dict(state["modules"]["lifter"])
    return lifter.eval(), skeleton, cfg


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
    from posefast.ops import normalize_screen

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
