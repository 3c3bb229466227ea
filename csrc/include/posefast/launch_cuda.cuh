// CUDA backend launcher: one generic grid-stride kernel that calls the same __host__ __device__ functor the CPU
// loop calls, on the stream handed over from Python (torch's current stream).
#pragma once

#include <cuda_runtime.h>

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

template <class Functor>
void launch(const Stream& stream, int64_t n, const Functor& f) {
  if (n <= 0) return;
  constexpr int kThreads = 128;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  const unsigned grid = unsigned(blocks < 65535 * 16 ? blocks : 65535 * 16);  // grid-stride covers the rest
  grid_stride_kernel<<<grid, kThreads, 0, reinterpret_cast<cudaStream_t>(stream.handle)>>>(n, f);
  check(cudaGetLastError(), "kernel launch");
}

}  // namespace cuda
}  // namespace posefast
