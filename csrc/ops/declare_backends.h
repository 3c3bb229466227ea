// Declares one op family's host entry points in every backend namespace this build has: the including binding
// file defines POSEFAST_FAMILY_HEADER (e.g. "ops/metrics.h") first. No include guard: once per binding file.
#define POSEFAST_BACKEND cpu
#include POSEFAST_FAMILY_HEADER
#undef POSEFAST_BACKEND
#if defined(POSEFAST_WITH_CUDA)
#define POSEFAST_BACKEND cuda
#include POSEFAST_FAMILY_HEADER
#undef POSEFAST_BACKEND
#endif
#undef POSEFAST_FAMILY_HEADER
