// Skeleton family host wrappers, written once and compiled per backend: the including file defines
// POSEFAST_BACKEND (cpu or cuda) and has that backend's `launch(stream, n, functor)` in scope.
#include "ops/skeleton.h"
#include "posefast/skeleton.h"

namespace posefast {
namespace POSEFAST_BACKEND {

void bone_vectors_forward(const Stream& s, int dtype, In joints, In parents, Out bones, int64_t N, int64_t J) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, BoneVectorsForward<T>{as<const T>(joints), as<const int64_t>(parents),
                                                             as<T>(bones), J}));
}

void bone_vectors_backward(const Stream& s, int dtype, In grad_bones, In parents, Out grad_joints, int64_t N,
                           int64_t J) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, BoneVectorsBackward<T>{as<const T>(grad_bones), as<const int64_t>(parents),
                                                              as<T>(grad_joints), J}));
}

void forward_kinematics_forward(const Stream& s, int dtype, In bones, In root, In parents, Out joints, int64_t N,
                                int64_t J) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, ForwardKinematicsForward<T>{as<const T>(bones), as<const T>(root),
                                                                   as<const int64_t>(parents), as<T>(joints), J}));
}

void forward_kinematics_backward(const Stream& s, int dtype, In grad_joints, In parents, Out grad_bones,
                                 Out grad_root, int64_t N, int64_t J) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, ForwardKinematicsBackward<T>{as<const T>(grad_joints),
                                                                    as<const int64_t>(parents), as<T>(grad_bones),
                                                                    as<T>(grad_root), J}));
}

void kcs_forward(const Stream& s, int dtype, In bones, Out kcs, int64_t N, int64_t B) {
  POSEFAST_DISPATCH_FLOAT(dtype, T, launch(s, N, KcsForward<T>{as<const T>(bones), as<T>(kcs), B}));
}

void kcs_backward(const Stream& s, int dtype, In grad_kcs, In bones, Out grad_bones, int64_t N, int64_t B) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, KcsBackward<T>{as<const T>(grad_kcs), as<const T>(bones),
                                                      as<T>(grad_bones), B}));
}

void part_kcs_forward(const Stream& s, int dtype, In joints, In parents, In masks, Out out, int64_t N, int64_t J,
                      int64_t P, bool normalize, double eps) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, PartKcsForward<T>{as<const T>(joints), as<const int64_t>(parents),
                                                         as<const T>(masks), as<T>(out), J, P, normalize, T(eps)}));
}

void part_kcs_backward(const Stream& s, int dtype, In grad_out, In joints, In parents, In masks,
                       Out grad_joints, int64_t N, int64_t J, int64_t P, bool normalize, double eps) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, PartKcsBackward<T>{as<const T>(grad_out), as<const T>(joints),
                                                          as<const int64_t>(parents), as<const T>(masks),
                                                          as<T>(grad_joints), J, P, normalize, T(eps)}));
}

void part_kcs_compact_forward(const Stream& s, int dtype, In joints, In parents, In pairs, Out out, int64_t N,
                              int64_t J, int64_t E, bool normalize, double eps) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, PartKcsCompactForward<T>{as<const T>(joints), as<const int64_t>(parents),
                                                                as<const int64_t>(pairs), as<T>(out), J, E, normalize,
                                                                T(eps)}));
}

void part_kcs_compact_backward(const Stream& s, int dtype, In grad_out, In joints, In parents, In offsets,
                               In items, Out grad_joints, int64_t N, int64_t J, int64_t E, bool normalize,
                               double eps) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, N, PartKcsCompactBackward<T>{as<const T>(grad_out), as<const T>(joints),
                                                                 as<const int64_t>(parents), as<const int64_t>(offsets),
                                                                 as<const int64_t>(items), as<T>(grad_joints), J, E,
                                                                 normalize, T(eps)}));
}

}  // namespace POSEFAST_BACKEND
}  // namespace posefast
