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
export { Tensor, slice } from './tensor';
export type { Index, Slice, Scalar, TensorData, NestedArray } from './tensor';
export * from './creation';
export * from './functional';
export * from './runtime';
export { tidy, keep, dispose } from './scope';
export type { Disposable } from './scope';
export * from './types';
export { save, load, loadValue } from './serialization';
export type { StateDict, PickleValue } from './serialization';
export * as nn from './nn';
export * as optim from './optim';
export * as d2l from './d2l';
export { Trainer } from './trainer';
export type { StepResult, EvalResult } from './trainer';
