// CUDA backend launcher: one generic grid-stride kernel that calls the same __host__ __device__ functor the CPU
// loop calls, on the stream handed over from Python (torch's current stream).
#pragma once

#include <cuda_runtime.h>

#include <atomic>

#include "posefast/common.h"

namespace posefast {
namespace cuda {

template <class Functor>
__global__ void grid_stride_kernel(int64_t n, Functor f) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x) f(i);
}

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string("posefast CUDA error in ") + what + ": " + cudaGetErrorString(err));
}

// POSEFAST_CUDA_SYNC=1 (set from posefast._ext): wait for every kernel, so a fault during its execution is reported
// by the op that launched it instead of by a later, unrelated CUDA call. One flag for the module (inline function).
inline std::atomic<bool>& sync_after_launch() {
  static std::atomic<bool> flag{false};
  return flag;
}

template <class Functor>
void launch(const Stream& stream, int64_t n, const Functor& f) {
  if (n <= 0) return;
  constexpr int kThreads = 128;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  const unsigned grid = unsigned(blocks < 65535 * 16 ? blocks : 65535 * 16);  // grid-stride covers the rest
  grid_stride_kernel<<<grid, kThreads, 0, reinterpret_cast<cudaStream_t>(stream.handle)>>>(n, f);
  check(cudaGetLastError(), "kernel launch");
  if (sync_after_launch().load(std::memory_order_relaxed))
    check(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(stream.handle)), "kernel execution (POSEFAST_CUDA_SYNC=1)");
}

}  // namespace cuda
}  // namespace posefast
