"""Pure-torch twins of every posefast op: the test oracle and the ``use_kernels(False)`` fallback."""
from posefast.reference.heatmap import decode_heatmaps, pck_2d, render_heatmaps, soft_argmax
from posefast.reference.metrics import (mpjpe, n_mpjpe, p_mpjpe, p_mpjpe_svd, pose_errors_per_pose, procrustes_align,
                                        procrustes_align_svd, similarity_fit)
from posefast.reference.skeleton import bone_vectors, forward_kinematics, kcs, part_kcs, part_kcs_compact
from posefast.reference.transforms import (
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

__all__ = ["bone_vectors", "forward_kinematics", "kcs", "part_kcs", "part_kcs_compact", "mpjpe", "n_mpjpe", "p_mpjpe",
           "procrustes_align", "similarity_fit", "procrustes_align_svd", "p_mpjpe_svd", "pose_errors_per_pose", "render_heatmaps", "decode_heatmaps",
           "soft_argmax", "pck_2d", "rotvec_to_rotmat", "bone_angle_augment",
           "bone_length_augment", "rigid_transform", "project", "global_position_align", "augment_pipeline",
           "normalize_screen", "denormalize_screen", "normalize_camera"]
