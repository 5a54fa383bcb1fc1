/**
 * A pickle reader for the subset `torch.save` emits (protocols 2 to 5): containers, scalars,
 * strings, bytes, and tensors rebuilt from persistent storage ids. It never executes anything:
 * the only globals it accepts are a fixed table (OrderedDict, Counter (as a dict), torch's tensor and parameter
 * rebuild functions, the storage classes, bytes); any other global or opcode is an error that
 * names it.
 */
import { OP, opcodeOf } from './pickle-opcodes';
import {
  PickleTree,
  StorageClass,
  StorageRef,
  TensorSpec,
  storageClassNamed,
  unsupportedStorageReason,
} from './values';

/** The reader's refusal of an opcode outside the subset: its message names the byte, not an opcode it handles. */
class UnsupportedOpcodeError extends Error {}

const HIGHEST_PROTOCOL = 5;

/** A global the table knows: callable ones build values, storage classes only name a dtype. */
interface PyGlobal {
  readonly kind: 'global';
  readonly qualifiedName: string;
  readonly call?: (args: Item[], reader: Unpickler) => Item;
  readonly storageClass?: StorageClass;
}

type PyDict = Map<string | number, Item>;

/** Anything on the unpickler's stack: pickle values plus globals and bare storages. */
type Item = null | boolean | number | bigint | string | Uint8Array | TensorSpec | StorageRef | PyGlobal | Item[] | PyDict;

function isRecord(item: Item): item is TensorSpec | StorageRef | PyGlobal {
  return typeof item === 'object' && item !== null && !Array.isArray(item) && !(item instanceof Map) &&
    !(item instanceof Uint8Array);
}

function describe(item: Item): string {
  if (item === null) return 'None';
  if (Array.isArray(item)) return 'a list or tuple';
  if (item instanceof Map) return 'a dict';
  if (item instanceof Uint8Array) return 'bytes';
  if (isRecord(item)) {
    if (item.kind === 'global') return `the global ${item.qualifiedName}`;
    return item.kind === 'tensor' ? 'a tensor' : 'a storage';
  }
  if (typeof item === 'string') return 'a str';
  if (typeof item === 'boolean') return 'a bool';
  return typeof item === 'number' && !Number.isInteger(item) ? 'a float' : 'an int';
}

// ---- the globals table --------------------------------------------------------------------

function expectArgs(name: string, args: Item[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    const wanted = min === max ? `${min}` : `${min} to ${max}`;
    throw new Error(`${name} takes ${wanted} arguments, the pickle passes ${args.length}`);
  }
}

function nonNegativeInteger(item: Item, what: string): number {
  if (typeof item === 'bigint' || (typeof item === 'number' && Number.isInteger(item) && item < 0)) {
    throw new Error(`${what} must be a non-negative int below 2^53, got ${item}`);
  }
  if (typeof item !== 'number' || !Number.isInteger(item)) {
    throw new Error(`${what} must be a non-negative int, got ${describe(item)}`);
  }
  return item;
}

function integerList(item: Item, what: string): number[] {
  if (!Array.isArray(item)) throw new Error(`${what} must be a tuple of ints, got ${describe(item)}`);
  return item.map((v, k) => nonNegativeInteger(v, `${what}[${k}]`));
}

function tensorArgument(item: Item, what: string): TensorSpec {
  if (!isRecord(item) || item.kind !== 'tensor') throw new Error(`${what} must be a tensor, got ${describe(item)}`);
  return item;
}

function booleanArgument(item: Item, what: string): boolean {
  if (typeof item !== 'boolean') throw new Error(`${what} must be a bool, got ${describe(item)}`);
  return item;
}

// Python's truth value of a pickled item: None, False, zero, and empty strs, bytes and containers
// are false.
function pythonFalsy(item: Item): boolean {
  if (item === null || item === false || item === 0 || item === 0n || item === '') return true;
  if (Array.isArray(item) || item instanceof Uint8Array) return item.length === 0;
  if (item instanceof Map) return item.size === 0;
  return false;
}

