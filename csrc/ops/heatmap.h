// Host entry points of the heatmap family, declared once per backend: the including file defines POSEFAST_BACKEND
// (cpu or cuda) first (csrc/ops/heatmap.inl defines them, csrc/ops/heatmap_bind.cpp binds them by these names).
// Stream, dtype code (0 float32, 1 float64), data pointers (In = read, Out = written; shapes in the comments,
// row-major and contiguous), sizes and scalars. All validation is done in Python (posefast/ops/heatmap.py).
// No include guard: included once per backend namespace.

#include "posefast/common.h"

namespace posefast {
namespace POSEFAST_BACKEND {

void render_heatmaps_forward(const Stream& stream, int dtype,
                             In keypoints,  // [M, 2] (x, y) in heatmap pixels
                             In visible,    // [M] bool
                             Out maps,      // [M, H, W]
                             int64_t M, int64_t H, int64_t W,
                             double sigma,    // Gaussian std (pixels)
                             double radius);  // half-width of the drawn square (pixels); inf: untruncated

void decode_heatmaps_forward(const Stream& stream, int dtype,
                             In maps,       // [M, H, W]
                             Out coords,    // [M, 2] (x, y)
                             Out maxvals,   // [M]
                             int64_t M, int64_t H, int64_t W);

}  // namespace POSEFAST_BACKEND
}  // namespace posefast
