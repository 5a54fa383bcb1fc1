export { Module } from './module';
export type { StateDict, LoadStateDictResult, ModuleOptions } from './module';
export {
  Linear, LazyLinear, Embedding, LayerNorm, Dropout, ReLU, Tanh, GELU, Sequential, Conv1d, Conv2d, MaxPool2d, AvgPool2d, BatchNorm1d,
  BatchNorm2d, Flatten, Identity, Sigmoid, Softmax, ModuleList, ModuleDict,
} from './layers';
export type {
  LayerSize, PaddingMode, ConvOptions, ConvArgs, MaxPool2dOptions, AvgPool2dOptions, BatchNormOptions, FlattenOptions, ModuleEntries,
} from './layers';
export * as utils from './utils';
export {
  crossEntropy, CrossEntropyLoss, mseLoss, MSELoss, l1Loss, L1Loss, smoothL1Loss, SmoothL1Loss, huberLoss, HuberLoss,
  binaryCrossEntropy, BCELoss, binaryCrossEntropyWithLogits, BCEWithLogitsLoss, nllLoss, NLLLoss,
} from './loss';
export type {
  CrossEntropyOptions, Reduction, RegressionLossOptions, SmoothL1LossOptions, HuberLossOptions, BCELossOptions, BCEWithLogitsLossOptions,
  NLLLossOptions,
} from './loss';
