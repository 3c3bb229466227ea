"""What identifies a lifter across runs: the backbone, its constructor arguments as built, the skeleton and the
input convention — stored in every lifting checkpoint and checked before one run's weights start another
(``--init``)."""
from __future__ import annotations

import torch

from posefast.models.lifting import lifter_width_kwargs

__all__ = ["INPUT_NORMALISATION", "lifter_spec", "check_init_checkpoint"]


# What the lifter's input means: pixels normalised as VideoPose3D's normalize_screen_coordinates (x / w * 2 -
# [1, h / w]). A checkpoint records it so a lifter is never fine-tuned on inputs of another convention.
INPUT_NORMALISATION = "screen: x / w * 2 - [1, h / w]"


def lifter_spec(cfg) -> dict:
    """What must agree for one run's lifter weights to start another run (``--init``): the backbone, its
    constructor arguments (the width as built: ``backbone_width=-1`` and ``512`` are the same SimpleBaseline), the
    skeleton and the input convention."""
    return {"backbone": cfg.backbone, "arguments": lifter_width_kwargs(cfg.backbone, cfg.backbone_width),
            "skeleton": cfg.skeleton, "input": INPUT_NORMALISATION}


def check_init_checkpoint(state: dict, cfg, path, lifter: torch.nn.Module) -> None:
    """Raise a ValueError naming every mismatch between an ``--init`` checkpoint's lifter and this run's
    ``lifter``: its recorded spec, then (a last guard, e.g. for checkpoints written before the spec was recorded)
    the names and shapes of the weights."""
    if "modules" not in state or "lifter" not in state.get("modules", {}):
        raise ValueError(f"--init: {path} is not a lifting run's checkpoint (it holds no lifter weights)")
    saved = state.get("lifter_spec") or lifter_spec(_Namespace(state["config"]))
    wanted = lifter_spec(cfg)
    bad = [f"{k} {saved.get(k)!r} (this run: {wanted[k]!r})" for k in wanted if saved.get(k) != wanted[k]]
    theirs, ours = state["modules"]["lifter"], lifter.state_dict()
    if not bad and {k: tuple(v.shape) for k, v in theirs.items()} != {k: tuple(v.shape) for k, v in ours.items()}:
        bad = ["weights of other names or shapes"]
    if bad:
        raise ValueError(f"--init: {path} holds a different lifter: " + "; ".join(bad) +
                         ". Start from a checkpoint trained with the same backbone, width, skeleton and input")


class _Namespace:
    """Attribute view of an older checkpoint's config dict (written before ``lifter_spec`` was stored)."""

    def __init__(self, values: dict):
        self.backbone, self.backbone_width = values.get("backbone"), values.get("backbone_width")
        self.skeleton = values.get("skeleton")
