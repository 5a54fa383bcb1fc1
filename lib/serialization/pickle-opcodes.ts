/**
 * The pickle opcodes of protocols 0 to 5, the one table that the reader (`pickle-read.ts`), the
 * writer (`pickle-write.ts`), the tests' pickle builders and scripts/fuzz name them by: each
 * opcode's byte, how its argument is laid out after that byte, and the protocol that introduced
 * it. Names, bytes and argument layouts are those of Python's `pickletools.opcodes`, in its order.
 */

/**
 * How an opcode's argument follows its byte (pickletools' argument descriptors, by layout):
 * `fixed` a fixed number of bytes (0: no argument; uint1, int4, float8, ...); `counted` a
 * little-endian length of `lengthBytes` bytes, then that many bytes (strings, bytes, LONG1);
 * `lines` text up to a newline, `lines` times (GLOBAL and INST take a module and a name line).
 */
export type PickleArgument =
  | { readonly kind: 'fixed'; readonly bytes: number }
  | { readonly kind: 'counted'; readonly lengthBytes: 1 | 4 | 8 }
  | { readonly kind: 'lines'; readonly lines: 1 | 2 };

/** One opcode of the table. */
export interface PickleOpcodeInfo {
  /** Its byte in a pickle. */
  readonly code: number;
  /** What follows the byte. */
  readonly argument: PickleArgument;
  /** The first pickle protocol that has it. */
  readonly protocol: number;
}

function fixed(bytes: number): PickleArgument {
  return { kind: 'fixed', bytes };
}

function counted(lengthBytes: 1 | 4 | 8): PickleArgument {
  return { kind: 'counted', lengthBytes };
}

const NO_ARGUMENT = fixed(0);
const LINE: PickleArgument = { kind: 'lines', lines: 1 };
const TWO_LINES: PickleArgument = { kind: 'lines', lines: 2 };

