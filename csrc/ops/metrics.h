// Host entry points of the 3D metrics family. Declared once per backend namespace (cpu, cuda) by the binding file.
// Arguments: stream, dtype code, data pointers (shapes in comments), sizes. All validation is done in Python.
#pragma once

#include "posefast/common.h"

#define POSEFAST_DECLARE_METRICS_OPS                                                                        \
  /* pred, target [N,J,3] -> err [N]; root < 0: no root shift */                                            \
  void mpjpe_forward(const Stream&, int dtype, Ptr pred, Ptr target, Ptr err, int64_t N, int64_t J, int64_t root); \
  /* grad_err [N], pred, target [N,J,3] -> grad_pred, grad_target [N,J,3] */                                \
  void mpjpe_backward(const Stream&, int dtype, Ptr grad_err, Ptr pred, Ptr target, Ptr grad_pred,          \
                      Ptr grad_target, int64_t N, int64_t J, int64_t root);                                 \
  /* pred, target [N,J,3] -> err [N] */                                                                     \
  void n_mpjpe_forward(const Stream&, int dtype, Ptr pred, Ptr target, Ptr err, int64_t N, int64_t J);      \
  /* grad_err [N], pred, target [N,J,3] -> grad_pred, grad_target [N,J,3] */                                \
  void n_mpjpe_backward(const Stream&, int dtype, Ptr grad_err, Ptr pred, Ptr target, Ptr grad_pred,        \
                        Ptr grad_target, int64_t N, int64_t J);                                             \
  /* pred, target [N,J,3] -> err [N] */                                                                     \
  void p_mpjpe_forward(const Stream&, int dtype, Ptr pred, Ptr target, Ptr err, int64_t N, int64_t J);      \
  /* grad_err [N], pred, target [N,J,3] -> grad_pred, grad_target [N,J,3] */                                \
  void p_mpjpe_backward(const Stream&, int dtype, Ptr grad_err, Ptr pred, Ptr target, Ptr grad_pred,        \
                        Ptr grad_target, int64_t N, int64_t J);                                             \
  /* pred, target [N,J,3] -> aligned [N,J,3], scale [N], rotation [N,3,3], translation [N,3] */             \
  void procrustes_align_forward(const Stream&, int dtype, Ptr pred, Ptr target, Ptr aligned, Ptr scale,     \
                                Ptr rotation, Ptr translation, int64_t N, int64_t J);                       \
  /* grad_aligned [N,J,3], grad_scale [N], grad_rotation [N,3,3], grad_translation [N,3], pred, target      \
     [N,J,3] -> grad_pred, grad_target [N,J,3] */                                                           \
  void procrustes_align_backward(const Stream&, int dtype, Ptr grad_aligned, Ptr grad_scale, Ptr grad_rotation, \
                                 Ptr grad_translation, Ptr pred, Ptr target, Ptr grad_pred, Ptr grad_target, \
                                 int64_t N, int64_t J);                                                     \
  /* pred, target [N,J,3], joints [Je] int64, thresholds [K] float64 ascending (mm) -> mpjpe [N], p_mpjpe [N],        \
     joint_err [N,Je], hits [N,K] */                                                                        \
  void pose_errors_forward(const Stream&, int dtype, Ptr pred, Ptr target, Ptr joints, Ptr thresholds,      \
                           Ptr mpjpe, Ptr p_mpjpe, Ptr joint_err, Ptr hits, int64_t N, int64_t J, int64_t Je, \
                           int64_t K, int64_t root, double to_mm);
