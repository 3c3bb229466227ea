// Binds the metrics family by parameter name: csrc/ops/metrics.h declares the entry points, POSEFAST_BIND lists
// their parameter names after dtype, in order (tests/test_kernel_bindings.py checks them against the header).
#include "bind_util.h"

#define POSEFAST_FAMILY_HEADER "ops/metrics.h"
#include "ops/declare_backends.h"

void bind_metrics(pybind11::module_& m) {
  POSEFAST_BIND(m, mpjpe_forward, "pred", "target", "err", "N", "J", "root");
  POSEFAST_BIND(m, mpjpe_backward, "grad_err", "pred", "target", "grad_pred", "grad_target", "N", "J", "root");
  POSEFAST_BIND(m, n_mpjpe_forward, "pred", "target", "err", "N", "J");
  POSEFAST_BIND(m, n_mpjpe_backward, "grad_err", "pred", "target", "grad_pred", "grad_target", "N", "J");
  POSEFAST_BIND(m, p_mpjpe_forward, "pred", "target", "err", "N", "J");
  POSEFAST_BIND(m, p_mpjpe_backward, "grad_err", "pred", "target", "grad_pred", "grad_target", "N", "J");
  POSEFAST_BIND(m, procrustes_align_forward, "pred", "target", "aligned", "scale", "rotation", "translation", "N", "J");
  POSEFAST_BIND(m, procrustes_align_backward,
                "grad_aligned", "grad_scale", "grad_rotation", "grad_translation", "pred", "target", "grad_pred",
                "grad_target", "N", "J");
  POSEFAST_BIND(m, pose_errors_forward,
                "pred", "target", "joints", "thresholds", "mpjpe", "p_mpjpe", "joint_err", "hits", "N", "J", "Je", "K",
                "root", "to_mm");
}
