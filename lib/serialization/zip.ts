/**
 * The zip container of `torch.save` files (PKWARE APPNOTE 6.3): a reader for any archive whose
 * entries are stored or deflated (zip64 included), and a writer of archives laid out as PyTorch
 * writes them: entries stored uncompressed, each entry's data aligned to 64 bytes by padding in
 * the local header's extra field, so that readers can map storages in place.
 *
 * Both work on random-access byte sources rather than whole-file buffers: checkpoints can be
 * larger than a Node Buffer may be.
 */
import type { FileHandle } from 'fs/promises';
import { constants as bufferConstants } from 'buffer';
import * as zlib from 'zlib';

// ---- CRC-32 -------------------------------------------------------------------------------

let crcTable: Uint32Array | undefined;

function crc32Table(): Uint32Array {
  if (crcTable !== undefined) return crcTable;
  crcTable = new Uint32Array(256);
  for (let n = 0; n < 256; ++n) {
    let c = n;
    for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crcTable[n] = c >>> 0;
  }
  return crcTable;
}

/** The CRC-32 of `data` (zip's checksum), continuing from `previous`. */
export function crc32(data: Uint8Array, previous = 0): number {
  // zlib.crc32 exists from Node 20.15 / 22.2; older Nodes (engines allows 18) use the table.
  if (typeof zlib.crc32 === 'function') return zlib.crc32(data, previous) >>> 0;
  const table = crc32Table();
  let c = ~previous >>> 0;
  for (let i = 0; i < data.length; ++i) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---- layout constants ---------------------------------------------------------------------

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const LOCAL_HEADER_SIZE = 30;
const CENTRAL_HEADER_SIZE = 46;
const EOCD_SIZE = 22;
const ZIP64_EOCD_SIZE = 56;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EXTRA_ID = 0x0001;
/** Values at or above this do not fit a 32-bit field and move to the zip64 extra field. */
const U32_OVERFLOW = 0xffffffff;
const U16_OVERFLOW = 0xffff;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
const FLAG_ENCRYPTED = 0x1;
const FLAG_UTF8 = 0x800;
/** The largest Buffer (and typed array) this Node can allocate. */
const MAX_LENGTH = bufferConstants.MAX_LENGTH;
/** PyTorch aligns every record's data to this many bytes (caffe2/serialize kFieldAlignment). */
export const FIELD_ALIGNMENT = 64;

/** The start of every local file header: how zip archives (and torch.save files) begin. */
export const ZIP_MAGIC = Uint8Array.of(0x50, 0x4b, 0x03, 0x04);

// ---- reading ------------------------------------------------------------------------------

/** Bytes that can be read at any position (a file handle, or memory in tests). */
export interface RandomAccessSource {
  readonly size: number;
  /**
   * Exactly `length` bytes from `position` (the caller keeps within `size`), in memory of their
   * own: loaded tensors share it rather than copy it.
   */
  read(position: number, length: number): Promise<Uint8Array>;
}

/** A RandomAccessSource over an open file of `size` bytes. @internal */
export function fileSource(file: FileHandle, size: number): RandomAccessSource {
  return {
    size,
    async read(position, length) {
      const out = new Uint8Array(length);
      for (let done = 0; done < length;) {
        const { bytesRead } = await file.read(out, done, length - done, position + done);
        if (bytesRead === 0) throw new Error('the file shrank while it was being read');
        done += bytesRead;
      }
      return out;
    },
  };
}

/** One entry of the central directory. */
export interface ZipEntry {
  /** The entry's path inside the archive. */
  readonly name: string;
  /** Its compression method: 0 stored, 8 deflated. */
  readonly method: number;
  /** The CRC-32 of its uncompressed data, as declared. */
  readonly crc32: number;
  /** Bytes of (compressed) data in the file, as declared. */
  readonly compressedSize: number;
  /** Bytes once uncompressed, as declared. */
  readonly size: number;
  /** Where its local header starts in the file. */
  readonly localHeaderOffset: number;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// A little-endian u64 as a number; zip sizes beyond 2^53 cannot be addressed here anyway.
function u64(data: DataView, at: number, what: string): number {
  const value = data.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`corrupt zip archive: ${what} is ${value}`);
  return Number(value);
}

/**
 * A zip archive's directory, read from its end: the end-of-central-directory record (and the
 * zip64 records when the archive needs them), then the central directory.
 */
export class ZipReader {
  private readonly byName: Map<string, ZipEntry>;

  private constructor(private readonly source: RandomAccessSource, readonly entries: readonly ZipEntry[]) {
    // Checkpoints may hold thousands of records: look names up in a map. A name recorded twice
    // is refused: which of the two PyTorch reads depends on miniz's unstable sort of the
    // directory, so no choice of ours would reliably give PyTorch's values.
    this.byName = new Map();
    for (const entry of entries) {
      if (this.byName.has(entry.name)) {
        throw new Error(`corrupt zip archive: the record '${entry.name}' appears twice in the central directory`);
      }
      this.byName.set(entry.name, entry);
    }
  }

  /**
   * Reads the directory, and checks every entry's header as miniz (PyTorch's zip reader) does
   * when it opens an archive.
   * @throws Error when there is no end-of-central-directory record at the end of the file
   *   (truncated, not a zip, or bytes appended), the archive spans several disks, the directory
   *   points outside the file, or an entry's sizes, disk or local header offset are impossible.
   */
  static async open(source: RandomAccessSource): Promise<ZipReader> {
    const { count, offset, size, disk } = await readEndOfCentralDirectory(source);
    if (offset + size > source.size) {
      throw new Error(`truncated zip archive: the central directory (${size} bytes at ${offset}) extends past the end of the file (${source.size} bytes)`);
    }
    if (count > size / CENTRAL_HEADER_SIZE) {
      throw new Error(`corrupt zip archive: the end record counts ${count} entries, more than its ${size}-byte central directory can hold`);
    }
    const directory = await source.read(offset, size);
    return new ZipReader(source, parseCentralDirectory(directory, count, disk, source.size));
  }

  /** The entry named `name`, or undefined. */
  find(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /**
   * The uncompressed contents of `entry`, checked against its size and CRC-32, in memory of its
   * own. A deflated entry is inflated into a buffer of its declared size and never past it, so
   * that a lying size cannot make it take more memory than the archive claims.
   * @throws Error naming the entry when its data lies outside the file, its declared size is
   *   impossible for its compressed size, it inflates to more or fewer bytes than declared, or
   *   its CRC-32 differs.
   */
  async read(entry: ZipEntry): Promise<Uint8Array> {
    const name = entry.name;
    const headerEnd = entry.localHeaderOffset + LOCAL_HEADER_SIZE;
    if (headerEnd > this.source.size) throw new Error(`truncated zip archive: the local header of '${name}' is past the end of the file`);
    checkDeclaredSize(entry, this.source.size);
    const header = view(await this.source.read(entry.localHeaderOffset, LOCAL_HEADER_SIZE));
    if (header.getUint32(0, true) !== LOCAL_HEADER) throw new Error(`corrupt zip archive: no local header where the directory places '${name}'`);
    // The local extra field differs from the central one (PyTorch pads only the local one).
    const dataStart = headerEnd + header.getUint16(26, true) + header.getUint16(28, true);
    if (dataStart + entry.compressedSize > this.source.size) {
      throw new Error(`truncated zip archive: '${name}' (${entry.compressedSize} bytes at ${dataStart}) extends past the end of the file (${this.source.size} bytes)`);
    }
    const raw = await this.source.read(dataStart, entry.compressedSize);
    const data = entry.method === METHOD_STORED ? raw : await inflateExactly(raw, entry.size, name);
    if (crc32(data) !== entry.crc32) throw new Error(`corrupt zip archive: CRC-32 mismatch in '${name}'`);
    return data;
  }
}

/**
 * The most bytes deflate can produce per compressed byte: a 258-byte match in two bits
 * (zlib's technical notes). Declared sizes beyond it are lies, rejected before any allocation.
 */
const DEFLATE_MAX_RATIO = 1032;
// Block headers and the first literal: a few bytes of slack for tiny streams.
const DEFLATE_RATIO_SLACK = 1024;

// Rejects sizes no honest archive of `fileSize` bytes can declare, before they size anything.
function checkDeclaredSize(entry: ZipEntry, fileSize: number): void {
  const { name, size, compressedSize } = entry;
  if (compressedSize > fileSize) {
    throw new Error(`corrupt zip archive: '${name}' declares ${compressedSize} compressed bytes, more than the whole file (${fileSize} bytes)`);
  }
  if (entry.method === METHOD_STORED && size !== compressedSize) {
    throw new Error(`corrupt zip archive: '${name}' is stored uncompressed but declares ${size} bytes of data in ${compressedSize}`);
  }
  if (entry.method === METHOD_DEFLATED && size > compressedSize * DEFLATE_MAX_RATIO + DEFLATE_RATIO_SLACK) {
    throw new Error(`corrupt zip archive: '${name}' declares ${size} bytes from ${compressedSize} compressed, ` +
      `beyond deflate's maximum ratio of ${DEFLATE_MAX_RATIO}:1`);
  }
  if (size > MAX_LENGTH) {
    throw new Error(`'${name}' holds ${size} bytes, more than one Node buffer can (${MAX_LENGTH})`);
  }
}

// Inflates `raw` into exactly `size` bytes, off the JS thread, stopping at the first byte past
// `size`: the output buffer is the only one that grows with the data.
function inflateExactly(raw: Uint8Array, size: number, name: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const out = new Uint8Array(size);
    let filled = 0;
    let settled = false;
    const inflater = zlib.createInflateRaw({ chunkSize: INFLATE_CHUNK });
    const settle = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      if (error === undefined) {
        resolve(out);
      } else {
        inflater.destroy();
        reject(error);
      }
    };
    inflater.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (chunk.length > size - filled) {
        settle(new Error(`'${name}' inflates beyond its declared ${size} bytes: the file is corrupt`));
        return;
      }
      out.set(chunk, filled);
      filled += chunk.length;
    });
    inflater.on('error', (e) => settle(new Error(`corrupt zip archive: '${name}' does not inflate (${e.message})`)));
    inflater.on('end', () => {
      settle(filled === size ? undefined
        : new Error(`'${name}' inflates to only ${filled} bytes, short of its declared ${size}: the file is corrupt`));
    });
    inflater.end(raw);
  });
}

