"""2D data specs, as ``--target`` of ``python -m posefast.train multilevel`` and ``--data`` of ``posefast.evaluation.lifting``
take them: ``synthetic`` (the rendered LSP-like domain), ``lsp:<LSP or LSP-extended root>`` and
``coco:<annotations.json>`` (COCO keypoint format, images next to the JSON or in its ``images/`` subfolder).

COCO keypoints are matched to Body16 by name (``keypoints.BODY16_NAMES``: the COCO-17 limb names, ``pelvis``,
``thorax``, ``upper_neck``, ``head_top``; case, spaces and hyphens aside). ``pelvis``/``thorax`` missing from the
file are built from the hips / shoulders, any other missing keypoint (COCO-17 has no ``upper_neck``/``head_top``)
is invisible: no supervision, not scored; ``meta["absent_keypoints"]`` / ``meta["derived_keypoints"]`` say which.
Names of the file that Body16 lacks (COCO's eyes and ears, ``nose``, ``spine``) are not used.
"""
from __future__ import annotations

import os

from posefast.data.image2d.dataset import ImagePoseDataset
from posefast.data.image2d.keypoints import BODY16_NAMES
from posefast.data.image2d.loaders import load_coco_keypoints, load_lsp

__all__ = ["IMAGE_SPEC_KINDS", "image_spec_kind", "load_image_spec", "describe_keypoints"]

IMAGE_SPEC_KINDS = ("synthetic", "lsp", "coco")


def image_spec_kind(spec: str, flag: str = "multilevel.target") -> str:
    """``synthetic``, ``lsp`` or ``coco`` for a 2D spec; anything else is a ValueError naming ``flag``."""
    text = str(spec)
    if text == "synthetic":
        return "synthetic"
    prefix, sep, rest = text.partition(":")
    if sep and prefix in ("lsp", "coco") and rest:
        return prefix
    raise ValueError(f"{flag}: expected 'synthetic', 'lsp:<LSP root>' or 'coco:<annotations.json>', got {text!r}")


def load_image_spec(spec: str, size: int, flag: str = "multilevel.target") -> ImagePoseDataset:
    """Every crop of an ``lsp:`` or ``coco:`` spec as ``size`` px Body16 crops (see the module docstring)."""
    kind = image_spec_kind(spec, flag)
    if kind == "synthetic":
        raise ValueError(f"{flag}: 'synthetic' is rendered (posefast.data.image2d.make_domain), not read from a file")
    path = str(spec).partition(":")[2]
    if kind == "lsp":
        return load_lsp(path, size)
    folder = os.path.dirname(os.path.abspath(path))
    return load_coco_keypoints(path, [folder, os.path.join(folder, "images")], size, keypoint_names=BODY16_NAMES,
                               missing="invisible")


def describe_keypoints(dataset: ImagePoseDataset) -> str | None:
    """One line on the keypoints a COCO file lacked (derived or invisible), or None when it had them all."""
    absent, derived = dataset.meta.get("absent_keypoints") or [], dataset.meta.get("derived_keypoints") or []
    parts = ([f"{', '.join(absent)} not in the file: invisible (no supervision, not scored)"] if absent else []) + \
            ([f"{', '.join(derived)} built from the hips/shoulders (invisible)"] if derived else [])
    return "; ".join(parts) or None
