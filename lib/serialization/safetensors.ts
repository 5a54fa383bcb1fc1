/**
 * Hugging Face's safetensors format, both ways:
 *
 * ```ts
 * const state = await torch.loadSafetensors('model.safetensors');   // safetensors.torch.save_file(sd, ...)
 * const { metadata } = await torch.loadSafetensorsHeader('model.safetensors');
 * await torch.saveSafetensors(state, 'copy.safetensors', { metadata: { format: 'pt' } });  // load_file(...)
 * ```
 *
 * A file is an 8-byte little-endian length N, N bytes of UTF-8 JSON (the header), then the data
 * buffer. The header maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}`
 * (offsets into the buffer) and may hold `"__metadata__"`, an object of strings. Tensors are
 * little-endian and C-contiguous.
 *
 * Reading follows the checks of the reference reader (the `safetensors` Rust crate behind
 * Python's package), each failure naming the field and the tensor: the header is at most 100 MB
 * and lies inside the file, is valid UTF-8 and valid JSON with nothing but white space after it;
 * every entry has a known dtype, a shape of non-negative integers and two offsets; `end - begin`
 * is the shape's element count times the dtype's size; the offsets, in order, tile the buffer
 * from its first byte to its last with no gap, no overlap and nothing after. Unlike that reader,
 * a name given twice (which JSON parsers keep the last of) is refused rather than dropped, and so
 * is a bool element other than 0 or 1. Every size is checked against the file's size before
 * anything is read or allocated, and nothing past the file's end is read.
 *
 * Writing lays files out byte for byte as Python's `safetensors.torch.save_file` does: entries
 * sorted by dtype (in the format's order: I64, F64, F32, I32, BF16, F16, U8, BOOL) then by name
 * (UTF-8 bytes), data in that order with no padding, the header JSON without spaces and padded
 * with spaces to a multiple of 8 bytes. The file appears atomically (`writeAtomically`).
 */
import { tensor } from '../core/creation';
import { writeAtomically } from '../core/atomic-file';
import { keep, tidy } from '../core/scope';
import { Tensor } from '../core/tensor';
import { DType, DTYPES } from '../core/types';
import { openRegularSource, withPathInErrors } from './load';
import { storageBytes } from './save';
import { StateDict } from './values';
import { RandomAccessSource, ZIP_MAGIC } from './zip';

// ---- the dtypes ---------------------------------------------------------------------------

/** One safetensors dtype torchbridge has tensors for. */
interface FormatDType {
  /** Its name in headers ('F32'). */
  readonly name: string;
  readonly dtype: DType;
  /** Bytes per element. */
  readonly itemSize: number;
  /**
   * Its place in the format's dtype order (the crate's `Dtype` enum, which the writer sorts by,
   * largest first): U64 > I64 > F64 > C64 > F32 > U32 > I32 > BF16 > F16 > U16 > I16 > ... > U8 > ... > BOOL.
   */
  readonly rank: number;
}

const FORMAT_DTYPES: readonly FormatDType[] = [
  { name: 'I64', dtype: 'int64', itemSize: 8, rank: 20 },
  { name: 'F64', dtype: 'float64', itemSize: 8, rank: 19 },
  { name: 'F32', dtype: 'float32', itemSize: 4, rank: 17 },
  { name: 'I32', dtype: 'int32', itemSize: 4, rank: 15 },
  { name: 'BF16', dtype: 'bfloat16', itemSize: 2, rank: 14 },
  { name: 'F16', dtype: 'float16', itemSize: 2, rank: 13 },
  { name: 'U8', dtype: 'uint8', itemSize: 1, rank: 4 },
  { name: 'BOOL', dtype: 'bool', itemSize: 1, rank: 0 },
];

// The format's other dtypes, named in errors with what they hold.
const UNSUPPORTED_DTYPES: Readonly<Record<string, string>> = {
  I8: 'int8',
  I16: 'int16',
  U16: 'uint16',
  U32: 'uint32',
  U64: 'uint64',
  C64: 'complex64',
  F8_E4M3: 'float8_e4m3fn',
  F8_E5M2: 'float8_e5m2',
  F8_E8M0: 'float8_e8m0fnu',
  F8_E4M3FNUZ: 'float8_e4m3fnuz',
  F8_E5M2FNUZ: 'float8_e5m2fnuz',
  F6_E2M3: 'MX float6 e2m3',
  F6_E3M2: 'MX float6 e3m2',
  F4: 'MX float4 e2m1',
};

