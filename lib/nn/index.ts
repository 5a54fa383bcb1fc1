export { Module } from './module';
export type { StateDict, LoadStateDictResult, ModuleOptions } from './module';
export { Linear, LazyLinear, Embedding, LayerNorm, Dropout, ReLU, Tanh, GELU, Sequential } from './layers';
export {
  crossEntropy, CrossEntropyLoss, mseLoss, MSELoss, l1Loss, L1Loss, smoothL1Loss, SmoothL1Loss, huberLoss, HuberLoss,
  binaryCrossEntropy, BCELoss, binaryCrossEntropyWithLogits, BCEWithLogitsLoss, nllLoss, NLLLoss,
} from './loss';
export type {
  CrossEntropyOptions, Reduction, RegressionLossOptions, SmoothL1LossOptions, HuberLossOptions, BCELossOptions, BCEWithLogitsLossOptions,
  NLLLossOptions,
} from './loss';
