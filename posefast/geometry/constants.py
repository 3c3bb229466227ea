"""Numeric defaults of the geometry, defined once: the ops (``posefast.ops``), their pure-torch twins
(``posefast.reference``) and the C++ kernels' callers all take them from here. ``csrc/include/posefast/transforms.h``
names the constant each of its own literals mirrors."""
from __future__ import annotations

__all__ = ["DEFAULT_EPS", "DEFAULT_MIN_DEPTH", "DEFAULT_DEPTH_RANGE", "DEFAULT_MIN_SCALE"]

#: Bones (vectors) shorter than this (input units, i.e. 1 µm for metres) are scaled by 1/eps instead of 1/|b| when
#: normalised, like ``F.normalize``: a zero-length bone gives a zero unit vector and a finite gradient.
DEFAULT_EPS = 1e-6
#: Depths below this (points' units) are raised to it before dividing: a point at or behind the camera plane
#: projects far outside the image (or onto the ±1 clamp border of the distortion model), finite, with zero
#: gradient w.r.t. its depth.
DEFAULT_MIN_DEPTH = 1e-6
#: GPA root depth range (joints' units; the default assumes metres: 0.5 m to 50 m). Pass your own for millimetres.
DEFAULT_DEPTH_RANGE = (0.5, 50.0)
#: GPA guard for a degenerate target: the 2D scale s is raised to at least this (target_2d's units) before
#: dividing, so a collapsed 2D box gives a finite depth, which the depth range then clamps.
DEFAULT_MIN_SCALE = 1e-6