const INFLATE_CHUNK = 1 << 20;

interface EndOfCentralDirectory {
  readonly count: number;
  readonly offset: number;
  readonly size: number;
  /** The number of the disk the end record is on (a single-disk archive's is 0, or 1). */
  readonly disk: number;
}

const MULTI_DISK = 'a multi-disk (split) archive, which neither torchbridge nor PyTorch (miniz) reads';

// The end record, as miniz (PyTorch's zip reader) takes it: the last signature in the file's
// final 64 KiB, zip64 records wherever a zip64 locator precedes it, and the same refusals of
// multi-disk archives. Stricter than miniz in one way: the record and its comment must end the
// file, so that bytes appended after an archive are refused (miniz's search for the record trips
// over them in small files, and PyTorch then fails with EINVAL, or reads on in larger ones).
async function readEndOfCentralDirectory(source: RandomAccessSource): Promise<EndOfCentralDirectory> {
  // The record sits at the very end, followed only by a comment of at most 65535 bytes.
  const tailLength = Math.min(source.size, EOCD_SIZE + U16_OVERFLOW);
  const tailStart = source.size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const data = view(tail);
  let at = -1;
  let last = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; --i) {
    if (data.getUint32(i, true) !== END_OF_CENTRAL_DIRECTORY) continue;
    if (last < 0) last = i;
    if (i + EOCD_SIZE + data.getUint16(i + 20, true) === tailLength) {
      at = i;
      break;
    }
  }
  if (at < 0 && last >= 0) {
    const commentLength = data.getUint16(last + 20, true);
    const after = tailLength - last - EOCD_SIZE;
    throw new Error(commentLength < after
      ? `corrupt zip archive: ${after - commentLength} bytes follow its end-of-central-directory record` +
        `${commentLength > 0 ? ` and ${commentLength}-byte comment` : ''} (data appended to the file?)`
      : `truncated zip archive: the end record's comment of ${commentLength} bytes runs past the end of the file (${after} bytes follow the record)`);
  }
  if (at < 0) throw new Error('truncated or corrupt zip archive: no end-of-central-directory record at the end of the file');
  let disk = data.getUint16(at + 4, true);
  let directoryDisk = data.getUint16(at + 6, true);
  let onDisk = data.getUint16(at + 8, true);
  let count = data.getUint16(at + 10, true);
  let size = data.getUint32(at + 12, true);
  let offset = data.getUint32(at + 16, true);
  const recordStart = tailStart + at;
  const locatorAt = recordStart - ZIP64_LOCATOR_SIZE;
  const locator = locatorAt >= ZIP64_EOCD_SIZE ? view(await source.read(locatorAt, ZIP64_LOCATOR_SIZE)) : undefined;
  if (locator !== undefined && locator.getUint32(0, true) === ZIP64_LOCATOR) {
    const recordAt = u64(locator, 8, 'the zip64 record offset');
    if (recordAt + ZIP64_EOCD_SIZE > source.size) throw new Error('truncated zip archive: the zip64 end-of-central-directory record is past the end of the file');
    const record = view(await source.read(recordAt, ZIP64_EOCD_SIZE));
    if (record.getUint32(0, true) !== ZIP64_END_OF_CENTRAL_DIRECTORY) throw new Error('corrupt zip archive: no zip64 end-of-central-directory record where the locator points');
    if (u64(record, 4, 'the zip64 record size') < ZIP64_EOCD_SIZE - 12) throw new Error('corrupt zip archive: the zip64 end-of-central-directory record is too short');
    const disks = locator.getUint32(16, true);
    if (disks !== 1) throw new Error(`unsupported zip archive: the zip64 locator counts ${disks} disks: ${MULTI_DISK}`);
    disk = record.getUint32(16, true);
    directoryDisk = record.getUint32(20, true);
    onDisk = u64(record, 24, 'the entry count on this disk');
    count = u64(record, 32, 'the entry count');
    size = u64(record, 40, 'the central directory size');
    offset = u64(record, 48, 'the central directory offset');
  } else if (count === U16_OVERFLOW || size === U32_OVERFLOW || offset === U32_OVERFLOW) {
    throw new Error('corrupt zip archive: zip64 sizes without a zip64 locator');
  }
  if (onDisk !== count) {
    throw new Error(`unsupported zip archive: the end record counts ${onDisk} entries on this disk but ${count} in all: ${MULTI_DISK}`);
  }
  if ((disk !== 0 || directoryDisk !== 0) && (disk !== 1 || directoryDisk !== 1)) {
    throw new Error(`unsupported zip archive: the end record is on disk ${disk} and the central directory on disk ${directoryDisk}: ${MULTI_DISK}`);
  }
  return { count, offset, size, disk };
}

