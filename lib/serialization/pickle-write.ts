/**
 * A pickle writer (protocol 2, as `torch.save` uses by default) for pickle values whose tensors
 * are `TensorSpec`s: each becomes `torch._utils._rebuild_tensor_v2(<persistent storage id>,
 * offset, size, stride, requires_grad, OrderedDict())`, exactly what PyTorch writes, so that
 * `torch.load` rebuilds them with no torchbridge-specific code. As Python's pickler, it keeps a
 * memo: every list, dict and tensor is written once and named again by index (BINGET), so that
 * what the value shares stays shared in Python and a value with heavy sharing is written in
 * time linear in its distinct objects.
 */
import { OP } from './pickle-opcodes';
import { PickleTree, TensorSpec } from './values';

const PROTOCOL = 2;
/** Items per SETITEMS / APPENDS, as Python's pickler batches them. */
const BATCH_SIZE = 1000;

// The opcodes the writer emits (protocol 2's), from the one table.
const {
  MARK, STOP, EMPTY_TUPLE, EMPTY_LIST, EMPTY_DICT, TUPLE, TUPLE1, TUPLE2, TUPLE3, NONE, NEWTRUE, NEWFALSE, BININT, BININT1,
  BININT2, LONG1, BINFLOAT, BINUNICODE, GLOBAL, REDUCE, BINPERSID, SETITEM, SETITEMS, APPEND, APPENDS, PROTO, BINPUT,
  LONG_BINPUT, BINGET, LONG_BINGET,
} = OP;

/** Options of `pickle()`. */
export interface PickleOptions {
  /** Pickle the root Map as `collections.OrderedDict` (what `state_dict()` returns) rather than a dict. */
  rootAsOrderedDict?: boolean;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function surrogatePass(value: string): Buffer {
  const out: number[] = [];
  for (const char of value) {  // by code point: a valid pair is one character
    const c = char.codePointAt(0) as number;
    if (c >= 0xd800 && c <= 0xdfff) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(...Buffer.from(char, 'utf8'));
  }
  return Buffer.from(out);
}

type Container = PickleTree<TensorSpec>[] | Map<string | number, PickleTree<TensorSpec>>;

/** A list or dict being written: its items, read one batch of SETITEMS / APPENDS at a time. */
interface Frame {
  readonly isList: boolean;
  readonly items: Iterator<PickleTree<TensorSpec> | [string | number, PickleTree<TensorSpec>]>;
  readonly size: number;
  written: number;
  /** Items still to write in the open batch, and whether that batch began with MARK. */
  batchLeft: number;
  marked: boolean;
  /** The opcode that ends the enclosing container's batch once this container is complete. */
  closeWith?: number;
}

class PickleWriter {
  private readonly chunks: Buffer[] = [];
  private readonly memo = new Map<object, number>();

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  op(...codes: number[]): void {
    this.chunks.push(Buffer.from(codes));
  }

  global(module: string, name: string): void {
    this.op(GLOBAL);
    this.chunks.push(Buffer.from(`${module}\n${name}\n`, 'utf8'));
  }

  // The whole value, with an explicit stack of open containers: values nest as deep as memory
  // allows. Batches as Python's _batch_appends / _batch_setitems: MARK, up to 1000 items,
  // APPENDS / SETITEMS; a batch of one item is followed by APPEND / SETITEM.
  value(root: PickleTree<TensorSpec>, options: PickleOptions): void {
    const frames: Frame[] = [];
    this.start(root, root instanceof Map && options.rootAsOrderedDict === true, frames);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      if (frame.written === frame.size) {
        frames.pop();
        if (frame.closeWith !== undefined) this.op(frame.closeWith);
        continue;
      }
      if (frame.batchLeft === 0) {
        frame.batchLeft = Math.min(BATCH_SIZE, frame.size - frame.written);
        frame.marked = frame.batchLeft > 1;
        if (frame.marked) this.op(MARK);
      }
      const item = frame.items.next().value as PickleTree<TensorSpec> | [string | number, PickleTree<TensorSpec>];
      --frame.batchLeft;
      ++frame.written;
      const close = frame.batchLeft > 0 ? undefined
        : frame.isList ? (frame.marked ? APPENDS : APPEND) : (frame.marked ? SETITEMS : SETITEM);
      if (frame.isList) {
        this.item(item as PickleTree<TensorSpec>, frames, close);
      } else {
        const [key, entry] = item as [string | number, PickleTree<TensorSpec>];
        this.start(key, false, frames);
        this.item(entry, frames, close);
      }
    }
  }

  // An item of a container, then `close` (when it ends a batch) once the item is complete.
  private item(value: PickleTree<TensorSpec>, frames: Frame[], close: number | undefined): void {
    const depth = frames.length;
    this.start(value, false, frames);
    if (close === undefined) return;
    if (frames.length > depth) frames[frames.length - 1].closeWith = close;
    else this.op(close);
  }

