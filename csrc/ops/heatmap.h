// Host entry points of the heatmap family. Declared once per backend namespace (cpu, cuda) by the binding file.
// Arguments: stream, dtype code, data pointers (shapes in comments), sizes. All validation is done in Python.
#pragma once

#include "posefast/common.h"

#define POSEFAST_DECLARE_HEATMAP_OPS                                                                        \
  /* keypoints [M,2], visible [M] bool -> maps [M,H,W]; radius = inf for no truncation */                   \
  void render_heatmaps_forward(const Stream&, int dtype, Ptr keypoints, Ptr visible, Ptr maps, int64_t M,   \
                               int64_t H, int64_t W, double sigma, double radius);                          \
  /* maps [M,H,W] -> coords [M,2], maxvals [M] */                                                           \
  void decode_heatmaps_forward(const Stream&, int dtype, Ptr maps, Ptr coords, Ptr maxvals, int64_t M, int64_t H, \
                               int64_t W);
