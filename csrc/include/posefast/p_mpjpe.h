// P-MPJPE of one pose or of a block of poses, one SIMD lane per pose: the closed-form fit of
// posefast/quaternion_fit.h with the robust Jacobi fit (procrustes::similarity_fit) for the poses it flags. The CPU
// runs blocks of eight poses (posefast/lanes_metrics.h), the GPU one pose per thread (p_mpjpe_one).
#pragma once

#include "posefast/procrustes.h"

namespace posefast {
namespace procrustes {

// Lanes of the solve for the per-pose (GPU) path: qcp_fit on each lane in turn. The CPU runs the same loop in a
// function compiled per instruction-set level (posefast/lanes_metrics.h), where it vectorises across the lanes.
struct QcpEachLane {
  template <int W>
  PF_HD_INLINE void operator()(const Real (*M)[W], const Real* gp, const Real* gx, Real (*R)[W], Real* s,
                               Real* ok) const {
    for (int l = 0; l < W; ++l) {
      const QcpFit<Real> q =
          qcp_fit(Mat3<Real>{M[0][l], M[1][l], M[2][l], M[3][l], M[4][l], M[5][l], M[6][l], M[7][l], M[8][l]}, gp[l],
                  gx[l]);
      R[0][l] = q.R.xx; R[1][l] = q.R.xy; R[2][l] = q.R.xz;
      R[3][l] = q.R.yx; R[4][l] = q.R.yy; R[5][l] = q.R.yz;
      R[6][l] = q.R.zx; R[7][l] = q.R.zy; R[8][l] = q.R.zz;
      s[l] = q.trace / gp[l];
      ok[l] = q.ok ? Real(1) : Real(0);  // a Real, not a bool: GCC does not vectorise a loop storing bools here
    }
  }
};

// P-MPJPE of W poses at once, one lane per pose (W = 1 on the GPU, one pose per thread). `p(j, c, l)` and
// `x(j, c, l)` return coordinate c of joint j of lane l's pose relative to that pose's joint 0, as Real (so the
// centring cancels relative to the pose's spread, not to its distance from the origin). One pass accumulates the
// shifted moments, `solve` (QcpEachLane or the CPU's vectorised version) fits every lane, a second pass sums the
// aligned joint distances. err[l] is lane l's P-MPJPE where ok[l] = 1; lanes with ok[l] = 0 need the robust fit.
template <int W, class PoseP, class PoseX, class Solve>
PF_HD_INLINE void p_mpjpe_lanes(const PoseP& p, const PoseX& x, int64_t J, const Solve& solve, Real* err, Real* ok) {
  Real sp[3][W], sx[3][W], M[9][W], gp[W], gx[W];
  for (int l = 0; l < W; ++l) {
    gp[l] = gx[l] = Real(0);
    for (int c = 0; c < 3; ++c) sp[c][l] = sx[c][l] = Real(0);
    for (int k = 0; k < 9; ++k) M[k][l] = Real(0);
  }
  for (int64_t j = 1; j < J; ++j) {
    for (int l = 0; l < W; ++l) {
      const Real a0 = p(j, 0, l), a1 = p(j, 1, l), a2 = p(j, 2, l);
      const Real b0 = x(j, 0, l), b1 = x(j, 1, l), b2 = x(j, 2, l);
      sp[0][l] += a0; sp[1][l] += a1; sp[2][l] += a2;
      sx[0][l] += b0; sx[1][l] += b1; sx[2][l] += b2;
      M[0][l] += a0 * b0; M[1][l] += a0 * b1; M[2][l] += a0 * b2;
      M[3][l] += a1 * b0; M[4][l] += a1 * b1; M[5][l] += a1 * b2;
      M[6][l] += a2 * b0; M[7][l] += a2 * b1; M[8][l] += a2 * b2;
      gp[l] += a0 * a0 + a1 * a1 + a2 * a2;
      gx[l] += b0 * b0 + b1 * b1 + b2 * b2;
    }
  }
  const Real inv_j = Real(1) / Real(J);
  for (int l = 0; l < W; ++l) {
    // centred moments: sum (a - m)(b - n)^T = sum a b^T - (sum a) n^T with the centroids m, n of the shifted poses
    const Real m0 = sp[0][l] * inv_j, m1 = sp[1][l] * inv_j, m2 = sp[2][l] * inv_j;
    const Real n0 = sx[0][l] * inv_j, n1 = sx[1][l] * inv_j, n2 = sx[2][l] * inv_j;
    M[0][l] -= sp[0][l] * n0; M[1][l] -= sp[0][l] * n1; M[2][l] -= sp[0][l] * n2;
    M[3][l] -= sp[1][l] * n0; M[4][l] -= sp[1][l] * n1; M[5][l] -= sp[1][l] * n2;
    M[6][l] -= sp[2][l] * n0; M[7][l] -= sp[2][l] * n1; M[8][l] -= sp[2][l] * n2;
    gp[l] -= sp[0][l] * m0 + sp[1][l] * m1 + sp[2][l] * m2;
    gx[l] -= sx[0][l] * n0 + sx[1][l] * n1 + sx[2][l] * n2;
    sp[0][l] = m0; sp[1][l] = m1; sp[2][l] = m2;
    sx[0][l] = n0; sx[1][l] = n1; sx[2][l] = n2;
  }
  Real R[9][W], s[W];
  solve(M, gp, gx, R, s, ok);
  // residual of joint j: s (a_j - m) R - (b_j - n) = s a_j R - b_j + t with t = n - s m R
  Real t[3][W], e[W];
  for (int l = 0; l < W; ++l) {
    t[0][l] = sx[0][l] - s[l] * (sp[0][l] * R[0][l] + sp[1][l] * R[3][l] + sp[2][l] * R[6][l]);
    t[1][l] = sx[1][l] - s[l] * (sp[0][l] * R[1][l] + sp[1][l] * R[4][l] + sp[2][l] * R[7][l]);
    t[2][l] = sx[2][l] - s[l] * (sp[0][l] * R[2][l] + sp[1][l] * R[5][l] + sp[2][l] * R[8][l]);
    e[l] = pf_sqrt(t[0][l] * t[0][l] + t[1][l] * t[1][l] + t[2][l] * t[2][l]);  // joint 0: a = b = 0
  }
  for (int64_t j = 1; j < J; ++j) {
    for (int l = 0; l < W; ++l) {
      const Real a0 = p(j, 0, l), a1 = p(j, 1, l), a2 = p(j, 2, l);
      const Real r0 = s[l] * (a0 * R[0][l] + a1 * R[3][l] + a2 * R[6][l]) - x(j, 0, l) + t[0][l];
      const Real r1 = s[l] * (a0 * R[1][l] + a1 * R[4][l] + a2 * R[7][l]) - x(j, 1, l) + t[1][l];
      const Real r2 = s[l] * (a0 * R[2][l] + a1 * R[5][l] + a2 * R[8][l]) - x(j, 2, l) + t[2][l];
      e[l] += pf_sqrt(r0 * r0 + r1 * r1 + r2 * r2);
    }
  }
  for (int l = 0; l < W; ++l) err[l] = e[l] * inv_j;
}

// A pose read in place (the per-pose path), joint j at data + index[j] * 3 (index = nullptr: joint j itself),
// relative to its first joint.
template <typename T>
struct ShiftedPose {
  const T* data;
  const int64_t* index;
  PF_HD Real operator()(int64_t j, int c, int /*lane*/) const {
    const int64_t first = index ? index[0] : 0, q = index ? index[j] : j;
    return Real(data[q * 3 + c]) - Real(data[first * 3 + c]);
  }
};

// P-MPJPE of one pose over J joints (selected by index, or all): the closed-form fit, the robust Jacobi fit for
// the poses it flags.
template <typename T>
PF_HD Real p_mpjpe_one(const T* pred, const T* target, const int64_t* index, int64_t J) {
  Real err, ok;
  p_mpjpe_lanes<1>(ShiftedPose<T>{pred, index}, ShiftedPose<T>{target, index}, J, QcpEachLane{}, &err, &ok);
  if (ok != Real(0)) return err;
  const PoseView<T> p{pred, index}, x{target, index};
  return aligned_mean_error(similarity_fit(p, x, J), p, x, J);
}

}  // namespace procrustes
}  // namespace posefast