// The `metadata` of _rebuild_tensor_v2 as PyTorch 2.x reads it (torch/_utils.py: `if metadata:
// set_tensor_metadata(tensor, metadata)`): a false value is ignored, anything else must be a
// dict of str to bool (pybind's Mapping[str, bool]) whose `neg` and `conj` keys set a tensor's
// negative and conjugate bits. `conj` applies to complex tensors only (PyTorch fails its internal
// assert on others), and no storage class read here is complex; the negative bit is refused
// because a view of shared storage cannot carry it here. Other keys are ignored, as in PyTorch.
function checkTensorMetadata(name: string, metadata: Item): void {
  if (pythonFalsy(metadata)) return;
  if (!(metadata instanceof Map)) throw new Error(`${name}: metadata (the 7th argument) must be a dict or None, got ${describe(metadata)}`);
  for (const [key, value] of metadata) {
    if (typeof key !== 'string') throw new Error(`${name}: metadata keys must be strs, got ${describe(key)}`);
    if (value !== null && typeof value !== 'boolean' && typeof value !== 'number' && typeof value !== 'bigint') {
      throw new Error(`${name}: metadata['${key}'] must be a bool, got ${describe(value)}`);
    }
  }
  if (metadata.has('conj')) {
    throw new Error(`${name}: metadata sets the conjugate bit ('conj'), which only complex tensors have; this storage is not complex`);
  }
  if (!pythonFalsy(metadata.get('neg') ?? null)) {
    throw new Error(`${name}: metadata sets the negative bit ('neg'): torchbridge does not read tensors saved as negated views ` +
      '(save t.resolve_neg() in Python instead)');
  }
}

// torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
// backward_hooks[, metadata]): the hooks are never saved with content (PyTorch accepts any object
// there) and the metadata, a 7th argument since PyTorch 2.0, is checked as 2.x checks it.
function rebuildTensor(args: Item[]): TensorSpec {
  const name = 'torch._utils._rebuild_tensor_v2';
  expectArgs(name, args, 6, 7);
  if (args.length === 7) checkTensorMetadata(name, args[6]);
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!isRecord(storage) || storage.kind !== 'storage') throw new Error(`${name}: the storage must be a persistent storage id, got ${describe(storage)}`);
  const sizes = integerList(size, `${name}: size`);
  const strides = integerList(stride, `${name}: stride`);
  if (sizes.length !== strides.length) throw new Error(`${name}: size has ${sizes.length} dims but stride has ${strides.length}`);
  // Stride-0 views of a small storage may be huge, but not beyond what an element count can hold.
  const numel = sizes.reduce((a, b) => a * b, 1);
  if (numel > Number.MAX_SAFE_INTEGER) throw new Error(`${name}: size [${sizes.join(', ')}] has ${numel} elements, more than 2^53`);
  return {
    kind: 'tensor',
    storage,
    offset: nonNegativeInteger(offset, `${name}: storage_offset`),
    size: sizes,
    stride: strides,
    requiresGrad: booleanArgument(requiresGrad, `${name}: requires_grad`),
  };
}

// torch._utils._rebuild_parameter(data, requires_grad, backward_hooks), and the
// `_with_state` form newer PyTorch uses for Parameters carrying Python attributes (dropped).
function rebuildParameter(name: string, arity: number): (args: Item[]) => TensorSpec {
  return (args) => {
    expectArgs(name, args, arity);
    const data = tensorArgument(args[0], `${name}: data`);
    return { ...data, requiresGrad: booleanArgument(args[1], `${name}: requires_grad`) };
  };
}

// How Python 3 pickles bytes under protocol 2: _codecs.encode(str, 'latin1'), or bytes() when empty.
function encodeBytes(args: Item[]): Uint8Array {
  expectArgs('_codecs.encode', args, 2);
  const [text, encoding] = args;
  if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
    throw new Error(`_codecs.encode is read only as encode(str, 'latin1'), got encode(${describe(text)}, ${describe(encoding)})`);
  }
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

function emptyBytes(args: Item[]): Uint8Array {
  expectArgs('bytes', args, 0);
  return new Uint8Array(0);
}

const CALLABLES: Readonly<Record<string, (args: Item[], reader: Unpickler) => Item>> = {
  'collections.OrderedDict': (args, reader) => {
    expectArgs('collections.OrderedDict', args, 0);
    return reader.newOrderedDict();
  },
  // Counter(dict): a dict of counts (MultiStepLR's milestones); read as a plain dict
  'collections.Counter': (args) => {
    expectArgs('collections.Counter', args, 0, 1);
    if (args.length === 0) return new Map() as PyDict;
    if (!(args[0] instanceof Map)) throw new Error(`collections.Counter is read only from a dict of counts, got ${describe(args[0])}`);
    return new Map(args[0] as PyDict);
  },
  'torch._utils._rebuild_tensor_v2': rebuildTensor,
  'torch._utils._rebuild_parameter': rebuildParameter('torch._utils._rebuild_parameter', 3),
  'torch._utils._rebuild_parameter_with_state': rebuildParameter('torch._utils._rebuild_parameter_with_state', 4),
  '_codecs.encode': encodeBytes,
  // Protocol 2 writes Python 3's `builtins` as Python 2's `__builtin__`.
  'builtins.bytes': emptyBytes,
  '__builtin__.bytes': emptyBytes,
};