  // A scalar or tensor whole; a container's opening (its items follow from `frames`); or, for a
  // container or tensor written before, its memo index.
  private start(value: PickleTree<TensorSpec>, ordered: boolean, frames: Frame[]): void {
    if (value === null) return this.op(NONE);
    if (typeof value === 'boolean') return this.op(value ? NEWTRUE : NEWFALSE);
    if (typeof value === 'number') return this.number(value);
    if (typeof value === 'bigint') return this.integer(value);
    if (typeof value === 'string') return this.string(value);
    if (value instanceof Uint8Array) return this.byteString(value);
    const index = this.memo.get(value);
    if (index !== undefined) return this.get(index);
    if (Array.isArray(value)) {
      this.op(EMPTY_LIST);
      this.put(value);
      frames.push({ isList: true, items: value.values(), size: value.length, written: 0, batchLeft: 0, marked: false });
    } else if (value instanceof Map) {
      if (ordered) {
        this.global('collections', 'OrderedDict');
        this.op(EMPTY_TUPLE, REDUCE);
      } else {
        this.op(EMPTY_DICT);
      }
      this.put(value);
      frames.push({ isList: false, items: value.entries(), size: value.size, written: 0, batchLeft: 0, marked: false });
    } else {
      this.tensor(value);
      this.put(value);
    }
  }

  private put(value: Container | TensorSpec): void {
    const index = this.memo.size;
    this.memo.set(value, index);
    this.memoOp(BINPUT, LONG_BINPUT, index);
  }

  private get(index: number): void {
    this.memoOp(BINGET, LONG_BINGET, index);
  }

  // A memo index: one byte after the short opcode below 256, four little-endian after the long one.
  private memoOp(short: number, long: number, index: number): void {
    if (index < 0x100) return this.op(short, index);
    const out = Buffer.alloc(5);
    out[0] = long;
    out.writeUInt32LE(index, 1);
    this.chunks.push(out);
  }

  // Integral numbers are Python ints (as JSON numbers read in Python), others floats.
  private number(value: number): void {
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) return this.integer(BigInt(value));
    const out = Buffer.alloc(9);
    out[0] = BINFLOAT;
    out.writeDoubleBE(value, 1);
    this.chunks.push(out);
  }

  // The shortest encoding Python's pickler would choose.
  private integer(value: bigint): void {
    if (value >= 0n && value < 0x100n) return this.op(BININT1, Number(value));
    if (value >= 0n && value < 0x10000n) {
      const out = Buffer.alloc(3);
      out[0] = BININT2;
      out.writeUInt16LE(Number(value), 1);
      this.chunks.push(out);
      return;
    }
    if (value >= -0x80000000n && value < 0x80000000n) {
      const out = Buffer.alloc(5);
      out[0] = BININT;
      out.writeInt32LE(Number(value), 1);
      this.chunks.push(out);
      return;
    }
    // LONG1: little-endian two's complement in as few bytes as keep the sign.
    const bytes: number[] = [];
    let rest = value;
    for (;;) {
      const byte = Number(rest & 0xffn);
      bytes.push(byte);
      rest >>= 8n;
      if ((rest === 0n && (byte & 0x80) === 0) || (rest === -1n && (byte & 0x80) !== 0)) break;
    }
    if (bytes.length > 0xff) throw new TypeError(`the int ${value} is too large to pickle`);
    this.op(LONG1, bytes.length, ...bytes);
  }

  // UTF-8 with Python's 'surrogatepass', as its pickler writes str: a lone surrogate (which a
  // JS string may hold, and a Python str too) is the 3-byte form of its code unit, not U+FFFD.
  private string(value: string): void {
    const text = LONE_SURROGATE.test(value) ? surrogatePass(value) : Buffer.from(value, 'utf8');
    const header = Buffer.alloc(5);
    header[0] = BINUNICODE;
    header.writeUInt32LE(text.length, 1);
    this.chunks.push(header, text);
  }

  // Protocol 2 has no bytes opcode: Python 3 pickles bytes as _codecs.encode(latin1 str, 'latin1').
  private byteString(value: Uint8Array): void {
    this.global('_codecs', 'encode');
    this.string(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1'));
    this.string('latin1');
    this.op(TUPLE2, REDUCE);
  }

  // A tuple of ints, with the short opcodes Python uses for up to 3 items.
  private tuple(items: readonly number[]): void {
    const short = [EMPTY_TUPLE, TUPLE1, TUPLE2, TUPLE3];
    if (items.length >= short.length) this.op(MARK);
    for (const item of items) this.number(item);
    this.op(items.length < short.length ? short[items.length] : TUPLE);
  }

  private tensor(spec: TensorSpec): void {
    const { storage } = spec;
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.op(MARK);
    // The persistent id ('storage', torch.<Class>, key, location, numel).
    this.op(MARK);
    this.string('storage');
    this.global('torch', storage.storageClass.name);
    this.string(storage.key);
    this.string(storage.location);
    this.number(storage.numel);
    this.op(TUPLE, BINPERSID);
    this.number(spec.offset);
    this.tuple(spec.size);
    this.tuple(spec.stride);
    this.op(spec.requiresGrad ? NEWTRUE : NEWFALSE);
    // backward_hooks: always an empty OrderedDict.
    this.global('collections', 'OrderedDict');
    this.op(EMPTY_TUPLE, REDUCE);
    this.op(TUPLE, REDUCE);
  }
}

/**
 * The protocol-2 pickle of `value`; a list, Map or tensor node that appears more than once is
 * written once (the memo), so Python's `pickle.load` returns one object named several times.
 */
export function pickle(value: PickleTree<TensorSpec>, options: PickleOptions = {}): Buffer {
  const writer = new PickleWriter();
  writer.op(PROTO, PROTOCOL);
  writer.value(value, options);
  writer.op(STOP);
  return writer.bytes();
}