function parseCentralDirectory(directory: Uint8Array, count: number, disk: number, fileSize: number): ZipEntry[] {
  const data = view(directory);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let k = 0; k < count; ++k) {
    if (at + CENTRAL_HEADER_SIZE > directory.length || data.getUint32(at, true) !== CENTRAL_HEADER) {
      throw new Error(`corrupt zip archive: central directory entry ${k} of ${count} is missing`);
    }
    const flags = data.getUint16(at + 8, true);
    const method = data.getUint16(at + 10, true);
    const nameLength = data.getUint16(at + 28, true);
    const extraLength = data.getUint16(at + 30, true);
    const commentLength = data.getUint16(at + 32, true);
    const end = at + CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
    if (end > directory.length) throw new Error(`corrupt zip archive: central directory entry ${k} overruns the directory`);
    const nameBytes = directory.subarray(at + CENTRAL_HEADER_SIZE, at + CENTRAL_HEADER_SIZE + nameLength);
    const name = Buffer.from(nameBytes).toString(flags & FLAG_UTF8 ? 'utf8' : 'latin1');
    if (flags & FLAG_ENCRYPTED) throw new Error(`unsupported zip archive: '${name}' is encrypted`);
    if (method !== METHOD_STORED && method !== METHOD_DEFLATED) {
      throw new Error(`unsupported zip archive: '${name}' uses compression method ${method} (only stored and deflated are read)`);
    }
    let size = data.getUint32(at + 24, true);
    let compressedSize = data.getUint32(at + 20, true);
    let localHeaderOffset = data.getUint32(at + 42, true);
    // Zip64: each 32-bit field that overflowed is in the extra field, in this order.
    const extra = new DataView(directory.buffer, directory.byteOffset + at + CENTRAL_HEADER_SIZE + nameLength, extraLength);
    const zip64 = findExtraField(extra, ZIP64_EXTRA_ID);
    if (zip64 !== undefined) {
      let field = 0;
      const next = (what: string): number => {
        if (field + 8 > zip64.byteLength) throw new Error(`corrupt zip archive: the zip64 field of '${name}' lacks ${what}`);
        const value = u64(zip64, field, what);
        field += 8;
        return value;
      };
      if (size === U32_OVERFLOW) size = next('the size');
      if (compressedSize === U32_OVERFLOW) compressedSize = next('the compressed size');
      if (localHeaderOffset === U32_OVERFLOW) localHeaderOffset = next('the header offset');
    }
    // What miniz's mz_zip_reader_read_central_dir checks of every entry, read or not.
    if (method === METHOD_STORED && size !== compressedSize) {
      throw new Error(`corrupt zip archive: '${name}' is stored uncompressed but declares ${size} bytes of data in ${compressedSize}`);
    }
    if (size > 0 && compressedSize === 0) throw new Error(`corrupt zip archive: '${name}' declares ${size} bytes from no compressed data`);
    const startDisk = data.getUint16(at + 34, true);
    if (startDisk === U16_OVERFLOW || (startDisk !== disk && startDisk !== 1)) {
      throw new Error(`unsupported zip archive: '${name}' starts on disk ${startDisk}: ${MULTI_DISK}`);
    }
    if (localHeaderOffset + LOCAL_HEADER_SIZE > fileSize) throw new Error(`truncated zip archive: the local header of '${name}' is past the end of the file`);
    if (localHeaderOffset + LOCAL_HEADER_SIZE + compressedSize > fileSize) {
      throw new Error(`truncated zip archive: '${name}' (${compressedSize} bytes after its local header at ${localHeaderOffset}) ` +
        `extends past the end of the file (${fileSize} bytes)`);
    }
    entries.push({ name, method, crc32: data.getUint32(at + 16, true), compressedSize, size, localHeaderOffset });
    at = end;
  }
  return entries;
}

