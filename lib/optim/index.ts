export { Optimizer } from './optimizer';
export type { ParamGroup, ParamGroupView } from './optimizer';
export { Adam, AdamW, SGD } from './optimizers';
export type { AdamOptions, SGDOptions } from './optimizers';
