"""The training methods: source-only, PoseAug, PoseDA (and its GPA-only / LPA-only ablations) on the lifting
trainer (:mod:`posefast.engine.trainer`), and multi-level 2D alignment (:mod:`posefast.methods.multilevel`).
:mod:`posefast.methods.registry` is the one list of their names."""
from __future__ import annotations

from posefast.methods.base import LiftingMethod
from posefast.methods.registry import BASELINE, LIFTING_METHODS, lifting_method

__all__ = ["LiftingMethod", "LIFTING_METHODS", "BASELINE", "lifting_method"]
