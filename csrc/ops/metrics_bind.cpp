#include "bind_util.h"
#include "ops/metrics.h"

POSEFAST_DECLARE_BACKENDS(POSEFAST_DECLARE_METRICS_OPS)

void bind_metrics(pybind11::module_& m) {
  POSEFAST_BIND(m, mpjpe_forward);
  POSEFAST_BIND(m, mpjpe_backward);
  POSEFAST_BIND(m, n_mpjpe_forward);
  POSEFAST_BIND(m, n_mpjpe_backward);
  POSEFAST_BIND(m, p_mpjpe_forward);
  POSEFAST_BIND(m, p_mpjpe_backward);
  POSEFAST_BIND(m, procrustes_align_forward);
  POSEFAST_BIND(m, procrustes_align_backward);
  POSEFAST_BIND(m, pose_errors_forward);
}
