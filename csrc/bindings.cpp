// The extension module: build facts plus one binding function per op family (csrc/ops/<family>_bind.cpp).
#include <pybind11/pybind11.h>

#include "posefast/common.h"

#if defined(POSEFAST_WITH_OPENMP)
#include <omp.h>
#endif

namespace py = pybind11;

void bind_skeleton(py::module_& m);
void bind_metrics(py::module_& m);
void bind_heatmap(py::module_& m);
void bind_transforms(py::module_& m);

PYBIND11_MODULE(_C, m) {
  m.doc() = "posefast kernels: raw-pointer entry points, validated and wrapped by posefast.ops";

  py::dict info;
  info["version"] = POSEFAST_VERSION;
#if defined(POSEFAST_WITH_CUDA)
  info["cuda"] = true;
  info["cuda_archs"] = POSEFAST_CUDA_ARCHS;
#else
  info["cuda"] = false;
  info["cuda_archs"] = "";
#endif
#if defined(POSEFAST_WITH_OPENMP)
  info["openmp"] = true;
#else
  info["openmp"] = false;
#endif
  info["torch_linked"] = false;
  info["max_joints"] = posefast::kMaxJoints;
  m.attr("BUILD_INFO") = info;

  m.def("set_num_threads", [](int n) {
#if defined(POSEFAST_WITH_OPENMP)
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
  }, "Threads used by the CPU kernels (OpenMP); no-op in builds without OpenMP.");
  m.def("get_num_threads", []() {
#if defined(POSEFAST_WITH_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
  });

  bind_skeleton(m);
  bind_metrics(m);
  bind_heatmap(m);
  bind_transforms(m);
}
