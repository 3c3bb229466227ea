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

// ---- part-aware KCS ----------------------------------------------------------------------------------------------
// The unit bones u = bone / max(|bone|, eps) (or the raw bones) enter every part-KCS value as dot(u_i, u_k). The CPU
// computes them once per pose into a stack array; the GPU branches keep no per-pose arrays (a thread's stack frame
// stays within 256 bytes for J <= 17 in float and double) and recompute each unit bone where it is needed. The
// operations on each value are the same in both, so the CPU and GPU branches give the same bits (FMA contraction
// aside, which nvcc applies by default).

// Bone b of one pose (joint b + 1 minus its parent), unit length when normalize.
template <typename T>
PF_HD Vec3<T> kcs_bone(const T* x, const int64_t* parents, int64_t b) {
  return load3(x + (b + 1) * 3) - load3(x + parents[b + 1] * 3);
}
template <typename T>
PF_HD Vec3<T> kcs_unit(Vec3<T> bone, bool normalize, T eps) {
  T inv;
  return normalize ? safe_normalize(bone, eps, &inv) : bone;
}

// Fused part-aware KCS: joints -> (unit) bones -> Gram matrix -> P masked copies, per pose.
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
    T* o = out + n * P * B * B;
#ifdef __CUDA_ARCH__
    for (int64_t i = 0; i < B; ++i) {
      const Vec3<T> ui = kcs_unit(kcs_bone(x, parents, i), normalize, eps);
      for (int64_t k = 0; k < B; ++k) {
        const T g = dot(ui, kcs_unit(kcs_bone(x, parents, k), normalize, eps));
        for (int64_t p = 0; p < P; ++p) o[(p * B + i) * B + k] = masks[p * B + i] * masks[p * B + k] * g;
      }
    }
#else
    // CPU: the Gram matrix on the stack, then each part's rows stored contiguously (2x faster than scattering each
    // value to the P parts at 1e5 poses, bench/NOTES.md).
    Vec3<T> u[kMaxJoints];
    for (int64_t b = 0; b < B; ++b) u[b] = kcs_unit(kcs_bone(x, parents, b), normalize, eps);
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
// d loss / d gram[i][k] (summed over both triangles) = G[i][k] + G[k][i], G[i][k] = sum_p m[p][i] m[p][k] g[p][i][k].
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
    T* gx = grad_joints + n * J * 3;
    for (int64_t c = 0; c < J; ++c) store3(gx + c * 3, Vec3<T>{0, 0, 0});
#ifdef __CUDA_ARCH__
    for (int64_t i = 0; i < B; ++i) {
      Vec3<T> gu{0, 0, 0};
      for (int64_t k = 0; k < B; ++k) {
        T gik = 0, gki = 0;  // G[i][k], G[k][i], parts summed in the CPU's order
        for (int64_t p = 0; p < P; ++p) {
          const T mm = masks[p * B + i] * masks[p * B + k];
          gik += mm * g[(p * B + i) * B + k];
          gki += masks[p * B + k] * masks[p * B + i] * g[(p * B + k) * B + i];
        }
        gu += (gik + gki) * kcs_unit(kcs_bone(x, parents, k), normalize, eps);
      }
      const Vec3<T> bone = kcs_bone(x, parents, i);
      const Vec3<T> gb = normalize ? safe_normalize_backward(bone, gu, eps) : gu;
      accumulate3(gx + (i + 1) * 3, gb);
      accumulate3(gx + parents[i + 1] * 3, T(-1) * gb);
    }
#else
    // CPU: sum the part gradients into one B x B array reading grad_out in memory order (1.6x at 1e5 poses).
    Vec3<T> bone[kMaxJoints], u[kMaxJoints];
    for (int64_t b = 0; b < B; ++b) {
      bone[b] = kcs_bone(x, parents, b);
      u[b] = kcs_unit(bone[b], normalize, eps);
    }
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
    for (int64_t i = 0; i < B; ++i) {
      Vec3<T> gu{0, 0, 0};
      for (int64_t k = 0; k < B; ++k) gu += (G[i * B + k] + G[k * B + i]) * u[k];
      const Vec3<T> gb = normalize ? safe_normalize_backward(bone[i], gu, eps) : gu;
      accumulate3(gx + (i + 1) * 3, gb);
      accumulate3(gx + parents[i + 1] * 3, T(-1) * gb);
    }
