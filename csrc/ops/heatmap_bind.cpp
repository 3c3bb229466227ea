// Binds the heatmap family by parameter name: csrc/ops/heatmap.h declares the entry points, POSEFAST_BIND lists
// their parameter names after dtype, in order (tests/test_kernel_bindings.py checks them against the header).
#include "bind_util.h"

#define POSEFAST_FAMILY_HEADER "ops/heatmap.h"
#include "ops/declare_backends.h"

void bind_heatmap(pybind11::module_& m) {
  POSEFAST_BIND(m, render_heatmaps_forward, "keypoints", "visible", "maps", "M", "H", "W", "sigma", "radius");
  POSEFAST_BIND(m, decode_heatmaps_forward, "maps", "coords", "maxvals", "M", "H", "W");
}