function formatDTypeOf(dtype: DType): FormatDType {
  const found = FORMAT_DTYPES.find((d) => d.dtype === dtype);
  if (found === undefined) throw new TypeError(`no safetensors dtype holds ${dtype}`);
  return found;
}

/** What loading reads, for messages: 'F32 (float32), F64 (float64), ...'. */
const SUPPORTED_LIST = DTYPES.map((dtype) => `${formatDTypeOf(dtype).name} (${dtype})`).join(', ');

// ---- limits -------------------------------------------------------------------------------

/** The reference reader's limit on the header (MAX_HEADER_SIZE of the Rust crate). */
const MAX_HEADER_BYTES = 100_000_000;
/** The length field before the header. */
const LENGTH_BYTES = 8;
/** serde_json's nesting limit, which the reference reader parses headers with. */
const MAX_JSON_DEPTH = 128;
/** Entry keys reserved by the format. */
const METADATA_KEY = '__metadata__';

// ---- a strict JSON reader -----------------------------------------------------------------

/** A JSON number, kept as its text so that integers beyond 2^53 stay exact. */
class JsonNumber {
  constructor(readonly text: string) {}
}

/** A parsed JSON value: objects are Maps (in order), numbers JsonNumbers. */
type Json = null | boolean | string | JsonNumber | Json[] | Map<string, Json>;

