// Host entry points of the pose-transform family. Declared once per backend namespace (cpu, cuda) by the binding
// file. Arguments: stream, dtype code, data pointers (shapes in comments; "or 0" = may be a null pointer, read as
// zeros), sizes and scalars. All validation is done in Python.
#pragma once

#include "posefast/common.h"

#define POSEFAST_DECLARE_TRANSFORMS_OPS                                                                        \
  /* rotvec [N,3] -> rotmat [N,3,3] */                                                                         \
  void rotvec_to_rotmat_forward(const Stream&, int dtype, Ptr rotvec, Ptr rotmat, int64_t N);                  \
  /* grad_rotmat [N,3,3], rotvec [N,3] -> grad_rotvec [N,3] */                                                 \
  void rotvec_to_rotmat_backward(const Stream&, int dtype, Ptr grad_rotmat, Ptr rotvec, Ptr grad_rotvec,       \
                                 int64_t N);                                                                   \
  /* joints [N,J,3], delta [N,J-1,3], parents [J] int64, frozen [J-1] uint8 -> out [N,J,3], cos [N,J-1] */     \
  void bone_angle_augment_forward(const Stream&, int dtype, Ptr joints, Ptr delta, Ptr parents, Ptr frozen,   \
                                  Ptr out, Ptr cos_change, int64_t N, int64_t J, double eps);                  \
  /* grad_out [N,J,3] or 0, grad_cos [N,J-1] or 0, joints, delta, parents, frozen                              \
     -> grad_joints [N,J,3], grad_delta [N,J-1,3] */                                                           \
  void bone_angle_augment_backward(const Stream&, int dtype, Ptr grad_out, Ptr grad_cos, Ptr joints,           \
                                   Ptr delta, Ptr parents, Ptr frozen, Ptr grad_joints, Ptr grad_delta,        \
                                   int64_t N, int64_t J, double eps);                                          \
  /* joints [N,J,3], ratio [N,G], parents [J], groups [J-1] int64 -> out [N,J,3] */                            \
  void bone_length_augment_forward(const Stream&, int dtype, Ptr joints, Ptr ratio, Ptr parents, Ptr groups,  \
                                   Ptr out, int64_t N, int64_t J, int64_t G);                                  \
  /* grad_out [N,J,3], joints, ratio, parents, groups -> grad_joints [N,J,3], grad_ratio [N,G] */               \
  void bone_length_augment_backward(const Stream&, int dtype, Ptr grad_out, Ptr joints, Ptr ratio,             \
                                    Ptr parents, Ptr groups, Ptr grad_joints, Ptr grad_ratio, int64_t N,       \
                                    int64_t J, int64_t G);                                                     \
  /* joints [N,J,3], rotvec [N,3], translation [N,3] -> out [N,J,3] */                                         \
  void rigid_transform_forward(const Stream&, int dtype, Ptr joints, Ptr rotvec, Ptr translation, Ptr out,     \
                               int64_t N, int64_t J);                                                          \
  /* grad_out [N,J,3], joints, rotvec -> grad_joints [N,J,3], grad_rotvec [N,3], grad_translation [N,3] */     \
  void rigid_transform_backward(const Stream&, int dtype, Ptr grad_out, Ptr joints, Ptr rotvec,                \
                                Ptr grad_joints, Ptr grad_rotvec, Ptr grad_translation, int64_t N, int64_t J); \
  /* points [N,P,3], camera [N,C] (C = 4 or 9) -> uv [N,P,2] */                                                \
  void project_forward(const Stream&, int dtype, Ptr points, Ptr camera, Ptr uv, int64_t N, int64_t P,        \
                       int64_t C, double min_depth);                                                           \
  /* grad_uv [N,P,2], points, camera -> grad_points [N,P,3], grad_camera [N,C] */                              \
  void project_backward(const Stream&, int dtype, Ptr grad_uv, Ptr points, Ptr camera, Ptr grad_points,        \
                        Ptr grad_camera, int64_t N, int64_t P, int64_t C, double min_depth);                   \
  /* joints [N,J,3], target [N,J,2], camera [N,4] -> out [N,J,3] */                                            \
  void global_position_align_forward(const Stream&, int dtype, Ptr joints, Ptr target, Ptr camera, Ptr out,   \
                                     int64_t N, int64_t J, double min_scale, double z_min, double z_max);      \
  /* grad_out [N,J,3], joints, target, camera -> grad_joints [N,J,3], grad_target [N,J,2], grad_camera [N,4] */ \
  void global_position_align_backward(const Stream&, int dtype, Ptr grad_out, Ptr joints, Ptr target,         \
                                      Ptr camera, Ptr grad_joints, Ptr grad_target, Ptr grad_camera,           \
                                      int64_t N, int64_t J, double min_scale, double z_min, double z_max);     \
  /* joints [N,J,3], delta [N,J-1,3], ratio [N,G], rotvec [N,3], translation [N,3], camera [N,C], parents,     \
     frozen, groups -> joints_ba, joints_bl, joints_rt [N,J,3], uv_rt [N,J,2], cos_change [N,J-1] */           \
  void augment_pipeline_forward(const Stream&, int dtype, Ptr joints, Ptr delta, Ptr ratio, Ptr rotvec,        \
                                Ptr translation, Ptr camera, Ptr parents, Ptr frozen, Ptr groups,              \
                                Ptr joints_ba, Ptr joints_bl, Ptr joints_rt, Ptr uv_rt, Ptr cos_change,        \
                                int64_t N, int64_t J, int64_t G, int64_t C, double eps, double min_depth);     \
  /* grad_ba, grad_bl, grad_rt [N,J,3] or 0, grad_uv [N,J,2] or 0, grad_cos [N,J-1] or 0; joints, delta,       \
     ratio, rotvec, camera, saved joints_ba/bl/rt, parents, frozen, groups -> grad_joints, grad_delta,          \
     grad_ratio, grad_rotvec, grad_translation, grad_camera */                                                 \
  void augment_pipeline_backward(const Stream&, int dtype, Ptr grad_ba, Ptr grad_bl, Ptr grad_rt, Ptr grad_uv, \
                                 Ptr grad_cos, Ptr joints, Ptr delta, Ptr ratio, Ptr rotvec, Ptr camera,       \
                                 Ptr joints_ba, Ptr joints_bl, Ptr joints_rt, Ptr parents, Ptr frozen,         \
                                 Ptr groups, Ptr grad_joints, Ptr grad_delta, Ptr grad_ratio, Ptr grad_rotvec, \
                                 Ptr grad_translation, Ptr grad_camera, int64_t N, int64_t J, int64_t G,       \
                                 int64_t C, double eps, double min_depth);
