// Pose-transform family host wrappers, written once and compiled per backend: the including file defines
// POSEFAST_BACKEND (cpu or cuda) and has that backend's `launch(stream, n, functor)` in scope.
#include <cstdint>

#include "ops/transforms.h"
#include "posefast/transforms.h"

namespace posefast {
namespace POSEFAST_BACKEND {

using U8 = std::uint8_t;

void rotvec_to_rotmat_forward(const Stream& s, int dtype, In rotvec, Out rotmat, int64_t N) {
  POSEFAST_DISPATCH_FLOAT(dtype, T, launch(s, N, RotvecToRotmatForward<T>{as<const T>(rotvec), as<T>(rotmat)}));
}

void rotvec_to_rotmat_backward(const Stream& s, int dtype, In grad_rotmat, In rotvec, Out grad_rotvec,
                               int64_t N) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, RotvecToRotmatBackward<T>{as<const T>(grad_rotmat), as<const T>(rotvec),
                                                                 as<T>(grad_rotvec)}));
}

void bone_angle_augment_forward(const Stream& s, int dtype, In joints, In delta, In parents, In frozen,
                                Out out, Out cos_change, int64_t N, int64_t J, double eps) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, BoneAngleAugmentForward<T>{as<const T>(joints), as<const T>(delta),
                                                                  as<const int64_t>(parents), as<const U8>(frozen),
                                                                  as<T>(out), as<T>(cos_change), J, T(eps)}));
}

void bone_angle_augment_backward(const Stream& s, int dtype, InOrNull grad_out, InOrNull grad_cos, In joints, In delta,
                                 In parents, In frozen, Out grad_joints, Out grad_delta, int64_t N, int64_t J,
                                 double eps) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, BoneAngleAugmentBackward<T>{as<const T>(grad_out), as<const T>(grad_cos),
                                                                   as<const T>(joints), as<const T>(delta),
                                                                   as<const int64_t>(parents), as<const U8>(frozen),
                                                                   as<T>(grad_joints), as<T>(grad_delta), J,
                                                                   T(eps)}));
}

void bone_length_augment_forward(const Stream& s, int dtype, In joints, In ratio, In parents, In groups,
                                 Out out, int64_t N, int64_t J, int64_t G) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, BoneLengthAugmentForward<T>{as<const T>(joints), as<const T>(ratio),
                                                                   as<const int64_t>(parents),
                                                                   as<const int64_t>(groups), as<T>(out), J, G}));
}

void bone_length_augment_backward(const Stream& s, int dtype, In grad_out, In joints, In ratio, In parents,
                                  In groups, Out grad_joints, Out grad_ratio, int64_t N, int64_t J, int64_t G) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, BoneLengthAugmentBackward<T>{as<const T>(grad_out), as<const T>(joints),
                                                                    as<const T>(ratio), as<const int64_t>(parents),
                                                                    as<const int64_t>(groups), as<T>(grad_joints),
                                                                    as<T>(grad_ratio), J, G}));
}

void rigid_transform_forward(const Stream& s, int dtype, In joints, In rotvec, In translation, Out out,
                             int64_t N, int64_t J) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, RigidTransformForward<T>{as<const T>(joints), as<const T>(rotvec),
                                                                as<const T>(translation), as<T>(out), J}));
}

void rigid_transform_backward(const Stream& s, int dtype, In grad_out, In joints, In rotvec, Out grad_joints,
                              Out grad_rotvec, Out grad_translation, int64_t N, int64_t J) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, RigidTransformBackward<T>{as<const T>(grad_out), as<const T>(joints),
                                                                 as<const T>(rotvec), as<T>(grad_joints),
                                                                 as<T>(grad_rotvec), as<T>(grad_translation), J}));
}

void project_forward(const Stream& s, int dtype, In points, In camera, Out uv, int64_t N, int64_t P, int64_t C,
                     double min_depth) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, ProjectForward<T>{as<const T>(points), as<const T>(camera), as<T>(uv), P, C,
                                                         T(min_depth)}));
}

