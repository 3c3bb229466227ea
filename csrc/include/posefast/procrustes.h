// Similarity Procrustes of one pose onto another (scale s, rotation R in SO(3), translation t) and its analytic
// backward, for ONE pose; the metric functors in posefast/metrics.h call these per work item.
//
// Convention (VideoPose3D, row vectors): aligned_j = s * pred_j R + t, t = mu_x - s * mu_p R, which minimises
// sum_j |s pred_j R + t - target_j|^2 over the scale s, R in SO(3) (no reflections) and the translation t.
// With centred poses P = pred - mu_p, X = target - mu_x and M = P^T X (3x3), R maximises tr(R^T M):
// M = U diag(l1, l2, l3) V^T with U, V in SO(3) and signed l3 (sign = sign(det M)), R = U V^T, tr(R^T M) = l1+l2+l3,
// s = (l1 + l2 + l3) / |P|^2.
//
// The fit here is Horn's quaternion formulation (Horn 1987, "Closed-form solution of absolute orientation using unit
// quaternions", JOSA A 4): R is the rotation of the unit eigenvector of the largest eigenvalue (l1 + l2 + l3) of
// the symmetric 4x4 key matrix N(M), so the best *proper* rotation comes out by construction (no reflection fix).
// It is solved in closed form (QCP, posefast/quaternion_fit.h) where the closed form can certify its result, and
// otherwise by a cyclic Jacobi eigen-decomposition of N with exact Givens angles, converged to
// machine precision. Jacobi is backward stable, so R is as accurate as the problem allows: its error
// ~ eps l1 / (l2 + l3) is confined to the spin about the first principal axis, which moves the aligned joints by
// that angle times their distance from that axis, i.e. ~ eps for a near-collinear pose. (The Jacobi
// eigen-decomposition of the Gram matrix M^T M used before squared the singular values and could not resolve
// sigma2, sigma3 < sqrt(eps) sigma1: a pose 1e-9 off a line had its P-MPJPE off by 4e-10 of its size.)
// The backward needs V and the signed singular values: they are the eigen-decomposition of the symmetric
// K = R^T M = V diag(l) V^T (3x3 Jacobi, eigenvalues not squared).
//
// Backward: with K = R^T M = V diag(l) V^T (symmetric at the optimum), a rotation perturbation dR = R [w]x obeys
// [w]x K + K [w]x = [E w]x = R^T dM - dM^T R, E = tr(K) I - K = V diag(l2+l3, l1+l3, l1+l2) V^T.
// So the rotation depends on 1/(l_k + l_l) and never on 1/(sigma_k^2 - sigma_l^2): repeated singular values are
// fine. As l2 + l3 -> 0 (sigma2 + sigma3 -> 0 with det M > 0: one of the poses is collinear; or sigma2 = sigma3 with
// det M < 0) the rotation about v1 becomes undetermined and 1/(l2+l3) diverges. We apply E^{-1} as the Tikhonov
// pseudo-inverse d / (d^2 + eps^2) per eigenvalue d, eps = sqrt(machine eps of the input dtype) * l1: exact
// (relative error eps^2/d^2) while d >> eps, bounded by 1/(2 eps) below, zero for the undetermined component at
// d = 0. The backward recomputes the fit (cheaper than storing it) and runs one kernel: two passes over the joints.
#pragma once

#include "posefast/common.h"
#include "posefast/quaternion_fit.h"


