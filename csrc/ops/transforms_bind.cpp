#include "bind_util.h"
#include "ops/transforms.h"

POSEFAST_DECLARE_BACKENDS(POSEFAST_DECLARE_TRANSFORMS_OPS)

void bind_transforms(pybind11::module_& m) {
  POSEFAST_BIND(m, rotvec_to_rotmat_forward);
  POSEFAST_BIND(m, rotvec_to_rotmat_backward);
  POSEFAST_BIND(m, bone_angle_augment_forward);
  POSEFAST_BIND(m, bone_angle_augment_backward);
  POSEFAST_BIND(m, bone_length_augment_forward);
  POSEFAST_BIND(m, bone_length_augment_backward);
  POSEFAST_BIND(m, rigid_transform_forward);
  POSEFAST_BIND(m, rigid_transform_backward);
  POSEFAST_BIND(m, project_forward);
  POSEFAST_BIND(m, project_backward);
  POSEFAST_BIND(m, global_position_align_forward);
  POSEFAST_BIND(m, global_position_align_backward);
  POSEFAST_BIND(m, augment_pipeline_forward);
  POSEFAST_BIND(m, augment_pipeline_backward);
}
