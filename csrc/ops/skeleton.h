// Host entry points of the skeleton family. Declared once per backend namespace (cpu, cuda) by the binding file.
// Arguments: stream, dtype code, data pointers (shapes in comments), sizes. All validation is done in Python.
#pragma once

#include "posefast/common.h"

#define POSEFAST_DECLARE_SKELETON_OPS                                                                      \
  /* joints [N,J,3], parents [J] int64 -> bones [N,J-1,3] */                                               \
  void bone_vectors_forward(const Stream&, int dtype, Ptr joints, Ptr parents, Ptr bones, int64_t N, int64_t J); \
  /* grad_bones [N,J-1,3], parents [J] -> grad_joints [N,J,3] */                                           \
  void bone_vectors_backward(const Stream&, int dtype, Ptr grad_bones, Ptr parents, Ptr grad_joints, int64_t N, \
                             int64_t J);                                                                   \
  /* bones [N,J-1,3], root [N,3], parents [J] -> joints [N,J,3] */                                         \
  void forward_kinematics_forward(const Stream&, int dtype, Ptr bones, Ptr root, Ptr parents, Ptr joints,  \
                                  int64_t N, int64_t J);                                                   \
  /* grad_joints [N,J,3], parents [J] -> grad_bones [N,J-1,3], grad_root [N,3] */                          \
  void forward_kinematics_backward(const Stream&, int dtype, Ptr grad_joints, Ptr parents, Ptr grad_bones, \
                                   Ptr grad_root, int64_t N, int64_t J);                                   \
  /* bones [N,B,3] -> kcs [N,B,B] */                                                                       \
  void kcs_forward(const Stream&, int dtype, Ptr bones, Ptr kcs, int64_t N, int64_t B);                    \
  /* grad_kcs [N,B,B], bones [N,B,3] -> grad_bones [N,B,3] */                                              \
  void kcs_backward(const Stream&, int dtype, Ptr grad_kcs, Ptr bones, Ptr grad_bones, int64_t N, int64_t B); \
  /* joints [N,J,3], parents [J], masks [P,J-1] -> out [N,P,J-1,J-1] */                                    \
  void part_kcs_forward(const Stream&, int dtype, Ptr joints, Ptr parents, Ptr masks, Ptr out, int64_t N,  \
                        int64_t J, int64_t P, bool normalize, double eps);                                 \
  /* grad_out [N,P,J-1,J-1], joints [N,J,3], parents [J], masks [P,J-1] -> grad_joints [N,J,3] */          \
  void part_kcs_backward(const Stream&, int dtype, Ptr grad_out, Ptr joints, Ptr parents, Ptr masks,       \
                         Ptr grad_joints, int64_t N, int64_t J, int64_t P, bool normalize, double eps);     \
  /* joints [N,J,3], parents [J], pairs [E,2] int64 (-1: padding) -> out [N,E] */                          \
  void part_kcs_compact_forward(const Stream&, int dtype, Ptr joints, Ptr parents, Ptr pairs, Ptr out,     \
                                int64_t N, int64_t J, int64_t E, bool normalize, double eps);              \
  /* grad_out [N,E], joints [N,J,3], parents [J], offsets [J], items [L,2] int64 -> grad_joints [N,J,3] */ \
  void part_kcs_compact_backward(const Stream&, int dtype, Ptr grad_out, Ptr joints, Ptr parents,          \
                                 Ptr offsets, Ptr items, Ptr grad_joints, int64_t N, int64_t J, int64_t E,  \
                                 bool normalize, double eps);