void project_backward(const Stream& s, int dtype, In grad_uv, In points, In camera, Out grad_points,
                      Out grad_camera, int64_t N, int64_t P, int64_t C, double min_depth) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, ProjectBackward<T>{as<const T>(grad_uv), as<const T>(points),
                                                          as<const T>(camera), as<T>(grad_points),
                                                          as<T>(grad_camera), P, C, T(min_depth)}));
}

void global_position_align_forward(const Stream& s, int dtype, In joints, In target, In camera, Out out,
                                   int64_t N, int64_t J, double min_scale, double z_min, double z_max) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, GlobalPositionAlignForward<T>{as<const T>(joints), as<const T>(target),
                                                                     as<const T>(camera), as<T>(out), J,
                                                                     T(min_scale), T(z_min), T(z_max)}));
}

void global_position_align_backward(const Stream& s, int dtype, In grad_out, In joints, In target, In camera,
                                    Out grad_joints, Out grad_target, Out grad_camera, int64_t N, int64_t J,
                                    double min_scale, double z_min, double z_max) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, GlobalPositionAlignBackward<T>{as<const T>(grad_out), as<const T>(joints),
                                                                      as<const T>(target), as<const T>(camera),
                                                                      as<T>(grad_joints), as<T>(grad_target),
                                                                      as<T>(grad_camera), J, T(min_scale), T(z_min),
                                                                      T(z_max)}));
}

void augment_pipeline_forward(const Stream& s, int dtype, In joints, In delta, In ratio, In rotvec,
                              In translation, In camera, In parents, In frozen, In groups, Out joints_ba,
                              Out joints_bl, Out joints_rt, Out uv_rt, Out cos_change, int64_t N, int64_t J,
                              int64_t G, int64_t C, double eps, double min_depth) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, AugmentPipelineForward<T>{
                                           as<const T>(joints), as<const T>(delta), as<const T>(ratio),
                                           as<const T>(rotvec), as<const T>(translation), as<const T>(camera),
                                           as<const int64_t>(parents), as<const U8>(frozen),
                                           as<const int64_t>(groups), as<T>(joints_ba), as<T>(joints_bl),
                                           as<T>(joints_rt), as<T>(uv_rt), as<T>(cos_change), J, G, C, T(eps),
                                           T(min_depth)}));
}

void augment_pipeline_backward(const Stream& s, int dtype, InOrNull grad_ba, InOrNull grad_bl, InOrNull grad_rt,
                               InOrNull grad_uv, InOrNull grad_cos, In joints, In delta, In ratio, In rotvec,
                               In camera, In joints_ba, In joints_bl, In joints_rt, In parents, In frozen, In groups,
                               Out grad_joints, Out grad_delta, Out grad_ratio, Out grad_rotvec,
                               Out grad_translation, Out grad_camera, int64_t N, int64_t J, int64_t G, int64_t C,
                               double eps, double min_depth) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, AugmentPipelineBackward<T>{
                                           as<const T>(grad_ba), as<const T>(grad_bl), as<const T>(grad_rt),
                                           as<const T>(grad_uv), as<const T>(grad_cos), as<const T>(joints),
                                           as<const T>(delta), as<const T>(ratio), as<const T>(rotvec),
                                           as<const T>(camera), as<const T>(joints_ba), as<const T>(joints_bl),
                                           as<const T>(joints_rt), as<const int64_t>(parents), as<const U8>(frozen),
                                           as<const int64_t>(groups), as<T>(grad_joints), as<T>(grad_delta),
                                           as<T>(grad_ratio), as<T>(grad_rotvec), as<T>(grad_translation),
                                           as<T>(grad_camera), J, G, C, T(eps), T(min_depth)}));
}

}  // namespace POSEFAST_BACKEND
}  // namespace posefast
