// Binds the skeleton family by parameter name: csrc/ops/skeleton.h declares the entry points, POSEFAST_BIND lists
// their parameter names after dtype, in order (tests/test_kernel_bindings.py checks them against the header).
#include "bind_util.h"

#define POSEFAST_FAMILY_HEADER "ops/skeleton.h"
#include "ops/declare_backends.h"

void bind_skeleton(pybind11::module_& m) {
  POSEFAST_BIND(m, bone_vectors_forward, "joints", "parents", "bones", "N", "J");
  POSEFAST_BIND(m, bone_vectors_backward, "grad_bones", "parents", "grad_joints", "N", "J");
  POSEFAST_BIND(m, forward_kinematics_forward, "bones", "root", "parents", "joints", "N", "J");
  POSEFAST_BIND(m, forward_kinematics_backward, "grad_joints", "parents", "grad_bones", "grad_root", "N", "J");
  POSEFAST_BIND(m, kcs_forward, "bones", "kcs", "N", "B");
  POSEFAST_BIND(m, kcs_backward, "grad_kcs", "bones", "grad_bones", "N", "B");
  POSEFAST_BIND(m, part_kcs_forward, "joints", "parents", "masks", "out", "N", "J", "P", "normalize", "eps");
  POSEFAST_BIND(m, part_kcs_backward,
                "grad_out", "joints", "parents", "masks", "grad_joints", "N", "J", "P", "normalize", "eps");
  POSEFAST_BIND(m, part_kcs_compact_forward, "joints", "parents", "pairs", "out", "N", "J", "E", "normalize", "eps");
  POSEFAST_BIND(m, part_kcs_compact_backward,
                "grad_out", "joints", "parents", "offsets", "items", "grad_joints", "N", "J", "E", "normalize", "eps");
}
