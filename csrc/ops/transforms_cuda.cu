#include "posefast/launch_cuda.cuh"
#define POSEFAST_BACKEND cuda
#include "ops/transforms.inl"
