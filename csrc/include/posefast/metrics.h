// 3D pose metrics, one pose per work item: MPJPE (optionally root-relative), N-MPJPE (least-squares scale),
// P-MPJPE and the similarity-Procrustes alignment (posefast/procrustes.h), their backwards, and the fused
// evaluation pass (MPJPE, P-MPJPE, per-joint errors and PCK tallies in one read of each pose).
// Conventions follow VideoPose3D (Pavllo et al., CVPR 2019, common/loss.py); PCK/AUC the MPI-INF-3DHP protocol
// (Mehta et al., 3DV 2017) as evaluated by PoseAug (Gong et al., CVPR 2021).
#pragma once

#include "posefast/common.h"
#include "posefast/procrustes.h"
#include "posefast/p_mpjpe.h"

namespace posefast {

// Per-pose error after an optional root shift: d_j = (p_j - x_j) - (p_root - x_root).
template <typename T>
PF_HD Vec3<T> root_offset(const T* p, const T* x, int64_t root) {
  return root >= 0 ? load3(p + root * 3) - load3(x + root * 3) : Vec3<T>{0, 0, 0};
}

// Unit direction of a residual, zero for a zero residual (the subgradient of |d| at 0 that torch also uses).
template <typename T>
PF_HD Vec3<T> unit_or_zero(Vec3<T> d) {
  const T n = norm(d);
  return n == T(0) ? Vec3<T>{0, 0, 0} : (T(1) / n) * d;
}

// err[n] = mean_j |(p_j - x_j) - (p_root - x_root)|   (root < 0: no shift)
template <typename T>
struct MpjpeForward {
  const T* pred;    // [N, J, 3]
  const T* target;  // [N, J, 3]
  T* err;           // [N]
  int64_t J, root;
  PF_HD void operator()(int64_t n) const {
    const T* p = pred + n * J * 3;
    const T* x = target + n * J * 3;
    const Vec3<T> off = root_offset(p, x, root);
    T sum = 0;
    for (int64_t j = 0; j < J; ++j) sum += norm(load3(p + j * 3) - load3(x + j * 3) - off);
    err[n] = sum / T(J);
  }
};

template <typename T>
struct MpjpeBackward {
  const T* grad_err;  // [N]
  const T* pred;      // [N, J, 3]
  const T* target;    // [N, J, 3]
  T* grad_pred;       // [N, J, 3]
  T* grad_target;     // [N, J, 3]
  int64_t J, root;
  PF_HD void operator()(int64_t n) const {
    const T* p = pred + n * J * 3;
    const T* x = target + n * J * 3;
    T* gp = grad_pred + n * J * 3;
    T* gx = grad_target + n * J * 3;
    const Vec3<T> off = root_offset(p, x, root);
    const T g = grad_err[n] / T(J);
    Vec3<T> total{0, 0, 0};
#ifdef __CUDA_ARCH__
    for (int64_t j = 0; j < J; ++j) {
      const Vec3<T> u = g * unit_or_zero(load3(p + j * 3) - load3(x + j * 3) - off);
      store3(gp + j * 3, u);
      total += u;
    }
#else
    // CPU: the inverse residual lengths of all joints first, in a loop GCC vectorises (the square roots and
    // divisions are most of the work), then the scaled directions; the same operations as the GPU branch above.
    T inv[kMaxJoints];
    for (int64_t j = 0; j < J; ++j) {
      const T d0 = p[j * 3] - x[j * 3] - off.x, d1 = p[j * 3 + 1] - x[j * 3 + 1] - off.y;
      const T d2 = p[j * 3 + 2] - x[j * 3 + 2] - off.z;
      const T len = pf_sqrt(d0 * d0 + d1 * d1 + d2 * d2);
      inv[j] = len == T(0) ? T(0) : T(1) / len;
    }
    for (int64_t j = 0; j < J; ++j) {
      const Vec3<T> u = g * (inv[j] * (load3(p + j * 3) - load3(x + j * 3) - off));
      store3(gp + j * 3, u);
      total += u;
    }
#endif
    if (root >= 0) accumulate3(gp + root * 3, T(-1) * total);
    for (int64_t i = 0; i < J * 3; ++i) gx[i] = -gp[i];
  }
};

// Least-squares scale of pred onto target about the origin (VideoPose3D n_mpjpe): s = <x, p> / <p, p>, 0 when p = 0.
template <typename T>
PF_HD void least_squares_scale(const T* p, const T* x, int64_t J, T* s, T* pp) {
  T xp = 0, q = 0;
  for (int64_t j = 0; j < J; ++j) {
    const Vec3<T> pj = load3(p + j * 3);
    xp += dot(load3(x + j * 3), pj);
    q += dot(pj, pj);
  }
  *pp = q;
  *s = q == T(0) ? T(0) : xp / q;  // NaN input stays NaN (q != 0 then)
}

// err[n] = mean_j |s p_j - x_j|
template <typename T>
struct NMpjpeForward {
  const T* pred;    // [N, J, 3]
  const T* target;  // [N, J, 3]
  T* err;           // [N]
  int64_t J;
  PF_HD void operator()(int64_t n) const {
    const T* p = pred + n * J * 3;
    const T* x = target + n * J * 3;
    T s, pp;
    least_squares_scale(p, x, J, &s, &pp);
    T sum = 0;
    for (int64_t j = 0; j < J; ++j) sum += norm(s * load3(p + j * 3) - load3(x + j * 3));
    err[n] = sum / T(J);
  }
};

// u_j = g/J * r_j/|r_j|, r_j = s p_j - x_j; gs = sum_j <u_j, p_j>;
// ds/dp_j = (x_j - 2 s p_j) / <p,p>, ds/dx_j = p_j / <p,p>.
template <typename T>
struct NMpjpeBackward {
  const T* grad_err;  // [N]
  const T* pred;      // [N, J, 3]
  const T* target;    // [N, J, 3]
  T* grad_pred;       // [N, J, 3]
  T* grad_target;     // [N, J, 3]
  int64_t J;
  PF_HD void operator()(int64_t n) const {
    const T* p = pred + n * J * 3;
    const T* x = target + n * J * 3;
    T* gp = grad_pred + n * J * 3;
    T* gx = grad_target + n * J * 3;
    T s, pp;
    least_squares_scale(p, x, J, &s, &pp);
    const T g = grad_err[n] / T(J);
    T gs = 0;
    for (int64_t j = 0; j < J; ++j) {
      const Vec3<T> pj = load3(p + j * 3);
      const Vec3<T> u = g * unit_or_zero(s * pj - load3(x + j * 3));
      gs += dot(u, pj);
      store3(gp + j * 3, s * u);
      store3(gx + j * 3, T(-1) * u);
    }
    const T k = pp == T(0) ? T(0) : gs / pp;  // s is the constant 0 when p = 0
    for (int64_t j = 0; j < J; ++j) {
      const Vec3<T> pj = load3(p + j * 3), xj = load3(x + j * 3);
      accumulate3(gp + j * 3, k * (xj - (T(2) * s) * pj));
      accumulate3(gx + j * 3, k * pj);
    }
  }
};

// err[n] = P-MPJPE of pose n (mean joint distance after the similarity fit): the closed-form QCP fit
// (posefast/quaternion_fit.h), the Jacobi fit for the poses it flags. The CPU runs it eight poses at a time
// (posefast/lanes_metrics.h), the GPU one pose per thread.
template <typename T>
struct PMpjpeForward {
  const T* pred;    // [N, J, 3]
  const T* target;  // [N, J, 3]
  T* err;           // [N]
  int64_t J;
  PF_HD void operator()(int64_t n) const {
    err[n] = T(procrustes::p_mpjpe_one(pred + n * J * 3, target + n * J * 3, static_cast<const int64_t*>(nullptr), J));
  }
};

// d err / d aligned_j for the P-MPJPE: g/J * r_j / |r_j| (the fit is recomputed: cheaper than storing it).
template <typename T>
struct PMpjpeResidualGrad {
  const procrustes::Similarity* f;
  procrustes::PoseView<T> p, x;
  procrustes::Real g;  // grad_err / J
  PF_HD Vec3<procrustes::Real> operator()(int64_t j) const {
    return g * unit_or_zero(procrustes::aligned_residual(*f, p, x, j));
  }
};

template <typename T>
struct PMpjpeBackward {
  const T* grad_err;  // [N]
  const T* pred;      // [N, J, 3]
  const T* target;    // [N, J, 3]
  T* grad_pred;       // [N, J, 3]
  T* grad_target;     // [N, J, 3]
  int64_t J;
  PF_HD void operator()(int64_t n) const {
    const procrustes::PoseView<T> p{pred + n * J * 3, nullptr}, x{target + n * J * 3, nullptr};
    const procrustes::Similarity f = procrustes::similarity_fit(p, x, J);
    const PMpjpeResidualGrad<T> ga{&f, p, x, procrustes::Real(grad_err[n]) / procrustes::Real(J)};
    procrustes::similarity_backward(f, p, x, J, ga, procrustes::Real(0), static_cast<const T*>(nullptr),
                                    Vec3<procrustes::Real>{0, 0, 0}, procrustes::Real(-1), grad_pred + n * J * 3,
                                    grad_target + n * J * 3);
  }
};

// aligned = s pred R + t (row vectors), with s, R, t of the similarity fit.
template <typename T>
struct ProcrustesAlignForward {
  const T* pred;     // [N, J, 3]
  const T* target;   // [N, J, 3]
  T* aligned;        // [N, J, 3]
  T* scale;          // [N]
  T* rotation;       // [N, 3, 3]
  T* translation;    // [N, 3]
  int64_t J;
  PF_HD void operator()(int64_t n) const {
    const procrustes::PoseView<T> p{pred + n * J * 3, nullptr}, x{target + n * J * 3, nullptr};
    const procrustes::Similarity f = procrustes::similarity_fit(p, x, J);
    const Vec3<procrustes::Real> t = f.mu_x - f.s * procrustes::row_times(f.mu_p, f.R);
    T* a = aligned + n * J * 3;
    // s (p_j - mu_p) R + mu_x: the same rounding as the residual the P-MPJPE measures
    for (int64_t j = 0; j < J; ++j)
      procrustes::store3_as(a + j * 3, f.s * procrustes::row_times(p[j] - f.mu_p, f.R) + f.mu_x);
    scale[n] = T(f.s);
    for (int i = 0; i < 9; ++i) rotation[n * 9 + i] = T(f.R[i]);
    procrustes::store3_as(translation + n * 3, t);
  }
};

template <typename T>
struct DenseJointGrad {
  procrustes::PoseView<T> g;  // [J, 3]
  PF_HD Vec3<procrustes::Real> operator()(int64_t j) const { return g[j]; }
};

template <typename T>
struct ProcrustesAlignBackward {
  const T* grad_aligned;      // [N, J, 3]
  const T* grad_scale;        // [N]
  const T* grad_rotation;     // [N, 3, 3]
  const T* grad_translation;  // [N, 3]
  const T* pred;              // [N, J, 3]
  const T* target;            // [N, J, 3]
  T* grad_pred;               // [N, J, 3]
  T* grad_target;             // [N, J, 3]
  int64_t J;
  PF_HD void operator()(int64_t n) const {
    const procrustes::PoseView<T> p{pred + n * J * 3, nullptr}, x{target + n * J * 3, nullptr};
    const procrustes::Similarity f = procrustes::similarity_fit(p, x, J);
    const procrustes::PoseView<T> gt{grad_translation + n * 3, nullptr};
    procrustes::similarity_backward(f, p, x, J, DenseJointGrad<T>{{grad_aligned + n * J * 3, nullptr}},
                                    procrustes::Real(grad_scale[n]), grad_rotation + n * 9, gt[0],
                                    procrustes::Real(0), grad_pred + n * J * 3, grad_target + n * J * 3);
  }
};

// The fused evaluation pass over the evaluated joints `joints` (Je of them) of each pose:
//   joint_err[n, j] = |(p_j - x_j) - (p_root - x_root)| * to_mm      (root < 0: no shift)
//   mpjpe[n] = mean_j joint_err[n, j];  p_mpjpe[n] = P-MPJPE over the evaluated joints * to_mm
//   hits[n, k] = #{j : joint_err[n, j] < thresholds[k]}   (strictly below, as PoseAug's compute_PCK)
// A pose with any non-finite joint error gets NaN tallies, so NaN reaches the PCK curve instead of counting as a miss.
template <typename T>
struct PoseErrorsForward {
  const T* pred;             // [N, J, 3]
  const T* target;           // [N, J, 3]
  const int64_t* joints;     // [Je] evaluated joint ids
  const double* thresholds;  // [K] mm, ascending (float64 whatever T: compared exactly as given)
  T* mpjpe;                  // [N] mm
  T* p_mpjpe;                // [N] mm
  T* joint_err;              // [N, Je] mm
  T* hits;                   // [N, K]
  int64_t J, Je, K, root;
  T to_mm;
  PF_HD void operator()(int64_t n) const {
    joint_errors(n);
    p_mpjpe[n] = T(procrustes::p_mpjpe_one(pred + n * J * 3, target + n * J * 3, joints, Je) * procrustes::Real(to_mm));
  }
  // Everything but the P-MPJPE (which the CPU computes eight poses at a time, posefast/lanes_metrics.h).
  PF_HD void joint_errors(int64_t n) const {
    const T* p = pred + n * J * 3;
    const T* x = target + n * J * 3;
    const Vec3<T> off = root_offset(p, x, root);
    T* e = joint_err + n * Je;
    T* h = hits + n * K;
    for (int64_t k = 0; k < K; ++k) h[k] = T(0);
    // With ascending thresholds a joint is a hit for every k >= first index with thresholds[k] > e: one binary
    // search per joint marks that index, a prefix sum turns the marks into counts (Je log K + K, not Je K).
    T sum = 0;
    for (int64_t j = 0; j < Je; ++j) {
      const int64_t q = joints[j];
      const T ej = norm(load3(p + q * 3) - load3(x + q * 3) - off) * to_mm;
      e[j] = ej;
      sum += ej;
      // branch-free upper bound: first = #{k : thresholds[k] <= ej} (random errors would mispredict a branch)
      const double* base = thresholds;
      for (int64_t len = K; len > 1;) {
        const int64_t half = len / 2;
        base = base[half] <= double(ej) ? base + half : base;
        len -= half;
      }
      const int64_t first = (base - thresholds) + (base[0] <= double(ej));
      if (first < K) h[first] += T(1);
    }
    mpjpe[n] = sum / T(Je);
    const bool finite = !procrustes::not_finite(sum);
    T running = 0;
    for (int64_t k = 0; k < K; ++k) {
      running += h[k];
      h[k] = finite ? running : procrustes::quiet_nan<T>();
    }
  }
};

}  // namespace posefast
