// Closed-form similarity fit for the P-MPJPE forward: Horn's quaternion formulation solved by QCP (Theobald 2005,
// "Rapid calculation of RMSDs using a quaternion-based characteristic polynomial", Acta Cryst. A61; Liu, Agrafiotis
// & Theobald 2010, "Fast determination of the optimal rotational matrix for macromolecular superpositions",
// J. Comput. Chem. 31): the largest eigenvalue of the 4x4 key matrix N(M) by a fixed number of Newton steps on its
// characteristic polynomial, the eigenvector (the optimal unit quaternion) from the adjugate of N - lambda I.
//
// Why: the Jacobi solve of procrustes.h is a data-dependent chain of sqrt/div per pose (latency-bound, ~600 ns per
// pose); this solve has a fixed, branch-free cost per pose, so the CPU runs it across the poses of a block
// (structure of arrays, one SIMD lane per pose, posefast/metrics_blocks.h) and the GPU one pose per thread.
//
// Same conventions as procrustes.h (row vectors, aligned_j = s (p_j - mu_p) R + mu_x, R maximises <R, M> with
// M = P^T X over proper rotations). With S = M the key matrix is Horn's N; its largest eigenvalue is
// lambda = l1 + l2 + l3 (the signed singular values of M, so reflections are excluded by construction) and its
// unit eigenvector q gives the rotation C (column convention, p -> x); R = C^T.
//
// Accuracy and the fallback. Newton converges to the root of the *computed* quartic; near a double eigenvalue the
// root is only sqrt(eps)-accurate and the adjugate's eigenvector is lost. With g = l2 + l3 (half the gap between
// the two largest eigenvalues of N, the quantity that also conditions the backward), the rotation's error is
// ~ eps (lambda / g)^2 (the Newton root error eps lambda^2 / g divided by the gap). P'(lambda) = 8 g (l1 + l3)
// (l1 + l2) <= 16 g lambda^2, so "P'(lambda) >= 16 tau lambda^3" certifies g >= tau lambda with no extra solve;
// poses that fail it (near-collinear poses, sigma2 = sigma3 with det M < 0), that did not converge, or that are
// degenerate or non-finite are flagged, and the caller recomputes them with the robust Jacobi fit
// (procrustes::similarity_fit): the flag is data, never a branch inside the solve.
#pragma once

#include "posefast/procrustes.h"

#if defined(__CUDACC__)
#define PF_UNROLL_ALL _Pragma("unroll")
#else
#define PF_UNROLL_ALL _Pragma("GCC unroll 16")
#endif

