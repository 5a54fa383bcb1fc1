/**
 * A pickle writer (protocol 2, as `torch.save` uses by default) for pickle values whose tensors
 * are `TensorSpec`s: each becomes `torch._utils._rebuild_tensor_v2(<persistent storage id>,
 * offset, size, stride, requires_grad, OrderedDict())`, exactly what PyTorch writes, so that
 * `torch.load` rebuilds them with no torchbridge-specific code.
 */
import { PickleTree, TensorSpec } from './values';

const PROTOCOL = 2;
/** Items per SETITEMS / APPENDS, as Python's pickler batches them. */
const BATCH_SIZE = 1000;

const MARK = 0x28;
const STOP = 0x2e;
const EMPTY_TUPLE = 0x29;
const EMPTY_LIST = 0x5d;
const EMPTY_DICT = 0x7d;
const TUPLE = 0x74;
const TUPLE1 = 0x85;
const TUPLE2 = 0x86;
const TUPLE3 = 0x87;
const NONE = 0x4e;
const NEWTRUE = 0x88;
const NEWFALSE = 0x89;
const BININT = 0x4a;
const BININT1 = 0x4b;
const BININT2 = 0x4d;
const LONG1 = 0x8a;
const BINFLOAT = 0x47;
const BINUNICODE = 0x58;
const GLOBAL = 0x63;
const REDUCE = 0x52;
const BINPERSID = 0x51;
const SETITEM = 0x73;
const SETITEMS = 0x75;
const APPEND = 0x61;
const APPENDS = 0x65;
const PROTO = 0x80;

/** Options of `pickle()`. */
export interface PickleOptions {
  /** Pickle the root Map as `collections.OrderedDict` (what `state_dict()` returns) rather than a dict. */
  rootAsOrderedDict?: boolean;
}

class PickleWriter {
  private readonly chunks: Buffer[] = [];

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

  value(value: PickleTree<TensorSpec>, isRoot: boolean, options: PickleOptions): void {
    if (value === null) return this.op(NONE);
    if (typeof value === 'boolean') return this.op(value ? NEWTRUE : NEWFALSE);
    if (typeof value === 'number') return this.number(value);
    if (typeof value === 'bigint') return this.integer(value);
    if (typeof value === 'string') return this.string(value);
    if (value instanceof Uint8Array) return this.byteString(value);
    if (Array.isArray(value)) return this.list(value, options);
    if (value instanceof Map) return this.dict(value, isRoot && options.rootAsOrderedDict === true, options);
    return this.tensor(value);
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

  private string(value: string): void {
    const text = Buffer.from(value, 'utf8');
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

  private list(items: PickleTree<TensorSpec>[], options: PickleOptions): void {
    this.op(EMPTY_LIST);
    for (let start = 0; start < items.length; start += BATCH_SIZE) {
      const batch = items.slice(start, start + BATCH_SIZE);
      if (batch.length === 1) {
        this.value(batch[0], false, options);
        this.op(APPEND);
        continue;
      }
      this.op(MARK);
      for (const item of batch) this.value(item, false, options);
      this.op(APPENDS);
    }
  }

  private dict(map: Map<string | number, PickleTree<TensorSpec>>, ordered: boolean, options: PickleOptions): void {
    if (ordered) {
      this.global('collections', 'OrderedDict');
      this.op(EMPTY_TUPLE, REDUCE);
    } else {
      this.op(EMPTY_DICT);
    }
    const entries = [...map];
    for (let start = 0; start < entries.length; start += BATCH_SIZE) {
      const batch = entries.slice(start, start + BATCH_SIZE);
      if (batch.length > 1) this.op(MARK);
      for (const [key, item] of batch) {
        this.value(key, false, options);
        this.value(item, false, options);
      }
      this.op(batch.length > 1 ? SETITEMS : SETITEM);
    }
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

/** The protocol-2 pickle of `value` (no memo: values are trees, written as they come). */
export function pickle(value: PickleTree<TensorSpec>, options: PickleOptions = {}): Buffer {
  const writer = new PickleWriter();
  writer.op(PROTO, PROTOCOL);
  writer.value(value, true, options);
  writer.op(STOP);
  return writer.bytes();
}
