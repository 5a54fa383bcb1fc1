/**
 * Hand-made checkpoint bytes for the robustness tests: pickles written opcode by opcode (as
 * pickletools names them), zip archives whose headers say whatever a test needs, and deflate
 * streams of zeros that inflate to gigabytes from a few kilobytes. Nothing here uses the
 * readers under test.
 */
import * as zlib from 'zlib';

import { OP } from '../lib/serialization/pickle-opcodes';
import { crc32, ZipWriter } from '../lib/serialization/zip';

/** Pickle opcodes by pickletools' names (the project's one table: data, not the reader under test). */
export { OP };

/** A pickled value, as the tests spell it. */
export type Py =
  | null
  | boolean
  | number
  | bigint
  | string
  | { tuple: Py[] }
  | { list: Py[] }
  | { dict: Array<[Py, Py]> }
  | { global: [string, string] }
  | { call: [Py, Py[]] }
  | { persid: Py }
  | { raw: Uint8Array };

function le(value: bigint, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let k = 0; k < bytes; ++k) out[k] = Number((value >> BigInt(8 * k)) & 0xffn);
  return out;
}

/** `text` as BINUNICODE (or the opcode given) with a length prefix; `text` may be raw bytes. */
export function pickleString(text: string | Uint8Array, op: number = OP.BINUNICODE): Buffer {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text);
  const width = op === OP.SHORT_BINUNICODE ? 1 : op === OP.BINUNICODE8 ? 8 : 4;
  return Buffer.concat([Buffer.of(op), le(BigInt(bytes.length), width), bytes]);
}

function encodeInto(value: Py, out: Buffer[]): void {
  if (value === null) out.push(Buffer.of(OP.NONE));
  else if (value === true) out.push(Buffer.of(OP.NEWTRUE));
  else if (value === false) out.push(Buffer.of(OP.NEWFALSE));
  else if (typeof value === 'number' || typeof value === 'bigint') {
    const n = BigInt(value);
    if (n >= -(2n ** 31n) && n < 2n ** 31n) {
      out.push(Buffer.of(OP.BININT), le(BigInt.asUintN(32, n), 4));
    } else {
      // LONG1: little-endian two's complement, with room for the sign bit.
      let width = 1;
      while (n >= 2n ** BigInt(8 * width - 1) || n < -(2n ** BigInt(8 * width - 1))) ++width;
      out.push(Buffer.of(OP.LONG1, width), le(BigInt.asUintN(8 * width, n), width));
    }
  } else if (typeof value === 'string') out.push(pickleString(value));
  else if ('tuple' in value) {
    out.push(Buffer.of(OP.MARK));
    for (const item of value.tuple) encodeInto(item, out);
    out.push(Buffer.of(OP.TUPLE));
  } else if ('list' in value) {
    out.push(Buffer.of(OP.EMPTY_LIST));
    for (const item of value.list) {
      encodeInto(item, out);
      out.push(Buffer.of(OP.APPEND));
    }
  } else if ('dict' in value) {
    out.push(Buffer.of(OP.EMPTY_DICT));
    for (const [k, v] of value.dict) {
      encodeInto(k, out);
      encodeInto(v, out);
      out.push(Buffer.of(OP.SETITEM));
    }
  } else if ('global' in value) {
    out.push(Buffer.of(OP.GLOBAL), Buffer.from(`${value.global[0]}\n${value.global[1]}\n`, 'latin1'));
  } else if ('call' in value) {
    encodeInto(value.call[0], out);
    encodeInto({ tuple: value.call[1] }, out);
    out.push(Buffer.of(OP.REDUCE));
  } else if ('persid' in value) {
    encodeInto(value.persid, out);
    out.push(Buffer.of(OP.BINPERSID));
  } else {
    out.push(Buffer.from(value.raw));
  }
}

/** A protocol-2 pickle of `value`. */
export function pickle(value: Py): Buffer {
  const out: Buffer[] = [Buffer.of(OP.PROTO, 2)];
  encodeInto(value, out);
  out.push(Buffer.of(OP.STOP));
  return Buffer.concat(out);
}

/** How torch.save pickles a tensor: `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`. */
export function pyTensor(options: {
  storageClass?: string;
  key?: string;
  numel: number | bigint;
  offset?: number | bigint;
  size: Array<number | bigint>;
  stride: Array<number | bigint>;
  requiresGrad?: boolean;
}): Py {
  const storage: Py = {
    persid: { tuple: ['storage', { global: ['torch', options.storageClass ?? 'FloatStorage'] }, options.key ?? '0', 'cpu', options.numel] },
  };
  return {
    call: [{ global: ['torch._utils', '_rebuild_tensor_v2'] }, [
      storage, options.offset ?? 0, { tuple: options.size }, { tuple: options.stride }, options.requiresGrad ?? false,
      { call: [{ global: ['collections', 'OrderedDict'] }, []] },
    ]],
  };
}

/** A torch.save-style archive (stored entries, `archive/` prefix) of `data.pkl` and storages. */
export async function torchArchive(dataPkl: Uint8Array, storages: Record<string, Uint8Array> = {}): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  const writer = new ZipWriter({ write: async (bytes) => void chunks.push(Uint8Array.from(bytes)) });
  await writer.add('archive/data.pkl', dataPkl);
  for (const [key, bytes] of Object.entries(storages)) await writer.add(`archive/data/${key}`, bytes);
  await writer.add('archive/version', Buffer.from('3\n'));
  await writer.finish();
  return Buffer.concat(chunks);
}

/**
 * An archive of exactly `records`, in order (stored, aligned, as torch.save lays them out): for
 * archives whose version record is missing, damaged or doubled.
 */
export async function recordsArchive(records: Array<[string, Uint8Array | string]>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  const writer = new ZipWriter({ write: async (bytes) => void chunks.push(Uint8Array.from(bytes)) });
  for (const [name, data] of records) await writer.add(name, typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  await writer.finish();
  return Buffer.concat(chunks);
}

/** One entry of `rawZip`: its (possibly compressed) data and what its headers declare. */
export interface RawEntry {
  name: string;
  /** The bytes stored in the archive (deflated already when method is 8). */
  data: Uint8Array;
  method: 0 | 8;
  /** Declared uncompressed size. */
  size: number;
  /** Declared CRC-32; the true one of `uncompressed`, or 0, by default. */
  crc?: number;
}

/** A zip archive whose headers declare exactly what `entries` say (sizes below 4 GiB). */
export function rawZip(entries: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const crc = entry.crc ?? (entry.method === 0 ? crc32(entry.data) : 0);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(entry.method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(entry.data.length, 18);
    local.writeUInt32LE(entry.size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(entry.method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(entry.data.length, 20);
    central.writeUInt32LE(entry.size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, Buffer.from(entry.data));
    centrals.push(central, name);
    offset += local.length + name.length + entry.data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/**
 * A raw deflate stream of `mebibytes` MiB of zeros, about 1 KiB per MiB: one fully flushed
 * (history-free) block sequence repeated, then an empty final block.
 */
export function deflatedZeros(mebibytes: number): Buffer {
  const block = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlib.constants.Z_FULL_FLUSH });
  return Buffer.concat([...new Array<Buffer>(mebibytes).fill(block), Buffer.of(0x03, 0x00)]);
}

/** A RandomAccessSource over `bytes`, for ZipReader. */
export function memorySource(bytes: Uint8Array): { size: number; read(at: number, n: number): Promise<Uint8Array> } {
  return { size: bytes.length, read: async (at, n) => Uint8Array.from(bytes.subarray(at, at + n)) };
}