function resolveGlobal(module: string, name: string): PyGlobal {
  const qualifiedName = `${module}.${name}`;
  const call = CALLABLES[qualifiedName];
  if (call !== undefined) return { kind: 'global', qualifiedName, call };
  if (module === 'torch') {
    const storageClass = storageClassNamed(name);
    if (storageClass !== undefined) return { kind: 'global', qualifiedName, storageClass };
    const reason = unsupportedStorageReason(name);
    if (reason !== undefined) throw new Error(reason);
  }
  throw new Error(`unsupported global ${qualifiedName}: torchbridge reads tensors, dicts, lists, tuples, numbers, ` +
    'strings and bytes, not other Python objects');
}

// ---- strings ------------------------------------------------------------------------------

// ignoreBOM keeps a leading U+FEFF, as Python does.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Python's `bytes.decode('utf-8', 'surrogatepass')`, which pickle uses for every str opcode
 * (Lib/pickle.py load_binunicode, _pickle.c load_counted_binunicode): strict UTF-8, except that
 * the three-byte forms of U+D800..U+DFFF (ED A0 80 .. ED BF BF) decode to lone surrogates.
 * Anything else invalid throws, with CPython's reason. (JS strings cannot tell two such lone
 * surrogates that form a pair from the character they pair to; Python can.)
 */
function decodeUtf8SurrogatePass(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // Invalid UTF-8, or encoded surrogates: decode by hand to tell which.
  }
  const invalid = (at: number, reason: string): Error => new Error(
    `a str is not valid UTF-8: byte 0x${bytes[at].toString(16).padStart(2, '0')} at position ${at} of its ${bytes.length} ` +
    `bytes: ${reason} (Python raises UnicodeDecodeError)`);
  const pieces: string[] = [];
  const units: number[] = [];
  for (let i = 0; i < bytes.length;) {
    const lead = bytes[i];
    let length: number;
    let lowest = 0x80; // the range of the second byte; later ones are always 80..BF
    let highest = 0xbf;
    if (lead < 0x80) length = 1;
    else if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) length = 3;
    else if (lead >= 0xf0 && lead <= 0xf4) length = 4;
    else throw invalid(i, 'invalid start byte');
    if (lead === 0xe0) lowest = 0xa0; // no overlong forms
    else if (lead === 0xf0) lowest = 0x90;
    else if (lead === 0xf4) highest = 0x8f; // nothing past U+10FFFF
    // (0xED: strict UTF-8 stops at 9F, surrogatepass lets A0..BF through as surrogates.)
    let codePoint = length === 1 ? lead : lead & (0x7f >> length);
    for (let k = 1; k < length; ++k) {
      if (i + k >= bytes.length) {
        // CPython's strict pass rejects ED A0.. first, and surrogatepass needs all three bytes.
        throw invalid(i, lead === 0xed && k === 2 && bytes[i + 1] >= 0xa0 ? 'invalid continuation byte' : 'unexpected end of data');
      }
      const next = bytes[i + k];
      if (next < (k === 1 ? lowest : 0x80) || next > (k === 1 ? highest : 0xbf)) throw invalid(i, 'invalid continuation byte');
      codePoint = (codePoint << 6) | (next & 0x3f);
    }
    if (codePoint > 0xffff) units.push(0xd800 + ((codePoint - 0x10000) >> 10), 0xdc00 + ((codePoint - 0x10000) & 0x3ff));
    else units.push(codePoint);
    if (units.length >= 8192) pieces.push(String.fromCharCode(...units.splice(0)));
    i += length;
  }
  pieces.push(String.fromCharCode(...units));
  return pieces.join('');
}

// ---- the machine --------------------------------------------------------------------------

