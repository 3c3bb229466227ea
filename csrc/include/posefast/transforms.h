// Pose-transform math: PoseAug's bone-angle (BA), bone-length (BL) and rigid (RT) augmentations, the
// VideoPose3D/Human3.6M camera projection, PoseDA's global position alignment (GPA), and the fused
// BA → BL → RT → project pipeline of PoseAug's generator.
//
// Per-pose helpers (`*_pose`) hold the math once; the single-op functors and the fused pipeline functors both call
// them. Helpers read and write plain per-pose pointers, so the same code works on global memory and on the stack
// buffers of the fused kernels. Bones are child-indexed (bone b ends at joint b + 1) and parents[j] < j.
//
// References: Gong et al., PoseAug, CVPR 2021; Chai et al., PoseDA, ICCV 2023; Pavllo et al., VideoPose3D,
// CVPR 2019 (camera model and screen normalisation).
#pragma once

#include <cmath>
#include <cstdint>

#include "posefast/common.h"
#include "posefast/rotation.h"

namespace posefast {

// NaN-propagating clamps (a NaN input stays NaN instead of being replaced by a bound).
template <typename T>
PF_HD T clamp_below(T v, T lo) { return v < lo ? lo : v; }
template <typename T>
PF_HD T clamp_between(T v, T lo, T hi) { return v < lo ? lo : (v > hi ? hi : v); }
// torch.clamp's gradient mask: the gradient passes where lo <= v <= hi (bounds included, NaN blocked).
template <typename T>
PF_HD bool inside(T v, T lo, T hi) { return v >= lo && v <= hi; }

template <typename T>
PF_HD Vec3<T> load3_or_zero(const T* p) { return p ? load3(p) : Vec3<T>{0, 0, 0}; }

// Subtree sums of joint gradients, the backward of forward kinematics, in place: on return g[c] (c >= 1) is the
// gradient of the bone ending at c, g[0] the root's (the sum over all joints). Children come before parents
// (descending index), so no scratch array is needed and the kernels' stack frames do not grow with the joint count
// (a per-thread array of kMaxJoints entries cost kilobytes of GPU local memory per thread, issue 17).
template <typename T>
PF_HD void fk_subtree_sums_in_place(T* g, const int64_t* parents, int64_t J) {
  for (int64_t c = J - 1; c >= 1; --c) accumulate3(g + parents[c] * 3, load3(g + c * 3));
}

// ---- bone-angle augmentation (PoseAug BA) ------------------------------------------------------------------
// u = v / max(|v|, eps); u' = normalize_eps(u + d); new bone = |v| u'; cos change = 1 − <u', u>.
// A frozen bone keeps its vector exactly and reports a cos change of 0.
template <typename T>
PF_HD Vec3<T> bone_angle_bone(Vec3<T> v, Vec3<T> d, bool frozen, T eps, T* cos_change) {
  if (frozen) {
    *cos_change = T(0);
    return v;
  }
  const T len = norm(v);
  const Vec3<T> u = (T(1) / pf_max(len, eps)) * v;
  const Vec3<T> w = u + d;
  const Vec3<T> un = (T(1) / pf_max(norm(w), eps)) * w;
  *cos_change = T(1) - dot(un, u);
  return len * un;
}

// Backward of bone_angle_bone: returns dL/dv and writes dL/dd. Same rules as safe_normalize_backward (below eps
// the normalisation is the linear map x/eps), written out so each norm is taken once. The length's gradient at
// |v| = 0 is taken as 0 (the subgradient torch's norm uses).
template <typename T>
PF_HD Vec3<T> bone_angle_bone_backward(Vec3<T> v, Vec3<T> d, bool frozen, T eps, Vec3<T> g_bone, T g_cos,
                                       Vec3<T>* g_d) {
  if (frozen) {
    *g_d = Vec3<T>{0, 0, 0};
    return g_bone;
  }
  const T len = norm(v), inv_v = T(1) / pf_max(len, eps);
  const Vec3<T> u = inv_v * v;
  const Vec3<T> w = u + d;
  const T len_w = norm(w), inv_w = T(1) / pf_max(len_w, eps);
  const Vec3<T> un = inv_w * w;
  // un = w / |w|: dL/dw = (g − un <un, g>) / |w|
  const Vec3<T> g_un = len * g_bone - g_cos * u;
  const Vec3<T> g_w = len_w > eps ? inv_w * (g_un - dot(un, g_un) * un) : inv_w * g_un;
  *g_d = g_w;
  const Vec3<T> g_u = g_w - g_cos * un;
  Vec3<T> g_v = len > eps ? inv_v * (g_u - dot(u, g_u) * u) : inv_v * g_u;
  // new bone = |v| un: d|v|/dv = v / |v|
  const T g_len = dot(g_bone, un);
  if (len > eps) g_v += g_len * u;
  else if (len > T(0)) g_v += (g_len / len) * v;
  return g_v;
}

template <typename T>
PF_HD void bone_angle_pose(const T* x,                // [J, 3]
                           const T* delta,            // [J - 1, 3]
                           const int64_t* parents,    // [J]
                           const std::uint8_t* frozen,  // [J - 1]
                           int64_t J, T eps,
                           T* out,                    // [J, 3]
                           T* cos_change) {           // [J - 1]
  store3(out, load3(x));
  for (int64_t c = 1; c < J; ++c) {
    const int64_t p = parents[c];
    const Vec3<T> nb = bone_angle_bone(load3(x + c * 3) - load3(x + p * 3), load3(delta + (c - 1) * 3),
                                       frozen[c - 1] != 0, eps, cos_change + (c - 1));
    store3(out + c * 3, load3(out + p * 3) + nb);
  }
}

// g_x is the scratch for the subtree sums: filled with g_out, summed in place, then turned into the joint gradient
// parents before children (g_x[c] = gv_c − Σ_{children k} gv_k): a child k > c has not touched g_x[c] yet when c
// reads its subtree sum there. g_out may be null (zero) or alias g_x (the fused pipeline's running gradient).
template <typename T>
PF_HD void bone_angle_backward_pose(const T* g_out,             // [J, 3] or null; may alias g_x
                                    const T* g_cos,             // [J - 1] or null
                                    const T* x,                 // [J, 3]
                                    const T* delta,             // [J - 1, 3]
                                    const int64_t* parents,     // [J]
                                    const std::uint8_t* frozen,  // [J - 1]
                                    int64_t J, T eps,
                                    T* g_x,                     // [J, 3]
                                    T* g_delta) {               // [J - 1, 3]
  for (int64_t c = 0; c < J; ++c) store3(g_x + c * 3, g_out ? load3(g_out + c * 3) : Vec3<T>{0, 0, 0});
  fk_subtree_sums_in_place(g_x, parents, J);  // g_x[0] stays the root's sum: the output root is the input root
  for (int64_t c = 1; c < J; ++c) {
    const int64_t p = parents[c];
    Vec3<T> gd;
    const Vec3<T> gv = bone_angle_bone_backward(load3(x + c * 3) - load3(x + p * 3), load3(delta + (c - 1) * 3),
                                                frozen[c - 1] != 0, eps, load3(g_x + c * 3),
                                                g_cos ? g_cos[c - 1] : T(0), &gd);
    store3(g_delta + (c - 1) * 3, gd);
    store3(g_x + c * 3, gv);
    accumulate3(g_x + p * 3, T(-1) * gv);
  }
}

// ---- bone-length augmentation (PoseAug BL) ------------------------------------------------------------------
// new bone = (1 + ratio[group[b]]) · bone; the root stays.
template <typename T>
PF_HD void bone_length_pose(const T* x,              // [J, 3]
                            const T* ratio,          // [G]
                            const int64_t* parents,  // [J]
                            const int64_t* groups,   // [J - 1] group of each bone
                            int64_t J,
                            T* out) {                // [J, 3]
  store3(out, load3(x));
  for (int64_t c = 1; c < J; ++c) {
    const int64_t p = parents[c];
    const T scale = T(1) + ratio[groups[c - 1]];
    store3(out + c * 3, load3(out + p * 3) + scale * (load3(x + c * 3) - load3(x + p * 3)));
  }
}

// Same in-place scheme as bone_angle_backward_pose; g_out may alias g_x.
template <typename T>
PF_HD void bone_length_backward_pose(const T* g_out,          // [J, 3]; may alias g_x
                                     const T* x,              // [J, 3]
                                     const T* ratio,          // [G]
                                     const int64_t* parents,  // [J]
                                     const int64_t* groups,   // [J - 1]
                                     int64_t J, int64_t G,
                                     T* g_x,                  // [J, 3]
                                     T* g_ratio) {            // [G]
  for (int64_t c = 0; c < J; ++c) store3(g_x + c * 3, load3(g_out + c * 3));
  fk_subtree_sums_in_place(g_x, parents, J);
  for (int64_t g = 0; g < G; ++g) g_ratio[g] = T(0);
  for (int64_t c = 1; c < J; ++c) {
    const int64_t p = parents[c], g = groups[c - 1];
    const Vec3<T> gsub = load3(g_x + c * 3);
    g_ratio[g] += dot(gsub, load3(x + c * 3) - load3(x + p * 3));
    const Vec3<T> gv = (T(1) + ratio[g]) * gsub;
    store3(g_x + c * 3, gv);
    accumulate3(g_x + p * 3, T(-1) * gv);
  }
}

// ---- rigid transform (PoseAug RT) ----------------------------------------------------------------------------
// out_j = R(r) (x_j − x_0) + t: rotate the root-relative pose, then put the root at t.
template <typename T>
PF_HD void rigid_transform_pose(const T* x,  // [J, 3]
                                Vec3<T> r, Vec3<T> t, int64_t J,
                                T* out) {    // [J, 3]
  T R[9];
  rotvec_to_rotmat_one(r, R);
  const Vec3<T> x0 = load3(x);
  for (int64_t j = 0; j < J; ++j) store3(out + j * 3, matvec3(R, load3(x + j * 3) - x0) + t);
}

// g_out may alias g_x (each joint's gradient is read before its slot is written; the root's is written last).
template <typename T>
PF_HD void rigid_transform_backward_pose(const T* g_out,  // [J, 3]; may alias g_x
                                         const T* x,      // [J, 3]
                                         Vec3<T> r, int64_t J,
                                         T* g_x,          // [J, 3]
                                         Vec3<T>* g_r, Vec3<T>* g_t) {
  T R[9];
  rotvec_to_rotmat_one(r, R);
  T GR[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};  // dL/dR = Σ_j g_j (x_j − x_0)ᵀ
  const Vec3<T> x0 = load3(x);
  Vec3<T> gt{0, 0, 0}, g_rel_sum{0, 0, 0};
  for (int64_t j = 0; j < J; ++j) {
    const Vec3<T> g = load3(g_out + j * 3);
    const Vec3<T> d = load3(x + j * 3) - x0;
    gt += g;
    GR[0] += g.x * d.x; GR[1] += g.x * d.y; GR[2] += g.x * d.z;
    GR[3] += g.y * d.x; GR[4] += g.y * d.y; GR[5] += g.y * d.z;
    GR[6] += g.z * d.x; GR[7] += g.z * d.y; GR[8] += g.z * d.z;
    if (j > 0) {
      const Vec3<T> g_rel = matTvec3(R, g);
      g_rel_sum += g_rel;
      store3(g_x + j * 3, g_rel);
    }
  }
  store3(g_x, T(-1) * g_rel_sum);  // every relative vector subtracts the root
  *g_t = gt;
  *g_r = rotvec_to_rotmat_backward_one(r, GR);
}

// ---- camera projection (VideoPose3D / Human3.6M convention) --------------------------------------------------
// camera = (fx, fy, cx, cy) pinhole, or (fx, fy, cx, cy, k1, k2, k3, p1, p2) with distortion:
//   z' = max(z, min_depth); (x, y) = (X, Y) / z'            (clamped to [−1, 1] in the 9-parameter model)
//   r² = x² + y²; q = 1 + k1 r² + k2 r⁴ + k3 r⁶ + p1 x + p2 y
//   (x, y) ← (x q + p1 r², y q + p2 r²);   uv = (fx x + cx, fy y + cy)
// min_depth has no default here: the Python op passes it, posefast.geometry.DEFAULT_MIN_DEPTH unless the caller
// gives one (so do eps = DEFAULT_EPS, min_scale = DEFAULT_MIN_SCALE and the GPA depth range DEFAULT_DEPTH_RANGE).
template <typename T>
PF_HD void project_pose(const T* pts,  // [P, 3]
                        const T* cam,  // [C], C = 4 or 9
                        int64_t P, int64_t C, T min_depth,
                        T* uv) {       // [P, 2]
  const T fx = cam[0], fy = cam[1], cx = cam[2], cy = cam[3];
  for (int64_t i = 0; i < P; ++i) {
    const Vec3<T> X = load3(pts + i * 3);
    const T inv_z = T(1) / clamp_below(X.z, min_depth);
    T x = X.x * inv_z, y = X.y * inv_z;
    if (C == 9) {
      const T k1 = cam[4], k2 = cam[5], k3 = cam[6], p1 = cam[7], p2 = cam[8];
      x = clamp_between(x, T(-1), T(1));
      y = clamp_between(y, T(-1), T(1));
      const T r2 = x * x + y * y;
      const T q = T(1) + r2 * (k1 + r2 * (k2 + r2 * k3)) + p1 * x + p2 * y;
      const T xd = x * q + p1 * r2, yd = y * q + p2 * r2;
      x = xd;
      y = yd;
    }
    uv[i * 2] = fx * x + cx;
    uv[i * 2 + 1] = fy * y + cy;
  }
}

template <typename T>
PF_HD void project_backward_pose(const T* g_uv,  // [P, 2]
                                 const T* pts,   // [P, 3]
                                 const T* cam,   // [C]
                                 int64_t P, int64_t C, T min_depth,
                                 T* g_pts,       // [P, 3]
                                 T* g_cam) {     // [C]
  const T fx = cam[0], fy = cam[1];
  T gc[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < P; ++i) {
    const Vec3<T> X = load3(pts + i * 3);
    const T inv_z = T(1) / clamp_below(X.z, min_depth);
    const T xr = X.x * inv_z, yr = X.y * inv_z;
    const T gu = g_uv[i * 2], gv = g_uv[i * 2 + 1];
    gc[2] += gu;
    gc[3] += gv;
    T gx, gy;  // dL/d(X/z'), dL/d(Y/z')
    if (C == 9) {
      const T k1 = cam[4], k2 = cam[5], k3 = cam[6], p1 = cam[7], p2 = cam[8];
      const T x = clamp_between(xr, T(-1), T(1)), y = clamp_between(yr, T(-1), T(1));
      const T r2 = x * x + y * y;
      const T q = T(1) + r2 * (k1 + r2 * (k2 + r2 * k3)) + p1 * x + p2 * y;
      const T xd = x * q + p1 * r2, yd = y * q + p2 * r2;
      gc[0] += gu * xd;
      gc[1] += gv * yd;
      const T gxd = fx * gu, gyd = fy * gv;
      const T gq = gxd * x + gyd * y;
      const T gr2 = gxd * p1 + gyd * p2 + gq * (k1 + r2 * (T(2) * k2 + T(3) * k3 * r2));
      gc[4] += gq * r2;
      gc[5] += gq * r2 * r2;
      gc[6] += gq * r2 * r2 * r2;
      gc[7] += gxd * r2 + gq * x;
      gc[8] += gyd * r2 + gq * y;
      gx = inside(xr, T(-1), T(1)) ? gxd * q + gq * p1 + T(2) * x * gr2 : T(0);
      gy = inside(yr, T(-1), T(1)) ? gyd * q + gq * p2 + T(2) * y * gr2 : T(0);
    } else {
      gc[0] += gu * xr;
      gc[1] += gv * yr;
      gx = fx * gu;
      gy = fy * gv;
    }
    const T gz = X.z >= min_depth ? -(gx * xr + gy * yr) * inv_z : T(0);
    store3(g_pts + i * 3, Vec3<T>{gx * inv_z, gy * inv_z, gz});
  }
  for (int64_t k = 0; k < C; ++k) g_cam[k] = gc[k];
}

// ---- global position alignment (PoseDA GPA) ------------------------------------------------------------------
// Largest and smallest of p[i * stride] over n entries, NaN-propagating (torch.amax/amin semantics).
template <typename T>
PF_HD void extent_of(const T* p, int64_t n, int64_t stride, T* hi, T* lo) {
  // Branch-free max/min plus a NaN flag: the branchy NaN-propagating compare mispredicted on random poses (GPA
  // forward 4x slower, bench/NOTES.md). Any NaN makes both extremes NaN, as torch.amax/amin.
  T h = p[0], l = p[0];
  bool nan = !(p[0] == p[0]);
  for (int64_t i = 1; i < n; ++i) {
    const T v = p[i * stride];
    nan |= !(v == v);
    h = v > h ? v : h;
    l = v < l ? v : l;
  }
  const T quiet_nan = static_cast<T>(NAN);
  *hi = nan ? quiet_nan : h;
  *lo = nan ? quiet_nan : l;
}

// d(max − min)/dp scaled by g, added to grad[i * stride]: like torch.amax/amin, ties share the gradient evenly.
template <typename T>
PF_HD void extent_backward(const T* p, int64_t n, int64_t stride, T hi, T lo, T g, T* grad) {
  int64_t n_hi = 0, n_lo = 0;
  for (int64_t i = 0; i < n; ++i) {
    n_hi += p[i * stride] == hi;
    n_lo += p[i * stride] == lo;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (p[i * stride] == hi) grad[i * stride] += g / T(n_hi);
    if (p[i * stride] == lo) grad[i * stride] -= g / T(n_lo);
  }
}

// Everything GPA derives from one (pose, target, camera) triple.
template <typename T>
struct GpaGeometry {
  T x_hi, x_lo, y_hi, y_lo;  // 3D extent (source pose)
  T u_hi, u_lo, v_hi, v_lo;  // 2D box (target keypoints)
  T s, s_safe;               // target scale (w + h)/2 and its guarded value max(s, min_scale)
  T z_raw, z;                // depth (fx Δx + fy Δy)/(2 s_safe), and clamped to the depth range
  T a, b;                    // ray of the target root: ((u0 − cx)/fx, (v0 − cy)/fy, 1)
};

template <typename T>
PF_HD GpaGeometry<T> gpa_geometry(const T* x, const T* tgt, const T* cam, int64_t J, T min_scale, T z_min,
                                  T z_max) {
  GpaGeometry<T> g;
  extent_of(x, J, 3, &g.x_hi, &g.x_lo);
  extent_of(x + 1, J, 3, &g.y_hi, &g.y_lo);
  extent_of(tgt, J, 2, &g.u_hi, &g.u_lo);
  extent_of(tgt + 1, J, 2, &g.v_hi, &g.v_lo);
  const T fx = cam[0], fy = cam[1], cx = cam[2], cy = cam[3];
  g.s = T(0.5) * ((g.u_hi - g.u_lo) + (g.v_hi - g.v_lo));
  g.s_safe = clamp_below(g.s, min_scale);
  g.z_raw = (fx * (g.x_hi - g.x_lo) + fy * (g.y_hi - g.y_lo)) / (T(2) * g.s_safe);
  g.z = clamp_between(g.z_raw, z_min, z_max);
  g.a = (tgt[0] - cx) / fx;
  g.b = (tgt[1] - cy) / fy;
  return g;
}

// out_j = x_j − x_0 + z (a, b, 1)
template <typename T>
PF_HD void gpa_pose(const T* x,    // [J, 3]
                    const T* tgt,  // [J, 2]
                    const T* cam,  // [4]
                    int64_t J, T min_scale, T z_min, T z_max,
                    T* out) {      // [J, 3]
  const GpaGeometry<T> g = gpa_geometry(x, tgt, cam, J, min_scale, z_min, z_max);
  const Vec3<T> shift = Vec3<T>{g.z * g.a, g.z * g.b, g.z} - load3(x);
  for (int64_t j = 0; j < J; ++j) store3(out + j * 3, load3(x + j * 3) + shift);
}

template <typename T>
PF_HD void gpa_backward_pose(const T* g_out,  // [J, 3]
                             const T* x,      // [J, 3]
                             const T* tgt,    // [J, 2]
                             const T* cam,    // [4]
                             int64_t J, T min_scale, T z_min, T z_max,
                             T* g_x,          // [J, 3]
                             T* g_tgt,        // [J, 2]
                             T* g_cam) {      // [4]
  const GpaGeometry<T> g = gpa_geometry(x, tgt, cam, J, min_scale, z_min, z_max);
  const T fx = cam[0], fy = cam[1];
  // root-relative part: out_j = x_j − x_0 + root
  Vec3<T> g_root{0, 0, 0};
  for (int64_t j = 0; j < J; ++j) {
    const Vec3<T> gj = load3(g_out + j * 3);
    g_root += gj;
    store3(g_x + j * 3, gj);
  }
  accumulate3(g_x, T(-1) * g_root);
  for (int64_t j = 0; j < 2 * J; ++j) g_tgt[j] = T(0);
  // root = z (a, b, 1)
  const T g_z = g_root.x * g.a + g_root.y * g.b + g_root.z;
  const T g_a = g.z * g_root.x, g_b = g.z * g_root.y;
  g_tgt[0] += g_a / fx;
  g_tgt[1] += g_b / fy;
  T g_fx = -g_a * g.a / fx, g_fy = -g_b * g.b / fy;
  const T g_cx = -g_a / fx, g_cy = -g_b / fy;
  // z = clamp(z_raw) with z_raw = (fx Δx + fy Δy) / (2 s_safe)
  const T g_zr = inside(g.z_raw, z_min, z_max) ? g_z : T(0);
  const T inv2s = T(1) / (T(2) * g.s_safe);
  g_fx += g_zr * (g.x_hi - g.x_lo) * inv2s;
  g_fy += g_zr * (g.y_hi - g.y_lo) * inv2s;
  extent_backward(x, J, 3, g.x_hi, g.x_lo, g_zr * fx * inv2s, g_x);
  extent_backward(x + 1, J, 3, g.y_hi, g.y_lo, g_zr * fy * inv2s, g_x + 1);
  const T g_s = g.s >= min_scale ? -g_zr * g.z_raw / g.s_safe : T(0);
  extent_backward(tgt, J, 2, g.u_hi, g.u_lo, T(0.5) * g_s, g_tgt);
  extent_backward(tgt + 1, J, 2, g.v_hi, g.v_lo, T(0.5) * g_s, g_tgt + 1);
  g_cam[0] = g_fx;
  g_cam[1] = g_fy;
  g_cam[2] = g_cx;
  g_cam[3] = g_cy;
}

// ================================ functors: one work item = one pose (or one rotation) ========================

template <typename T>
struct RotvecToRotmatForward {
  const T* rotvec;  // [N, 3]
  T* rotmat;        // [N, 3, 3]
  PF_HD void operator()(int64_t n) const { rotvec_to_rotmat_one(load3(rotvec + n * 3), rotmat + n * 9); }
};

template <typename T>
struct RotvecToRotmatBackward {
  const T* grad_rotmat;  // [N, 3, 3]
  const T* rotvec;       // [N, 3]
  T* grad_rotvec;        // [N, 3]
  PF_HD void operator()(int64_t n) const {
    store3(grad_rotvec + n * 3, rotvec_to_rotmat_backward_one(load3(rotvec + n * 3), grad_rotmat + n * 9));
  }
};

template <typename T>
struct BoneAngleAugmentForward {
  const T* joints;             // [N, J, 3]
  const T* delta;              // [N, J - 1, 3]
  const int64_t* parents;      // [J]
  const std::uint8_t* frozen;  // [J - 1]
  T* out;                      // [N, J, 3]
  T* cos_change;               // [N, J - 1]
  int64_t J;
  T eps;
  PF_HD void operator()(int64_t n) const {
    bone_angle_pose(joints + n * J * 3, delta + n * (J - 1) * 3, parents, frozen, J, eps, out + n * J * 3,
                    cos_change + n * (J - 1));
  }
};

template <typename T>
struct BoneAngleAugmentBackward {
  const T* grad_out;           // [N, J, 3] or null
  const T* grad_cos;           // [N, J - 1] or null
  const T* joints;             // [N, J, 3]
  const T* delta;              // [N, J - 1, 3]
  const int64_t* parents;      // [J]
  const std::uint8_t* frozen;  // [J - 1]
  T* grad_joints;              // [N, J, 3]
  T* grad_delta;               // [N, J - 1, 3]
  int64_t J;
  T eps;
  PF_HD void operator()(int64_t n) const {
    const int64_t B = J - 1;
    bone_angle_backward_pose(grad_out ? grad_out + n * J * 3 : nullptr, grad_cos ? grad_cos + n * B : nullptr,
                             joints + n * J * 3, delta + n * B * 3, parents, frozen, J, eps, grad_joints + n * J * 3,
                             grad_delta + n * B * 3);
  }
};

template <typename T>
struct BoneLengthAugmentForward {
  const T* joints;         // [N, J, 3]
  const T* ratio;          // [N, G]
  const int64_t* parents;  // [J]
  const int64_t* groups;   // [J - 1]
  T* out;                  // [N, J, 3]
  int64_t J, G;
  PF_HD void operator()(int64_t n) const {
    bone_length_pose(joints + n * J * 3, ratio + n * G, parents, groups, J, out + n * J * 3);
  }
};

template <typename T>
struct BoneLengthAugmentBackward {
  const T* grad_out;       // [N, J, 3]
  const T* joints;         // [N, J, 3]
  const T* ratio;          // [N, G]
  const int64_t* parents;  // [J]
  const int64_t* groups;   // [J - 1]
  T* grad_joints;          // [N, J, 3]
  T* grad_ratio;           // [N, G]
  int64_t J, G;
  PF_HD void operator()(int64_t n) const {
    bone_length_backward_pose(grad_out + n * J * 3, joints + n * J * 3, ratio + n * G, parents, groups, J, G,
                              grad_joints + n * J * 3, grad_ratio + n * G);
  }
};

template <typename T>
struct RigidTransformForward {
  const T* joints;       // [N, J, 3]
  const T* rotvec;       // [N, 3]
  const T* translation;  // [N, 3]
  T* out;                // [N, J, 3]
  int64_t J;
  PF_HD void operator()(int64_t n) const {
    rigid_transform_pose(joints + n * J * 3, load3(rotvec + n * 3), load3(translation + n * 3), J, out + n * J * 3);
  }
};

template <typename T>
struct RigidTransformBackward {
  const T* grad_out;       // [N, J, 3]
  const T* joints;         // [N, J, 3]
  const T* rotvec;         // [N, 3]
  T* grad_joints;          // [N, J, 3]
  T* grad_rotvec;          // [N, 3]
  T* grad_translation;     // [N, 3]
  int64_t J;
  PF_HD void operator()(int64_t n) const {
    Vec3<T> gr, gt;
    rigid_transform_backward_pose(grad_out + n * J * 3, joints + n * J * 3, load3(rotvec + n * 3), J,
                                  grad_joints + n * J * 3, &gr, &gt);
    store3(grad_rotvec + n * 3, gr);
    store3(grad_translation + n * 3, gt);
  }
};

template <typename T>
struct ProjectForward {
  const T* points;  // [N, P, 3]
  const T* camera;  // [N, C]
  T* uv;            // [N, P, 2]
  int64_t P, C;
  T min_depth;
  PF_HD void operator()(int64_t n) const {
    project_pose(points + n * P * 3, camera + n * C, P, C, min_depth, uv + n * P * 2);
  }
};

template <typename T>
struct ProjectBackward {
  const T* grad_uv;  // [N, P, 2]
  const T* points;   // [N, P, 3]
  const T* camera;   // [N, C]
  T* grad_points;    // [N, P, 3]
  T* grad_camera;    // [N, C]
  int64_t P, C;
  T min_depth;
  PF_HD void operator()(int64_t n) const {
    project_backward_pose(grad_uv + n * P * 2, points + n * P * 3, camera + n * C, P, C, min_depth,
                          grad_points + n * P * 3, grad_camera + n * C);
  }
};

template <typename T>
struct GlobalPositionAlignForward {
  const T* joints;  // [N, J, 3]
  const T* target;  // [N, J, 2]
  const T* camera;  // [N, 4]
  T* out;           // [N, J, 3]
  int64_t J;
  T min_scale, z_min, z_max;
  PF_HD void operator()(int64_t n) const {
    gpa_pose(joints + n * J * 3, target + n * J * 2, camera + n * 4, J, min_scale, z_min, z_max, out + n * J * 3);
  }
};

template <typename T>
struct GlobalPositionAlignBackward {
  const T* grad_out;  // [N, J, 3]
  const T* joints;    // [N, J, 3]
  const T* target;    // [N, J, 2]
  const T* camera;    // [N, 4]
  T* grad_joints;     // [N, J, 3]
  T* grad_target;     // [N, J, 2]
  T* grad_camera;     // [N, 4]
  int64_t J;
  T min_scale, z_min, z_max;
  PF_HD void operator()(int64_t n) const {
    gpa_backward_pose(grad_out + n * J * 3, joints + n * J * 3, target + n * J * 2, camera + n * 4, J, min_scale,
                      z_min, z_max, grad_joints + n * J * 3, grad_target + n * J * 2, grad_camera + n * 4);
  }
};

// Fused PoseAug generator path: BA → BL → RT → project, every intermediate an output.
template <typename T>
struct AugmentPipelineForward {
  const T* joints;             // [N, J, 3]
  const T* delta;              // [N, J - 1, 3]
  const T* ratio;              // [N, G]
  const T* rotvec;             // [N, 3]
  const T* translation;        // [N, 3]
  const T* camera;             // [N, C]
  const int64_t* parents;      // [J]
  const std::uint8_t* frozen;  // [J - 1]
  const int64_t* groups;       // [J - 1]
  T* joints_ba;                // [N, J, 3]
  T* joints_bl;                // [N, J, 3]
  T* joints_rt;                // [N, J, 3]
  T* uv_rt;                    // [N, J, 2]
  T* cos_change;               // [N, J - 1]
  int64_t J, G, C;
  T eps, min_depth;
  PF_HD void operator()(int64_t n) const {
    const int64_t o = n * J * 3;
    bone_angle_pose(joints + o, delta + n * (J - 1) * 3, parents, frozen, J, eps, joints_ba + o,
                    cos_change + n * (J - 1));
    bone_length_pose(joints_ba + o, ratio + n * G, parents, groups, J, joints_bl + o);
    rigid_transform_pose(joints_bl + o, load3(rotvec + n * 3), load3(translation + n * 3), J, joints_rt + o);
    project_pose(joints_rt + o, camera + n * C, J, C, min_depth, uv_rt + n * J * 2);
  }
};

// One backward pass through the whole chain; any of the five cotangents may be null (= zero). The forward's
// intermediate poses come in as saved outputs; only per-bone and per-point scalars (unit bones, R, distortion
// factors) are recomputed, in registers. The running gradient w.r.t. each stage's input lives in grad_joints
// (every stage's backward works in place), so the stack frame does not depend on J.
template <typename T>
struct AugmentPipelineBackward {
  const T* grad_ba;            // [N, J, 3] or null
  const T* grad_bl;            // [N, J, 3] or null
  const T* grad_rt;            // [N, J, 3] or null
  const T* grad_uv;            // [N, J, 2] or null
  const T* grad_cos;           // [N, J - 1] or null
  const T* joints;             // [N, J, 3]
  const T* delta;              // [N, J - 1, 3]
  const T* ratio;              // [N, G]
  const T* rotvec;             // [N, 3]
  const T* camera;             // [N, C]
  const T* joints_ba;          // [N, J, 3] (saved output)
  const T* joints_bl;          // [N, J, 3] (saved output)
  const T* joints_rt;          // [N, J, 3] (saved output)
  const int64_t* parents;      // [J]
  const std::uint8_t* frozen;  // [J - 1]
  const int64_t* groups;       // [J - 1]
  T* grad_joints;              // [N, J, 3]
  T* grad_delta;               // [N, J - 1, 3]
  T* grad_ratio;               // [N, G]
  T* grad_rotvec;              // [N, 3]
  T* grad_translation;         // [N, 3]
  T* grad_camera;              // [N, C]
  int64_t J, G, C;
  T eps, min_depth;
  PF_HD void operator()(int64_t n) const {
    const int64_t o = n * J * 3, K = J * 3;
    T* g = grad_joints + o;
    // project: dL/d joints_rt
    if (grad_uv) {
      project_backward_pose(grad_uv + n * J * 2, joints_rt + o, camera + n * C, J, C, min_depth, g,
                            grad_camera + n * C);
      if (grad_rt) for (int64_t i = 0; i < K; ++i) g[i] += grad_rt[o + i];
    } else {
      for (int64_t k = 0; k < C; ++k) grad_camera[n * C + k] = T(0);
      for (int64_t i = 0; i < K; ++i) g[i] = grad_rt ? grad_rt[o + i] : T(0);
    }
    // RT: dL/d joints_bl
    Vec3<T> gr, gt;
    rigid_transform_backward_pose(g, joints_bl + o, load3(rotvec + n * 3), J, g, &gr, &gt);
    store3(grad_rotvec + n * 3, gr);
    store3(grad_translation + n * 3, gt);
    if (grad_bl) for (int64_t i = 0; i < K; ++i) g[i] += grad_bl[o + i];
    // BL: dL/d joints_ba
    bone_length_backward_pose(g, joints_ba + o, ratio + n * G, parents, groups, J, G, g, grad_ratio + n * G);
    if (grad_ba) for (int64_t i = 0; i < K; ++i) g[i] += grad_ba[o + i];
    // BA: dL/d joints, dL/d delta
    bone_angle_backward_pose(g, grad_cos ? grad_cos + n * (J - 1) : nullptr, joints + o, delta + n * (J - 1) * 3,
                             parents, frozen, J, eps, g, grad_delta + n * (J - 1) * 3);
  }
};

}  // namespace posefast
