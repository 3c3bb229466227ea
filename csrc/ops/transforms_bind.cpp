// Binds the transforms family by parameter name: csrc/ops/transforms.h declares the entry points, POSEFAST_BIND lists
// their parameter names after dtype, in order (tests/test_kernel_bindings.py checks them against the header).
#include "bind_util.h"

#define POSEFAST_FAMILY_HEADER "ops/transforms.h"
#include "ops/declare_backends.h"

void bind_transforms(pybind11::module_& m) {
  POSEFAST_BIND(m, rotvec_to_rotmat_forward, "rotvec", "rotmat", "N");
  POSEFAST_BIND(m, rotvec_to_rotmat_backward, "grad_rotmat", "rotvec", "grad_rotvec", "N");
  POSEFAST_BIND(m, bone_angle_augment_forward,
                "joints", "delta", "parents", "frozen", "out", "cos_change", "N", "J", "eps");
  POSEFAST_BIND(m, bone_angle_augment_backward,
                "grad_out", "grad_cos", "joints", "delta", "parents", "frozen", "grad_joints", "grad_delta", "N", "J",
                "eps");
  POSEFAST_BIND(m, bone_length_augment_forward, "joints", "ratio", "parents", "groups", "out", "N", "J", "G");
  POSEFAST_BIND(m, bone_length_augment_backward,
                "grad_out", "joints", "ratio", "parents", "groups", "grad_joints", "grad_ratio", "N", "J", "G");
  POSEFAST_BIND(m, rigid_transform_forward, "joints", "rotvec", "translation", "out", "N", "J");
  POSEFAST_BIND(m, rigid_transform_backward,
                "grad_out", "joints", "rotvec", "grad_joints", "grad_rotvec", "grad_translation", "N", "J");
  POSEFAST_BIND(m, project_forward, "points", "camera", "uv", "N", "P", "C", "min_depth");
  POSEFAST_BIND(m, project_backward,
                "grad_uv", "points", "camera", "grad_points", "grad_camera", "N", "P", "C", "min_depth");
  POSEFAST_BIND(m, global_position_align_forward,
                "joints", "target", "camera", "out", "N", "J", "min_scale", "z_min", "z_max");
  POSEFAST_BIND(m, global_position_align_backward,
                "grad_out", "joints", "target", "camera", "grad_joints", "grad_target", "grad_camera", "N", "J",
                "min_scale", "z_min", "z_max");
  POSEFAST_BIND(m, augment_pipeline_forward,
                "joints", "delta", "ratio", "rotvec", "translation", "camera", "parents", "frozen", "groups",
                "joints_ba", "joints_bl", "joints_rt", "uv_rt", "cos_change", "N", "J", "G", "C", "eps", "min_depth");
  POSEFAST_BIND(m, augment_pipeline_backward,
                "grad_ba", "grad_bl", "grad_rt", "grad_uv", "grad_cos", "joints", "delta", "ratio", "rotvec", "camera",
                "joints_ba", "joints_bl", "joints_rt", "parents", "frozen", "groups", "grad_joints", "grad_delta",
                "grad_ratio", "grad_rotvec", "grad_translation", "grad_camera", "N", "J", "G", "C", "eps", "min_depth");
}
