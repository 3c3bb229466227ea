// Skeleton math: bone vectors, forward kinematics, KCS Gram matrices and the fused part-aware KCS.
// Bones are child-indexed: bone b joins parents[b + 1] to joint b + 1, and parents[j] < j (topological order),
// so forward kinematics is one pass up the joint list and its backward one pass down.
// Each functor handles one pose; the launcher runs it over the batch on the CPU (OpenMP) or the GPU.
#pragma once

#include "posefast/common.h"

namespace posefast {

// bones[b] = joints[b + 1] - joints[parents[b + 1]]
template <typename T>
struct BoneVectorsForward {
  const T* joints;         // [N, J, 3]
  const int64_t* parents;  // [J], parents[0] = -1
  T* bones;                // [N, J - 1, 3]
  int64_t J;
  PF_HD void operator()(int64_t n) const {
    const T* x = joints + n * J * 3;
    T* out = bones + n * (J - 1) * 3;
    for (int64_t c = 1; c < J; ++c) store3(out + (c - 1) * 3, load3(x + c * 3) - load3(x + parents[c] * 3));
  }
};

// grad_joints[c] += grad_bones[c - 1]; grad_joints[parent] -= grad_bones[c - 1]
template <typename T>
struct BoneVectorsBackward {
  const T* grad_bones;     // [N, J - 1, 3]
  const int64_t* parents;  // [J]
  T* grad_joints;          // [N, J, 3]
  int64_t J;
  PF_HD void operator()(int64_t n) const {
    const T* g = grad_bones + n * (J - 1) * 3;
    T* out = grad_joints + n * J * 3;
    store3(out, Vec3<T>{0, 0, 0});
    for (int64_t c = 1; c < J; ++c) store3(out + c * 3, load3(g + (c - 1) * 3));
    for (int64_t c = 1; c < J; ++c) accumulate3(out + parents[c] * 3, T(-1) * load3(g + (c - 1) * 3));
  }
};

// joints[0] = root; joints[c] = joints[parents[c]] + bones[c - 1]
template <typename T>
struct ForwardKinematicsForward {
  const T* bones;          // [N, J - 1, 3]
  const T* root;           // [N, 3]
  const int64_t* parents;  // [J]
  T* joints;               // [N, J, 3]
  int64_t J;
  PF_HD void operator()(int64_t n) const {
    const T* b = bones + n * (J - 1) * 3;
    T* out = joints + n * J * 3;
    store3(out, load3(root + n * 3));
    for (int64_t c = 1; c < J; ++c) store3(out + c * 3, load3(out + parents[c] * 3) + load3(b + (c - 1) * 3));
  }
};

// Each bone's gradient is the summed joint gradient of its whole subtree; walking children before parents
// (descending index) accumulates subtrees in place, without scratch memory.
template <typename T>
struct ForwardKinematicsBackward {
  const T* grad_joints;    // [N, J, 3]
  const int64_t* parents;  // [J]
  T* grad_bones;           // [N, J - 1, 3]
  T* grad_root;            // [N, 3]
  int64_t J;
  PF_HD void operator()(int64_t n) const {
    const T* g = grad_joints + n * J * 3;
    T* gb = grad_bones + n * (J - 1) * 3;
    Vec3<T> groot = load3(g);
    for (int64_t c = 1; c < J; ++c) store3(gb + (c - 1) * 3, load3(g + c * 3));
    for (int64_t c = J - 1; c >= 1; --c) {
      const Vec3<T> subtree = load3(gb + (c - 1) * 3);
      const int64_t p = parents[c];
      if (p == 0) groot += subtree; else accumulate3(gb + (p - 1) * 3, subtree);
    }
    store3(grad_root + n * 3, groot);
  }
};

// kcs[i][k] = <bones[i], bones[k]>
template <typename T>
struct KcsForward {
  const T* bones;  // [N, B, 3]
  T* kcs;          // [N, B, B]
  int64_t B;
  PF_HD void operator()(int64_t n) const {
    const T* b = bones + n * B * 3;
    T* out = kcs + n * B * B;
    for (int64_t i = 0; i < B; ++i) {
      const Vec3<T> bi = load3(b + i * 3);
      for (int64_t k = i; k < B; ++k) out[i * B + k] = out[k * B + i] = dot(bi, load3(b + k * 3));
    }
  }
};

// grad_bones[i] = sum_k (G[i][k] + G[k][i]) bones[k]
template <typename T>
struct KcsBackward {
  const T* grad_kcs;  // [N, B, B]
  const T* bones;     // [N, B, 3]
  T* grad_bones;      // [N, B, 3]
  int64_t B;
  PF_HD void operator()(int64_t n) const {
    const T* g = grad_kcs + n * B * B;
    const T* b = bones + n * B * 3;
    T* out = grad_bones + n * B * 3;
    for (int64_t i = 0; i < B; ++i) {
      Vec3<T> acc{0, 0, 0};
      for (int64_t k = 0; k < B; ++k) acc += (g[i * B + k] + g[k * B + i]) * load3(b + k * 3);
      store3(out + i * 3, acc);
    }
  }
};

// Fused part-aware KCS: joints -> (unit) bones -> one Gram matrix -> P masked copies, per pose, in registers/stack.
// out[p][i][k] = m[p][i] m[p][k] <u_i, u_k>, u = bone / max(|bone|, eps) when normalize (else the raw bone).
template <typename T>
struct PartKcsForward {
  const T* joints;         // [N, J, 3]
  const int64_t* parents;  // [J]
  const T* masks;          // [P, B] (0/1 part membership)
  T* out;                  // [N, P, B, B]
  int64_t J, P;
  bool normalize;
  T eps;
  PF_HD void operator()(int64_t n) const {
    const int64_t B = J - 1;
    const T* x = joints + n * J * 3;
    Vec3<T> u[kMaxJoints];
    for (int64_t c = 1; c < J; ++c) {
      const Vec3<T> b = load3(x + c * 3) - load3(x + parents[c] * 3);
      T inv;
      u[c - 1] = normalize ? safe_normalize(b, eps, &inv) : b;
    }
    T* o = out + n * P * B * B;
#ifdef __CUDA_ARCH__
    // GPU: no B x B local array (it would spill to local memory); each Gram entry is formed once and scattered.
    for (int64_t i = 0; i < B; ++i) {
      for (int64_t k = i; k < B; ++k) {
        const T gram = dot(u[i], u[k]);
        for (int64_t p = 0; p < P; ++p) {
          const T v = masks[p * B + i] * masks[p * B + k] * gram;
          o[(p * B + i) * B + k] = v;
          o[(p * B + k) * B + i] = v;
        }
      }
    }
#else
    // CPU: the Gram matrix on the stack, then each part's rows stored contiguously (2x faster than the scatter
    // above at 1e5 poses, bench/NOTES.md).
    T gram[kMaxJoints * kMaxJoints];
    for (int64_t i = 0; i < B; ++i)
      for (int64_t k = i; k < B; ++k) gram[i * B + k] = gram[k * B + i] = dot(u[i], u[k]);
    for (int64_t p = 0; p < P; ++p) {
      const T* m = masks + p * B;
      for (int64_t i = 0; i < B; ++i) {
        const T mi = m[i];
        T* row = o + (p * B + i) * B;
        const T* g = gram + i * B;
        for (int64_t k = 0; k < B; ++k) row[k] = mi * m[k] * g[k];
      }
    }
#endif
  }
};

// Backward of the fused op: collapse the P part gradients into one Gram gradient, then Gram -> bones -> joints.
template <typename T>
struct PartKcsBackward {
  const T* grad_out;       // [N, P, B, B]
  const T* joints;         // [N, J, 3]
  const int64_t* parents;  // [J]
  const T* masks;          // [P, B]
  T* grad_joints;          // [N, J, 3]
  int64_t J, P;
  bool normalize;
  T eps;
  PF_HD void operator()(int64_t n) const {
    const int64_t B = J - 1;
    const T* x = joints + n * J * 3;
    const T* g = grad_out + n * P * B * B;
    Vec3<T> bone[kMaxJoints], u[kMaxJoints];
    for (int64_t c = 1; c < J; ++c) {
      bone[c - 1] = load3(x + c * 3) - load3(x + parents[c] * 3);
      T inv;
      u[c - 1] = normalize ? safe_normalize(bone[c - 1], eps, &inv) : bone[c - 1];
    }
    T* gx = grad_joints + n * J * 3;
    for (int64_t c = 0; c < J; ++c) store3(gx + c * 3, Vec3<T>{0, 0, 0});
#ifndef __CUDA_ARCH__
    // CPU: sum the part gradients into one B x B array reading grad_out in memory order (1.6x at 1e5 poses).
    T G[kMaxJoints * kMaxJoints];
    for (int64_t e = 0; e < B * B; ++e) G[e] = T(0);
    for (int64_t p = 0; p < P; ++p) {
      const T* m = masks + p * B;
      for (int64_t i = 0; i < B; ++i) {
        const T mi = m[i];
        const T* row = g + (p * B + i) * B;
        T* Gi = G + i * B;
        for (int64_t k = 0; k < B; ++k) Gi[k] += mi * m[k] * row[k];
      }
    }
#endif
    for (int64_t i = 0; i < B; ++i) {
      Vec3<T> gu{0, 0, 0};
      for (int64_t k = 0; k < B; ++k) {
#ifdef __CUDA_ARCH__
        T gsym = 0;  // GPU (no local B x B array): d loss / d gram[i][k], summed over parts and (i,k), (k,i)
        for (int64_t p = 0; p < P; ++p)
          gsym += masks[p * B + i] * masks[p * B + k] * (g[(p * B + i) * B + k] + g[(p * B + k) * B + i]);
#else
        const T gsym = G[i * B + k] + G[k * B + i];
#endif
        gu += gsym * u[k];
      }
      const Vec3<T> gb = normalize ? safe_normalize_backward(bone[i], gu, eps) : gu;
      accumulate3(gx + (i + 1) * 3, gb);
      accumulate3(gx + parents[i + 1] * 3, T(-1) * gb);
    }
  }
};

}  // namespace posefast
