// CPU backend launcher: one OpenMP loop over independent work items (poses). The GIL is released by the binding.
//
// Lane kernels: a functor runs one pose per call (operator()(n): the GPU's path and the generic one); a CPU backend
// may specialise LaneKernel<Functor> (see posefast/lanes_metrics.h) to run kLanes poses per call instead, one SIMD
// lane per pose, compiled for each instruction-set level of posefast/cpu_isa.h and picked at run time.
#pragma once

#include "posefast/common.h"
#include "posefast/cpu_isa.h"

namespace posefast {
namespace cpu {

// Primary template: no lane kernel. A specialisation provides
//   static constexpr int kLanes;
//   template <class Isa> static void run(const Functor&, int64_t first, int64_t count);  // 1 <= count <= kLanes
template <class Functor>
struct LaneKernel {
  static constexpr bool enabled = false;
};

template <class Isa, class Functor>
POSEFAST_ALWAYS_INLINE void run_lanes(const Functor& f, int64_t begin, int64_t end) {
  constexpr int64_t L = LaneKernel<Functor>::kLanes;
  for (int64_t i = begin; i < end; i += L) LaneKernel<Functor>::template run<Isa>(f, i, end - i < L ? end - i : L);
}

// One instantiation per level; the lane kernel's inline code is compiled for that level inside each.
template <class Functor>
POSEFAST_NOINLINE void run_lanes_baseline(const Functor& f, int64_t begin, int64_t end) {
  run_lanes<isa::Baseline>(f, begin, end);
}
#if POSEFAST_X86_DISPATCH
template <class Functor>
POSEFAST_TARGET_AVX2 POSEFAST_NOINLINE void run_lanes_avx2(const Functor& f, int64_t begin, int64_t end) {
  run_lanes<isa::Avx2>(f, begin, end);
}
template <class Functor>
POSEFAST_TARGET_AVX512 POSEFAST_NOINLINE void run_lanes_avx512(const Functor& f, int64_t begin, int64_t end) {
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
  // Small batches are not worth waking the thread team. Each work item writes only its own outputs and nothing is
  // summed across items, so which thread runs an item cannot change a bit: results are identical at any thread
  // count (tests/test_determinism.py). A kernel that sums across items must use an order the split cannot change.
#if defined(POSEFAST_WITH_OPENMP)
#pragma omp parallel for schedule(static) if (n > 64)
#endif
  for (int64_t i = 0; i < n; ++i) f(i);
}

template <class Functor>
void launch(const Stream& /*stream*/, int64_t n, const Functor& f) {
  if constexpr (LaneKernel<Functor>::enabled) {
    if (isa::lanes_disabled()) return launch_per_item(n, f);
    // Chunks of 32 lane blocks handed out dynamically: a thread the OS preempts on a shared machine does not hold
    // up the others (with one static range per thread the slowest thread sets the time).
    constexpr int64_t L = LaneKernel<Functor>::kLanes;
    constexpr int64_t kChunk = 32 * L;
    const int level = isa::active();
    const int64_t chunks = (n + kChunk - 1) / kChunk;
#if defined(POSEFAST_WITH_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (chunks > 1)
#endif
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t b = c * kChunk, e = b + kChunk < n ? b + kChunk : n;
      run_lanes_at(level, f, b, e);
    }
  } else {
    launch_per_item(n, f);
  }
}

}  // namespace cpu
}  // namespace posefast
