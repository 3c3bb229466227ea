// Heatmap family host wrappers, written once and compiled per backend: the including file defines
// POSEFAST_BACKEND (cpu or cuda) and has that backend's `launch(stream, n, functor)` in scope.
#include "ops/heatmap.h"
#include "posefast/heatmap.h"

namespace posefast {
namespace POSEFAST_BACKEND {

void render_heatmaps_forward(const Stream& s, int dtype, In keypoints, In visible, Out maps, int64_t M, int64_t H,
                             int64_t W, double sigma, double radius) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, M, RenderHeatmaps<T>{as<const T>(keypoints), as<const uint8_t>(visible),
                                                         as<T>(maps), H, W, T(1.0 / (2.0 * sigma * sigma)),
                                                         T(radius)}));
}

void decode_heatmaps_forward(const Stream& s, int dtype, In maps, Out coords, Out maxvals, int64_t M, int64_t H,
                             int64_t W) {
  POSEFAST_DISPATCH_FLOAT(dtype, T,
                          launch(s, M, DecodeHeatmaps<T>{as<const T>(maps), as<T>(coords), as<T>(maxvals), H, W}));
}

}  // namespace POSEFAST_BACKEND
}  // namespace posefast
