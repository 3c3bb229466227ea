// Shared by every op family: the host/device qualifier, dtype dispatch, and small 3-vector algebra.
// Everything here is header-only so the same instructions run in the CPU loop and in the CUDA kernel.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#if defined(__CUDACC__)
#define PF_HD __host__ __device__ __forceinline__
#else
#define PF_HD inline
#endif

namespace posefast {

// Largest joint count per pose (Python validates it before any call). Only the part-KCS functors size per-thread
// arrays by it; every other kernel's stack frame is independent of J (GPU local memory is reserved per resident
// thread for the largest frame launched: CI bounds every kernel's frame, cmake/ptxas_frames.py).
constexpr int64_t kMaxJoints = 64;

// Opaque handle passed from Python: 0 on the CPU, a cudaStream_t on CUDA.
struct Stream {
  std::uintptr_t handle = 0;
};

// A tensor's data_ptr() as Python passes it, typed by what the kernel does with the memory, so that a host wrapper
// cannot write through an input (as<T>(In) with a non-const T does not compile) and a signature says which
// arguments are results.
struct In {  // read by the kernel
  std::uintptr_t addr = 0;
};
struct InOrNull {  // read by the kernel, or 0: the kernel reads zeros (an unused output's gradient)
  std::uintptr_t addr = 0;
};
struct Out {  // written by the kernel
  std::uintptr_t addr = 0;
};

template <typename T>
PF_HD T* as(In p) {
  static_assert(std::is_const<T>::value, "an In pointer is read-only: as<const T>(...)");
  return reinterpret_cast<T*>(p.addr);
}
template <typename T>
PF_HD T* as(InOrNull p) {
  static_assert(std::is_const<T>::value, "an InOrNull pointer is read-only: as<const T>(...)");
  return reinterpret_cast<T*>(p.addr);
}
template <typename T>
PF_HD T* as(Out p) {
  return reinterpret_cast<T*>(p.addr);
}

enum DType : int { kFloat32 = 0, kFloat64 = 1 };

// Runs `__VA_ARGS__` with `T` bound to the C++ type of `dtype_code`.
#define POSEFAST_DISPATCH_FLOAT(dtype_code, T, ...)                                        \
  switch (dtype_code) {                                                                   \
    case ::posefast::kFloat32: {                                                          \
      using T = float;                                                                    \
      __VA_ARGS__;                                                                        \
      break;                                                                              \
    }                                                                                     \
    case ::posefast::kFloat64: {                                                          \
      using T = double;                                                                   \
      __VA_ARGS__;                                                                        \
      break;                                                                              \
    }                                                                                     \
    default:                                                                              \
      throw std::invalid_argument("posefast: unsupported dtype code " + std::to_string(dtype_code)); \
  }

// Overloads instead of std:: so the same call resolves on host and device for float and double.
PF_HD float pf_sqrt(float x) { return sqrtf(x); }
PF_HD double pf_sqrt(double x) { return sqrt(x); }
PF_HD float pf_sin(float x) { return sinf(x); }
PF_HD double pf_sin(double x) { return sin(x); }
PF_HD float pf_cos(float x) { return cosf(x); }
PF_HD double pf_cos(double x) { return cos(x); }
PF_HD float pf_abs(float x) { return fabsf(x); }
PF_HD double pf_abs(double x) { return fabs(x); }
PF_HD float pf_exp(float x) { return expf(x); }
PF_HD double pf_exp(double x) { return exp(x); }
PF_HD float pf_atan2(float y, float x) { return atan2f(y, x); }
PF_HD double pf_atan2(double y, double x) { return atan2(y, x); }
template <typename T>
PF_HD T pf_max(T a, T b) { return a > b ? a : b; }
template <typename T>
PF_HD T pf_min(T a, T b) { return a < b ? a : b; }

template <typename T>
struct Vec3 {
  T x, y, z;
};

template <typename T>
PF_HD Vec3<T> load3(const T* p) { return {p[0], p[1], p[2]}; }
template <typename T>
PF_HD void store3(T* p, Vec3<T> v) { p[0] = v.x; p[1] = v.y; p[2] = v.z; }
template <typename T>
PF_HD void accumulate3(T* p, Vec3<T> v) { p[0] += v.x; p[1] += v.y; p[2] += v.z; }
template <typename T>
PF_HD Vec3<T> operator+(Vec3<T> a, Vec3<T> b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
template <typename T>
PF_HD Vec3<T> operator-(Vec3<T> a, Vec3<T> b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
template <typename T>
PF_HD Vec3<T> operator*(T s, Vec3<T> a) { return {s * a.x, s * a.y, s * a.z}; }
template <typename T>
PF_HD Vec3<T>& operator+=(Vec3<T>& a, Vec3<T> b) { a.x += b.x; a.y += b.y; a.z += b.z; return a; }
template <typename T>
PF_HD Vec3<T>& operator-=(Vec3<T>& a, Vec3<T> b) { a.x -= b.x; a.y -= b.y; a.z -= b.z; return a; }
template <typename T>
PF_HD T dot(Vec3<T> a, Vec3<T> b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
template <typename T>
PF_HD Vec3<T> cross(Vec3<T> a, Vec3<T> b) {
  return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
template <typename T>
PF_HD T norm(Vec3<T> a) { return pf_sqrt(dot(a, a)); }

// F.normalize semantics: v / max(|v|, eps). Continuous at zero (a zero vector stays zero, never NaN).
template <typename T>
PF_HD Vec3<T> safe_normalize(Vec3<T> v, T eps, T* inv_len_out) {
  const T inv = T(1) / pf_max(norm(v), eps);
  *inv_len_out = inv;
  return inv * v;
}

// Backward of safe_normalize: for |v| > eps, d(v/|v|) = (g - u<u,g>)/|v|; below eps the map is v/eps (linear).
template <typename T>
PF_HD Vec3<T> safe_normalize_backward(Vec3<T> v, Vec3<T> grad_u, T eps) {
  const T len = norm(v);
  if (len <= eps) return (T(1) / eps) * grad_u;
  const T inv = T(1) / len;
  const Vec3<T> u = inv * v;
  return inv * (grad_u - dot(u, grad_u) * u);
}

}  // namespace posefast
