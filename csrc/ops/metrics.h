// Host entry points of the 3D metrics family, declared once per backend: the including file defines
// POSEFAST_BACKEND (cpu or cuda) first (csrc/ops/metrics.inl defines them, csrc/ops/metrics_bind.cpp binds them by
// these names). Stream, dtype code (0 float32, 1 float64), data pointers (In = read, Out = written; shapes in the
// comments, row-major and contiguous), sizes and scalars. All validation is done in Python (posefast/ops/metrics.py).
// No include guard: included once per backend namespace.

#include "posefast/common.h"

namespace posefast {
namespace POSEFAST_BACKEND {

void mpjpe_forward(const Stream& stream, int dtype,
                   In pred,    // [N, J, 3]
                   In target,  // [N, J, 3]
                   Out err,    // [N]
                   int64_t N, int64_t J,
                   int64_t root);  // joint subtracted from both poses first; < 0: none

void mpjpe_backward(const Stream& stream, int dtype,
                    In grad_err,      // [N]
                    In pred,          // [N, J, 3]
                    In target,        // [N, J, 3]
                    Out grad_pred,    // [N, J, 3]
                    Out grad_target,  // [N, J, 3]
                    int64_t N, int64_t J, int64_t root);

void n_mpjpe_forward(const Stream& stream, int dtype,
                     In pred,    // [N, J, 3]
                     In target,  // [N, J, 3]
                     Out err,    // [N]
                     int64_t N, int64_t J);

void n_mpjpe_backward(const Stream& stream, int dtype,
                      In grad_err,      // [N]
                      In pred,          // [N, J, 3]
                      In target,        // [N, J, 3]
                      Out grad_pred,    // [N, J, 3]
                      Out grad_target,  // [N, J, 3]
                      int64_t N, int64_t J);

void p_mpjpe_forward(const Stream& stream, int dtype,
                     In pred,    // [N, J, 3]
                     In target,  // [N, J, 3]
                     Out err,    // [N]
                     int64_t N, int64_t J);

void p_mpjpe_backward(const Stream& stream, int dtype,
                      In grad_err,      // [N]
                      In pred,          // [N, J, 3]
                      In target,        // [N, J, 3]
                      Out grad_pred,    // [N, J, 3]
                      Out grad_target,  // [N, J, 3]
                      int64_t N, int64_t J);

void procrustes_align_forward(const Stream& stream, int dtype,
                              In pred,          // [N, J, 3]
                              In target,        // [N, J, 3]
                              Out aligned,      // [N, J, 3] = scale * pred @ rotation + translation
                              Out scale,        // [N]
                              Out rotation,     // [N, 3, 3] row-vector convention
                              Out translation,  // [N, 3]
                              int64_t N, int64_t J);

void procrustes_align_backward(const Stream& stream, int dtype,
                               In grad_aligned,      // [N, J, 3]
                               In grad_scale,        // [N]
                               In grad_rotation,     // [N, 3, 3]
                               In grad_translation,  // [N, 3]
                               In pred,              // [N, J, 3]
                               In target,            // [N, J, 3]
                               Out grad_pred,        // [N, J, 3]
                               Out grad_target,      // [N, J, 3]
                               int64_t N, int64_t J);

void pose_errors_forward(const Stream& stream, int dtype,
                         In pred,          // [N, J, 3]
                         In target,        // [N, J, 3]
                         In joints,        // [Je] int64: the evaluated joints
                         In thresholds,    // [K] float64, ascending (mm)
                         Out mpjpe,        // [N] (mm)
                         Out p_mpjpe,      // [N] (mm)
                         Out joint_err,    // [N, Je] (mm)
                         Out hits,         // [N, K] joints strictly below each threshold
                         int64_t N, int64_t J, int64_t Je, int64_t K,
                         int64_t root,    // joint subtracted first; < 0: none
                         double to_mm);   // input unit -> mm

}  // namespace POSEFAST_BACKEND
}  // namespace posefast
