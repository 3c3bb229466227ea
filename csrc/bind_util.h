// Binding helpers: one Python function per kernel entry point, routed to the CPU or CUDA backend by a device code,
// whose every parameter has a name and is keyword-only, so a pointer cannot land in another argument's slot.
#pragma once

#include <cstdint>
#include <string>

#include <pybind11/pybind11.h>

#include "posefast/common.h"

// The typed data pointers of posefast/common.h (In, InOrNull, Out) come from Python as ints (Tensor.data_ptr()).
namespace pybind11 {
namespace detail {
template <typename Handle>
struct pointer_caster {
  PYBIND11_TYPE_CASTER(Handle, const_name("int"));
  bool load(handle src, bool convert) {
    make_caster<std::uintptr_t> address;
    if (!address.load(src, convert)) return false;
    value.addr = cast_op<std::uintptr_t>(address);
    return true;
  }
};
template <>
struct type_caster<posefast::In> : pointer_caster<posefast::In> {};
template <>
struct type_caster<posefast::InOrNull> : pointer_caster<posefast::InOrNull> {};
template <>
struct type_caster<posefast::Out> : pointer_caster<posefast::Out> {};
}  // namespace detail
}  // namespace pybind11

namespace posefast {

enum Device : int { kCPU = 0, kCUDA = 1 };

// Binds `name(*, device, stream, dtype, <names>...)`: every entry point is (const Stream&, int dtype, ...), and
// `names` are its parameters after dtype, as declared in csrc/ops/<family>.h (tests/test_kernel_bindings.py checks
// that they match). The GIL is released while the kernel runs so Python threads (data loading, other ops) keep
// going.
template <typename... Args, typename... Names>
void bind_op(pybind11::module_& m, const char* name, void (*cpu_fn)(const Stream&, int, Args...),
             void (*cuda_fn)(const Stream&, int, Args...), Names... names) {
  static_assert(sizeof...(Names) == sizeof...(Args), "bind_op: give one name for every parameter after dtype");
  m.def(
      name,
      [cpu_fn, cuda_fn, name](int device, std::uintptr_t stream, int dtype, Args... args) {
        if (device == kCPU) {
          pybind11::gil_scoped_release nogil;
          cpu_fn(Stream{0}, dtype, args...);
        } else if (device == kCUDA) {
          if (cuda_fn == nullptr)
            throw std::runtime_error(std::string("posefast.") + name + ": this build has no CUDA backend");
          pybind11::gil_scoped_release nogil;
          cuda_fn(Stream{stream}, dtype, args...);
        } else {
          throw std::invalid_argument(std::string("posefast.") + name + ": unknown device code " +
                                      std::to_string(device));
        }
      },
      pybind11::kw_only(), pybind11::arg("device"), pybind11::arg("stream"), pybind11::arg("dtype"),
      pybind11::arg(names)...);
}

}  // namespace posefast

#if defined(POSEFAST_WITH_CUDA)
#define POSEFAST_BIND(m, name, ...) \
  ::posefast::bind_op(m, #name, &::posefast::cpu::name, &::posefast::cuda::name, __VA_ARGS__)
#else
#define POSEFAST_BIND(m, name, ...)                                                                        \
  ::posefast::bind_op(m, #name, &::posefast::cpu::name, static_cast<decltype(&::posefast::cpu::name)>(nullptr), \
                      __VA_ARGS__)
#endif
