// Metrics family host wrappers, written once and compiled per backend: the including file defines
// POSEFAST_BACKEND (cpu or cuda) and has that backend's `launch(stream, n, functor)` in scope.
#include "ops/metrics.h"
#include "posefast/metrics.h"

namespace posefast {
namespace POSEFAST_BACKEND {

void mpjpe_forward(const Stream& s, int dtype, In pred, In target, Out err, int64_t N, int64_t J, int64_t root) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, MpjpeForward<T>{as<const T>(pred), as<const T>(target), as<T>(err), J, root}));
}

void mpjpe_backward(const Stream& s, int dtype, In grad_err, In pred, In target, Out grad_pred, Out grad_target,
                    int64_t N, int64_t J, int64_t root) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, MpjpeBackward<T>{as<const T>(grad_err), as<const T>(pred), as<const T>(target),
                                                        as<T>(grad_pred), as<T>(grad_target), J, root}));
}

void n_mpjpe_forward(const Stream& s, int dtype, In pred, In target, Out err, int64_t N, int64_t J) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, NMpjpeForward<T>{as<const T>(pred), as<const T>(target), as<T>(err), J}));
}

void n_mpjpe_backward(const Stream& s, int dtype, In grad_err, In pred, In target, Out grad_pred,
                      Out grad_target, int64_t N, int64_t J) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, NMpjpeBackward<T>{as<const T>(grad_err), as<const T>(pred),
                                                         as<const T>(target), as<T>(grad_pred), as<T>(grad_target), J}));
}

void p_mpjpe_forward(const Stream& s, int dtype, In pred, In target, Out err, int64_t N, int64_t J) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, PMpjpeForward<T>{as<const T>(pred), as<const T>(target), as<T>(err), J}));
}

void p_mpjpe_backward(const Stream& s, int dtype, In grad_err, In pred, In target, Out grad_pred,
                      Out grad_target, int64_t N, int64_t J) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, PMpjpeBackward<T>{as<const T>(grad_err), as<const T>(pred),
                                                         as<const T>(target), as<T>(grad_pred), as<T>(grad_target), J}));
}

void procrustes_align_forward(const Stream& s, int dtype, In pred, In target, Out aligned, Out scale, Out rotation,
                              Out translation, int64_t N, int64_t J) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, ProcrustesAlignForward<T>{as<const T>(pred), as<const T>(target), as<T>(aligned),
                                                                 as<T>(scale), as<T>(rotation), as<T>(translation), J}));
}

void procrustes_align_backward(const Stream& s, int dtype, In grad_aligned, In grad_scale, In grad_rotation,
                               In grad_translation, In pred, In target, Out grad_pred, Out grad_target, int64_t N,
                               int64_t J) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, ProcrustesAlignBackward<T>{as<const T>(grad_aligned), as<const T>(grad_scale),
                                                                  as<const T>(grad_rotation),
                                                                  as<const T>(grad_translation), as<const T>(pred),
                                                                  as<const T>(target), as<T>(grad_pred),
                                                                  as<T>(grad_target), J}));
}

void pose_errors_forward(const Stream& s, int dtype, In pred, In target, In joints, In thresholds, Out mpjpe,
                         Out p_mpjpe, Out joint_err, Out hits, int64_t N, int64_t J, int64_t Je, int64_t K,
                         int64_t root, double to_mm) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, PoseErrorsForward<T>{as<const T>(pred), as<const T>(target),
                                                            as<const int64_t>(joints), as<const double>(thresholds),
                                                            as<T>(mpjpe), as<T>(p_mpjpe), as<T>(joint_err), as<T>(hits),
                                                            J, Je, K, root, T(to_mm)}));
}

}  // namespace POSEFAST_BACKEND
}  // namespace posefast
