// CPU backend launcher: one OpenMP loop over independent work items (poses). The GIL is released by the binding.
#pragma once

#include "posefast/common.h"

namespace posefast {
namespace cpu {

template <class Functor>
void launch(const Stream& /*stream*/, int64_t n, const Functor& f) {
  // Small batches are not worth waking the thread team.
#if defined(POSEFAST_WITH_OPENMP)
#pragma omp parallel for schedule(static) if (n > 64)
#endif
  for (int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace cpu
}  // namespace posefast
