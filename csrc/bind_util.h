// Binding helper: one Python function per op that routes to the CPU or CUDA entry point by a device code.
#pragma once

#include <pybind11/pybind11.h>

#include "posefast/common.h"

namespace posefast {

enum Device : int { kCPU = 0, kCUDA = 1 };

// Python calls op(device, stream, *args). The GIL is released while the kernel runs so Python threads
// (data loading, other ops) keep going.
template <typename... Args>
void bind_op(pybind11::module_& m, const char* name, void (*cpu_fn)(const Stream&, Args...),
             void (*cuda_fn)(const Stream&, Args...)) {
  m.def(name, [cpu_fn, cuda_fn, name](int device, std::uintptr_t stream, Args... args) {
    if (device == kCPU) {
      pybind11::gil_scoped_release nogil;
      cpu_fn(Stream{0}, args...);
    } else if (device == kCUDA) {
      if (cuda_fn == nullptr)
        throw std::runtime_error(std::string("posefast.") + name + ": this build has no CUDA backend");
      pybind11::gil_scoped_release nogil;
      cuda_fn(Stream{stream}, args...);
    } else {
      throw std::invalid_argument(std::string("posefast.") + name + ": unknown device code " + std::to_string(device));
    }
  });
}

}  // namespace posefast

#if defined(POSEFAST_WITH_CUDA)
#define POSEFAST_BIND(m, name) ::posefast::bind_op(m, #name, &::posefast::cpu::name, &::posefast::cuda::name)
#else
#define POSEFAST_BIND(m, name) \
  ::posefast::bind_op(m, #name, &::posefast::cpu::name, static_cast<decltype(&::posefast::cpu::name)>(nullptr))
#endif

// Declares a family's entry points in both backend namespaces (the cuda ones only exist in CUDA builds).
#if defined(POSEFAST_WITH_CUDA)
#define POSEFAST_DECLARE_BACKENDS(DECL) \
  namespace posefast {                  \
  namespace cpu { DECL }                \
  namespace cuda { DECL }               \
  }
#else
#define POSEFAST_DECLARE_BACKENDS(DECL) \
  namespace posefast {                  \
  namespace cpu { DECL }                \
  }
#endif
