// Host entry points of the pose-transform family, declared once per backend: the including file defines
// POSEFAST_BACKEND (cpu or cuda) first (csrc/ops/transforms.inl defines them, csrc/ops/transforms_bind.cpp binds
// them by these names). Stream, dtype code (0 float32, 1 float64), data pointers (In = read, Out = written,
// InOrNull = read or 0: a null pointer reads as zeros; shapes in the comments, row-major and contiguous), sizes and
// scalars. All validation is done in Python (posefast/ops/transforms.py).
// No include guard: included once per backend namespace.

#include "posefast/common.h"

namespace posefast {
namespace POSEFAST_BACKEND {

void rotvec_to_rotmat_forward(const Stream& stream, int dtype,
                              In rotvec,   // [N, 3] axis * angle
                              Out rotmat,  // [N, 3, 3] acting on column vectors
                              int64_t N);

void rotvec_to_rotmat_backward(const Stream& stream, int dtype,
                               In grad_rotmat,   // [N, 3, 3]
                               In rotvec,        // [N, 3]
                               Out grad_rotvec,  // [N, 3]
                               int64_t N);

void bone_angle_augment_forward(const Stream& stream, int dtype,
                                In joints,       // [N, J, 3]
                                In delta,        // [N, J - 1, 3] offsets of the unit bones
                                In parents,      // [J] int64
                                In frozen,       // [J - 1] uint8: 1 = the bone keeps its direction
                                Out out,         // [N, J, 3]
                                Out cos_change,  // [N, J - 1]
                                int64_t N, int64_t J,
                                double eps);  // vectors shorter than this are scaled by 1 / eps

void bone_angle_augment_backward(const Stream& stream, int dtype,
                                 InOrNull grad_out,  // [N, J, 3]
                                 InOrNull grad_cos,  // [N, J - 1]
                                 In joints,          // [N, J, 3]
                                 In delta,           // [N, J - 1, 3]
                                 In parents,         // [J] int64
                                 In frozen,          // [J - 1] uint8
                                 Out grad_joints,    // [N, J, 3]
                                 Out grad_delta,     // [N, J - 1, 3]
                                 int64_t N, int64_t J, double eps);

void bone_length_augment_forward(const Stream& stream, int dtype,
                                 In joints,   // [N, J, 3]
                                 In ratio,    // [N, G]: bone b scaled by 1 + ratio[groups[b]]
                                 In parents,  // [J] int64
                                 In groups,   // [J - 1] int64
                                 Out out,     // [N, J, 3]
                                 int64_t N, int64_t J, int64_t G);

void bone_length_augment_backward(const Stream& stream, int dtype,
                                  In grad_out,      // [N, J, 3]
                                  In joints,        // [N, J, 3]
                                  In ratio,         // [N, G]
                                  In parents,       // [J] int64
                                  In groups,        // [J - 1] int64
                                  Out grad_joints,  // [N, J, 3]
                                  Out grad_ratio,   // [N, G]
                                  int64_t N, int64_t J, int64_t G);

void rigid_transform_forward(const Stream& stream, int dtype,
                             In joints,       // [N, J, 3]
                             In rotvec,       // [N, 3] rotation about the root
                             In translation,  // [N, 3] new root position
                             Out out,         // [N, J, 3]
                             int64_t N, int64_t J);

void rigid_transform_backward(const Stream& stream, int dtype,
                              In grad_out,           // [N, J, 3]
                              In joints,             // [N, J, 3]
                              In rotvec,             // [N, 3]
                              Out grad_joints,       // [N, J, 3]
                              Out grad_rotvec,       // [N, 3]
                              Out grad_translation,  // [N, 3]
                              int64_t N, int64_t J);

void project_forward(const Stream& stream, int dtype,
                     In points,  // [N, P, 3] camera frame
                     In camera,  // [N, C]: C = 4 (fx, fy, cx, cy) or 9 (+ k1, k2, k3, p1, p2)
                     Out uv,     // [N, P, 2]
                     int64_t N, int64_t P, int64_t C,
                     double min_depth);  // depths below this are raised to it

void project_backward(const Stream& stream, int dtype,
                      In grad_uv,        // [N, P, 2]
                      In points,         // [N, P, 3]
                      In camera,         // [N, C]
                      Out grad_points,   // [N, P, 3]
                      Out grad_camera,   // [N, C]
                      int64_t N, int64_t P, int64_t C, double min_depth);

void global_position_align_forward(const Stream& stream, int dtype,
                                   In joints,   // [N, J, 3]
                                   In target,   // [N, J, 2] target 2D pose
                                   In camera,   // [N, 4] (fx, fy, cx, cy)
                                   Out out,     // [N, J, 3]
                                   int64_t N, int64_t J,
                                   double min_scale,           // floor of the target's 2D scale
                                   double z_min, double z_max);  // root depth range

void global_position_align_backward(const Stream& stream, int dtype,
                                    In grad_out,       // [N, J, 3]
                                    In joints,         // [N, J, 3]
                                    In target,         // [N, J, 2]
                                    In camera,         // [N, 4]
                                    Out grad_joints,   // [N, J, 3]
                                    Out grad_target,   // [N, J, 2]
                                    Out grad_camera,   // [N, 4]
                                    int64_t N, int64_t J, double min_scale, double z_min, double z_max);

void augment_pipeline_forward(const Stream& stream, int dtype,
                              In joints,       // [N, J, 3]
                              In delta,        // [N, J - 1, 3] BA offsets
                              In ratio,        // [N, G] BL ratios
                              In rotvec,       // [N, 3] RT rotation
                              In translation,  // [N, 3] RT root position
                              In camera,       // [N, C], C = 4 or 9
                              In parents,      // [J] int64
                              In frozen,       // [J - 1] uint8
                              In groups,       // [J - 1] int64
                              Out joints_ba,   // [N, J, 3]
                              Out joints_bl,   // [N, J, 3]
                              Out joints_rt,   // [N, J, 3]
                              Out uv_rt,       // [N, J, 2]
                              Out cos_change,  // [N, J - 1]
                              int64_t N, int64_t J, int64_t G, int64_t C, double eps, double min_depth);

void augment_pipeline_backward(const Stream& stream, int dtype,
                               InOrNull grad_ba,        // [N, J, 3]
                               InOrNull grad_bl,        // [N, J, 3]
                               InOrNull grad_rt,        // [N, J, 3]
                               InOrNull grad_uv,        // [N, J, 2]
                               InOrNull grad_cos,       // [N, J - 1]
                               In joints,               // [N, J, 3]
                               In delta,                // [N, J - 1, 3]
                               In ratio,                // [N, G]
                               In rotvec,               // [N, 3]
                               In camera,               // [N, C]
                               In joints_ba,            // [N, J, 3] saved forward outputs
                               In joints_bl,            // [N, J, 3]
                               In joints_rt,            // [N, J, 3]
                               In parents,              // [J] int64
                               In frozen,               // [J - 1] uint8
                               In groups,               // [J - 1] int64
                               Out grad_joints,         // [N, J, 3]
                               Out grad_delta,          // [N, J - 1, 3]
                               Out grad_ratio,          // [N, G]
                               Out grad_rotvec,         // [N, 3]
                               Out grad_translation,    // [N, 3]
                               Out grad_camera,         // [N, C]
                               int64_t N, int64_t J, int64_t G, int64_t C, double eps, double min_depth);

}  // namespace POSEFAST_BACKEND
}  // namespace posefast
