// 2D keypoint heatmaps, one (sample, keypoint) map per work item: Gaussian target rendering and argmax decoding
// with the quarter-pixel refinement of SimpleBaseline (Xiao et al., ECCV 2018), as used by RegDA/UDAPE/DAML.
// Pixel convention: pixel (row y, column x) has its centre at the coordinate (x, y); a keypoint at (x, y) lies on
// that pixel's centre. Coordinates are (x, y) = (column, row) in heatmap pixels.
#pragma once

#include <cstdint>

#include "posefast/common.h"

namespace posefast {

// maps[m, y, x] = exp(-((x - kx)^2 + (y - ky)^2) / (2 sigma^2)) for a visible keypoint, 0 for an invisible one;
// with a finite `radius` the Gaussian is cut to the square |x - kx|, |y - ky| <= radius (SimpleBaseline's patch).
// The Gaussian is separable, so a map costs W + H exponentials: the column factors are first written into row 0
// and every row, row 0 last, is its row factor times them.
template <typename T>
struct RenderHeatmaps {
  const T* keypoints;      // [M, 2] (x, y)
  const uint8_t* visible;  // [M] bool
  T* maps;                 // [M, H, W]
  int64_t H, W;
  T inv_two_sigma2;        // 1 / (2 sigma^2)
  T radius;                // truncation half-width in pixels (inf: none)
  PF_HD T factor(T d) const {
    const T f = pf_abs(d) > radius ? T(0) : pf_exp(-d * d * inv_two_sigma2);
    // Factors below sqrt(smallest normal) become 0: their products would be denormals, which cost a microcode
    // assist per multiply (5x slower rendering at sigma 2, bench/NOTES.md). NaN stays NaN.
    return f < T(sizeof(T) == 4 ? 1.1e-19 : 1.5e-154) ? T(0) : f;
  }
  PF_HD void operator()(int64_t m) const {
    T* out = maps + m * H * W;
    if (!visible[m]) {
      for (int64_t i = 0; i < H * W; ++i) out[i] = T(0);
      return;
    }
    const T kx = keypoints[m * 2], ky = keypoints[m * 2 + 1];
    for (int64_t x = 0; x < W; ++x) out[x] = factor(T(x) - kx);
    for (int64_t y = H - 1; y >= 0; --y) {
      const T gy = factor(T(y) - ky);
      T* row = out + y * W;
      for (int64_t x = 0; x < W; ++x) row[x] = gy * out[x];
    }
  }
};

// coords[m] = argmax pixel (first maximum in row-major order, like torch/numpy argmax), moved by a quarter pixel
// along each axis toward the larger of its two neighbours on that axis (where both neighbours exist);
// maxvals[m] = the maximum. A map containing NaN decodes to NaN coordinates and a NaN maximum.
template <typename T>
struct DecodeHeatmaps {
  const T* maps;  // [M, H, W]
  T* coords;      // [M, 2] (x, y)
  T* maxvals;     // [M]
  int64_t H, W;
  PF_HD void operator()(int64_t m) const {
    const T* h = maps + m * H * W;
    T best = h[0];
    int64_t arg = 0;
    bool nan = !(best == best);
    for (int64_t i = 1; i < H * W; ++i) {
      const T v = h[i];
      nan = nan || !(v == v);
      if (v > best) {
        best = v;
        arg = i;
      }
    }
    if (nan) {
      const T q = T(0) / T(0);
      coords[m * 2] = coords[m * 2 + 1] = maxvals[m] = q;
      return;
    }
    const int64_t px = arg % W, py = arg / W;
    T x = T(px), y = T(py);
    if (px > 0 && px < W - 1) {
      const T d = h[py * W + px + 1] - h[py * W + px - 1];
      x += d > T(0) ? T(0.25) : (d < T(0) ? T(-0.25) : T(0));
    }
    if (py > 0 && py < H - 1) {
      const T d = h[(py + 1) * W + px] - h[(py - 1) * W + px];
      y += d > T(0) ? T(0.25) : (d < T(0) ? T(-0.25) : T(0));
    }
    coords[m * 2] = x;
    coords[m * 2 + 1] = y;
    maxvals[m] = best;
  }
};

}  // namespace posefast
