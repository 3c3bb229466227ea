// CPU backend launcher: one OpenMP loop over independent work items (poses). The GIL is released by the binding.
#pragma once

#include "posefast/common.h"

namespace posefast {
namespace cpu {

template <class Functor>
void launch(const Stream& /*stream*/, int64_t n, const Functor& f) {
  // Small batches are not worth waking the thread team. Each work item writes only its own outputs and nothing is
  // summed across items, so which thread runs an item cannot change a bit: results are identical at any thread
  // count (tests/test_determinism.py). A kernel that sums across items must use an order the split cannot change.
#if defined(POSEFAST_WITH_OPENMP)
#pragma omp parallel for schedule(static) if (n > 64)
#endif
  for (int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace cpu
}  // namespace posefast