namespace posefast {
namespace procrustes {

// Fixed Newton steps: the start is within a factor 3 of the root (see qcp_fit) and each step from far above a
// quartic's largest root removes at least a quarter of the distance, then converges quadratically.
constexpr int kQcpNewtonSteps = 12;
// Gap certificate: g >= tau * lambda. At tau = 1/64 the rotation's error bound is ~ 4e3 eps (1e-12 in float64);
// measured errors are far smaller (bench/NOTES.md), and human poses have g / lambda ~ 0.1-0.5.
constexpr double kQcpMinGap = 1.0 / 64.0;

template <typename Real>
struct QcpFit {
  Mat3<Real> R;  // rotation, row-vector convention (aligned = s P R)
  Real trace;    // <R, M> = l1 + l2 + l3
  bool ok;       // false: take the robust fit (see the header comment); R and trace are then unusable
};

// Optimal rotation of the cross-covariance M (M_ab = sum_j P_ja X_jb), given gp = |P|^2 and gx = |X|^2 of the
// centred poses. Branch-free: every pose runs the same instructions; ok is false for M = 0, a gap below
// kQcpMinGap, no convergence, or non-finite input (every certificate below is false on NaN).
template <typename Real>
PF_HD_INLINE QcpFit<Real> qcp_fit(const Mat3<Real>& M, Real gp, Real gx) {
  const Real fro2 = M.xx * M.xx + M.xy * M.xy + M.xz * M.xz + M.yx * M.yx + M.yy * M.yy + M.yz * M.yz +
                    M.zx * M.zx + M.zy * M.zy + M.zz * M.zz;
  // S = M / |M|_F: the quartic's coefficients and roots are O(1) whatever the input scale (|M| = 0 is flagged).
  const Real inv_f = Real(1) / pf_sqrt(fro2 > Real(0) ? fro2 : Real(1));
  const Mat3<Real> S{M.xx * inv_f, M.xy * inv_f, M.xz * inv_f, M.yx * inv_f, M.yy * inv_f,
                    M.yz * inv_f, M.zx * inv_f, M.zy * inv_f, M.zz * inv_f};
  const HornKey<Real> k = horn_key(S);
  const Real n00 = k.n00, n11 = k.n11, n22 = k.n22, n33 = k.n33, n01 = k.n01, n02 = k.n02, n03 = k.n03,
             n12 = k.n12, n13 = k.n13, n23 = k.n23;
  // det(N - x I) = x^4 + c2 x^2 + c1 x + c0 with c2 = -2 |S|_F^2 = -2, c1 = -8 det S, c0 = det N
  const Real det_s = S.xx * (S.yy * S.zz - S.yz * S.zy) - S.xy * (S.yx * S.zz - S.yz * S.zx) +
                     S.xz * (S.yx * S.zy - S.yy * S.zx);
  const Real c2 = Real(-2);
  const Real c1 = Real(-8) * det_s;
  // det N by Laplace expansion over the 2x2 minors of rows (0, 1) and of rows (2, 3)
  const Real c0 = (n00 * n11 - n01 * n01) * (n22 * n33 - n23 * n23) - (n00 * n12 - n01 * n02) * (n12 * n33 - n13 * n23) +
                  (n00 * n13 - n01 * n03) * (n12 * n23 - n13 * n22) + (n01 * n12 - n11 * n02) * (n02 * n33 - n03 * n23) -
                  (n01 * n13 - n11 * n03) * (n02 * n23 - n03 * n22) + (n02 * n13 - n12 * n03) * (n02 * n13 - n03 * n12);
  // Start above the largest root: lambda <= sqrt(gp gx) (Cauchy-Schwarz) and lambda <= l1 + l2 + |l3| <= sqrt(3)
  // (|S| = 1); lambda >= l1 >= 1 / sqrt(3), so the start is within a factor 3 of the root.
  const Real cs = pf_sqrt(gp * gx) * inv_f;
  Real x = cs < Real(1.7320508075688772) ? cs : Real(1.7320508075688772);
PF_UNROLL_ALL
  for (int it = 0; it < kQcpNewtonSteps; ++it) {
    const Real x2 = x * x;
    x -= ((x2 + c2) * x2 + c1 * x + c0) / ((Real(4) * x2 + Real(2) * c2) * x + c1);  // P' > 0 above the root
  }
  const Real x2 = x * x;
  const Real dp = (Real(4) * x2 + Real(2) * c2) * x + c1;
  const Real step = ((x2 + c2) * x2 + c1 * x + c0) / dp;
  x -= step;
  // Adjugate of A = N - x I (rank 3, symmetric): every column is proportional to the eigenvector; take the column
  // of the largest diagonal entry (adj_ii ~ q_i^2), the best conditioned one.
  const Real a00 = n00 - x, a11 = n11 - x, a22 = n22 - x, a33 = n33 - x;
  const Real s0 = a00 * a11 - n01 * n01, s1 = a00 * n12 - n01 * n02, s2 = a00 * n13 - n01 * n03;
  const Real s3 = n01 * n12 - a11 * n02, s4 = n01 * n13 - a11 * n03, s5 = n02 * n13 - n12 * n03;
  const Real t5 = a22 * a33 - n23 * n23, t4 = n12 * a33 - n13 * n23, t3 = n12 * n23 - n13 * a22;
  const Real t2 = n02 * a33 - n03 * n23, t1 = n02 * n23 - n03 * a22;
  const Real j00 = a11 * t5 - n12 * t4 + n13 * t3, j01 = -n01 * t5 + n02 * t4 - n03 * t3;
  const Real j02 = n13 * s5 - n23 * s4 + a33 * s3, j03 = -n12 * s5 + a22 * s4 - n23 * s3;
  const Real j11 = a00 * t5 - n02 * t2 + n03 * t1, j12 = -n03 * s5 + n23 * s2 - a33 * s1;
  const Real j13 = n02 * s5 - a22 * s2 + n23 * s1, j22 = n03 * s4 - n13 * s2 + a33 * s0;
  const Real j23 = -n02 * s4 + n12 * s2 - n23 * s0, j33 = n02 * s3 - n12 * s1 + a22 * s0;
  const Real d0 = pf_abs(j00), d1 = pf_abs(j11), d2 = pf_abs(j22), d3 = pf_abs(j33);
  const bool b1 = d1 > d0;
  Real w0 = b1 ? j01 : j00, w1 = b1 ? j11 : j01, w2 = b1 ? j12 : j02, w3 = b1 ? j13 : j03, dm = b1 ? d1 : d0;
  const bool b2 = d2 > dm;
  w0 = b2 ? j02 : w0; w1 = b2 ? j12 : w1; w2 = b2 ? j22 : w2; w3 = b2 ? j23 : w3; dm = b2 ? d2 : dm;
  const bool b3 = d3 > dm;
  w0 = b3 ? j03 : w0; w1 = b3 ? j13 : w1; w2 = b3 ? j23 : w2; w3 = b3 ? j33 : w3;
  const Real qq = w0 * w0 + w1 * w1 + w2 * w2 + w3 * w3;
  QcpFit<Real> f;
  f.R = quaternion_rotation(w0, w1, w2, qq > Real(0) ? w3 : Real(1));  // (flagged below when |w| = 0)
  f.trace = f.R.xx * M.xx + f.R.xy * M.xy + f.R.xz * M.xz + f.R.yx * M.yx + f.R.yy * M.yy + f.R.yz * M.yz +
            f.R.zx * M.zx + f.R.zy * M.zy + f.R.zz * M.zz;
  // Certificates: a gap g >= tau x (P'(x) >= 16 tau x^3), the last Newton step at rounding level, M != 0, a
  // usable eigenvector, a finite trace.
  f.ok = (dp > Real(16.0 * kQcpMinGap) * x2 * x) & (pf_abs(step) < Real(1e-10) * x) & (fro2 > Real(0)) &
         (qq > Real(0)) & (f.trace - f.trace == Real(0));
  return f;
}

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