// The data of the extra field block with header `id`, if present.
function findExtraField(extra: DataView, id: number): DataView | undefined {
  for (let at = 0; at + 4 <= extra.byteLength;) {
    const length = extra.getUint16(at + 2, true);
    if (extra.getUint16(at, true) === id) {
      return new DataView(extra.buffer, extra.byteOffset + at + 4, Math.min(length, extra.byteLength - at - 4));
    }
    at += 4 + length;
  }
  return undefined;
}

// ---- writing ------------------------------------------------------------------------------

/** Where the writer's bytes go, in order (a file handle, or memory in tests). */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>;
}

interface WrittenEntry {
  readonly name: Buffer;
  readonly crc32: number;
  readonly size: number;
  readonly offset: number;
}

/** Options of `ZipWriter`. */
export interface ZipWriterOptions {
  /**
   * Use zip64 fields for every entry and write the zip64 end records, as if the archive were
   * over 4 GiB (as Python's `force_zip64`). Archives that need zip64 get it regardless.
   */
  forceZip64?: boolean;
}

// DOS date 1980-01-01 00:00: entries carry a fixed time so that equal contents give equal files.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const VERSION_DEFAULT = 20;
const VERSION_ZIP64 = 45;

/**
 * Writes a zip archive entry by entry: stored (uncompressed) entries whose data start on a
 * 64-byte boundary, as PyTorch's PyTorchStreamWriter lays them out, then the directory.
 */
