/**
 * torchbridge: libtorch for Node.js.
 *
 * ```ts
 * import * as torch from 'torchbridge';
 * const x = torch.randn([2, 3], { requiresGrad: true });
 * const y = x.matmul(x.transpose(0, 1)).sum();
 * y.backward();
 * console.log(x.grad!.toString(), torch.memory().liveTensors);
 * ```
 */
export { Tensor, slice } from './core/tensor';
export type { Index, Slice, Scalar, TensorData, NestedArray } from './core/tensor';
export * from './core/creation';
export * from './core/functional';
export * from './core/runtime';
export { tidy, keep, dispose } from './core/scope';
export type { Disposable } from './core/scope';
export * from './core/types';
export { save, load, loadValue, loadSafetensors, loadSafetensorsHeader, saveSafetensors } from './serialization';
export type { StateDict, PickleValue, SafetensorsHeader, SafetensorsTensorInfo, SaveSafetensorsOptions } from './serialization';
export * as nn from './nn';
export * as optim from './optim';
export * as jit from './jit';
export { Trainer } from './trainer/trainer';
export type { StepResult, EvalResult, TrainerOptions } from './trainer/trainer';
export { summarizeProfile } from './trainer/profile-summary';
export type { ProfileEntry } from './trainer/profile-summary';
export { DataLoader, loadArray } from './data/data-loader';
export type { Batch, BatchableDataset, BatchTransform, DataLoaderBaseOptions, DataLoaderOptions, LoaderBatch, LoaderDataset } from './data/data-loader';
export { TensorDataset, Subset, randomSplit, defaultCollate } from './data/dataset';
export type { Dataset, Collated, TensorRow, FromArraysOptions, RandomSplitOptions } from './data/dataset';
export { DistributedSampler } from './data/distributed-sampler';
export { ProcessGroup, initProcessGroup, DEFAULT_TIMEOUT_MS } from './distributed/process-group';
export type { InitProcessGroupOptions, ReduceOp } from './distributed/process-group';
export { distributedEnv, DistributedEnvError } from './distributed/env';
export type { DistributedEnv } from './distributed/env';
export type { Sampler, DistributedSamplerOptions } from './data/distributed-sampler';
