/**
 * The values of a `torch.save` file, independent of how they are encoded. Python's None, bool,
 * int, float, str, bytes, list and tuple (both arrays), dict and OrderedDict (Maps, in insertion
 * order) map to JS values; tensors are `TensorSpec`s while encoded (a strided view of a storage
 * named by a persistent id, as `torch._utils._rebuild_tensor_v2` takes them) and `Tensor`s once
 * loaded. The pickle reader produces these, the pickle writer consumes them, and the loader and
 * saver turn them into and out of Tensors.
 */
import type { Tensor } from '../core/tensor';
import { DType } from '../core/types';

/** A pickled value whose tensors are `Leaf`s. Python ints beyond 2^53 are bigints. */
export type PickleTree<Leaf> =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Leaf
  | PickleTree<Leaf>[]
  | Map<string | number, PickleTree<Leaf>>;

/** A state dict: parameter and buffer names to tensors, in order (as PyTorch's OrderedDict). */
export type StateDict = Map<string, Tensor>;

/**
 * Any value `loadValue()` reads and `save()` writes: None is null, bool boolean, int a number
 * (a bigint beyond 2^53), float a number, str a string, bytes a Uint8Array, list and tuple an
 * array, dict and OrderedDict a Map (str or int keys), and tensors Tensors.
 */
export type PickleValue = PickleTree<Tensor>;

/** A typed storage class of PyTorch's pickles: `torch.<name>` holds elements of `dtype`. */
export interface StorageClass {
  /** The class name inside the `torch` module, e.g. 'FloatStorage'. */
  readonly name: string;
  readonly dtype: DType;
  /** Bytes per element. */
  readonly itemSize: number;
}

const STORAGE_CLASSES: readonly StorageClass[] = [
  { name: 'FloatStorage', dtype: 'float32', itemSize: 4 },
  { name: 'DoubleStorage', dtype: 'float64', itemSize: 8 },
  { name: 'HalfStorage', dtype: 'float16', itemSize: 2 },
  { name: 'BFloat16Storage', dtype: 'bfloat16', itemSize: 2 },
  { name: 'LongStorage', dtype: 'int64', itemSize: 8 },
  { name: 'IntStorage', dtype: 'int32', itemSize: 4 },
  { name: 'ByteStorage', dtype: 'uint8', itemSize: 1 },
  { name: 'BoolStorage', dtype: 'bool', itemSize: 1 },
];

// PyTorch storage classes of dtypes torchbridge has no tensors for, named in error messages.
const UNSUPPORTED_STORAGE_DTYPES: Readonly<Record<string, string>> = {
  CharStorage: 'int8',
  ShortStorage: 'int16',
  ComplexFloatStorage: 'complex64',
  ComplexDoubleStorage: 'complex128',
  QInt8Storage: 'qint8',
  QUInt8Storage: 'quint8',
  QInt32Storage: 'qint32',
  UntypedStorage: 'untyped bytes',
};

/** The storage class `torch.<name>`, or undefined when `name` is not one torchbridge reads. */
export function storageClassNamed(name: string): StorageClass | undefined {
  return STORAGE_CLASSES.find((c) => c.name === name);
}

/** Why `torch.<name>` cannot be read, or undefined when it is not a storage class at all. */
export function unsupportedStorageReason(name: string): string | undefined {
  const dtype = UNSUPPORTED_STORAGE_DTYPES[name];
  if (dtype === undefined) return undefined;
  return `tensors of dtype ${dtype} (torch.${name}) are not supported; torchbridge reads ` +
    STORAGE_CLASSES.map((c) => c.dtype).join(', ');
}

/** The storage class that holds `dtype`. */
export function storageClassOf(dtype: DType): StorageClass {
  const found = STORAGE_CLASSES.find((c) => c.dtype === dtype);
  if (found === undefined) throw new TypeError(`no torch storage class holds dtype ${dtype}`);
  return found;
}

/**
 * A storage as the pickle's persistent id names it: `('storage', torch.<Class>, key, location,
 * numel)`. Its bytes are the archive record `<prefix>/data/<key>`.
 */
export interface StorageRef {
  readonly kind: 'storage';
  readonly key: string;
  readonly storageClass: StorageClass;
  /** Elements (of the storage class's dtype) in the storage. */
  readonly numel: number;
  /** The device it was saved from ('cpu', 'cuda:0', ...); loading always yields CPU tensors. */
  readonly location: string;
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. */
export interface TensorSpec {
  readonly kind: 'tensor';
  readonly storage: StorageRef;
  /** Offset of the first element, in elements. */
  readonly offset: number;
  readonly size: readonly number[];
  readonly stride: readonly number[];
  readonly requiresGrad: boolean;
}

/** Row-major strides of a contiguous tensor of `size`. */
export function contiguousStrides(size: readonly number[]): number[] {
  const stride = new Array<number>(size.length);
  let step = 1;
  for (let d = size.length - 1; d >= 0; --d) {
    stride[d] = step;
    step *= Math.max(size[d], 1);
  }
  return stride;
}

/** Storage elements a view needs: one past its furthest element (0 for an empty view). */
export function elementsSpanned(spec: Pick<TensorSpec, 'offset' | 'size' | 'stride'>): number {
  let last = spec.offset;
  for (let d = 0; d < spec.size.length; ++d) {
    if (spec.size[d] === 0) return 0;
    last += (spec.size[d] - 1) * spec.stride[d];
  }
  return last + 1;
}