const WHITE_SPACE = /[ \t\n\r]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const PLAIN_CHARACTERS = /[^"\\\u0000-\u001f]*/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * RFC 8259 JSON, as strictly as serde_json reads it (the reference reader's parser): no comments,
 * no trailing commas, no lone surrogates, control characters escaped, white space only after the
 * value; and, stricter, no key given twice in one object. Errors give the line and column.
 */
class JsonReader {
  private at = 0;

  constructor(private readonly text: string) {}

  /** The whole text as one value. */
  document(): Json {
    const value = this.value(0, 'the header');
    this.skipWhiteSpace();
    if (this.at < this.text.length) {
      this.fail(`${this.found()} after the end of the JSON object (safetensors pads headers with spaces only)`);
    }
    return value;
  }

  private fail(message: string, at = this.at, prefix = 'the header is not valid JSON: '): never {
    let line = 1;
    let lineStart = 0;
    for (let k = this.text.indexOf('\n'); k >= 0 && k < at; k = this.text.indexOf('\n', k + 1)) {
      line += 1;
      lineStart = k + 1;
    }
    throw new Error(`${prefix}${message} (line ${line}, column ${at - lineStart + 1})`);
  }

  // What is at the current position, for messages.
  private found(): string {
    if (this.at >= this.text.length) return 'the header ends';
    const c = this.text.codePointAt(this.at) as number;
    return c < 0x20 || c === 0x7f ? `found the character U+${c.toString(16).padStart(4, '0').toUpperCase()}`
      : `found ${JSON.stringify(String.fromCodePoint(c))}`;
  }

  private skipWhiteSpace(): void {
    WHITE_SPACE.lastIndex = this.at;
    WHITE_SPACE.exec(this.text);
    this.at = WHITE_SPACE.lastIndex;
  }

  private value(depth: number, where: string): Json {
    this.skipWhiteSpace();
    const c = this.text[this.at];
    if (c === '{' || c === '[') {
      if (depth >= MAX_JSON_DEPTH) this.fail(`${where} nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep`);
      return c === '{' ? this.object(depth, where) : this.array(depth, where);
    }
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = this.at;
      const match = NUMBER.exec(this.text);
      if (match === null) this.fail(`a malformed number in ${where}`);
      this.at = NUMBER.lastIndex;
      return new JsonNumber(match[0]);
    }
    for (const [word, literal] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return literal;
      }
    }
    return this.fail(`expected a value for ${where}, ${this.found()}`);
  }

  private object(depth: number, where: string): Map<string, Json> {
    const out = new Map<string, Json>();
    this.at += 1;
    this.skipWhiteSpace();
    if (this.text[this.at] === '}') {
      this.at += 1;
      return out;
    }
    for (;;) {
      this.skipWhiteSpace();
      if (this.text[this.at] !== '"') this.fail(`expected a key (a string) in ${where}, ${this.found()}`);
      const keyAt = this.at;
      const key = this.string();
      const inner = `${where}[${quote(key)}]`;
      if (out.has(key)) {
        const what = depth === 0 ? `the header names ${quote(key)} twice` : `${where} has the key ${quote(key)} twice`;
        this.fail(`${what}; JSON readers keep only one of the two, so the file is refused rather than read with ` +
          'one silently dropped', keyAt, '');
      }
      this.skipWhiteSpace();
      if (this.text[this.at] !== ':') this.fail(`expected ':' after the key ${quote(key)}, ${this.found()}`);
      this.at += 1;
      out.set(key, this.value(depth + 1, inner));
      this.skipWhiteSpace();
      const next = this.text[this.at];
      if (next !== ',' && next !== '}') this.fail(`expected ',' or '}' after ${inner}, ${this.found()}`);
      this.at += 1;
      if (next === '}') return out;
    }
  }

  private array(depth: number, where: string): Json[] {
    const out: Json[] = [];
    this.at += 1;
    this.skipWhiteSpace();
    if (this.text[this.at] === ']') {
      this.at += 1;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1, `${where}[${out.length}]`));
      this.skipWhiteSpace();
      const next = this.text[this.at];
      if (next !== ',' && next !== ']') this.fail(`expected ',' or ']' after ${where}[${out.length - 1}], ${this.found()}`);
      this.at += 1;
      if (next === ']') return out;
    }
  }

  private string(): string {
    const start = this.at;
    this.at += 1;
    let out = '';
    for (;;) {
      PLAIN_CHARACTERS.lastIndex = this.at;
      PLAIN_CHARACTERS.exec(this.text);
      out += this.text.slice(this.at, PLAIN_CHARACTERS.lastIndex);
      this.at = PLAIN_CHARACTERS.lastIndex;
      const c = this.text[this.at];
      if (c === '"') {
        this.at += 1;
        break;
      }
      if (c === undefined) this.fail('a string that is never closed', start);
      if (c !== '\\') {
        this.fail(`a string holds the control character U+${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} unescaped; ` +
          'JSON strings escape them');
      }
      const kind = this.text[this.at + 1];
      if (kind === 'u') {
        const unit = this.hex4(this.at + 2);
        this.at += 6;
        if (unit >= 0xdc00 && unit <= 0xdfff) this.fail('a string holds a lone low surrogate (\\u escape), which is not Unicode text', this.at - 6);
        if (unit >= 0xd800 && unit <= 0xdbff) {
          const low = this.text.startsWith('\\u', this.at) ? this.hex4(this.at + 2) : -1;
          if (low < 0xdc00 || low > 0xdfff) this.fail('a string holds a lone high surrogate (\\u escape), which is not Unicode text', this.at - 6);
          this.at += 6;
          out += String.fromCharCode(unit, low);
        } else {
          out += String.fromCharCode(unit);
        }
        continue;
      }
      const escaped = kind === undefined ? undefined : ESCAPES[kind];
      if (escaped === undefined) this.fail(`a string holds the invalid escape \\${kind ?? ''}`);
      out += escaped;
      this.at += 2;
    }
    return out;
  }

  private hex4(at: number): number {
    const digits = this.text.slice(at, at + 4);
    if (!HEX4.test(digits)) this.fail('a \\u escape without four hex digits', at - 2);
    return parseInt(digits, 16);
  }
}

