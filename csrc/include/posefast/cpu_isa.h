// Run-time instruction-set dispatch for the CPU kernels that run one SIMD lane per pose (posefast/lanes_*.h).
//
// A distributable build cannot assume more than baseline x86-64 (SSE2), but the lane kernels are 2-3x faster with
// AVX2+FMA or AVX-512. Each lane kernel is instantiated three times inside functions carrying GCC/Clang `target`
// attributes (the kernel's inline code is compiled into each), and the launcher picks one per call from the level
// the CPU supports (cpuid, once) or the level a test forced (posefast._C.set_cpu_isa). Everything that is not
// inlined into those functions stays baseline code, so no instruction beyond SSE2 can run on a CPU without it.
// The levels differ in rounding (the AVX2/AVX-512 code contracts a*b+c into FMAs): results agree to rounding, not
// bit for bit. Non-x86 builds and compilers without the attributes have the baseline level only.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__)
#define POSEFAST_X86_DISPATCH 1
#include <immintrin.h>
// AVX2 + FMA (x86-64-v3's arithmetic) and AVX-512 F/DQ/VL/BW (x86-64-v4's) with 512-bit vectors preferred (GCC
// otherwise keeps AVX-512 code at 256 bits).
#define POSEFAST_TARGET_AVX2 __attribute__((target("avx2,fma")))
#if defined(__clang__)
#define POSEFAST_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
#else
#define POSEFAST_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma,prefer-vector-width=512")))
#endif
#else
#define POSEFAST_X86_DISPATCH 0
#define POSEFAST_TARGET_AVX2
#define POSEFAST_TARGET_AVX512
#endif

#if defined(__GNUC__) || defined(__clang__)
#define POSEFAST_NOINLINE __attribute__((noinline))
#define POSEFAST_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define POSEFAST_NOINLINE
#define POSEFAST_ALWAYS_INLINE inline
#endif

namespace posefast {
namespace isa {

enum Level : int { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };

// Tags that select a lane kernel's instantiation at compile time.
struct Baseline { static constexpr Level level = kBaseline; };
struct Avx2 { static constexpr Level level = kAvx2; };
struct Avx512 { static constexpr Level level = kAvx512; };

inline const char* name(int level) {
  return level == kAvx512 ? "avx512" : level == kAvx2 ? "avx2" : "baseline";
}

// The best level this CPU (and the OS, which must save the wide registers) supports.
inline Level detected() {
#if POSEFAST_X86_DISPATCH
  static const Level level = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
      return kAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kAvx2;
    return kBaseline;
  }();
  return level;
#else
  return kBaseline;
#endif
}

// The level the kernels use: the detected one unless a lower one was forced (tests run every level they can).
inline int& forced_level() {
  static int level = -1;
  return level;
}
inline Level active() {
  const int forced = forced_level();
  return forced >= 0 ? Level(forced) : detected();
}
// Lane kernels off: every functor runs one pose per call, the GPU's per-pose path (tests run it on the CPU).
inline bool& lanes_disabled() {
  static bool off = false;
  return off;
}
// Force a level (-1: back to the detected one). A level above the detected one is refused: it would fault.
inline void force(int level) {
  if (level > int(detected()))
    throw std::invalid_argument(std::string("posefast: this CPU does not support the ") + name(level) +
                                " instruction set (best: " + name(detected()) + ")");
  forced_level() = level < 0 ? -1 : level;
}

}  // namespace isa
}  // namespace posefast
