"""Public ops on the compiled kernels (CPU/CUDA), each with a pure-torch twin in :mod:`posefast.reference`."""
from posefast.ops._switch import kernels_enabled, use_kernels
from posefast.ops.heatmap import decode_heatmaps, pck_2d, render_heatmaps, soft_argmax
from posefast.ops.metrics import (PCK_THRESHOLDS_MM, PoseErrors, ProcrustesAlignment, auc, mpjpe, n_mpjpe, p_mpjpe,
                                  pck, pose_errors, procrustes_align)
from posefast.ops.skeleton import DEFAULT_EPS, bone_vectors, forward_kinematics, kcs, part_kcs, part_kcs_compact
from posefast.ops.transforms import (
    DEFAULT_DEPTH_RANGE,
    DEFAULT_MIN_DEPTH,
    DEFAULT_MIN_SCALE,
    augment_pipeline,
    bone_angle_augment,
    bone_length_augment,
    denormalize_screen,
    global_position_align,
    normalize_camera,
    normalize_screen,
    project,
    rigid_transform,
    rotvec_to_rotmat,
)

__all__ = ["use_kernels", "kernels_enabled", "bone_vectors", "forward_kinematics", "kcs", "part_kcs", "part_kcs_compact",
           "DEFAULT_EPS", "mpjpe", "n_mpjpe", "p_mpjpe", "procrustes_align", "pose_errors", "pck", "auc", "PCK_THRESHOLDS_MM",
           "ProcrustesAlignment", "PoseErrors",
           "render_heatmaps", "decode_heatmaps", "soft_argmax", "pck_2d",
           "rotvec_to_rotmat", "bone_angle_augment", "bone_length_augment", "rigid_transform", "project",
           "normalize_screen", "denormalize_screen", "normalize_camera", "global_position_align",
           "augment_pipeline", "DEFAULT_MIN_DEPTH", "DEFAULT_DEPTH_RANGE", "DEFAULT_MIN_SCALE"]