namespace posefast {
namespace procrustes {

template <typename T>
PF_HD T machine_eps();
template <>
PF_HD float machine_eps<float>() { return 1.1920929e-7f; }
template <>
PF_HD double machine_eps<double>() { return 2.220446049250313e-16; }

template <typename T>
PF_HD T quiet_nan() { return T(0) / T(0); }

// True for NaN and +-Inf (x - x is NaN exactly then); NaN/Inf input must never yield a finite metric.
template <typename T>
PF_HD bool not_finite(T v) { return !(v - v == T(0)); }

// The fit always runs in float64, whatever the storage type: M's small singular values of a thin pose are not
// representable relative to the large one in float32 (the rotation about the long axis would be lost), while the
// cost is latency-bound and the same on the CPU; on a GPU this is ~2k flops per pose, negligible at evaluation
// sizes. Inputs are read as T and converted; outputs are rounded to T once at the end.
using Real = double;

// One pose, optionally restricted to a subset of its joints; joints are returned in Real.
template <typename T>
struct PoseView {
  const T* data;         // [J_all, 3]
  const int64_t* index;  // [J] joint ids into data, or nullptr for joints 0..J-1
  PF_HD Vec3<Real> operator[](int64_t j) const {
    const T* q = data + (index ? index[j] : j) * 3;
    return {Real(q[0]), Real(q[1]), Real(q[2])};
  }
};

template <typename T>
PF_HD void store3_as(T* p, Vec3<Real> v) {
  p[0] = T(v.x);
  p[1] = T(v.y);
  p[2] = T(v.z);
}

// Row vector times 3x3 row-major matrix: (v R)_b = sum_a v_a R[a][b].
template <typename T>
PF_HD Vec3<T> row_times(Vec3<T> v, const T* R) {
  return {v.x * R[0] + v.y * R[3] + v.z * R[6], v.x * R[1] + v.y * R[4] + v.z * R[7],
          v.x * R[2] + v.y * R[5] + v.z * R[8]};
}
// v R^T, i.e. R v as a column.
template <typename T>
PF_HD Vec3<T> row_times_transposed(Vec3<T> v, const T* R) {
  return {R[0] * v.x + R[1] * v.y + R[2] * v.z, R[3] * v.x + R[4] * v.y + R[5] * v.z,
          R[6] * v.x + R[7] * v.y + R[8] * v.z};
}

// One exact Jacobi rotation zeroing S[p][q] of the symmetric N x N S; V (columns = eigenvectors) follows.
// With d = S[q][q] - S[p][p], r = sqrt(d^2 + 4 S[p][q]^2) and q = r + |d|, the rotation (smaller angle) has
// c = sqrt(q / 2r), s = sign(d) 2 S[p][q] / sqrt(2 r q) and tan = s / c = 2 sign(d) S[p][q] / q = 4 sign(d) S[p][q]
// r / (2 r q): two square roots and one division.
template <int N, typename T>
PF_HD_INLINE void jacobi_rotate(T S[N][N], T V[N][N], int p, int q) {
  const T apq = S[p][q];
  // S is formed from M / max|M| (entries O(1)): below 1e-18 an off-diagonal is already far under machine
  // precision, and skipping it keeps d^2 + 4 apq^2 and 2 r h clear of float underflow.
  if (!(pf_abs(apq) > T(1e-18))) return;
  const T d = S[q][q] - S[p][p];
  const T r = pf_sqrt(d * d + T(4) * apq * apq);
  const T h = r + pf_abs(d);
  const T w = T(1) / pf_sqrt(T(2) * r * h);
  const T sa = d >= T(0) ? apq : -apq;  // sign(d) * apq, sign(0) = +1
  const T c = h * w, s = T(2) * sa * w;
  const T t_apq = T(2) * sa * apq * (T(2) * r * w * w);  // tan * apq
  S[p][p] -= t_apq;
  S[q][q] += t_apq;
  S[p][q] = S[q][p] = T(0);
  for (int o = 0; o < N; ++o) {
    if (o == p || o == q) continue;
    const T sop = S[o][p], soq = S[o][q];
    S[o][p] = S[p][o] = c * sop - s * soq;
    S[o][q] = S[q][o] = s * sop + c * soq;
  }
  for (int i = 0; i < N; ++i) {
    const T vp = V[i][p], vq = V[i][q];
    V[i][p] = c * vp - s * vq;
    V[i][q] = s * vp + c * vq;
  }
}

// Eigen-decomposition of the symmetric N x N S (overwritten): eigenvalues d sorted descending, V's columns the
// matching eigenvectors. Cyclic Jacobi (quadratic convergence), stopped once the off-diagonal mass is below
// eps^2 of the diagonal's (sums of squares).
template <int N, typename T>
PF_HD_INLINE void symmetric_eigen(T S[N][N], T d[N], T V[N][N]) {
  for (int i = 0; i < N; ++i)
    for (int k = 0; k < N; ++k) V[i][k] = T(i == k);
  const T tol = machine_eps<T>() * machine_eps<T>();
  for (int sweep = 0; sweep < 16; ++sweep) {
    T off = 0, diag = 0;
    for (int i = 0; i < N; ++i) {
      diag += S[i][i] * S[i][i];
      for (int k = i + 1; k < N; ++k) off += S[i][k] * S[i][k];
    }
    if (!(off > tol * diag)) break;  // also stops on NaN
    for (int p = 0; p < N - 1; ++p)
      for (int q = p + 1; q < N; ++q) jacobi_rotate<N>(S, V, p, q);
  }
  for (int i = 0; i < N; ++i) d[i] = S[i][i];
  for (int a = 1; a < N; ++a)  // insertion sort, descending
    for (int b = a; b > 0 && d[b - 1] < d[b]; --b) {
      const T td = d[b]; d[b] = d[b - 1]; d[b - 1] = td;
      for (int i = 0; i < N; ++i) { const T tv = V[i][b]; V[i][b] = V[i][b - 1]; V[i][b - 1] = tv; }
    }
}

// Tikhonov-regularised 1/d (see the header comment).
template <typename T>
PF_HD T damped_inverse(T d, T eps2) {
  const T den = d * d + eps2;
  return den == T(0) ? T(0) : d / den;
}

// beta = E^+ gamma with E = V diag(l2+l3, l1+l3, l1+l2) V^T (columns v), each 1/d damped at eps = rel_eps * l1.
template <typename T>
PF_HD Vec3<T> apply_e_pinv(const T* lambda, const Vec3<T>* v, Vec3<T> gamma, T rel_eps) {
  const T eps = rel_eps * lambda[0];
  const T eps2 = eps * eps;
  const T w[3] = {damped_inverse(lambda[1] + lambda[2], eps2), damped_inverse(lambda[0] + lambda[2], eps2),
                  damped_inverse(lambda[0] + lambda[1], eps2)};
  Vec3<T> beta{0, 0, 0};
  for (int k = 0; k < 3; ++k) beta += (w[k] * dot(v[k], gamma)) * v[k];
  return beta;
}

// Everything the metrics and the backward need about the fit of one pose.
struct Similarity {
  Real R[9];        // row-major rotation, aligned row = s (pred_j - mu_p) R + mu_x
  Real s;           // least-squares scale, 0 for degenerate poses
  Vec3<Real> mu_p;  // centroid of pred
  Vec3<Real> mu_x;  // centroid of target
  Real lambda[3];   // signed singular values of M = P^T X: l1 >= l2 >= |l3|, sign(l3) = sign(det M)
  Vec3<Real> v[3];  // right singular vectors of M: the eigenvectors of K = R^T M
  Real n2;          // |P|^2
  bool degenerate;  // a pose had all joints coincident (to working precision): R = I, s = 0, constant
};

// Spread |P|^2 below (64 eps)^2 of sum_j |p_j|^2 is the rounding of the centring itself: the joints coincide.
PF_HD bool coincident(Real spread2, Real magnitude2) {
  const Real tol = Real(64) * machine_eps<Real>();
  return spread2 <= tol * tol * magnitude2;
}

// Fit pred onto target (J joints). Non-finite input gives NaN everywhere. Degenerate poses: all joints of either
// pose coincident (see coincident()) or M = 0 -> R = I and s = 0 (every aligned joint at the target centroid);
// collinear poses -> R is one of the equally optimal rotations (the spin about the line is arbitrary).
template <typename T>
PF_HD Similarity similarity_fit(PoseView<T> pred, PoseView<T> target, int64_t J) {
  Similarity f;
  Vec3<Real> mp{0, 0, 0}, mx{0, 0, 0};
  for (int64_t j = 0; j < J; ++j) {
    mp += pred[j];
    mx += target[j];
  }
  const Real inv_j = Real(1) / Real(J);
  f.mu_p = inv_j * mp;
  f.mu_x = inv_j * mx;
  Real M[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  Real n2 = 0, n2x = 0;
  for (int64_t j = 0; j < J; ++j) {
    const Vec3<Real> P = pred[j] - f.mu_p, X = target[j] - f.mu_x;
    n2 += dot(P, P);
    n2x += dot(X, X);
    M[0] += P.x * X.x; M[1] += P.x * X.y; M[2] += P.x * X.z;
    M[3] += P.y * X.x; M[4] += P.y * X.y; M[5] += P.y * X.z;
    M[6] += P.z * X.x; M[7] += P.z * X.y; M[8] += P.z * X.z;
  }
  f.n2 = n2;
  f.degenerate = false;
  Real check = n2 + n2x + f.mu_x.x + f.mu_x.y + f.mu_x.z + f.mu_p.x + f.mu_p.y + f.mu_p.z;
  Real c = 0;  // max |M_ab|: the Gram matrix is formed from M / c, so no scale of input over/underflows
  for (int i = 0; i < 9; ++i) {
    check += M[i];
    c = pf_max(c, pf_abs(M[i]));
  }
  if (not_finite(check)) {
    const Real nan = quiet_nan<Real>();
    for (int i = 0; i < 9; ++i) f.R[i] = nan;
    f.s = nan;
    f.mu_p = f.mu_x = Vec3<Real>{nan, nan, nan};
    for (int k = 0; k < 3; ++k) {
      f.lambda[k] = nan;
      f.v[k] = Vec3<Real>{nan, nan, nan};
    }
    return f;
  }
  // sum_j |p_j|^2 = |P|^2 + J |mu_p|^2
  if (c == Real(0) || coincident(n2, n2 + Real(J) * dot(f.mu_p, f.mu_p)) ||
      coincident(n2x, n2x + Real(J) * dot(f.mu_x, f.mu_x))) {  // M = 0 up to rounding: R = I, s = 0
    f.degenerate = true;
    for (int i = 0; i < 9; ++i) f.R[i] = Real(i % 4 == 0);
    for (int k = 0; k < 3; ++k) f.lambda[k] = Real(0);
    f.v[0] = Vec3<Real>{1, 0, 0}; f.v[1] = Vec3<Real>{0, 1, 0}; f.v[2] = Vec3<Real>{0, 0, 1};
    f.s = Real(0);
    return f;
  }
  const Real ic = Real(1) / c;
  Real Mn[9];
  for (int i = 0; i < 9; ++i) Mn[i] = M[i] * ic;
  // R: the top eigenvector of Horn's key matrix, in closed form where certified, else by Jacobi
  const Mat3<Real> Ms{Mn[0], Mn[1], Mn[2], Mn[3], Mn[4], Mn[5], Mn[6], Mn[7], Mn[8]};
  const QcpFit<Real> q = qcp_fit(Ms, n2 * ic, n2x * ic);
  Mat3<Real> r = q.R;
  if (!q.ok) {
    const HornKey<Real> k = horn_key(Ms);
    Real Nk[4][4] = {{k.n00, k.n01, k.n02, k.n03}, {k.n01, k.n11, k.n12, k.n13}, {k.n02, k.n12, k.n22, k.n23},
                     {k.n03, k.n13, k.n23, k.n33}};
    Real e4[4], Q[4][4];
    symmetric_eigen<4>(Nk, e4, Q);
    r = quaternion_rotation(Q[0][0], Q[1][0], Q[2][0], Q[3][0]);
  }
  Real* R = f.R;
  R[0] = r.xx; R[1] = r.xy; R[2] = r.xz; R[3] = r.yx; R[4] = r.yy; R[5] = r.yz; R[6] = r.zx; R[7] = r.zy; R[8] = r.zz;
  // V and the signed singular values (for the backward): K = R^T Mn = V diag(l) V^T, symmetric at the optimum
  Real K[3][3];
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) K[a][b] = R[a] * Mn[b] + R[3 + a] * Mn[3 + b] + R[6 + a] * Mn[6 + b];
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b) K[a][b] = K[b][a] = Real(0.5) * (K[a][b] + K[b][a]);
  Real V[3][3];
  symmetric_eigen<3>(K, f.lambda, V);
  for (int i = 0; i < 3; ++i) f.v[i] = Vec3<Real>{V[0][i], V[1][i], V[2][i]};
  Real tr = 0;
  for (int i = 0; i < 9; ++i) tr += R[i] * M[i];
  for (int i = 0; i < 3; ++i) f.lambda[i] *= c;
  f.s = tr / n2;  // n2 > 0: not coincident
  return f;
}

// Residual of joint j after alignment: s P_j R - X_j (= aligned_j - target_j).
template <typename T>
PF_HD Vec3<Real> aligned_residual(const Similarity& f, PoseView<T> pred, PoseView<T> target, int64_t j) {
  return f.s * row_times(pred[j] - f.mu_p, f.R) - (target[j] - f.mu_x);
}

// Mean joint distance after alignment (P-MPJPE of one pose, input units). The per-joint map is folded into
// p_j (s R) + t - x_j (12 flops a joint); in float64 the cancellation of t against p_j (s R) costs
// eps |p| / |residual|, negligible even for absolute camera-space poses.
template <typename T>
PF_HD Real aligned_mean_error(const Similarity& f, PoseView<T> pred, PoseView<T> target, int64_t J) {
  Real sR[9];
  for (int i = 0; i < 9; ++i) sR[i] = f.s * f.R[i];
  const Vec3<Real> t = f.mu_x - row_times(f.mu_p, sR);
  Real sum = 0;
  for (int64_t j = 0; j < J; ++j) sum += norm(row_times(pred[j], sR) + t - target[j]);
  return sum / Real(J);
}

// Backward of the fit for one pose. Upstream gradients: of aligned joint j (grad_aligned(j) -> Vec3, a functor),
// of s, R (row-major, may be nullptr = 0) and t. Target joints also receive direct_coeff * grad_aligned(j)
// (p_mpjpe's residual aligned_j - target_j depends on target_j directly: coefficient -1). Writes dense [J, 3]
// gradients of pred and target (the views' joints, in view order), computed in Real and rounded to T.
template <typename T, class GradAligned>
PF_HD void similarity_backward(const Similarity& f, PoseView<T> pred, PoseView<T> target, int64_t J,
                               const GradAligned& grad_aligned, Real grad_s, const T* grad_R, Vec3<Real> grad_t,
                               Real direct_coeff, T* grad_pred, T* grad_target) {
  const Real* R = f.R;
  const Real s = f.s;
  // Pass 1: totals over joints of the aligned-output gradient.
  Real gs = grad_s;
  Real GR[9];
  for (int i = 0; i < 9; ++i) GR[i] = grad_R ? Real(grad_R[i]) : Real(0);
  Vec3<Real> sum_ga{0, 0, 0};
  for (int64_t j = 0; j < J; ++j) {
    const Vec3<Real> ga = grad_aligned(j);
    const Vec3<Real> P = pred[j] - f.mu_p;
    gs += dot(ga, row_times(P, R));
    const Real a[3] = {P.x, P.y, P.z}, b[3] = {ga.x, ga.y, ga.z};
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 3; ++k) GR[r * 3 + k] += s * a[r] * b[k];
    sum_ga += ga;
  }
  // t = mu_x - s mu_p R
  gs -= dot(grad_t, row_times(f.mu_p, R));
  {
    const Real a[3] = {f.mu_p.x, f.mu_p.y, f.mu_p.z}, b[3] = {grad_t.x, grad_t.y, grad_t.z};
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 3; ++k) GR[r * 3 + k] -= s * a[r] * b[k];
  }
  const Vec3<Real> g_mu_p = (-s) * row_times_transposed(grad_t, R);
  const Vec3<Real> g_mu_x = sum_ga + grad_t;
  // s = tr / n2, tr = tr(R^T M) with dtr = <R, dM> (R is optimal, envelope theorem)
  const Real g_tr = f.degenerate ? Real(0) : gs / f.n2;
  const Real k_p = f.degenerate ? Real(0) : Real(-2) * s * gs / f.n2;
  // rotation: G = R^T GR, gamma = vee(G - G^T), beta = E^+ gamma, dL/dM += R [beta]x
  Real G[9];
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k) G[r * 3 + k] = R[r] * GR[k] + R[3 + r] * GR[3 + k] + R[6 + r] * GR[6 + k];
  // damped at the precision of the input: below sqrt(eps_T) l1 the spin is not determined by T-valued data
  const Vec3<Real> beta = apply_e_pinv(f.lambda, f.v, Vec3<Real>{G[7] - G[5], G[2] - G[6], G[3] - G[1]},
                                       Real(pf_sqrt(machine_eps<T>())));
  const Real B[9] = {0, -beta.z, beta.y, beta.z, 0, -beta.x, -beta.y, beta.x, 0};  // [beta]x
  Real gM[9];
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k)
      gM[r * 3 + k] = g_tr * R[r * 3 + k] + R[r * 3] * B[k] + R[r * 3 + 1] * B[3 + k] + R[r * 3 + 2] * B[6 + k];
  // Pass 2: M = P^T X -> gP_j = X_j gM^T, gX_j = P_j gM; then through the centring.
  const Vec3<Real> mean_gp_aligned = (s / Real(J)) * row_times_transposed(sum_ga, R);
  const Vec3<Real> gp_shift = (Real(1) / Real(J)) * g_mu_p - mean_gp_aligned;
  const Vec3<Real> gx_shift = (Real(1) / Real(J)) * g_mu_x;
  for (int64_t j = 0; j < J; ++j) {
    const Vec3<Real> ga = grad_aligned(j);
    const Vec3<Real> P = pred[j] - f.mu_p, X = target[j] - f.mu_x;
    const Vec3<Real> gp = row_times_transposed(X, gM) + s * row_times_transposed(ga, R) + k_p * P + gp_shift;
    const Vec3<Real> gx = row_times(P, gM) + gx_shift + direct_coeff * ga;
    store3_as(grad_pred + j * 3, gp);
    store3_as(grad_target + j * 3, gx);
  }
}

}  // namespace procrustes
}  // namespace posefast