// A name for messages: JSON-quoted (control characters visible), long ones cut.
function quote(name: string): string {
  const shown = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}...` : name);
  return shown;
}

function describeJson(value: Json): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return `a string (${quote(value)})`;
  if (value instanceof JsonNumber) return `the number ${value.text}`;
  return Array.isArray(value) ? 'an array' : 'an object';
}

// ---- the header ---------------------------------------------------------------------------

/** One tensor of a safetensors file, as its header describes it. */
export interface SafetensorsTensorInfo {
  /** The tensor's name (the header's key). */
  readonly name: string;
  /** Its dtype (the header's 'F32' is 'float32', and so on). */
  readonly dtype: DType;
  /** Its shape; [] for a 0-dim tensor. */
  readonly shape: readonly number[];
  /** Where its bytes are, as offsets into the data buffer: [begin, end), in bytes. */
  readonly dataOffsets: readonly [number, number];
}

/** A safetensors file's header, validated against the file. */
export interface SafetensorsHeader {
  /** The `__metadata__` strings, in the header's order; null when the header has none (or null). */
  readonly metadata: Map<string, string> | null;
  /** The tensors, in the order of their bytes in the file (the order `loadSafetensors` returns). */
  readonly tensors: readonly SafetensorsTensorInfo[];
  /** Where the data buffer starts in the file: 8 + the header's length in bytes. */
  readonly dataStart: number;
  /** The data buffer's length in bytes (the rest of the file). */
  readonly dataLength: number;
}

const U64_LIMIT = 2n ** 64n;

// A non-negative integer field (a shape entry or an offset) as a bigint.
function unsigned(value: Json | undefined, what: string): bigint {
  if (!(value instanceof JsonNumber)) throw new Error(`${what} is ${value === undefined ? 'missing' : describeJson(value)}, not an integer`);
  if (/[.eE]/.test(value.text)) throw new Error(`${what} is ${value.text}, not an integer (sizes and offsets are whole numbers)`);
  if (value.text.startsWith('-')) {
    const why = /^-0+$/.test(value.text) ? 'written with a minus sign' : 'negative';
    throw new Error(`${what} is ${value.text}, ${why} (sizes and offsets are non-negative integers)`);
  }
  const n = BigInt(value.text);
  if (n >= U64_LIMIT) throw new Error(`${what} is ${value.text}, beyond the 64-bit integers the format allows`);
  return n;
}

interface ParsedEntry {
  readonly name: string;
  readonly format: FormatDType;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

// One tensor entry checked on its own: fields, dtype, shape, offsets, size, and within the buffer.
function parseEntry(name: string, value: Json, dataLength: number): ParsedEntry {
  const tensorName = `tensor ${quote(name)}`;
  if (!(value instanceof Map)) {
    throw new Error(`the entry of ${tensorName} is ${describeJson(value)}, not an object {"dtype", "shape", "data_offsets"}`);
  }
  // Other fields are ignored, as the reference reader ignores them.
  const dtypeField = value.get('dtype');
  if (typeof dtypeField !== 'string') {
    throw new Error(`${tensorName}: "dtype" is ${dtypeField === undefined ? 'missing' : describeJson(dtypeField)}, not a dtype name such as "F32"`);
  }
  const format = FORMAT_DTYPES.find((d) => d.name === dtypeField);
  if (format === undefined) {
    const known = UNSUPPORTED_DTYPES[dtypeField];
    if (known !== undefined) {
      throw new Error(`${tensorName} has dtype ${dtypeField} (${known}), which torchbridge has no tensors for; it reads ${SUPPORTED_LIST}`);
    }
    throw new Error(`${tensorName} has dtype ${quote(dtypeField)}, which is not a safetensors dtype (torchbridge reads ${SUPPORTED_LIST})`);
  }
  const shapeField = value.get('shape');
  if (!Array.isArray(shapeField)) {
    throw new Error(`${tensorName}: "shape" is ${shapeField === undefined ? 'missing' : describeJson(shapeField)}, not an array of sizes`);
  }
  const sizes = shapeField.map((d, k) => unsigned(d, `${tensorName}: shape[${k}]`));
  const offsetsField = value.get('data_offsets');
  if (!Array.isArray(offsetsField) || offsetsField.length !== 2) {
    const what = offsetsField === undefined ? 'missing' : Array.isArray(offsetsField) ? `an array of ${offsetsField.length}` : describeJson(offsetsField);
    throw new Error(`${tensorName}: "data_offsets" is ${what}, not [begin, end]`);
  }
  const begin = unsigned(offsetsField[0], `${tensorName}: data_offsets[0] (begin)`);
  const end = unsigned(offsetsField[1], `${tensorName}: data_offsets[1] (end)`);
  const offsets = `data_offsets [${begin}, ${end}]`;
  if (end < begin) throw new Error(`${tensorName}: ${offsets} end before they begin`);
  const numel = sizes.reduce((n, d) => n * d, 1n);
  const needed = numel * BigInt(format.itemSize);
  const shapeText = `[${sizes.join(', ')}]`;
  if (end - begin !== needed) {
    throw new Error(`${tensorName}: shape ${shapeText} of ${format.name} needs ${needed} bytes (${numel} elements of ${format.itemSize}), ` +
      `but ${offsets} hold ${end - begin}`);
  }
  if (end > BigInt(dataLength)) {
    throw new Error(`${tensorName}: ${offsets} end past the data buffer, which holds ${dataLength} bytes (truncated file, or corrupt header)`);
  }
  const tooLarge = sizes.findIndex((d) => d > BigInt(Number.MAX_SAFE_INTEGER));
  if (tooLarge >= 0) {
    throw new Error(`${tensorName}: shape[${tooLarge}] is ${sizes[tooLarge]}, more than a torchbridge tensor can have (2^53 - 1)`);
  }
  return { name, format, shape: sizes.map(Number), begin: Number(begin), end: Number(end) };
}

// The tensors in offset order, checked to tile the data buffer exactly.
function checkLayout(entries: ParsedEntry[], dataLength: number): ParsedEntry[] {
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: ParsedEntry | undefined;
  const range = (e: ParsedEntry): string => `tensor ${quote(e.name)} (data_offsets [${e.begin}, ${e.end}])`;
  for (const entry of sorted) {
    if (entry.begin > covered) {
      const where = previous === undefined ? `before ${range(entry)}, the first tensor` : `between ${range(previous)} and ${range(entry)}`;
      throw new Error(`bytes ${covered} to ${entry.begin} of the data buffer belong to no tensor (a gap ${where}); ` +
        'the tensors must cover the buffer exactly');
    }
    if (entry.begin < covered) {
      throw new Error(`${range(entry)} overlaps ${range(previous as ParsedEntry)}; tensors must not share bytes`);
    }
    covered = entry.end;
    previous = entry;
  }
  if (covered !== dataLength) {
    const last = previous === undefined ? 'there are no tensors' : `the last tensor, ${range(previous)}, ends at byte ${covered}`;
    throw new Error(`the data buffer holds ${dataLength} bytes but ${last}: ${dataLength - covered} trailing bytes belong to no tensor`);
  }
  return sorted;
}

function parseMetadata(value: Json): Map<string, string> | null {
  if (value === null) return null;
  if (!(value instanceof Map)) throw new Error(`"${METADATA_KEY}" is ${describeJson(value)}, not an object of strings`);
  const out = new Map<string, string>();
  for (const [key, item] of value) {
    if (typeof item !== 'string') throw new Error(`"${METADATA_KEY}"[${quote(key)}] is ${describeJson(item)}, not a string`);
    out.set(key, item);
  }
  return out;
}

interface ParsedHeader {
  readonly metadata: Map<string, string> | null;
  /** In offset order. */
  readonly entries: ParsedEntry[];
  readonly dataStart: number;
  readonly dataLength: number;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

async function readHeader(source: RandomAccessSource): Promise<ParsedHeader> {
  const size = source.size;
  if (size < LENGTH_BYTES) {
    throw new Error(`the file has ${size} bytes, fewer than the ${LENGTH_BYTES}-byte header length every safetensors file starts with`);
  }
  const lengthField = await source.read(0, LENGTH_BYTES);
  const headerLength = new DataView(lengthField.buffer, lengthField.byteOffset, LENGTH_BYTES).getBigUint64(0, true);
  const notSafetensors = ZIP_MAGIC.every((b, k) => lengthField[k] === b)
    ? ' (the file is a zip archive, perhaps a torch.save file: read it with load())'
    : ' (corrupt file, or not a safetensors file)';
  if (headerLength === 0n) {
    throw new Error(`the header length is 0; a safetensors header is a JSON object, at least "{}"${notSafetensors}`);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new Error(`the header length is ${headerLength} bytes, more than the ${MAX_HEADER_BYTES} safetensors allows${notSafetensors}`);
  }
  const length = Number(headerLength);
  if (LENGTH_BYTES + length > size) {
    throw new Error(`the header length is ${length} bytes, but only ${size - LENGTH_BYTES} follow the length field ` +
      `(the file has ${size} bytes: truncated, or not a safetensors file)`);
  }
  const dataStart = LENGTH_BYTES + length;
  const dataLength = size - dataStart;
  let text: string;
  try {
    text = UTF8.decode(await source.read(LENGTH_BYTES, length));
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    throw new Error(`the header is not valid UTF-8 text${notSafetensors}`);
  }
  const document = new JsonReader(text).document();
  if (!(document instanceof Map)) {
    throw new Error(`the header is ${describeJson(document)}, not a JSON object of tensor entries`);
  }
  let metadata: Map<string, string> | null = null;
  const entries: ParsedEntry[] = [];
  for (const [name, value] of document) {
    if (name === METADATA_KEY) metadata = parseMetadata(value);
    else entries.push(parseEntry(name, value, dataLength));
  }
  return { metadata, entries: checkLayout(entries, dataLength), dataStart, dataLength };
}

// ---- reading ------------------------------------------------------------------------------

function infoOf(entry: ParsedEntry): SafetensorsTensorInfo {
  return { name: entry.name, dtype: entry.format.dtype, shape: entry.shape, dataOffsets: [entry.begin, entry.end] };
}

/**
 * Reads the header of a safetensors file: the metadata strings and each tensor's name, dtype,
 * shape and offsets, checked as `loadSafetensors` checks them (against the file's size too),
 * without reading any tensor's bytes.
 * @throws Error, its message starting with `loadSafetensorsHeader('<path>'):`, for a missing
 *   file, a path that is not a regular file, or a header that is corrupt or does not fit the file
 *   (the message names the field and the tensor); TypeError when `path` is not a string.
 */
export async function loadSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  return withPathInErrors('loadSafetensorsHeader', path, async () => {
    const { file, source } = await openRegularSource(path, 'safetensors');
    try {
      const header = await readHeader(source);
      return { metadata: header.metadata, tensors: header.entries.map(infoOf), dataStart: header.dataStart, dataLength: header.dataLength };
    } finally {
      await file.close();
    }
  });
}

// The tensor over `bytes` (shared, not copied): read as its dtype, in its shape.
function tensorOver(bytes: Uint8Array, entry: ParsedEntry): Tensor {
  return tidy(() => {
    const raw = tensor(bytes, { dtype: 'uint8' });
    return (entry.format.dtype === 'uint8' ? raw : raw.view(entry.format.dtype)).reshape(entry.shape);
  });
}

/**
 * Reads a safetensors file (as Python's `safetensors.torch.load_file` does): every
 * tensor, as a new CPU tensor of the file's dtype (float32, float64, float16, bfloat16, int64,
 * int32, uint8 or bool) and shape, none requiring grad, in the order of their bytes in the file
 * (for files Python wrote: by dtype size, then by name). Each tensor owns its memory; the caller
 * disposes them (`torch.dispose(stateDict)`). The metadata is `loadSafetensorsHeader(path).metadata`.
 * @throws Error, its message starting with `loadSafetensors('<path>'):`, as
 *   `loadSafetensorsHeader`, and for tensors of dtypes torchbridge lacks (I8, U16, F8_E4M3, ...:
 *   the message names the dtype) or bool elements other than 0 and 1; no tensor is left allocated
 *   after a failure. TypeError when `path` is not a string.
 */
export async function loadSafetensors(path: string): Promise<StateDict> {
  return withPathInErrors('loadSafetensors', path, async () => {
    const { file, source } = await openRegularSource(path, 'safetensors');
    const out: StateDict = new Map();
    try {
      const header = await readHeader(source);
      for (const entry of header.entries) {
        const length = entry.end - entry.begin;
        let bytes: Uint8Array;
        try {
          bytes = await source.read(header.dataStart + entry.begin, length);
        } catch (e) {
          if (!(e instanceof RangeError)) throw e;
          throw new Error(`cannot allocate the ${length} bytes of tensor ${quote(entry.name)} (${e.message})`);
        }
        if (entry.format.dtype === 'bool') {
          const bad = bytes.findIndex((b) => b > 1);
          if (bad >= 0) {
            throw new Error(`tensor ${quote(entry.name)} (BOOL) holds the byte ${bytes[bad]} at element ${bad}; ` +
              'bool elements are 0 (false) or 1 (true)');
          }
        }
        out.set(entry.name, tensorOver(bytes, entry));
      }
      return out;
    } catch (e) {
      for (const t of out.values()) t.dispose();
      throw e;
    } finally {
      await file.close();
    }
  });
}

// ---- writing ------------------------------------------------------------------------------

/** Options of `saveSafetensors`. */
export interface SaveSafetensorsOptions {
  /**
   * Strings for the header's `__metadata__` (Hugging Face files often hold `{ format: 'pt' }`),
   * a Map or a plain object of strings, written in its order. Omitted or null: no
   * `__metadata__` entry at all (as Python's `metadata=None`).
   */
  metadata?: Map<string, string> | Record<string, string> | null;
}

/** One tensor to write: a detached handle of our own, held until the save ends. */
interface PendingTensor {
  readonly name: string;
  readonly tensor: Tensor;
  readonly format: FormatDType;
  readonly shape: number[];
  readonly byteLength: number;
  /** The name's UTF-8 bytes, which the format orders names by. */
  readonly key: Buffer;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'no prototype'})`;
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