/** Every opcode by its pickletools name. */
export const PICKLE_OPCODES = Object.freeze({
  INT: { code: 0x49, argument: LINE, protocol: 0 }, // 'I'
  BININT: { code: 0x4a, argument: fixed(4), protocol: 1 }, // 'J'
  BININT1: { code: 0x4b, argument: fixed(1), protocol: 1 }, // 'K'
  BININT2: { code: 0x4d, argument: fixed(2), protocol: 1 }, // 'M'
  LONG: { code: 0x4c, argument: LINE, protocol: 0 }, // 'L'
  LONG1: { code: 0x8a, argument: counted(1), protocol: 2 },
  LONG4: { code: 0x8b, argument: counted(4), protocol: 2 },
  STRING: { code: 0x53, argument: LINE, protocol: 0 }, // 'S'
  BINSTRING: { code: 0x54, argument: counted(4), protocol: 1 }, // 'T'
  SHORT_BINSTRING: { code: 0x55, argument: counted(1), protocol: 1 }, // 'U'
  BINBYTES: { code: 0x42, argument: counted(4), protocol: 3 }, // 'B'
  SHORT_BINBYTES: { code: 0x43, argument: counted(1), protocol: 3 }, // 'C'
  BINBYTES8: { code: 0x8e, argument: counted(8), protocol: 4 },
  BYTEARRAY8: { code: 0x96, argument: counted(8), protocol: 5 },
  NEXT_BUFFER: { code: 0x97, argument: NO_ARGUMENT, protocol: 5 },
  READONLY_BUFFER: { code: 0x98, argument: NO_ARGUMENT, protocol: 5 },
  NONE: { code: 0x4e, argument: NO_ARGUMENT, protocol: 0 }, // 'N'
  NEWTRUE: { code: 0x88, argument: NO_ARGUMENT, protocol: 2 },
  NEWFALSE: { code: 0x89, argument: NO_ARGUMENT, protocol: 2 },
  UNICODE: { code: 0x56, argument: LINE, protocol: 0 }, // 'V'
  SHORT_BINUNICODE: { code: 0x8c, argument: counted(1), protocol: 4 },
  BINUNICODE: { code: 0x58, argument: counted(4), protocol: 1 }, // 'X'
  BINUNICODE8: { code: 0x8d, argument: counted(8), protocol: 4 },
  FLOAT: { code: 0x46, argument: LINE, protocol: 0 }, // 'F'
  BINFLOAT: { code: 0x47, argument: fixed(8), protocol: 1 }, // 'G'
  EMPTY_LIST: { code: 0x5d, argument: NO_ARGUMENT, protocol: 1 }, // ']'
  APPEND: { code: 0x61, argument: NO_ARGUMENT, protocol: 0 }, // 'a'
  APPENDS: { code: 0x65, argument: NO_ARGUMENT, protocol: 1 }, // 'e'
  LIST: { code: 0x6c, argument: NO_ARGUMENT, protocol: 0 }, // 'l'
  EMPTY_TUPLE: { code: 0x29, argument: NO_ARGUMENT, protocol: 1 }, // ')'
  TUPLE: { code: 0x74, argument: NO_ARGUMENT, protocol: 0 }, // 't'
  TUPLE1: { code: 0x85, argument: NO_ARGUMENT, protocol: 2 },
  TUPLE2: { code: 0x86, argument: NO_ARGUMENT, protocol: 2 },
  TUPLE3: { code: 0x87, argument: NO_ARGUMENT, protocol: 2 },
  EMPTY_DICT: { code: 0x7d, argument: NO_ARGUMENT, protocol: 1 }, // '}'
  DICT: { code: 0x64, argument: NO_ARGUMENT, protocol: 0 }, // 'd'
  SETITEM: { code: 0x73, argument: NO_ARGUMENT, protocol: 0 }, // 's'
  SETITEMS: { code: 0x75, argument: NO_ARGUMENT, protocol: 1 }, // 'u'
  EMPTY_SET: { code: 0x8f, argument: NO_ARGUMENT, protocol: 4 },
  ADDITEMS: { code: 0x90, argument: NO_ARGUMENT, protocol: 4 },
  FROZENSET: { code: 0x91, argument: NO_ARGUMENT, protocol: 4 },
  POP: { code: 0x30, argument: NO_ARGUMENT, protocol: 0 }, // '0'
  DUP: { code: 0x32, argument: NO_ARGUMENT, protocol: 0 }, // '2'
  MARK: { code: 0x28, argument: NO_ARGUMENT, protocol: 0 }, // '('
  POP_MARK: { code: 0x31, argument: NO_ARGUMENT, protocol: 1 }, // '1'
  GET: { code: 0x67, argument: LINE, protocol: 0 }, // 'g'
  BINGET: { code: 0x68, argument: fixed(1), protocol: 1 }, // 'h'
  LONG_BINGET: { code: 0x6a, argument: fixed(4), protocol: 1 }, // 'j'
  PUT: { code: 0x70, argument: LINE, protocol: 0 }, // 'p'
  BINPUT: { code: 0x71, argument: fixed(1), protocol: 1 }, // 'q'
  LONG_BINPUT: { code: 0x72, argument: fixed(4), protocol: 1 }, // 'r'
  MEMOIZE: { code: 0x94, argument: NO_ARGUMENT, protocol: 4 },
  EXT1: { code: 0x82, argument: fixed(1), protocol: 2 },
  EXT2: { code: 0x83, argument: fixed(2), protocol: 2 },
  EXT4: { code: 0x84, argument: fixed(4), protocol: 2 },
  GLOBAL: { code: 0x63, argument: TWO_LINES, protocol: 0 }, // 'c'
  STACK_GLOBAL: { code: 0x93, argument: NO_ARGUMENT, protocol: 4 },
  REDUCE: { code: 0x52, argument: NO_ARGUMENT, protocol: 0 }, // 'R'
  BUILD: { code: 0x62, argument: NO_ARGUMENT, protocol: 0 }, // 'b'
  INST: { code: 0x69, argument: TWO_LINES, protocol: 0 }, // 'i'
  OBJ: { code: 0x6f, argument: NO_ARGUMENT, protocol: 1 }, // 'o'
  NEWOBJ: { code: 0x81, argument: NO_ARGUMENT, protocol: 2 },
  NEWOBJ_EX: { code: 0x92, argument: NO_ARGUMENT, protocol: 4 },
  PROTO: { code: 0x80, argument: fixed(1), protocol: 2 },
  STOP: { code: 0x2e, argument: NO_ARGUMENT, protocol: 0 }, // '.'
  FRAME: { code: 0x95, argument: fixed(8), protocol: 4 },
  PERSID: { code: 0x50, argument: LINE, protocol: 0 }, // 'P'
  BINPERSID: { code: 0x51, argument: NO_ARGUMENT, protocol: 1 }, // 'Q'
} satisfies Record<string, PickleOpcodeInfo>);

/** An opcode's pickletools name: 'MARK', 'BINUNICODE', ... */
export type PickleOpcodeName = keyof typeof PICKLE_OPCODES;

/** Each opcode's byte by name: `OP.MARK` is 0x28. */
export const OP: { readonly [Name in PickleOpcodeName]: number } = Object.freeze(Object.fromEntries(
  Object.entries(PICKLE_OPCODES).map(([name, info]) => [name, info.code])) as Record<PickleOpcodeName, number>);

/** One opcode with its name, as `OPCODES` lists them. */
export interface PickleOpcode extends PickleOpcodeInfo {
  readonly name: PickleOpcodeName;
}

/** Every opcode, in pickletools' order. */
export const OPCODES: readonly PickleOpcode[] = Object.freeze(Object.entries(PICKLE_OPCODES).map(
  ([name, info]) => Object.freeze({ name: name as PickleOpcodeName, ...info })));

const BY_CODE = new Map(OPCODES.map((opcode) => [opcode.code, opcode]));

/** The opcode whose byte is `code`; undefined for a byte that is no opcode. */
export function opcodeOf(code: number): PickleOpcode | undefined {
  return BY_CODE.get(code);
}
