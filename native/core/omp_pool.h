// The OpenMP thread team of the calling thread, released (OpenMP 5's omp_pause_resource_all).
//
// Why: libgomp (the OpenMP of Debian's libtorch and of PyTorch's wheels) gives every OS thread
// that runs a parallel region a team of its own, kept after the region. A Trainer steps on its own
// thread, so once the JS thread has also run a parallel op (building a dataset, say), two teams
// exist, their threads outnumber the cores, and libgomp then throttles its spin-wait from 300,000
// rounds to 100: between the many small parallel regions of a step, every helper thread sleeps
// and is woken through a futex. Measured here (torch 2.11, 2 cores): 6,700 context switches a
// second instead of 160, and bert.small steps 30% slower. PyTorch, whose ops all run on Python's
// one thread, has one team. So the JS thread gives its team back before each Trainer step; its
// next parallel op makes a new one (a thread start, microseconds).
//
// The symbol is weak: resolved from the OpenMP runtime libtorch loads (libgomp, or LLVM's libomp,
// which has it too), and a no-op where there is none.
#pragma once

extern "C" int omp_pause_resource_all(int kind) __attribute__((weak));
extern "C" int omp_in_parallel(void) __attribute__((weak));

namespace tb {

inline void releaseOmpTeamOfThisThread() {
  constexpr int kOmpPauseSoft = 1;  // omp_pause_soft: threads end, settings stay
  if (omp_pause_resource_all == nullptr || (omp_in_parallel != nullptr && omp_in_parallel())) return;
  omp_pause_resource_all(kOmpPauseSoft);
}

}  // namespace tb
