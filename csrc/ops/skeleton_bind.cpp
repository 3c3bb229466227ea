#include "bind_util.h"
#include "ops/skeleton.h"

POSEFAST_DECLARE_BACKENDS(POSEFAST_DECLARE_SKELETON_OPS)

void bind_skeleton(pybind11::module_& m) {
  POSEFAST_BIND(m, bone_vectors_forward);
  POSEFAST_BIND(m, bone_vectors_backward);
  POSEFAST_BIND(m, forward_kinematics_forward);
  POSEFAST_BIND(m, forward_kinematics_backward);
  POSEFAST_BIND(m, kcs_forward);
  POSEFAST_BIND(m, kcs_backward);
  POSEFAST_BIND(m, part_kcs_forward);
  POSEFAST_BIND(m, part_kcs_backward);
  POSEFAST_BIND(m, part_kcs_compact_forward);
  POSEFAST_BIND(m, part_kcs_compact_backward);
}
