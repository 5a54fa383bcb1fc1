export { Optimizer } from './optimizer';
export type { ParamGroup, ParamGroupView } from './optimizer';
export { Adam, AdamW, SGD } from './optimizers';
export type { AdamConstructorOptions, AdamOptions, SGDOptions } from './optimizers';
export { LRScheduler, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, LambdaLR, OneCycleLR } from './lr-scheduler';
export type {
  StateField, StepLROptions, MultiStepLROptions, ExponentialLROptions, CosineAnnealingLROptions, LinearLROptions, LambdaLROptions, LrLambda,
  OneCycleLROptions,
} from './lr-scheduler';
