// Axis-angle (rotation vector) -> rotation matrix, Rodrigues' formula, with its backward.
//
// Written as R = C·I + A·[r]x + B·r rᵀ with t = |r|², θ = √t:
//   A = sin θ / θ,  B = (1 − cos θ) / θ²,  C = cos θ.
// A, B and their t-derivatives have removable singularities at θ = 0, and the closed forms of dA/dt and dB/dt
// lose digits to cancellation for small θ, so below kRodriguesTaylorBelow the Taylor series in t are used
// (truncated where the next term is below double precision there). Both branches are exact to rounding, which
// keeps the gradient correct at and near zero rotation.
#pragma once

#include "posefast/common.h"

namespace posefast {

// |r|² below which the series are used (θ < 0.316 rad). Seven terms of each series leave a truncation error
// below 1e-16 relative there, while the closed forms of dA/dt, dB/dt above it lose at most ~1e-14 relative to
// cancellation (C − A and A/2 − B are ~t/3 and ~t/24 there). Mirrors posefast.geometry.RODRIGUES_TAYLOR_BELOW
// (the pure-torch twin's switch); tests/test_geometry.py checks the two are equal.
constexpr double kRodriguesTaylorBelow = 0.1;

template <typename T>
struct RodriguesCoeffs {
  T A, B, C;  // the three coefficients above
  T dA, dB;   // dA/dt, dB/dt (dC/dt = −A/2 needs no extra term)
};

template <typename T>
PF_HD RodriguesCoeffs<T> rodrigues_coeffs(T t) {
  RodriguesCoeffs<T> k;
  if (t < T(kRodriguesTaylorBelow)) {
    // A = Σ (−t)^k / (2k+1)!, B = Σ (−t)^k / (2k+2)! (k = 0..6), nested so each factor is the ratio of
    // consecutive terms; dA, dB are the exact derivatives of these truncated series.
    k.A = T(1) - t / T(6) * (T(1) - t / T(20) * (T(1) - t / T(42) * (T(1) - t / T(72) * (T(1) - t / T(110) * (T(1) - t / T(156))))));
    k.B = T(0.5) * (T(1) - t / T(12) * (T(1) - t / T(30) * (T(1) - t / T(56) * (T(1) - t / T(90) * (T(1) - t / T(132) * (T(1) - t / T(182)))))));
    k.dA = T(-1) / T(6) + t * (T(1) / T(60) + t * (T(-1) / T(1680) + t * (T(1) / T(90720) + t * (T(-1) / T(7983360) + t * (T(1) / T(1037836800))))));
    k.dB = T(-1) / T(24) + t * (T(1) / T(360) + t * (T(-1) / T(13440) + t * (T(1) / T(907200) + t * (T(-1) / T(95800320) + t * (T(1) / T(14529715200.0))))));
    k.C = T(1) - t * k.B;
  } else {
    const T theta = pf_sqrt(t);
    const T half = pf_sin(T(0.5) * theta);
    k.A = pf_sin(theta) / theta;
    k.B = T(2) * half * half / t;  // (1 − cos θ)/θ² without the cancellation of 1 − cos θ
    k.C = pf_cos(theta);
    k.dA = (k.C - k.A) / (T(2) * t);
    k.dB = (T(0.5) * k.A - k.B) / t;
  }
  return k;
}

// R row-major [9] from the rotation vector r.
template <typename T>
PF_HD void rotvec_to_rotmat_one(Vec3<T> r, T* R) {
  const RodriguesCoeffs<T> k = rodrigues_coeffs(dot(r, r));
  const T bxy = k.B * r.x * r.y, bxz = k.B * r.x * r.z, byz = k.B * r.y * r.z;
  R[0] = k.C + k.B * r.x * r.x;  R[1] = bxy - k.A * r.z;         R[2] = bxz + k.A * r.y;
  R[3] = bxy + k.A * r.z;        R[4] = k.C + k.B * r.y * r.y;  R[5] = byz - k.A * r.x;
  R[6] = bxz - k.A * r.y;        R[7] = byz + k.A * r.x;        R[8] = k.C + k.B * r.z * r.z;
}

// dL/dr from dL/dR (row-major [9]).
//   dL/dt = −(A/2)·tr G + dA·<axial(G), r> + dB·rᵀGr,   dL/dr = 2 r·dL/dt + A·axial(G) + B·(G + Gᵀ) r,
// where axial(G) = (G21 − G12, G02 − G20, G10 − G01), so that <G, [r]x> = <axial(G), r>.
template <typename T>
PF_HD Vec3<T> rotvec_to_rotmat_backward_one(Vec3<T> r, const T* G) {
  const RodriguesCoeffs<T> k = rodrigues_coeffs(dot(r, r));
  const Vec3<T> axial{G[7] - G[5], G[2] - G[6], G[3] - G[1]};
  const Vec3<T> Gr{G[0] * r.x + G[1] * r.y + G[2] * r.z, G[3] * r.x + G[4] * r.y + G[5] * r.z,
                   G[6] * r.x + G[7] * r.y + G[8] * r.z};
  const Vec3<T> GTr{G[0] * r.x + G[3] * r.y + G[6] * r.z, G[1] * r.x + G[4] * r.y + G[7] * r.z,
                    G[2] * r.x + G[5] * r.y + G[8] * r.z};
  const T trace = G[0] + G[4] + G[8];
  const T gt = T(-0.5) * k.A * trace + k.dA * dot(axial, r) + k.dB * dot(r, Gr);
  return (T(2) * gt) * r + k.A * axial + k.B * (Gr + GTr);
}

// R v and Rᵀ v for row-major R.
template <typename T>
PF_HD Vec3<T> matvec3(const T* R, Vec3<T> v) {
  return {R[0] * v.x + R[1] * v.y + R[2] * v.z, R[3] * v.x + R[4] * v.y + R[5] * v.z,
          R[6] * v.x + R[7] * v.y + R[8] * v.z};
}
template <typename T>
PF_HD Vec3<T> matTvec3(const T* R, Vec3<T> v) {
  return {R[0] * v.x + R[3] * v.y + R[6] * v.z, R[1] * v.x + R[4] * v.y + R[7] * v.z,
          R[2] * v.x + R[5] * v.y + R[8] * v.z};
}

}  // namespace posefast
