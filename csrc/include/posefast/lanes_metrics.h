// CPU lane kernels of the metrics family (included by the CPU backend only, before csrc/ops/metrics.inl): the
// P-MPJPE of eight poses per call, one SIMD lane per pose (procrustes::p_mpjpe_lanes, the same code the GPU runs
// with one lane per thread), compiled once per instruction-set level (posefast/cpu_isa.h).
//
// Per block of eight poses: the poses are transposed into a structure of arrays (joint-major, lane-minor, in
// float64, relative to joint 0), the moments and the aligned distances are plain loops over the lanes that the
// compiler vectorises, and the closed-form fits of the eight lanes run in one vectorised, branch-free loop. The
// poses the fit flags (near-collinear, degenerate, non-finite) are recomputed with the robust Jacobi fit.
//
// A test build that compiles the CPU backend with __CUDA_ARCH__ defined (issue 17) runs the GPU's per-pose path
// instead: these specialisations are then left out.
#pragma once

#include <type_traits>

#include "posefast/launch_cpu.h"
#include "posefast/metrics.h"

#if !defined(__CUDA_ARCH__)

namespace posefast {
namespace cpu {
namespace lanes {

using procrustes::Real;
constexpr int kLanes = 8;

// Scratch of one block: coordinate c of joint j of lane l at [j][c][l], relative to the lane's joint 0.
using Block = Real[kMaxJoints][3][kLanes];

struct ScratchPose {
  const Block& b;
  POSEFAST_ALWAYS_INLINE Real operator()(int64_t j, int c, int l) const { return b[j][c][l]; }
};

// The closed-form fits of a block's lanes in one loop. It must be its own (non-inlined) function per level: inlined
// into the larger block function, GCC 12 leaves control flow in the loop and does not vectorise it.
template <int W>
POSEFAST_ALWAYS_INLINE void qcp_block(const Real (*__restrict M)[W], const Real* __restrict gp,
                                      const Real* __restrict gx, Real (*__restrict R)[W], Real* __restrict s,
                                      Real* __restrict ok) {
  procrustes::QcpEachLane{}(M, gp, gx, R, s, ok);
}
template <int W>
POSEFAST_NOINLINE void qcp_block(isa::Baseline, const Real (*M)[W], const Real* gp, const Real* gx,
                                         Real (*R)[W], Real* s, Real* ok) {
  qcp_block<W>(M, gp, gx, R, s, ok);
}
#if POSEFAST_X86_DISPATCH
template <int W>
POSEFAST_TARGET_AVX2 POSEFAST_NOINLINE void qcp_block(isa::Avx2, const Real (*M)[W], const Real* gp,
                                                              const Real* gx, Real (*R)[W], Real* s, Real* ok) {
  qcp_block<W>(M, gp, gx, R, s, ok);
}
template <int W>
POSEFAST_TARGET_AVX512 POSEFAST_NOINLINE void qcp_block(isa::Avx512, const Real (*M)[W], const Real* gp,
                                                                const Real* gx, Real (*R)[W], Real* s, Real* ok) {
  qcp_block<W>(M, gp, gx, R, s, ok);
}
#endif

template <class Isa>
struct QcpBlock {
  template <int W>
  POSEFAST_ALWAYS_INLINE void operator()(const Real (*M)[W], const Real* gp, const Real* gx, Real (*R)[W], Real* s,
                                         Real* ok) const {
    qcp_block<W>(Isa{}, M, gp, gx, R, s, ok);
  }
};

// Fill a block from the poses rows[l] (J joints, selected by index when given), relative to joint 0, in Real.
template <typename T>
POSEFAST_ALWAYS_INLINE void load_block_generic(const T* const* rows, const int64_t* index, int64_t J, Block& out) {
  for (int l = 0; l < kLanes; ++l) {
    const T* r = rows[l];
    const int64_t first = index ? index[0] : 0;
    const Real o0 = Real(r[first * 3]), o1 = Real(r[first * 3 + 1]), o2 = Real(r[first * 3 + 2]);
    for (int64_t j = 0; j < J; ++j) {
      const int64_t q = index ? index[j] : j;
      out[j][0][l] = Real(r[q * 3]) - o0;
      out[j][1][l] = Real(r[q * 3 + 1]) - o1;
      out[j][2][l] = Real(r[q * 3 + 2]) - o2;
    }
  }
}

template <typename T>
POSEFAST_NOINLINE void load_block(isa::Baseline, const T* const* rows, const int64_t* index, int64_t J,
                                          Block& out) {
  load_block_generic(rows, index, J, out);
}

#if POSEFAST_X86_DISPATCH
// Eight float rows of eight -> eight columns (the classic AVX transpose: unpack, shuffle, 128-bit permute).
POSEFAST_TARGET_AVX2 POSEFAST_ALWAYS_INLINE void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// float poses, all joints: 8x8 transposes of the flat rows (3J floats each), then one vectorised convert-and-shift
// pass. Scalar copies cost ~3 instructions per coordinate, a third of the whole kernel.
POSEFAST_TARGET_AVX2 POSEFAST_ALWAYS_INLINE void load_block_avx(const float* const* rows, int64_t J, Block& out) {
  const int64_t D = 3 * J;
  alignas(32) float cols[3 * kMaxJoints][kLanes];
  int64_t i0 = 0;
  for (; i0 + 8 <= D; i0 += 8) {
    __m256 r[8];
    for (int l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(rows[l] + i0);
    transpose8(r);
    for (int k = 0; k < 8; ++k) _mm256_store_ps(cols[i0 + k], r[k]);
  }
  for (; i0 < D; ++i0)
    for (int l = 0; l < kLanes; ++l) cols[i0][l] = rows[l][i0];
  for (int64_t j = 0; j < J; ++j)
    for (int c = 0; c < 3; ++c)
      for (int l = 0; l < kLanes; ++l) out[j][c][l] = Real(cols[3 * j + c][l]) - Real(cols[c][l]);
}

template <typename T>
POSEFAST_TARGET_AVX2 POSEFAST_NOINLINE void load_block(isa::Avx2, const T* const* rows, const int64_t* index,
                                                               int64_t J, Block& out) {
  if constexpr (std::is_same<T, float>::value) {
    if (!index) return load_block_avx(rows, J, out);
  }
  load_block_generic(rows, index, J, out);
}
template <typename T>
POSEFAST_TARGET_AVX512 POSEFAST_NOINLINE void load_block(isa::Avx512, const T* const* rows,
                                                                 const int64_t* index, int64_t J, Block& out) {
  if constexpr (std::is_same<T, float>::value) {
    if (!index) return load_block_avx(rows, J, out);
  }
  load_block_generic(rows, index, J, out);
}
#endif

// P-MPJPE of the poses first .. first + count - 1 (count <= kLanes; a partial block repeats its first pose in the
// unused lanes) into out[n * out_stride], scaled by `scale`. Poses the closed form flags take the robust fit.
template <class Isa, typename T>
POSEFAST_ALWAYS_INLINE void p_mpjpe_block(const T* pred, const T* target, int64_t J_all, const int64_t* index,
                                          int64_t J, int64_t first, int64_t count, T* out, Real scale) {
  const T* prow[kLanes];
  const T* xrow[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    const int64_t n = first + (l < count ? l : 0);
    prow[l] = pred + n * J_all * 3;
    xrow[l] = target + n * J_all * 3;
  }
  // Prefetch the poses two blocks ahead. Once the inputs no longer fit the cache (above ~2e4 float32 poses here)
  // the hardware prefetcher alone left the lanes waiting on memory: 76 -> 48 ns/pose at 1e5 poses (AVX-512), 100 ->
  // 79 (AVX2), 1 thread. Integer addresses: the prefetch may point past the last pose (it never faults).
  const int64_t row_bytes = J_all * 3 * int64_t(sizeof(T)), ahead = (first + 2 * kLanes) * row_bytes;
  for (int64_t off = 0; off < kLanes * row_bytes; off += 64) {
    __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(pred) + ahead + off));
    __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(target) + ahead + off));
  }
  alignas(64) Block P, X;
  load_block(Isa{}, prow, index, J, P);
  load_block(Isa{}, xrow, index, J, X);
  alignas(64) Real err[kLanes], ok[kLanes];
  procrustes::p_mpjpe_lanes<kLanes>(ScratchPose{P}, ScratchPose{X}, J, QcpBlock<Isa>{}, err, ok);
  for (int l = 0; l < count; ++l) {
    Real e = err[l];
    if (ok[l] == Real(0)) {  // rare: near-collinear, degenerate or non-finite poses
      const procrustes::PoseView<T> p{prow[l], index}, x{xrow[l], index};
      e = procrustes::aligned_mean_error(procrustes::similarity_fit(p, x, J), p, x, J);
    }
    out[first + l] = T(e * scale);
  }
}

}  // namespace lanes

template <typename T>
struct LaneKernel<PMpjpeForward<T>> {
  static constexpr bool enabled = true;
  static constexpr int kLanes = lanes::kLanes;
  template <class Isa>
  POSEFAST_ALWAYS_INLINE static void run(const PMpjpeForward<T>& f, int64_t first, int64_t count) {
    lanes::p_mpjpe_block<Isa>(f.pred, f.target, f.J, static_cast<const int64_t*>(nullptr), f.J, first, count, f.err,
                              procrustes::Real(1));
  }
};

template <typename T>
struct LaneKernel<PoseErrorsForward<T>> {
  static constexpr bool enabled = true;
  static constexpr int kLanes = lanes::kLanes;
  template <class Isa>
  POSEFAST_ALWAYS_INLINE static void run(const PoseErrorsForward<T>& f, int64_t first, int64_t count) {
    for (int64_t n = first; n < first + count; ++n) f.joint_errors(n);
    lanes::p_mpjpe_block<Isa>(f.pred, f.target, f.J, f.joints, f.Je, first, count, f.p_mpjpe,
                              procrustes::Real(f.to_mm));
  }
};

}  // namespace cpu
}  // namespace posefast

#endif  // !__CUDA_ARCH__