export class ZipWriter {
  private readonly written: WrittenEntry[] = [];
  private offset = 0;
  private finished = false;

  constructor(private readonly sink: ByteSink, private readonly options: ZipWriterOptions = {}) {}

  /** Appends a stored entry. Names are written as UTF-8. */
  async add(name: string, data: Uint8Array): Promise<void> {
    if (this.finished) throw new Error('ZipWriter: add() after finish()');
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const zip64 = this.options.forceZip64 === true || data.length >= U32_OVERFLOW;
    const zip64Extra = zip64 ? 4 + 16 : 0;
    // Padding goes in an extra field with PyTorch's id 'FB'; its 4-byte header counts too.
    const unpadded = this.offset + LOCAL_HEADER_SIZE + nameBytes.length + zip64Extra + 4;
    const padding = (FIELD_ALIGNMENT - (unpadded % FIELD_ALIGNMENT)) % FIELD_ALIGNMENT;
    const header = Buffer.alloc(LOCAL_HEADER_SIZE + nameBytes.length + zip64Extra + 4 + padding, 'Z');
    header.writeUInt32LE(LOCAL_HEADER, 0);
    header.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
    header.writeUInt16LE(FLAG_UTF8, 6);
    header.writeUInt16LE(METHOD_STORED, 8);
    header.writeUInt16LE(DOS_TIME, 10);
    header.writeUInt16LE(DOS_DATE, 12);
    header.writeUInt32LE(crc, 14);
    header.writeUInt32LE(zip64 ? U32_OVERFLOW : data.length, 18);
    header.writeUInt32LE(zip64 ? U32_OVERFLOW : data.length, 22);
    header.writeUInt16LE(nameBytes.length, 26);
    header.writeUInt16LE(zip64Extra + 4 + padding, 28);
    nameBytes.copy(header, LOCAL_HEADER_SIZE);
    let at = LOCAL_HEADER_SIZE + nameBytes.length;
    if (zip64) {
      header.writeUInt16LE(ZIP64_EXTRA_ID, at);
      header.writeUInt16LE(16, at + 2);
      header.writeBigUInt64LE(BigInt(data.length), at + 4);
      header.writeBigUInt64LE(BigInt(data.length), at + 12);
      at += zip64Extra;
    }
    header.write('FB', at, 'latin1');
    header.writeUInt16LE(padding, at + 2);
    this.written.push({ name: nameBytes, crc32: crc, size: data.length, offset: this.offset });
    await this.emit(header);
    await this.emit(data);
  }

