#include "posefast/launch_cpu.h"
#define POSEFAST_BACKEND cpu
#include "ops/transforms.inl"
