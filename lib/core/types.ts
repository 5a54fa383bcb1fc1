/** Element types, named as in PyTorch without the `torch.` prefix. */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'uint8' | 'bool';

/** `'cpu'`, `'cuda'` (the current GPU) or `'cuda:N'`. */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

/** Where a new tensor lives and what it holds. */
export interface TensorOptions {
  /** Element type; factory functions default to float32 (integer ones such as randint to int64). */
  dtype?: DType;
  /** Defaults to 'cpu'. */
  device?: Device;
  /** Record operations on this tensor for autograd (floating point dtypes only). Default false. */
  requiresGrad?: boolean;
}

/** A shape: the size of each dimension. */
export type Shape = readonly number[];

/** Every dtype name, in a stable order. */
export const DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'uint8', 'bool'];

/** True for float32, float64, float16 and bfloat16. */
export function isFloatingPoint(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}
