// The CUDA runtime's facts and switches for the binding module (which is plain C++ and never sees CUDA headers).
#include <cuda_runtime.h>

#include "posefast/launch_cuda.cuh"

namespace posefast {
namespace cuda {

// CUDART_VERSION of the toolkit this module was compiled and linked with, e.g. 13000 for 13.0.
int runtime_version() { return CUDART_VERSION; }

// The CUDA version the installed driver supports (e.g. 12040), 0 without a driver. Safe before any other CUDA call.
int driver_version() {
  int version = 0;
  return cudaDriverGetVersion(&version) == cudaSuccess ? version : 0;
}

void set_sync_after_launch(bool on) { sync_after_launch().store(on, std::memory_order_relaxed); }

}  // namespace cuda
}  // namespace posefast
