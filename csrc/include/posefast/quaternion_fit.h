// Horn's quaternion formulation of the similarity fit, and its closed-form solution by QCP (Theobald 2005, "Rapid
// calculation of RMSDs using a quaternion-based characteristic polynomial", Acta Cryst. A61; Liu, Agrafiotis &
// Theobald 2010, "Fast determination of the optimal rotational matrix for macromolecular superpositions", J.
// Comput. Chem. 31): the largest eigenvalue of the 4x4 key matrix N(M) by a fixed number of Newton steps on its
// characteristic polynomial, the eigenvector (the optimal unit quaternion) from the adjugate of N - lambda I.
//
// Why: a Jacobi eigen-solve is a data-dependent chain of sqrt/div per pose (latency-bound, ~600 ns per pose); this
// solve has a fixed, branch-free cost per pose, so the CPU runs it across the poses of a block (one SIMD lane per
// pose, posefast/p_mpjpe.h and posefast/lanes_metrics.h) and the GPU one pose per thread.
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
// degenerate or non-finite are flagged, and the caller solves them with the Jacobi eigen-decomposition of N
// (procrustes::similarity_fit): the flag is data, never a branch inside the solve.
#pragma once

#include "posefast/common.h"

// The small-matrix helpers must inline into the per-pose loop (so S and V live in registers and the Jacobi indices
// are constants); GCC/Clang otherwise keep symmetric_eigen out of line.
#if defined(__CUDACC__)
#define PF_HD_INLINE __host__ __device__ __forceinline__
#elif defined(__GNUC__)
#define PF_HD_INLINE inline __attribute__((always_inline))
#else
#define PF_HD_INLINE inline
#endif

// Unroll the fixed Newton loop completely: on the CPU the lane loop around it vectorises only without inner loops.
#if defined(__CUDA_ARCH__)
#define PF_UNROLL_ALL _Pragma("unroll")
#elif defined(__CUDACC__) || !defined(__GNUC__)
#define PF_UNROLL_ALL
#else
#define PF_UNROLL_ALL _Pragma("GCC unroll 16")
#endif

namespace posefast {
namespace procrustes {

// A 3x3 matrix as nine named scalars, row-major names (xy = row x, column y). Not an array: the CPU runs the
// closed-form fit once per SIMD lane inside a loop over poses, and GCC only vectorises that loop
// when every temporary is a scalar.
template <typename Real>
struct Mat3 {
  Real xx, xy, xz, yx, yy, yz, zx, zy, zz;
};

// Horn's key matrix N of S (symmetric, trace 0): the unit quaternion q maximising q^T N q rotates the rows p_j of
// the first pose onto the second's, maximising <R, S> (S_ab = sum_j p_ja x_jb).
template <typename Real>
struct HornKey {
  Real n00, n11, n22, n33, n01, n02, n03, n12, n13, n23;
};
template <typename Real>
PF_HD_INLINE HornKey<Real> horn_key(const Mat3<Real>& S) {
  return {S.xx + S.yy + S.zz, S.xx - S.yy - S.zz, -S.xx + S.yy - S.zz, -S.xx - S.yy + S.zz,
          S.yz - S.zy,        S.zx - S.xz,        S.xy - S.yx,         S.xy + S.yx,
          S.zx + S.xz,        S.yz + S.zy};
}

// R (row convention: aligned rows p R) of the quaternion (w0; w1, w2, w3), which need not be unit (|w| > 0):
// the transpose of the column-convention rotation of w / |w|.
template <typename Real>
PF_HD_INLINE Mat3<Real> quaternion_rotation(Real w0, Real w1, Real w2, Real w3) {
  const Real k2 = Real(2) / (w0 * w0 + w1 * w1 + w2 * w2 + w3 * w3);
  const Real xx = w1 * w1 * k2, yy = w2 * w2 * k2, zz = w3 * w3 * k2;
  const Real xy = w1 * w2 * k2, xz = w1 * w3 * k2, yz = w2 * w3 * k2;
  const Real wx = w0 * w1 * k2, wy = w0 * w2 * k2, wz = w0 * w3 * k2;
  return {Real(1) - yy - zz, xy + wz, xz - wy, xy - wz, Real(1) - xx - zz, yz + wx, xz + wy, yz - wx,
          Real(1) - xx - yy};
}

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

}  // namespace procrustes
}  // namespace posefast
