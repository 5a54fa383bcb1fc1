export { Module } from './module';
export type { StateDict, LoadStateDictResult, ModuleOptions } from './module';
export { Linear, LazyLinear, Embedding, LayerNorm, Dropout, ReLU, Tanh, GELU, Sequential } from './layers';
export { crossEntropy, CrossEntropyLoss } from './loss';
export type { CrossEntropyOptions, Reduction } from './loss';