  /** Writes the central directory and the end records. */
  async finish(): Promise<void> {
    if (this.finished) throw new Error('ZipWriter: finish() called twice');
    this.finished = true;
    const directoryOffset = this.offset;
    for (const entry of this.written) await this.emit(this.centralHeader(entry));
    const directorySize = this.offset - directoryOffset;
    const count = this.written.length;
    const zip64 = this.options.forceZip64 === true || count >= U16_OVERFLOW || directoryOffset >= U32_OVERFLOW ||
      directorySize >= U32_OVERFLOW;
    if (zip64) {
      const recordOffset = this.offset;
      const record = Buffer.alloc(ZIP64_EOCD_SIZE + ZIP64_LOCATOR_SIZE);
      record.writeUInt32LE(ZIP64_END_OF_CENTRAL_DIRECTORY, 0);
      record.writeBigUInt64LE(BigInt(ZIP64_EOCD_SIZE - 12), 4);
      record.writeUInt16LE(VERSION_ZIP64, 12);
      record.writeUInt16LE(VERSION_ZIP64, 14);
      record.writeBigUInt64LE(BigInt(count), 24);
      record.writeBigUInt64LE(BigInt(count), 32);
      record.writeBigUInt64LE(BigInt(directorySize), 40);
      record.writeBigUInt64LE(BigInt(directoryOffset), 48);
      record.writeUInt32LE(ZIP64_LOCATOR, ZIP64_EOCD_SIZE);
      record.writeBigUInt64LE(BigInt(recordOffset), ZIP64_EOCD_SIZE + 8);
      record.writeUInt32LE(1, ZIP64_EOCD_SIZE + 16);
      await this.emit(record);
    }
    const end = Buffer.alloc(EOCD_SIZE);
    end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY, 0);
    end.writeUInt16LE(zip64 ? U16_OVERFLOW : count, 8);
    end.writeUInt16LE(zip64 ? U16_OVERFLOW : count, 10);
    end.writeUInt32LE(zip64 ? U32_OVERFLOW : directorySize, 12);
    end.writeUInt32LE(zip64 ? U32_OVERFLOW : directoryOffset, 16);
    await this.emit(end);
  }

  private centralHeader(entry: WrittenEntry): Buffer {
    const zip64 = this.options.forceZip64 === true || entry.size >= U32_OVERFLOW || entry.offset >= U32_OVERFLOW;
    const zip64Extra = zip64 ? 4 + 24 : 0;
    const header = Buffer.alloc(CENTRAL_HEADER_SIZE + entry.name.length + zip64Extra);
    header.writeUInt32LE(CENTRAL_HEADER, 0);
    header.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
    header.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 6);
    header.writeUInt16LE(FLAG_UTF8, 8);
    header.writeUInt16LE(METHOD_STORED, 10);
    header.writeUInt16LE(DOS_TIME, 12);
    header.writeUInt16LE(DOS_DATE, 14);
    header.writeUInt32LE(entry.crc32, 16);
    header.writeUInt32LE(zip64 ? U32_OVERFLOW : entry.size, 20);
    header.writeUInt32LE(zip64 ? U32_OVERFLOW : entry.size, 24);
    header.writeUInt16LE(entry.name.length, 28);
    header.writeUInt16LE(zip64Extra, 30);
    header.writeUInt32LE(zip64 ? U32_OVERFLOW : entry.offset, 42);
    entry.name.copy(header, CENTRAL_HEADER_SIZE);
    if (zip64) {
      const at = CENTRAL_HEADER_SIZE + entry.name.length;
      header.writeUInt16LE(ZIP64_EXTRA_ID, at);
      header.writeUInt16LE(24, at + 2);
      header.writeBigUInt64LE(BigInt(entry.size), at + 4);
      header.writeBigUInt64LE(BigInt(entry.size), at + 12);
      header.writeBigUInt64LE(BigInt(entry.offset), at + 20);
    }
    return header;
  }

  private async emit(bytes: Uint8Array): Promise<void> {
    await this.sink.write(bytes);
    this.offset += bytes.length;
  }
}
