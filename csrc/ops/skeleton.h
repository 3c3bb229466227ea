// Host entry points of the skeleton family, declared once per backend: the including file defines POSEFAST_BACKEND
// (cpu or cuda) first (csrc/ops/skeleton.inl defines them, csrc/ops/skeleton_bind.cpp binds them by these names).
// Every entry point takes the stream and the dtype code (0 float32, 1 float64) of its float tensors, then the
// tensors' data pointers, then sizes and scalars. In = read, Out = written; shapes in the comments, row-major and
// contiguous; int64 or uint8 where noted, else the dtype. All validation is done in Python (posefast/ops).
// No include guard: included once per backend namespace.

#include "posefast/common.h"

namespace posefast {
namespace POSEFAST_BACKEND {

void bone_vectors_forward(const Stream& stream, int dtype,
                          In joints,   // [N, J, 3]
                          In parents,  // [J] int64
                          Out bones,   // [N, J - 1, 3]
                          int64_t N, int64_t J);

void bone_vectors_backward(const Stream& stream, int dtype,
                           In grad_bones,    // [N, J - 1, 3]
                           In parents,       // [J] int64
                           Out grad_joints,  // [N, J, 3]
                           int64_t N, int64_t J);

void forward_kinematics_forward(const Stream& stream, int dtype,
                                In bones,    // [N, J - 1, 3]
                                In root,     // [N, 3]
                                In parents,  // [J] int64
                                Out joints,  // [N, J, 3]
                                int64_t N, int64_t J);

void forward_kinematics_backward(const Stream& stream, int dtype,
                                 In grad_joints,  // [N, J, 3]
                                 In parents,      // [J] int64
                                 Out grad_bones,  // [N, J - 1, 3]
                                 Out grad_root,   // [N, 3]
                                 int64_t N, int64_t J);

void kcs_forward(const Stream& stream, int dtype,
                 In bones,  // [N, B, 3]
                 Out kcs,   // [N, B, B]
                 int64_t N, int64_t B);

void kcs_backward(const Stream& stream, int dtype,
                  In grad_kcs,     // [N, B, B]
                  In bones,        // [N, B, 3]
                  Out grad_bones,  // [N, B, 3]
                  int64_t N, int64_t B);

void part_kcs_forward(const Stream& stream, int dtype,
                      In joints,   // [N, J, 3]
                      In parents,  // [J] int64
                      In masks,    // [P, J - 1]: 1 for the part's bones
                      Out out,     // [N, P, J - 1, J - 1]
                      int64_t N, int64_t J, int64_t P,
                      bool normalize,  // unit bone directions (else raw bone vectors)
                      double eps);     // bones shorter than this are scaled by 1 / eps

void part_kcs_backward(const Stream& stream, int dtype,
                       In grad_out,      // [N, P, J - 1, J - 1]
                       In joints,        // [N, J, 3]
                       In parents,       // [J] int64
                       In masks,         // [P, J - 1]
                       Out grad_joints,  // [N, J, 3]
                       int64_t N, int64_t J, int64_t P, bool normalize, double eps);

void part_kcs_compact_forward(const Stream& stream, int dtype,
                              In joints,   // [N, J, 3]
                              In parents,  // [J] int64
                              In pairs,    // [E, 2] int64 bone pairs (i, k); (-1, -1) pads
                              Out out,     // [N, E]
                              int64_t N, int64_t J, int64_t E, bool normalize, double eps);

void part_kcs_compact_backward(const Stream& stream, int dtype,
                               In grad_out,      // [N, E]
                               In joints,        // [N, J, 3]
                               In parents,       // [J] int64
                               In offsets,       // [J] int64: bone b's entries are items[offsets[b]:offsets[b + 1]]
                               In items,         // [L, 2] int64 (entry index, other bone)
                               Out grad_joints,  // [N, J, 3]
                               int64_t N, int64_t J, int64_t E, bool normalize, double eps);

}  // namespace POSEFAST_BACKEND
}  // namespace posefast