// A string UTF-8 can encode (no lone surrogates), checked where it would be written.
function checkText(text: string, what: string): void {
  const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.exec(text);
  if (lone !== null) {
    throw new TypeError(`${what} holds a lone surrogate (U+${lone[0].charCodeAt(0).toString(16).toUpperCase()} at index ${lone.index}), ` +
      'which UTF-8 cannot encode and safetensors readers refuse');
  }
}

function entriesOf(value: unknown, what: string): Array<[unknown, unknown]> {
  if (value instanceof Map) return [...value];
  if (typeof value === 'object' && value !== null && !Array.isArray(value) &&
    [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    return Object.entries(value);
  }
  throw new TypeError(`${what} must be a Map or a plain object, got ${describeValue(value)}`);
}

function metadataEntries(metadata: SaveSafetensorsOptions['metadata']): Array<[string, string]> | null {
  if (metadata === undefined || metadata === null) return null;
  const out: Array<[string, string]> = [];
  for (const [key, item] of entriesOf(metadata, 'options.metadata')) {
    if (typeof key !== 'string') throw new TypeError(`options.metadata has the key ${describeValue(key)}; keys must be strings`);
    if (typeof item !== 'string') {
      throw new TypeError(`options.metadata[${quote(key)}] is ${describeValue(item)}; metadata values must be strings (safetensors stores text only)`);
    }
    checkText(key, `the metadata key ${quote(key)}`);
    checkText(item, `options.metadata[${quote(key)}]`);
    out.push([key, item]);
  }
  return out;
}

function pendingTensors(tensors: unknown): PendingTensor[] {
  const out: PendingTensor[] = [];
  try {
    for (const [name, t] of entriesOf(tensors, 'tensors')) {
      if (typeof name !== 'string') throw new TypeError(`tensors has the key ${describeValue(name)}; tensor names must be strings`);
      if (name === METADATA_KEY) throw new TypeError(`a tensor cannot be named "${METADATA_KEY}": the header keeps that key for the metadata`);
      checkText(name, `the tensor name ${quote(name)}`);
      if (!(t instanceof Tensor)) throw new TypeError(`tensors[${quote(name)}] is ${describeValue(t)}, not a Tensor`);
      if (t.isDisposed) throw new TypeError(`tensors[${quote(name)}] is a disposed tensor`);
      const format = formatDTypeOf(t.dtype);
      // A handle of our own: the caller may dispose theirs while the file is being written.
      out.push({ name, tensor: keep(t.detach()), format, shape: t.shape, byteLength: t.numel * format.itemSize, key: Buffer.from(name, 'utf8') });
    }
  } catch (e) {
    for (const { tensor: t } of out) t.dispose();
    throw e;
  }
  // The reference writer's order: the format's dtype order, largest first, then names by bytes.
  return out.sort((a, b) => b.format.rank - a.format.rank || Buffer.compare(a.key, b.key));
}

// The length field and the header, padded with spaces to a multiple of 8 bytes, as serde_json
// writes it: no white space, strings escaped as JSON.stringify escapes them (", \, and control
// characters, \u00XX in lower case), non-ASCII text as UTF-8.
function headerBytes(pending: readonly PendingTensor[], metadata: Array<[string, string]> | null): Buffer {
  const parts: string[] = [];
  if (metadata !== null) {
    parts.push(`"${METADATA_KEY}":{${metadata.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  let offset = 0;
  for (const p of pending) {
    parts.push(`${JSON.stringify(p.name)}:{"dtype":"${p.format.name}","shape":[${p.shape.join(',')}],` +
      `"data_offsets":[${offset},${offset + p.byteLength}]}`);
    offset += p.byteLength;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.length / LENGTH_BYTES) * LENGTH_BYTES;
  if (padded > MAX_HEADER_BYTES) {
    throw new TypeError(`the header would take ${padded} bytes, more than the ${MAX_HEADER_BYTES} that safetensors readers accept ` +
      '(too many tensors, or too much metadata)');
  }
  const out = Buffer.alloc(LENGTH_BYTES + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, LENGTH_BYTES);
  return out;
}

/**
 * Writes tensors where Python's `safetensors.torch.load_file(path)` (and every safetensors
 * reader) reads them, byte for byte as `safetensors.torch.save_file(tensors, path, metadata)`
 * writes the same tensors and metadata (metadata with two or more keys aside: Python writes
 * those in a random order, this function in the given one).
 *
 * Tensors of every dtype (float32, float64, float16, bfloat16, int64, int32, uint8, bool) and
 * shape (0-dim and empty ones too) on any device are written from contiguous CPU copies.
 * `requiresGrad` is not stored. Each name gets its own copy of its tensor's elements: where
 * Python's `save_file` refuses tensors that share memory (tied weights, views of one tensor,
 * one tensor under two names), this writes each of them in full, and loading gives independent
 * tensors with equal values (the format cannot say that they were shared).
 *
 * The file replaces `path` atomically: after a failure, `path` is as it was and no temporary file
 * remains. The caller's tensors may be disposed once the call has returned its promise.
 * @param tensors names to tensors: a state dict (Map) or a plain object.
 * @param path the file to write.
 * @param options metadata strings, see `SaveSafetensorsOptions`.
 * @throws TypeError (rejected) for a non-string or empty path, names that are not strings, the
 *   name "__metadata__", values that are not live Tensors, metadata that is not strings, text
 *   with lone surrogates, or a header over 100 MB; Error for file system errors. Messages start
 *   with `saveSafetensors('<path>'):`.
 */
export async function saveSafetensors(tensors: StateDict | Record<string, Tensor>, path: string,
  options?: SaveSafetensorsOptions | null): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new TypeError('saveSafetensors(tensors, path): path must be a non-empty string');
  let pending: PendingTensor[] = [];
  let header: Buffer;
  try {
    if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
      throw new TypeError(`the options must be an object (or undefined or null), got ${describeValue(options)}`);
    }
    const metadata = metadataEntries(options?.metadata);
    pending = pendingTensors(tensors);
    header = headerBytes(pending, metadata);
  } catch (e) {
    for (const { tensor: t } of pending) t.dispose();
    throw new TypeError(`saveSafetensors('${path}'): ${(e as Error).message}`);
  }
  try {
    await writeAtomically(path, async (file) => {
      // FileHandle.writeFile writes at the current position: each call appends.
      await file.writeFile(header);
      // One tensor's bytes in memory at a time.
      for (const p of pending) await file.writeFile(storageBytes(p.tensor));
    });
  } catch (e) {
    throw new Error(`saveSafetensors('${path}'): ${(e as Error).message}`);
  } finally {
    for (const { tensor: t } of pending) t.dispose();
  }
}
