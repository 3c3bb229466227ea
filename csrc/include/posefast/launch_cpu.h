// CPU backend launcher: one OpenMP loop over independent work items (poses). The GIL is released by the binding.
//
// Lane kernels: a functor runs one pose per call (operator()(n): the GPU's path and the generic one); a CPU backend
// may specialise LaneKernel<Functor> (see posefast/lanes_metrics.h) to run kLanes poses per call instead, one SIMD
// lane per pose, compiled for each instruction-set level of posefast/cpu_isa.h and picked at run time.
#pragma once

#include "posefast/common.h"
#include "posefast/cpu_isa.h"

#if defined(POSEFAST_WITH_OPENMP)
#include <omp.h>
#endif

namespace posefast {
namespace cpu {

// Primary template: no lane kernel. A specialisation provides
//   static constexpr int kLanes;
//   template <class Isa> static void run(const Functor&, int64_t first, int64_t count);  // 1 <= count <= kLanes
template <class Functor>
struct LaneKernel {
  static constexpr bool enabled = false;
};

#define POSEFAST_ALWAYS_INLINE inline __attribute__((always_inline))

template <class Isa, class Functor>
POSEFAST_ALWAYS_INLINE void run_lanes(const Functor& f, int64_t begin, int64_t end) {
  constexpr int64_t L = LaneKernel<Functor>::kLanes;
  for (int64_t i = begin; i < end; i += L) LaneKernel<Functor>::template run<Isa>(f, i, end - i < L ? end - i : L);
}

// One instantiation per level; the lane kernel's inline code is compiled for that level inside each.
template <class Functor>
__attribute__((noinline)) void run_lanes_baseline(const Functor& f, int64_t begin, int64_t end) {
  run_lanes<isa::Baseline>(f, begin, end);
}
#if POSEFAST_X86_DISPATCH
template <class Functor>
POSEFAST_TARGET_AVX2 __attribute__((noinline)) void run_lanes_avx2(const Functor& f, int64_t begin, int64_t end) {
  run_lanes<isa::Avx2>(f, begin, end);
}
template <class Functor>
POSEFAST_TARGET_AVX512 __attribute__((noinline)) void run_lanes_avx512(const Functor& f, int64_t begin, int64_t end) {
  run_lanes<isa::Avx512>(f, begin, end);
}
#endif

template <class Functor>
void run_lanes_at(int level, const Functor& f, int64_t begin, int64_t end) {
#if POSEFAST_X86_DISPATCH
  if (level == isa::kAvx512) return run_lanes_avx512(f, begin, end);
  if (level == isa::kAvx2) return run_lanes_avx2(f, begin, end);
#endif
  (void)level;
  run_lanes_baseline(f, begin, end);
}

template <class Functor>
void launch_per_item(int64_t n, const Functor& f) {
  // Small batches are not worth waking the thread team.
#if defined(POSEFAST_WITH_OPENMP)
#pragma omp parallel for schedule(static) if (n > 64)
#endif
  for (int64_t i = 0; i < n; ++i) f(i);
}

template <class Functor>
void launch(const Stream& /*stream*/, int64_t n, const Functor& f) {
  if constexpr (LaneKernel<Functor>::enabled) {
    if (isa::lanes_disabled()) return launch_per_item(n, f);
    // Each thread takes one contiguous range of whole lane blocks (the last range ends at n).
    constexpr int64_t L = LaneKernel<Functor>::kLanes;
    const int level = isa::active();
    const int64_t blocks = (n + L - 1) / L;
#if defined(POSEFAST_WITH_OPENMP)
#pragma omp parallel if (n > 64)
    {
      const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t b0 = blocks * t / nt, b1 = blocks * (t + 1) / nt;
      if (b1 > b0) run_lanes_at(level, f, b0 * L, b1 * L < n ? b1 * L : n);
    }
#else
    if (blocks) run_lanes_at(level, f, 0, n);
#endif
  } else {
    launch_per_item(n, f);
  }
}

}  // namespace cpu
}  // namespace posefast
