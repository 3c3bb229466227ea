// The extension module: build facts plus one binding function per op family (csrc/ops/<family>_bind.cpp).
#include <pybind11/pybind11.h>

#include "posefast/common.h"
#include "posefast/cpu_isa.h"

#if defined(POSEFAST_WITH_OPENMP)
#include <omp.h>
#endif

namespace py = pybind11;

void bind_skeleton(py::module_& m);
void bind_metrics(py::module_& m);
void bind_heatmap(py::module_& m);
void bind_transforms(py::module_& m);

#if defined(POSEFAST_WITH_CUDA)
namespace posefast {
namespace cuda {  // csrc/ops/runtime_cuda.cu
int runtime_version();
int driver_version();
void set_sync_after_launch(bool on);
}  // namespace cuda
}  // namespace posefast
#endif

PYBIND11_MODULE(_C, m) {
  m.doc() = "posefast kernels: raw-pointer entry points, validated and wrapped by posefast.ops";

  py::dict info;
  info["version"] = POSEFAST_VERSION;
#if defined(POSEFAST_WITH_CUDA)
  info["cuda"] = true;
  info["cuda_archs"] = POSEFAST_CUDA_ARCHS;
  const int runtime = posefast::cuda::runtime_version();
  info["cuda_runtime"] = std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10);
  info["cuda_runtime_linkage"] = POSEFAST_CUDA_RUNTIME_LINKAGE;
#else
  info["cuda"] = false;
  info["cuda_archs"] = "";
  info["cuda_runtime"] = "";
  info["cuda_runtime_linkage"] = "";
#endif
#if defined(POSEFAST_HOST_DEVICE_BRANCHES)
  info["device_branches_on_host"] = true;  // test build: the CPU backend runs the __CUDA_ARCH__ branches, with FMA
#else
  info["device_branches_on_host"] = false;
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

#if defined(POSEFAST_WITH_CUDA)
  m.def("cuda_driver_version", &posefast::cuda::driver_version,
        "CUDA version the installed driver supports (e.g. 12040 for 12.4), 0 without a driver.");
  m.def("set_cuda_sync", &posefast::cuda::set_sync_after_launch,
        "Wait for every kernel after its launch (POSEFAST_CUDA_SYNC=1) so faults are reported by their own op.");
#endif

  // Instruction-set level of the CPU lane kernels (posefast/cpu_isa.h): detected once, lowerable for tests.
  m.def("cpu_isa", []() {
    return std::string(posefast::isa::lanes_disabled() ? "per_pose" : posefast::isa::name(posefast::isa::active()));
  }, "Instruction set the CPU lane kernels use now: 'avx512', 'avx2', 'baseline', or 'per_pose' (lane kernels off).");
  m.def("cpu_isa_levels", []() {
    py::list out;
    for (int level = 0; level <= int(posefast::isa::detected()); ++level) out.append(posefast::isa::name(level));
    return out;
  }, "Instruction sets this CPU can run the lane kernels with, lowest first.");
  m.def("set_cpu_isa", [](const std::string& name) {
    int level = name == "auto" || name == "per_pose" ? -1 : -2;
    for (int l = 0; l <= posefast::isa::kAvx512; ++l)
      if (name == posefast::isa::name(l)) level = l;
    if (level == -2)
      throw std::invalid_argument("posefast.set_cpu_isa: expected 'auto', 'per_pose', 'baseline', 'avx2' or 'avx512', "
                                  "got '" + name + "'");
    posefast::isa::force(level);  // refuses a level this CPU lacks, before anything changes
    posefast::isa::lanes_disabled() = name == "per_pose";
  }, "Force the CPU lane kernels' instruction set, or 'per_pose' (one pose per call: the GPU's code path) for tests; "
     "'auto' restores the detected one.");

  bind_skeleton(m);
  bind_metrics(m);
  bind_heatmap(m);
  bind_transforms(m);
}