#endif
  }
};

// Compact part-aware KCS: only the distinct entries of each part's matrix (posefast/skeleton.py,
// compact_kcs_layout): out[p][d] = <u_i, u_k> for pairs[p][d] = (i, k), 0 for padding (i = -1).
template <typename T>
struct PartKcsCompactForward {
  const T* joints;         // [N, J, 3]
  const int64_t* parents;  // [J]
  const int64_t* pairs;    // [E, 2], E = P * D entries (bone pairs, -1 for padding)
  T* out;                  // [N, E]
  int64_t J, E;
  bool normalize;
  T eps;
  PF_HD void operator()(int64_t n) const {
    const T* x = joints + n * J * 3;
    T* o = out + n * E;
#ifdef __CUDA_ARCH__
    for (int64_t e = 0; e < E; ++e) {
      const int64_t i = pairs[2 * e], k = pairs[2 * e + 1];
      o[e] = i < 0 ? T(0)
                   : dot(kcs_unit(kcs_bone(x, parents, i), normalize, eps),
                         kcs_unit(kcs_bone(x, parents, k), normalize, eps));
    }
#else
    Vec3<T> u[kMaxJoints];
    for (int64_t b = 0; b < J - 1; ++b) u[b] = kcs_unit(kcs_bone(x, parents, b), normalize, eps);
    for (int64_t e = 0; e < E; ++e) {
      const int64_t i = pairs[2 * e], k = pairs[2 * e + 1];
      o[e] = i < 0 ? T(0) : dot(u[i], u[k]);
    }
#endif
  }
};

// Backward of the compact op, bone by bone: d loss / d u_b = sum over the entries (e, k) that contain bone b of
// g[e] u_k (a diagonal entry (b, b) is listed twice: d<u_b, u_b>/du_b = 2 u_b). The lists are CSR tables built by
// posefast/ops/_tables.py: entries of bone b at items[offsets[b] .. offsets[b + 1]), each (entry index e, bone k).
template <typename T>
struct PartKcsCompactBackward {
  const T* grad_out;       // [N, E]
  const T* joints;         // [N, J, 3]
  const int64_t* parents;  // [J]
  const int64_t* offsets;  // [B + 1]
  const int64_t* items;    // [L, 2]
  T* grad_joints;          // [N, J, 3]
  int64_t J, E;
  bool normalize;
  T eps;
  PF_HD void operator()(int64_t n) const {
    const int64_t B = J - 1;
    const T* x = joints + n * J * 3;
    const T* g = grad_out + n * E;
    T* gx = grad_joints + n * J * 3;
    for (int64_t c = 0; c < J; ++c) store3(gx + c * 3, Vec3<T>{0, 0, 0});
#ifndef __CUDA_ARCH__
    Vec3<T> u[kMaxJoints];
    for (int64_t b = 0; b < B; ++b) u[b] = kcs_unit(kcs_bone(x, parents, b), normalize, eps);
#endif
    for (int64_t b = 0; b < B; ++b) {
      Vec3<T> gu{0, 0, 0};
      for (int64_t t = offsets[b]; t < offsets[b + 1]; ++t) {
        const int64_t k = items[2 * t + 1];
#ifdef __CUDA_ARCH__
        const Vec3<T> uk = kcs_unit(kcs_bone(x, parents, k), normalize, eps);
#else
        const Vec3<T> uk = u[k];
#endif
        gu += g[items[2 * t]] * uk;
      }
      const Vec3<T> bone = kcs_bone(x, parents, b);
      const Vec3<T> gb = normalize ? safe_normalize_backward(bone, gu, eps) : gu;
      accumulate3(gx + (b + 1) * 3, gb);
      accumulate3(gx + parents[b + 1] * 3, T(-1) * gb);
    }
  }
};

}  // namespace posefast
