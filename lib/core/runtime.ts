/**
 * Runtime facts and global switches: versions, CUDA, devices, threads, grad mode, memory.
 */
import { describe } from './describe';
import { build, BuildInfo, ops } from '../native';
import { Device } from './types';

/** What is running: libtorch's version, CUDA/cuDNN (null when absent), and the build of the binary. */
export interface VersionInfo {
  /** libtorch's version (from its headers, e.g. '1.13.0'). */
  libtorch: string;
  /** CUDA runtime version libtorch was built with, or null for a CPU-only libtorch. */
  cuda: string | null;
  /** cuDNN version, or null. */
  cudnn: string | null;
  /**
   * The instruction set of torchbridge's own CPU kernels (the Trainer's fused attention, Philox
   * dropout): the widest the CPU has of 'avx512' (AVX-512 F, VL, BW, DQ), 'avx2' (AVX2 and FMA)
   * and 'default' (baseline x86-64), capped by ATEN_CPU_CAPABILITY, the variable that also picks
   * libtorch's kernels ('default' or 'avx2').
   */
  cpuKernels: 'avx512' | 'avx2' | 'default';
  /**
   * The NCCL version of c10d's NCCL backend (`initProcessGroup({ backend: 'nccl' })`), or null
   * where this binary has none: a CPU-only libtorch, libtorch 1.x, or a CUDA libtorch built without
   * CUDA's and NCCL's headers (`node scripts/find-libtorch.js` says which are missing).
   */
  nccl: string | null;
  /** The loaded binary's path and the libtorch it was built against (null fields when unknown). */
  binary: { file: string; builtAgainst: BuildInfo | null };
}

export function version(): VersionInfo {
  const v = ops.version();
  return {
    libtorch: v.libtorch,
    cuda: v.cuda,
    cudnn: v.cudnn,
    cpuKernels: v.cpuKernels,
    nccl: ops.ncclVersion(),
    binary: { file: build.file, builtAgainst: build.info ?? null },
  };
}

/** CUDA queries. */
export const cuda = {
  /** True when libtorch has CUDA and at least one GPU is visible. */
  isAvailable(): boolean {
    return ops.cudaIsAvailable();
  },
  /** The number of visible GPUs (0 without CUDA). */
  deviceCount(): number {
    return ops.cudaDeviceCount();
  },
};

/** d2l's `try_all_gpus`: every GPU ('cuda:0', 'cuda:1', ...), or `['cpu']` when there is none. */
export function devices(): Device[] {
  const n = ops.cudaDeviceCount();
  if (n === 0) return ['cpu'];
  return Array.from({ length: n }, (_, k) => `cuda:${k}` as Device);
}

/**
 * Intra-op threads of CPU kernels. torchbridge starts with one per core (libtorch alone starts
 * with one here); OMP_NUM_THREADS or TORCHBRIDGE_NUM_THREADS choose another default.
 */
export function getNumThreads(): number {
  return ops.getNumThreads();
}
/**
 * Sets the intra-op threads: an integer from 1 to `maxNumThreads()` (4 per core). More threads
 * than that only oversubscribe the cores, and OpenMP runs out of memory starting millions.
 * The setting is the process's: it applies to every worker thread too.
 */
export function setNumThreads(n: number): void {
  const max = maxNumThreads();
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) {
    throw new RangeError(`setNumThreads: the number of threads must be an integer from 1 to ${max} (4 per core), got ${describe(n)}`);
  }
  ops.setNumThreads(n);
}

/** The most intra-op threads `setNumThreads` accepts: 4 per core of this machine. */
export function maxNumThreads(): number {
  return ops.maxNumThreads();
}

/** Native memory held by this thread's live handles (each worker thread counts its own). */
export interface MemoryInfo {
  /** Tensor handles not yet disposed or garbage collected. */
  liveTensors: number;
  /** Bytes of the storages they keep alive (views of one storage count once), all devices. */
  bytes: number;
  /** The CPU part of `bytes` (reported to V8 as external memory). */
  cpuBytes: number;
  /**
   * Bytes of the CPU parameters and buffers of modules that live module handles reach (each
   * storage once), also reported to V8 as external memory, so that dropped modules weigh on
   * the garbage collector as what they hold, not as the few bytes of their JS objects.
   */
  moduleBytes: number;
}
export function memory(): MemoryInfo {
  return ops.memory();
}

/** Whether autograd records operations on the JS thread now. */
export function isGradEnabled(): boolean {
  return ops.isGradEnabled();
}

function withGradMode<R>(enabled: boolean, name: string, fn: () => R): R {
  if (typeof fn !== 'function') throw new TypeError(`${name}(fn): fn must be a function`);
  const previous = ops.setGradEnabled(enabled);
  try {
    const result = fn();
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      throw new TypeError(`${name}(fn): fn returned a Promise; grad mode applies to synchronous code only ` +
        '(it would leak into whatever runs during the await)');
    }
    return result;
  } finally {
    ops.setGradEnabled(previous);
  }
}

/** Runs `fn` (synchronous) with autograd off, as `with torch.no_grad()`. */
export function noGrad<R>(fn: () => R): R {
  return withGradMode(false, 'noGrad', fn);
}
/** Runs `fn` (synchronous) with autograd on, as `with torch.enable_grad()`. */
export function enableGrad<R>(fn: () => R): R {
  return withGradMode(true, 'enableGrad', fn);
}
