// Corrupt checkpoints for scripts/fuzz.js: mutations of valid torch.save archives, from blind
// byte damage to edits aimed at the zip headers, the data.pkl pickle and the storages.
'use strict';

const path = require('path');
const zlib = require('zlib');

// The compiled lib/ (npm run build): the project's one CRC-32 and one table of pickle opcodes.
const lib = path.resolve(__dirname, '..', '..', 'lib');
const { crc32 } = require(path.join(lib, 'serialization', 'zip'));
const { OP, OPCODES } = require(path.join(lib, 'serialization', 'pickle-opcodes'));

// ---- zip ------------------------------------------------------------------------------------

const SIG = { local: 0x04034b50, central: 0x02014b50, end: 0x06054b50 };

/**
 * The layout of a zip archive, read leniently: where each field of the end record, of the
 * central headers and of the local headers sits, for mutations aimed at them. Null when the
 * bytes have no end record.
 */
function zipLayout(buf) {
  let end = -1;
  for (let p = buf.length - 22; p >= Math.max(0, buf.length - 22 - 65535); --p) {
    if (buf.readUInt32LE(p) === SIG.end) { end = p; break; }
  }
  if (end < 0) return null;
  const count = buf.readUInt16LE(end + 10);
  const cdSize = buf.readUInt32LE(end + 12);
  const cdOffset = buf.readUInt32LE(end + 16);
  const fields = [
    { at: end + 8, size: 2, what: 'end record: entries on this disk' },
    { at: end + 10, size: 2, what: 'end record: entries' },
    { at: end + 12, size: 4, what: 'end record: directory size' },
    { at: end + 16, size: 4, what: 'end record: directory offset' },
    { at: end + 20, size: 2, what: 'end record: comment length' },
  ];
  const entries = [];
  let p = cdOffset;
  for (let k = 0; k < count && p + 46 <= buf.length && buf.readUInt32LE(p) === SIG.central; ++k) {
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('latin1');
    const local = buf.readUInt32LE(p + 42);
    const entry = { name, central: p, local, method: buf.readUInt16LE(p + 10), csize: buf.readUInt32LE(p + 20) };
    const tag = `'${name}'`;
    fields.push(
      { at: p + 8, size: 2, what: `central ${tag}: flags` },
      { at: p + 10, size: 2, what: `central ${tag}: compression method` },
      { at: p + 16, size: 4, what: `central ${tag}: CRC-32` },
      { at: p + 20, size: 4, what: `central ${tag}: compressed size` },
      { at: p + 24, size: 4, what: `central ${tag}: uncompressed size` },
      { at: p + 28, size: 2, what: `central ${tag}: name length` },
      { at: p + 30, size: 2, what: `central ${tag}: extra length` },
      { at: p + 42, size: 4, what: `central ${tag}: local header offset` },
    );
    if (local + 30 <= buf.length && buf.readUInt32LE(local) === SIG.local) {
      const lNameLen = buf.readUInt16LE(local + 26);
      const lExtraLen = buf.readUInt16LE(local + 28);
      entry.dataStart = local + 30 + lNameLen + lExtraLen;
      fields.push(
        { at: local + 6, size: 2, what: `local ${tag}: flags` },
        { at: local + 8, size: 2, what: `local ${tag}: compression method` },
        { at: local + 14, size: 4, what: `local ${tag}: CRC-32` },
        { at: local + 18, size: 4, what: `local ${tag}: compressed size` },
        { at: local + 22, size: 4, what: `local ${tag}: uncompressed size` },
        { at: local + 26, size: 2, what: `local ${tag}: name length` },
        { at: local + 28, size: 2, what: `local ${tag}: extra length` },
      );
    }
    entries.push(entry);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return { end, count, cdSize, cdOffset, fields, entries };
}

/** The records of an archive, decompressed (null when it cannot be read this simply). */
function zipRecords(buf) {
  const layout = zipLayout(buf);
  if (layout === null) return null;
  const out = [];
  for (const e of layout.entries) {
    if (e.dataStart === undefined) return null;
    const raw = buf.subarray(e.dataStart, e.dataStart + e.csize);
    let data;
    try {
      data = e.method === 8 ? zlib.inflateRawSync(raw) : Buffer.from(raw);
    } catch {
      return null;
    }
    out.push({ name: e.name, data, method: e.method });
  }
  return out;
}

/** A well-formed archive of `records` ({ name, data, method 0|8 }), headers and CRCs consistent. */
function buildZip(records) {
  const parts = [];
  const central = [];
  let offset = 0;
  for (const r of records) {
    const name = Buffer.isBuffer(r.name) ? r.name : Buffer.from(r.name, 'utf8');
    const stored = r.method === 8 ? zlib.deflateRawSync(r.data) : r.data;
    const crc = crc32(r.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(SIG.local, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(r.method === 8 ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(r.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(SIG.central, 0);
    cen.writeUInt16LE(20, 4);
    cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(r.method === 8 ? 8 : 0, 10);
    cen.writeUInt32LE(crc, 16);
    cen.writeUInt32LE(stored.length, 20);
    cen.writeUInt32LE(r.data.length, 24);
    cen.writeUInt16LE(name.length, 28);
    cen.writeUInt32LE(offset, 42);
    parts.push(local, name, stored);
    central.push(cen, name);
    offset += 30 + name.length + stored.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(SIG.end, 0);
  end.writeUInt16LE(records.length, 8);
  end.writeUInt16LE(records.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, end]);
}

// ---- pickle ---------------------------------------------------------------------------------

// Opcode byte -> how its argument is laid out (lib's table, pickletools' layouts).
const ARGUMENTS = new Map(OPCODES.map((o) => [o.code, o.argument]));
// Every opcode byte, in increasing order (the order seeds were drawn in).
const CODES = OPCODES.map((o) => o.code).sort((a, b) => a - b);

/** The opcodes of a pickle: [{ at, end, op }], up to STOP or the first byte it cannot parse. */
function pickleOps(bytes) {
  const ops = [];
  let p = 0;
  while (p < bytes.length) {
    const op = bytes[p];
    const arg = ARGUMENTS.get(op);
    if (arg === undefined) break;
    let end = p + 1;
    if (arg.kind === 'fixed') end += arg.bytes;
    else if (arg.kind === 'lines') {
      for (let lines = arg.lines; lines > 0; --lines) {
        const nl = bytes.indexOf(0x0a, end);
        if (nl < 0) return ops;
        end = nl + 1;
      }
    } else {
      const n = arg.lengthBytes;
      if (end + n > bytes.length) break;
      const len = n === 1 ? bytes[end] : n === 4 ? bytes.readUInt32LE(end) : Number(bytes.readBigUInt64LE(end));
      end += n + len;
    }
    if (end > bytes.length) break;
    ops.push({ at: p, end, op });
    if (op === OP.STOP) break;
    p = end;
  }
  return ops;
}

function intOp(value) {
  if (typeof value === 'number' && Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31) {
    const b = Buffer.alloc(5);
    b[0] = OP.BININT;
    b.writeInt32LE(value, 1);
    return b;
  }
  // LONG1: little-endian two's complement
  let v = BigInt(value);
  const bytes = [];
  for (;;) {
    const byte = Number(v & 0xffn);
    bytes.push(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return Buffer.from([OP.LONG1, bytes.length, ...bytes]);
}

function strOp(text) {
  const data = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  const head = Buffer.alloc(5);
  head[0] = OP.BINUNICODE;
  head.writeUInt32LE(data.length, 1);
  return Buffer.concat([head, data]);
}

const INTERESTING_INTS = [0, 1, -1, 2, 3, 7, 24, 255, 256, 65535, 65536, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 32 + 1,
  2 ** 40, 2 ** 53, 2n ** 53n + 1n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n, 2n ** 100n, -(2n ** 70n)];
const INTERESTING_STRINGS = ['', '0', '1', '2', '9', 'x'.repeat(70000), '../../../../etc/passwd', '/etc/passwd', 'data.pkl',
  'cuda:0', 'meta', 'cpu', 'storage', 'FloatStorage', 'DoubleStorage', 'LongStorage', 'BoolStorage', 'CharStorage',
  'UntypedStorage', 'OrderedDict', '\u0000', 'é', '\ud83d\ude00', Buffer.from([0xff, 0xfe, 0x80]), Buffer.from([0xed, 0xa0, 0x80])];
const INTERESTING_GLOBALS = [
  ['os', 'system'], ['posix', 'system'], ['builtins', 'eval'], ['__builtin__', 'exec'], ['subprocess', 'Popen'],
  ['torch', 'load'], ['torch.storage', '_load_from_bytes'], ['torch._utils', '_rebuild_tensor'], ['torch', 'CharStorage'],
  ['torch', 'DoubleStorage'], ['torch', 'HalfStorage'], ['torch', 'BoolStorage'], ['torch', 'UntypedStorage'],
  ['torch', 'Tensor'], ['collections', 'defaultdict'], ['torch._utils', '_rebuild_parameter'], ['builtins', 'set'],
  ['copyreg', '_reconstructor'], ['torch.serialization', '_get_layout'], ['_codecs', 'encode'], ['builtins', 'bytes'],
  ['builtins', 'getattr'], ['torch._utils', '_rebuild_parameter_with_state'], ['collections', 'OrderedDict'],
];
// Pieces to splice between opcodes.
const SNIPPETS = [
  [OP.MARK], [OP.POP], [OP.POP_MARK], [OP.DUP], [OP.STOP], [OP.EMPTY_LIST, OP.APPEND], [OP.EMPTY_DICT], [OP.EMPTY_TUPLE],
  [OP.NONE], [OP.BINGET, 0xff], [OP.LONG_BINGET, 0xff, 0xff, 0xff, 0xff], [OP.BINPUT, 0x00], [OP.LONG_BINPUT, 0xff, 0xff, 0xff, 0x7f],
  [OP.MEMOIZE], [OP.REDUCE], [OP.BUILD], [OP.SETITEM], [OP.SETITEMS], [OP.APPENDS], [OP.TUPLE], [OP.BINPERSID], [OP.NEWOBJ],
  [OP.FRAME, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], [OP.PROTO, 0x05], [OP.PROTO, 0x63], [OP.NEXT_BUFFER], [OP.EXT1, 0x01],
];

/** A pickle nested `depth` lists deep: [[[...]]] (loaders must not recurse on it). */
function deepPickle(depth, kind) {
  // a dict level: {} then its key 'k' (BINUNICODE of 1 byte)
  const open = kind === 'dict' ? [OP.EMPTY_DICT, OP.BINUNICODE, 1, 0, 0, 0, 0x6b] : kind === 'tuple' ? [OP.MARK] : [OP.EMPTY_LIST];
  const close = kind === 'dict' ? [OP.SETITEM] : kind === 'tuple' ? [OP.TUPLE] : [OP.APPEND];
  const body = [OP.PROTO, 0x02];
  for (let k = 0; k < depth; ++k) body.push(...open);
  body.push(...(kind === 'tuple' ? [OP.EMPTY_TUPLE] : [OP.NONE]));
  for (let k = 0; k < depth; ++k) body.push(...close);
  body.push(OP.STOP);
  return Buffer.from(body);
}

/** One random mutation of a pickle, described. */
function mutatePickle(rng, pkl) {
  const ops = pickleOps(pkl);
  if (ops.length === 0) return { data: rng.bytes(rng.range(0, 64)), what: 'data.pkl replaced by random bytes' };
  const op = rng.pick(ops);
  const splice = (start, end, insert) => Buffer.concat([pkl.subarray(0, start), Buffer.from(insert), pkl.subarray(end)]);
  const ints = ops.filter((o) => [OP.BININT, OP.BININT1, OP.BININT2, OP.LONG1].includes(o.op));
  const strs = ops.filter((o) => [OP.BINUNICODE, OP.SHORT_BINUNICODE].includes(o.op));
  const globals = ops.filter((o) => o.op === OP.GLOBAL);
  const kind = rng.weighted([[3, 'opcode'], [2, 'delete'], [1, 'duplicate'], [1, 'swap'], [2, 'truncate'], [6, 'int'],
    [3, 'string'], [2, 'global'], [2, 'insert'], [1, 'deep']]);
  switch (kind) {
    case 'opcode': {
      const to = rng.pick(CODES);
      const out = Buffer.from(pkl);
      out[op.at] = to;
      return { data: out, what: `pickle opcode at ${op.at} 0x${op.op.toString(16)} -> 0x${to.toString(16)}` };
    }
    case 'delete':
      return { data: splice(op.at, op.end, []), what: `pickle opcode 0x${op.op.toString(16)} at ${op.at} deleted` };
    case 'duplicate':
      return { data: splice(op.at, op.at, pkl.subarray(op.at, op.end)), what: `pickle opcode 0x${op.op.toString(16)} at ${op.at} doubled` };
    case 'swap': {
      const k = ops.indexOf(op);
      const next = ops[k + 1];
      if (!next) return { data: splice(op.at, op.end, []), what: `pickle opcode at ${op.at} deleted` };
      return { data: splice(op.at, next.end, Buffer.concat([pkl.subarray(next.at, next.end), pkl.subarray(op.at, op.end)])), what: `pickle opcodes at ${op.at} and ${next.at} swapped` };
    }
    case 'truncate':
      return { data: pkl.subarray(0, op.at), what: `pickle cut before the opcode at ${op.at}` };
    case 'int': {
      if (ints.length === 0) break;
      const target = rng.pick(ints);
      const value = rng.pick(INTERESTING_INTS);
      return { data: splice(target.at, target.end, intOp(value)), what: `pickle int at ${target.at} -> ${value}` };
    }
    case 'string': {
      if (strs.length === 0) break;
      const target = rng.pick(strs);
      const value = rng.pick(INTERESTING_STRINGS);
      const shown = Buffer.isBuffer(value) ? `bytes ${value.toString('hex')}` : JSON.stringify(value.length > 40 ? `${value.slice(0, 10)}...(${value.length})` : value);
      return { data: splice(target.at, target.end, strOp(value)), what: `pickle str at ${target.at} -> ${shown}` };
    }
    case 'global': {
      if (globals.length === 0) break;
      const target = rng.pick(globals);
      const [m, n] = rng.pick(INTERESTING_GLOBALS);
      return { data: splice(target.at, target.end, Buffer.from(`c${m}\n${n}\n`, 'latin1')), what: `pickle GLOBAL at ${target.at} -> ${m}.${n}` };
    }
    case 'insert': {
      const piece = rng.pick(SNIPPETS);
      return { data: splice(op.at, op.at, piece), what: `pickle bytes ${Buffer.from(piece).toString('hex')} inserted at ${op.at}` };
    }
    case 'deep': {
      const k = rng.pick(['list', 'tuple', 'dict']);
      const depth = rng.pick([1000, 100000, 1000000]);
      return { data: deepPickle(depth, k), what: `data.pkl replaced by a ${k} nested ${depth} deep` };
    }
    default:
      break;
  }
  const out = Buffer.from(pkl);
  const at = rng.int(out.length);
  out[at] = rng.int(256);
  return { data: out, what: `pickle byte ${at} -> 0x${out[at].toString(16)}` };
}

// ---- whole-file mutations -------------------------------------------------------------------

const FIELD_VALUES = [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 0xffff, 0x10000];
const METHODS = [0, 1, 8, 9, 12, 14, 93, 99, 0xffff];

function interestingFieldValue(rng, original, size, fileSize) {
  const max = size === 2 ? 0xffff : 0xffffffff;
  const v = rng.pick([...FIELD_VALUES, original + 1, original - 1, original * 2, fileSize, fileSize + 1, rng.int(max + 1), original + 64, 0xfffe]);
  return Math.max(0, Math.min(max, Math.trunc(v))) >>> 0;
}

function writeField(buf, f, value) {
  if (f.at + f.size > buf.length) return;
  if (f.size === 2) buf.writeUInt16LE(value & 0xffff, f.at);
  else buf.writeUInt32LE(value >>> 0, f.at);
}

/** Applies one mutation to `buf` (a whole archive); returns the new bytes and what was done. */
function mutateOnce(rng, buf) {
  const layout = zipLayout(buf);
  const records = zipRecords(buf);
  const kind = rng.weighted([[3, 'bitflip'], [2, 'overwrite'], [2, 'truncate'], [1, 'extend'], [1, 'zero'], [6, 'field'],
    [6, 'pickle'], [3, 'storage'], [2, 'records'], [1, 'recompress']]);
  if (kind === 'bitflip') {
    const out = Buffer.from(buf);
    const n = rng.range(1, 8);
    const at = [];
    for (let k = 0; k < n && out.length > 0; ++k) {
      const p = rng.int(out.length);
      out[p] ^= 1 << rng.int(8);
      at.push(p);
    }
    return { data: out, what: `${n} bit flips at ${at.join(',')}` };
  }
  if (kind === 'overwrite') {
    const out = Buffer.from(buf);
    const p = rng.int(Math.max(1, out.length));
    const n = rng.range(1, 16);
    const value = rng.pick([0x00, 0xff, 0x7f, 0x80, -1]);
    for (let k = p; k < Math.min(out.length, p + n); ++k) out[k] = value < 0 ? rng.int(256) : value;
    return { data: out, what: `${n} bytes at ${p} overwritten with ${value < 0 ? 'random bytes' : `0x${value.toString(16)}`}` };
  }
  if (kind === 'truncate') {
    const ends = [0, 1, 4, 21, 22, buf.length - 1, buf.length - 22, buf.length - 23, rng.int(buf.length)];
    if (layout) ends.push(layout.cdOffset, layout.cdOffset + 10, layout.end, layout.end + 10);
    const n = Math.max(0, Math.min(buf.length, rng.pick(ends)));
    return { data: buf.subarray(0, n), what: `truncated to ${n} of ${buf.length} bytes` };
  }
  if (kind === 'extend') {
    const how = rng.pick(['append', 'prepend', 'double']);
    if (how === 'double') return { data: Buffer.concat([buf, buf]), what: 'the archive concatenated with itself' };
    const junk = rng.bytes(rng.pick([1, 22, 100, 5000]));
    return how === 'append' ? { data: Buffer.concat([buf, junk]), what: `${junk.length} random bytes appended` }
      : { data: Buffer.concat([junk, buf]), what: `${junk.length} random bytes prepended` };
  }
  if (kind === 'zero') {
    const out = Buffer.from(buf);
    const p = rng.int(Math.max(1, out.length));
    const n = rng.pick([4, 64, 512, out.length]);
    out.fill(0, p, Math.min(out.length, p + n));
    return { data: out, what: `bytes ${p}..${Math.min(out.length, p + n)} zeroed` };
  }
  if (kind === 'field' && layout && layout.fields.length > 0) {
    const out = Buffer.from(buf);
    const f = rng.pick(layout.fields);
    const original = f.size === 2 ? out.readUInt16LE(f.at) : out.readUInt32LE(f.at);
    const value = /compression method/.test(f.what) ? rng.pick(METHODS)
      : /flags/.test(f.what) ? rng.pick([1, 8, 0x41, 0x800, 0xffff])
        : interestingFieldValue(rng, original, f.size, buf.length);
    writeField(out, f, value);
    return { data: out, what: `${f.what} ${original} -> ${value}` };
  }
  if ((kind === 'pickle' || kind === 'storage' || kind === 'records' || kind === 'recompress') && records) {
    const method = records.some((r) => r.method === 8) ? 8 : 0;
    const pklIndex = records.findIndex((r) => /\/data\.pkl$/.test(r.name));
    const storages = records.map((r, k) => [r, k]).filter(([r]) => /\/data\/[^/]+$/.test(r.name));
    if (kind === 'pickle' && pklIndex >= 0) {
      const m = mutatePickle(rng, records[pklIndex].data);
      const next = records.map((r, k) => (k === pklIndex ? { ...r, data: m.data } : r));
      return { data: buildZip(next.map((r) => ({ ...r, method }))), what: m.what };
    }
    if (kind === 'storage' && storages.length > 0) {
      const [r, k] = rng.pick(storages);
      const how = rng.pick(['shorter', 'empty', 'longer', 'random', 'swap', 'remove']);
      let data = r.data;
      let list = records.slice();
      if (how === 'shorter') data = r.data.subarray(0, rng.int(Math.max(1, r.data.length)));
      else if (how === 'empty') data = Buffer.alloc(0);
      else if (how === 'longer') data = Buffer.concat([r.data, rng.bytes(rng.pick([1, 7, 64]))]);
      else if (how === 'random') data = rng.bytes(r.data.length);
      else if (how === 'swap' && storages.length > 1) {
        const [other] = rng.pick(storages.filter(([o]) => o !== r));
        data = other.data;
      }
      if (how === 'remove') list = records.filter((_, j) => j !== k);
      else list[k] = { ...r, data };
      return { data: buildZip(list.map((x) => ({ ...x, method }))), what: `storage record '${r.name}' (${r.data.length} bytes): ${how}${how === 'remove' ? 'd' : ` -> ${data.length} bytes`}` };
    }
    if (kind === 'records') {
      const how = rng.pick(['drop-pkl', 'duplicate', 'rename-prefix', 'reverse', 'constants', 'traversal', 'nul-name', 'no-version']);
      let list = records.slice();
      const prefix = pklIndex >= 0 ? records[pklIndex].name.split('/')[0] : 'archive';
      if (how === 'drop-pkl') list = records.filter((_, j) => j !== pklIndex);
      else if (how === 'duplicate' && records.length > 0) {
        const r = rng.pick(records);
        list.push({ ...r, data: rng.chance(0.5) ? r.data.subarray(0, r.data.length >> 1) : rng.bytes(r.data.length) });
      } else if (how === 'rename-prefix') list = records.map((r) => ({ ...r, name: r.name.replace(/^[^/]*/, rng.pick(['', 'a/b', '..', '/abs', 'x'.repeat(300)])) }));
      else if (how === 'reverse') list.reverse();
      else if (how === 'constants') list.push({ name: `${prefix}/constants.pkl`, data: Buffer.from([OP.PROTO, 0x02, OP.EMPTY_TUPLE, OP.STOP]), method: 0 });
      else if (how === 'traversal') list = records.map((r) => (/\/data\//.test(r.name) ? { ...r, name: r.name.replace('/data/', '/data/../data/') } : r));
      else if (how === 'nul-name') list = records.map((r, j) => (j === pklIndex ? { ...r, name: Buffer.concat([Buffer.from(r.name), Buffer.from([0])]) } : r));
      else if (how === 'no-version') list = records.filter((r) => !/\/version$/.test(r.name));
      return { data: buildZip(list.map((x) => ({ ...x, method }))), what: `records: ${how}` };
    }
    if (kind === 'recompress') {
      const to = method === 8 ? 0 : 8;
      return { data: buildZip(records.map((r) => ({ ...r, method: to }))), what: `records rewritten ${to === 8 ? 'deflated' : 'stored'}` };
    }
  }
  // The archive no longer parses: fall back to blind damage.
  const out = Buffer.from(buf);
  if (out.length > 0) out[rng.int(out.length)] ^= 0xff;
  return { data: out, what: 'one byte inverted' };
}

/** One corrupt-checkpoint case: a base file and 1 to 3 stacked mutations (sometimes none). */
function checkpointCase(rng, bases) {
  const base = rng.weighted([[4, 'valid'], [1, 'hostile']]) === 'hostile'
    ? rng.pick(bases.filter((b) => b.kind === 'hostile')) : rng.pick(bases.filter((b) => b.kind !== 'hostile'));
  let data = base.bytes;
  const steps = [];
  const n = rng.weighted([[1, 0], [6, 1], [3, 2], [1, 3]]);
  for (let k = 0; k < n; ++k) {
    const m = mutateOnce(rng, data);
    data = m.data;
    steps.push(m.what);
  }
  return { base, data, steps, api: rng.chance(0.3) ? 'load' : 'loadValue' };
}

module.exports = { checkpointCase, buildZip, zipRecords, zipLayout, pickleOps };
