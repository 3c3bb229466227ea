#include "bind_util.h"
#include "ops/heatmap.h"

POSEFAST_DECLARE_BACKENDS(POSEFAST_DECLARE_HEATMAP_OPS)

void bind_heatmap(pybind11::module_& m) {
  POSEFAST_BIND(m, render_heatmaps_forward);
  POSEFAST_BIND(m, decode_heatmaps_forward);
}
