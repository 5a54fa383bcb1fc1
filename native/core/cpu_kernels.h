// Which instruction set torchbridge's own CPU kernels (the fused attention's item loops, the
// Philox dropout noise) run. The addon is built for baseline x86-64, where vector code is 4-wide
// SSE2; hot loops are also compiled for AVX2 + FMA and for AVX-512 (`#pragma GCC target`) and
// picked at run time, as libtorch picks its kernels: the widest the CPU has, capped by
// ATEN_CPU_CAPABILITY (libtorch's own switch, read the same way): 'default' runs the baseline
// code, 'avx2' at most AVX2, anything else (or unset) the widest.
#pragma once

#include <cstdlib>
#include <cstring>

// GCC on x86-64 compiles the AVX2 and AVX-512 variants (clang lacks `#pragma GCC target`).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define TB_X86_TARGET_CLONES 1
#else
#define TB_X86_TARGET_CLONES 0
#endif

// The variants' code regions: TB_TARGET_AVX2 or TB_TARGET_AVX512 ... TB_TARGET_END around the
// variant's definitions (AVX-512: the F, VL, BW and DQ subsets libtorch's AVX512 capability
// needs, 512-bit vectors preferred). _Pragma, because `#pragma GCC target` expands no macros.
#define TB_TARGET_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define TB_TARGET_AVX512 \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,avx512f,avx512vl,avx512bw,avx512dq,prefer-vector-width=512\")")
#define TB_TARGET_END _Pragma("GCC pop_options")

namespace tb {

enum class CpuKernels { Default, Avx2, Avx512 };

inline CpuKernels cpuKernels() {
#if TB_X86_TARGET_CLONES
  static const CpuKernels chosen = [] {
    const char* requested = std::getenv("ATEN_CPU_CAPABILITY");
    if (requested != nullptr && std::strcmp(requested, "default") == 0) return CpuKernels::Default;
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    if (avx512 && !(requested != nullptr && std::strcmp(requested, "avx2") == 0)) return CpuKernels::Avx512;
    return avx2 ? CpuKernels::Avx2 : CpuKernels::Default;
  }();
  return chosen;
#else
  return CpuKernels::Default;
#endif
}

// 'avx512', 'avx2' or 'default', as version() reports it.
inline const char* cpuKernelsName() {
  switch (cpuKernels()) {
    case CpuKernels::Avx512: return "avx512";
    case CpuKernels::Avx2: return "avx2";
    default: return "default";
  }
}

}  // namespace tb
