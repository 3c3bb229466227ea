"""Geometry in torch, the one place for camera and rotation maths and their numeric defaults.

Below every other layer but the core (``tests/test_layering.py``): the pure-torch twins (``posefast.reference``)
and the ops (``posefast.ops``) take their camera functions and defaults from here, and the dataset loaders and
synthetic generators call it with numpy arrays (float64; ``.numpy()`` of the result). The names match the public
ops (``project``, ``normalize_screen``, ``denormalize_screen``, ``normalize_camera``).
"""
from posefast.geometry.cameras import (BEHIND_CAMERA, camera_to_world, denormalize_screen, fit_pinhole_intrinsics,
                                       in_image, normalize_camera, normalize_screen, project, solve_root_translation,
                                       world_to_camera)
from posefast.geometry.constants import DEFAULT_DEPTH_RANGE, DEFAULT_EPS, DEFAULT_MIN_DEPTH, DEFAULT_MIN_SCALE
from posefast.geometry.rotations import (RODRIGUES_TAYLOR_BELOW, look_at_rotation, quaternion_to_matrix, rotation_x,
                                         rotation_y, rotation_z, rotvec_to_rotmat)

__all__ = [
    "project", "normalize_screen", "denormalize_screen", "normalize_camera", "in_image", "BEHIND_CAMERA",
    "world_to_camera", "camera_to_world", "fit_pinhole_intrinsics", "solve_root_translation",
    "quaternion_to_matrix", "rotation_x", "rotation_y", "rotation_z", "look_at_rotation", "rotvec_to_rotmat",
    "RODRIGUES_TAYLOR_BELOW", "DEFAULT_EPS", "DEFAULT_MIN_DEPTH", "DEFAULT_DEPTH_RANGE", "DEFAULT_MIN_SCALE",
]