class Unpickler {
  private readonly data: DataView;
  private position = 0;
  private readonly stack: Item[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, Item>();
  // Lists and tuples are both JS arrays: the tuples are remembered, since Python refuses to
  // append to a tuple or to call with a list of arguments.
  private readonly tuples = new WeakSet<Item[]>();
  private readonly orderedDicts = new WeakSet<PyDict>();
  private readonly storages = new Map<string, StorageRef>();

  constructor(private readonly bytes: Uint8Array) {
    this.data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  newOrderedDict(): PyDict {
    const dict: PyDict = new Map();
    this.orderedDicts.add(dict);
    return dict;
  }

  run(): Item {
    while (this.position < this.bytes.length) {
      const at = this.position;
      const op = this.bytes[this.position++];
      try {
        if (op === OP.STOP) return this.pop();
        this.step(op);
      } catch (e) {
        const name = e instanceof UnsupportedOpcodeError ? undefined : opcodeOf(op)?.name;
        const where = name === undefined ? `at byte ${at}` : `in ${name} at byte ${at}`;
        throw new Error(`${(e as Error).message} (${where})`);
      }
    }
    throw new Error(`the pickle ends without STOP after ${this.bytes.length} bytes (truncated?)`);
  }

  private step(op: number): void {
    switch (op) {
      case OP.PROTO: {
        const protocol = this.u8();
        if (protocol > HIGHEST_PROTOCOL) throw new Error(`unsupported pickle protocol ${protocol}`);
        return;
      }
      case OP.FRAME: {
        // Frames only group opcodes, and the whole pickle is in memory. CPython's C unpickler
        // (which torch.load uses) checks only that the frame fits in what is left: it does not
        // hold reads to frame boundaries (the pure-Python _Unframer differs there).
        const length = this.view(8).getBigUint64(0, true);
        const left = this.bytes.length - this.position;
        if (length > BigInt(left)) throw new Error(`the frame declares ${length} bytes but only ${left} remain in the pickle (truncated or corrupt)`);
        return;
      }
      case OP.MARK:
        this.marks.push(this.stack.length);
        return;
      case OP.EMPTY_TUPLE:
        return this.push(this.tuple([]));
      case OP.EMPTY_LIST:
        return this.push([]);
      case OP.EMPTY_DICT:
        return this.push(new Map());
      case OP.TUPLE:
        return this.push(this.tuple(this.popMark()));
      case OP.TUPLE1:
      case OP.TUPLE2:
      case OP.TUPLE3: {
        const n = op - OP.TUPLE1 + 1;
        if (this.stack.length - n < this.floor()) throw new Error('stack underflow');
        return this.push(this.tuple(this.stack.splice(this.stack.length - n, n)));
      }
      case OP.NONE:
        return this.push(null);
      case OP.NEWTRUE:
        return this.push(true);
      case OP.NEWFALSE:
        return this.push(false);
      case OP.BININT:
        return this.push(this.view(4).getInt32(0, true));
      case OP.BININT1:
        return this.push(this.u8());
      case OP.BININT2:
        return this.push(this.view(2).getUint16(0, true));
      case OP.LONG1:
        return this.push(this.long(this.u8()));
      case OP.BINFLOAT:
        return this.push(this.view(8).getFloat64(0, false));
      case OP.BINUNICODE:
        return this.push(this.text(this.view(4).getUint32(0, true)));
      case OP.SHORT_BINUNICODE:
        return this.push(this.text(this.u8()));
      case OP.BINUNICODE8:
        return this.push(this.text(this.u64()));
      case OP.BINBYTES:
        return this.push(this.take(this.view(4).getUint32(0, true)).slice());
      case OP.SHORT_BINBYTES:
        return this.push(this.take(this.u8()).slice());
      case OP.GLOBAL: {
        const module = this.line();
        return this.push(resolveGlobal(module, this.line()));
      }
      case OP.STACK_GLOBAL: {
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new Error('STACK_GLOBAL needs two strs');
        return this.push(resolveGlobal(module, name));
      }
      case OP.REDUCE:
      case OP.NEWOBJ: {
        const args = this.pop();
        const callable = this.pop();
        if (!Array.isArray(args) || !this.tuples.has(args)) {
          throw new Error(`the arguments must be a tuple, got ${Array.isArray(args) ? 'a list' : describe(args)}`);
        }
        if (!isRecord(callable) || callable.kind !== 'global' || callable.call === undefined) {
          throw new Error(`cannot call ${describe(callable)}`);
        }
        return this.push(callable.call(args, this));
      }
      case OP.BUILD: {
        const state = this.pop();
        const target = this.top();
        // An OrderedDict's state is its attributes: `_metadata` (module versions) on state dicts.
        if (target instanceof Map && this.orderedDicts.has(target)) return;
        throw new Error(`setting the state of ${describe(target)} (to ${describe(state)}) is not supported`);
      }
      case OP.BINPERSID:
        return this.push(this.persistentLoad(this.pop()));
      case OP.BINPUT:
        this.memo.set(this.u8(), this.top());
        return;
      case OP.LONG_BINPUT: {
        // A pickler numbers memo entries 0, 1, 2, ... (one per object), so an index beyond the
        // pickle's length is corruption. CPython's unpickler would grow its memo table to the
        // index (a MemoryError near 2^31); refusing is stricter and allocates nothing.
        const index = this.view(4).getUint32(0, true);
        if (index > this.bytes.length) {
          throw new Error(`LONG_BINPUT memo index ${index} is beyond anything a pickler writes in a ${this.bytes.length}-byte pickle: the pickle is corrupt`);
        }
        this.memo.set(index, this.top());
        return;
      }
      case OP.MEMOIZE:
        this.memo.set(this.memo.size, this.top());
        return;
      case OP.BINGET:
        return this.push(this.memoGet(this.u8()));
      case OP.LONG_BINGET:
        return this.push(this.memoGet(this.view(4).getUint32(0, true)));
      case OP.SETITEM: {
        const value = this.pop();
        const key = this.pop();
        this.setItem(this.top(), key, value);
        return;
      }
      case OP.SETITEMS: {
        const items = this.popMark();
        if (items.length % 2 !== 0) throw new Error('an odd number of items');
        const dict = this.top();
        for (let k = 0; k < items.length; k += 2) this.setItem(dict, items[k], items[k + 1]);
        return;
      }
      case OP.APPEND: {
        const value = this.pop();
        this.list(this.top()).push(value);
        return;
      }
      case OP.APPENDS: {
        const items = this.popMark();
        const list = this.list(this.top());
        for (const item of items) list.push(item); // no spread: batches may be long
        return;
      }
      default: {
        const printable = op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : '';
        throw new UnsupportedOpcodeError(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}${printable}`);
      }
    }
  }

  // ('storage', torch.<Class>, key, location, numel): one StorageRef per key, so that tensors
  // naming the same key share it.
  private persistentLoad(pid: Item): StorageRef {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
      throw new Error(`unsupported persistent id ${describe(pid)}: expected ('storage', class, key, location, numel)`);
    }
    const [, type, key, location, numel] = pid;
    if (!isRecord(type) || type.kind !== 'global' || type.storageClass === undefined) throw new Error(`the storage type must be a torch storage class, got ${describe(type)}`);
    if (typeof key !== 'string' || typeof location !== 'string') throw new Error('the storage key and location must be strs');
    const count = nonNegativeInteger(numel, 'the storage size');
    const known = this.storages.get(key);
    if (known !== undefined) {
      if (known.storageClass !== type.storageClass || known.numel !== count) {
        throw new Error(`storage '${key}' is named twice with different types or sizes`);
      }
      return known;
    }
    const ref: StorageRef = { kind: 'storage', key, storageClass: type.storageClass, numel: count, location };
    this.storages.set(key, ref);
    return ref;
  }

  private setItem(dict: Item, key: Item, value: Item): void {
    if (!(dict instanceof Map)) throw new Error(`cannot set items of ${describe(dict)}`);
    if (typeof key !== 'string' && typeof key !== 'number') throw new Error(`dict keys must be strs or ints, got ${describe(key)}`);
    dict.set(key, value);
  }

  private list(item: Item): Item[] {
    if (!Array.isArray(item) || this.tuples.has(item)) throw new Error(`cannot append to ${Array.isArray(item) ? 'a tuple' : describe(item)}`);
    return item;
  }

  private tuple(items: Item[]): Item[] {
    this.tuples.add(items);
    return items;
  }

  private memoGet(index: number): Item {
    if (!this.memo.has(index)) throw new Error(`memo entry ${index} is missing`);
    return this.memo.get(index) as Item;
  }

  // The bottom of the current mark's frame: pops below it would reach into an outer frame.
  private floor(): number {
    return this.marks.length > 0 ? this.marks[this.marks.length - 1] : 0;
  }

  private push(item: Item): void {
    this.stack.push(item);
  }

  private pop(): Item {
    if (this.stack.length <= this.floor()) throw new Error('stack underflow');
    return this.stack.pop() as Item;
  }

  private top(): Item {
    if (this.stack.length <= this.floor()) throw new Error('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): Item[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw new Error('no MARK to pop to');
    return this.stack.splice(mark);
  }

  private take(n: number): Uint8Array {
    if (this.position + n > this.bytes.length) throw new Error(`the pickle ends inside an opcode (truncated?)`);
    const out = this.bytes.subarray(this.position, this.position + n);
    this.position += n;
    return out;
  }

  private view(n: number): DataView {
    const bytes = this.take(n);
    return new DataView(bytes.buffer, bytes.byteOffset, n);
  }

  private u8(): number {
    return this.take(1)[0];
  }

  private u64(): number {
    const value = this.view(8).getBigUint64(0, true);
    if (value > BigInt(this.bytes.length)) throw new Error('the pickle ends inside an opcode (truncated?)');
    return Number(value);
  }

  // Little-endian two's complement of n bytes; a number when exact, else a bigint.
  private long(n: number): number | bigint {
    const bytes = this.take(n);
    let value = 0n;
    for (let k = n - 1; k >= 0; --k) value = (value << 8n) | BigInt(bytes[k]);
    if (n > 0 && bytes[n - 1] & 0x80) value -= 1n << BigInt(8 * n);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }

  private text(n: number): string {
    return decodeUtf8SurrogatePass(this.take(n));
  }

  // GLOBAL's operands: two newline-terminated ASCII lines.
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.position);
    if (end < 0) throw new Error('the pickle ends inside an opcode (truncated?)');
    const out = Buffer.from(this.bytes.subarray(this.position, end)).toString('latin1');
    this.position = end + 1;
    return out;
  }
}

// How many path components an error message names at each end of a deep path.
const PATH_ENDS = 8;

/**
 * Checks that `root` holds only pickle values (no bare globals or storages, no cycles). Shared
 * containers (the memo lets a pickle name one object twice) are checked once. Iterative, with
 * the path built only for an error: pickles nest as deep as memory allows (Python's unpickler
 * has no depth limit either).
 */
function toTree(root: Item): PickleTree<TensorSpec> {
  interface Frame {
    readonly node: Item[] | PyDict;
    readonly entries: Iterator<[string | number, Item]>;
    label: string;
  }
  const frames: Frame[] = [];
  const open = new Set<Item>();
  const done = new Set<Item>();
  const path = (): string => {
    const labels = frames.map((f) => f.label);
    if (labels.length > 2 * PATH_ENDS) {
      labels.splice(PATH_ENDS, labels.length - 2 * PATH_ENDS, `...(${labels.length - 2 * PATH_ENDS} levels)...`);
    }
    return `the value${labels.join('')}`;
  };
  const visit = (item: Item): void => {
    if (Array.isArray(item) || item instanceof Map) {
      if (open.has(item)) throw new Error(`${path()} contains itself; cyclic values are not supported`);
      if (done.has(item)) return;
      open.add(item);
      const entries: Iterator<[string | number, Item]> = item.entries();
      frames.push({ node: item, entries, label: '' });
    } else if (isRecord(item) && item.kind !== 'tensor') {
      throw new Error(`${path()} is ${describe(item)}, which torchbridge does not load (only tensors, containers and scalars)`);
    }
  };
  visit(root);
  while (frames.length > 0) {
    const frame = frames[frames.length - 1];
    const next = frame.entries.next();
    if (next.done === true) {
      frames.pop();
      open.delete(frame.node);
      done.add(frame.node);
      continue;
    }
    const [key, child] = next.value;
    frame.label = Array.isArray(frame.node) ? `[${key}]` : `[${JSON.stringify(key)}]`;
    visit(child);
  }
  return root as PickleTree<TensorSpec>;
}

/**
 * Reads a pickle whose tensors are `_rebuild_tensor_v2` calls on persistent storage ids, as
 * `torch.save` writes them. Tensors naming the same storage key share one `StorageRef`; an object the pickle names twice
 * is one JS object (as in Python).
 * @throws Error naming the unsupported opcode or global, or where the data is malformed.
 */
export function unpickle(bytes: Uint8Array): PickleTree<TensorSpec> {
  return toTree(new Unpickler(bytes).run());
}
