// Which instruction set torchbridge's own CPU kernels (the fused attention's item loops) run.
// The addon is built for baseline x86-64, where vector code is 4-wide SSE2; hot loops are also
// compiled for AVX2 + FMA (`#pragma GCC target`) and picked at run time, as libtorch picks its
// kernels: AVX2 when the CPU has AVX2 and FMA, unless ATEN_CPU_CAPABILITY (libtorch's own
// switch) says 'default', which makes both libtorch and torchbridge run their baseline code.
#pragma once

#include <cstdlib>
#include <cstring>

// GCC on x86-64 compiles the AVX2 variants (clang lacks `#pragma GCC target`).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define TB_X86_TARGET_CLONES 1
#else
#define TB_X86_TARGET_CLONES 0
#endif

namespace tb {

inline bool useAvx2Kernels() {
#if TB_X86_TARGET_CLONES
  static const bool use = [] {
    const char* requested = std::getenv("ATEN_CPU_CAPABILITY");
    if (requested != nullptr && std::strcmp(requested, "default") == 0) return false;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return use;
#else
  return false;
#endif
}

// 'avx2' or 'default', as version() reports it.
inline const char* cpuKernelsName() { return useAvx2Kernels() ? "avx2" : "default"; }

}  // namespace tb
