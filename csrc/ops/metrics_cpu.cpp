#include "posefast/launch_cpu.h"
#include "posefast/lanes_metrics.h"  // the CPU's lane kernels (P-MPJPE, pose_errors), before the wrappers use them
#define POSEFAST_BACKEND cpu
#include "ops/metrics.inl"
