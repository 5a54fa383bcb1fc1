/**
 * d2l's `read_snli`: premises, hypotheses and labels of one SNLI split, from the original
 * tab-separated `snli_1.0_<split>.txt` files or from their `.jsonl` twins.
 */
import { FileHandle } from 'fs/promises';
import * as path from 'path';

import { openRegularFile } from '../core/atomic-file';
import { PY_WHITESPACE } from './text';

/** d2l's `label_set`: the gold labels kept, and their class indices. */
export const SNLI_LABELS: Readonly<Record<string, number>> = Object.freeze({ entailment: 0, contradiction: 1, neutral: 2 });

/** A split of SNLI: `true` is 'train' and `false` is 'test', as d2l's `is_train`. */
export type SnliSplit = boolean | 'train' | 'dev' | 'test';

/** Options of `readSnli`. */
export interface ReadSnliOptions {
  /** 'txt' (default, d2l's choice: `snli_1.0_<split>.txt`) or 'jsonl' (`snli_1.0_<split>.jsonl`). */
  format?: 'txt' | 'jsonl';
  /**
   * Throw a SnliFileError, saying why, when the split holds no labelled pair (an empty file, a
   * header alone, every gold label '-', another format); default false: d2l returns empty lists.
   */
  requireExamples?: boolean;
}

/**
 * What is wrong with an SNLI split file, as `readSnli` finds it: it is missing or not a regular
 * file, a row misses columns, bytes are not UTF-8, the file is binary, no labelled pair (with
 * `requireExamples`). The message names the file (and the line where there is one). Errors of
 * the file system itself (EIO, ...) are not SnliFileErrors.
 */
export class SnliFileError extends Error {
  override readonly name = 'SnliFileError';
}

/** The path `readSnli` reads for `split` of `dir`: `<dir>/snli_1.0_<split>.<format>`. */
function snliSplitPath(dir: string, split: SnliSplit, format: 'txt' | 'jsonl' = 'txt'): string {
  const name = split === true ? 'train' : split === false ? 'test' : split;
  return path.join(dir, `snli_1.0_${name}.${format}`);
}

/** Premises, hypotheses and labels (0 entailment, 1 contradiction, 2 neutral), one entry per pair. */
export type SnliData = [premises: string[], hypotheses: string[], labels: number[]];

const PARENTHESES = /[()]/g;
const WHITESPACE_RUNS = new RegExp(`[${PY_WHITESPACE}]{2,}`, 'g');
const LEADING_WHITESPACE = new RegExp(`^[${PY_WHITESPACE}]+`);
const TRAILING_WHITESPACE = new RegExp(`[${PY_WHITESPACE}]+$`);

/**
 * d2l's `extract_text`: parse brackets removed, runs of two or more whitespace characters
 * replaced by one space, then stripped (Python's whitespace throughout).
 */
export function extractText(s: string): string {
  return s.replace(PARENTHESES, '').replace(WHITESPACE_RUNS, ' ').replace(LEADING_WHITESPACE, '').replace(TRAILING_WHITESPACE, '');
}

/**
 * d2l's `read_snli(data_dir, is_train)`: reads `<dir>/snli_1.0_<split>.txt` (header line
 * skipped; columns gold_label, sentence1_binary_parse, sentence2_binary_parse, ...) or, with
 * `format: 'jsonl'`, `<dir>/snli_1.0_<split>.jsonl` (one object per line with those fields).
 * Pairs whose gold label is not entailment/contradiction/neutral (SNLI's '-') are dropped.
 * Lines end at '\n', '\r\n' or '\r' (Python's universal newlines).
 * @throws SnliFileError naming the file when it is missing (with where SNLI comes from) or not
 *   a regular file (a directory, a FIFO, a device: refused at once, never read), and naming
 *   file:line for a labelled row with fewer than 3 columns, a line that is not a JSON object,
 *   a field that is not a string, bytes that are not UTF-8, a NUL byte (a binary file) or a line
 *   longer than 16 MiB; with `requireExamples`, when no pair is labelled.
 */
export async function readSnli(dir: string, split: SnliSplit, options: ReadSnliOptions = {}): Promise<SnliData> {
  const name = split === true ? 'train' : split === false ? 'test' : split;
  if (name !== 'train' && name !== 'dev' && name !== 'test') {
    throw new TypeError(`readSnli: split must be true, false, 'train', 'dev' or 'test', got ${JSON.stringify(split)}`);
  }
  const format = options.format ?? 'txt';
  if (format !== 'txt' && format !== 'jsonl') throw new TypeError(`readSnli: format must be 'txt' or 'jsonl', got ${JSON.stringify(format)}`);
  const file = snliSplitPath(dir, name, format);
  const handle = await openSplit(file, dir);

  const data: SnliData = [[], [], []];
  const parseRow = format === 'txt' ? txtRow : jsonlRow;
  let lineCount = 0;
  let header = '';
  try {
    for await (const [line, lineNumber] of lines(handle, file)) {
      lineCount = lineNumber;
      if (line.includes('\0')) {
        throw new SnliFileError(`readSnli: ${file}:${lineNumber}: a NUL byte: this is a binary file, not SNLI's ${format === 'txt' ? 'tab-separated text' : 'JSON lines'}`);
      }
      if (format === 'txt' && lineNumber === 1) {
        header = line;
        continue;  // the header
      }
      const row = parseRow(line, `${file}:${lineNumber}`);
      if (row === undefined) continue;
      data[0].push(extractText(row.premise));
      data[1].push(extractText(row.hypothesis));
      data[2].push(row.label);
    }
  } finally {
    await handle.close();
  }
  if (options.requireExamples && data[2].length === 0) throw new SnliFileError(noExamples(file, format, lineCount, header));
  return data;
}

// Why a split holds no labelled pair, as precisely as its lines tell.
function noExamples(file: string, format: 'txt' | 'jsonl', lineCount: number, header: string): string {
  const expected = format === 'txt'
    ? "rows of tab-separated columns gold_label, sentence1_binary_parse, sentence2_binary_parse, ... after SNLI's header line"
    : 'JSON objects with gold_label, sentence1_binary_parse and sentence2_binary_parse, one per line';
  let why: string;
  if (lineCount === 0) why = 'the file is empty (0 bytes)';
  else if (format === 'txt' && !header.startsWith('gold_label\t')) why = `its first line is not SNLI's header (gold_label\\t...), got ${JSON.stringify(header.slice(0, 60))}`;
  else if (format === 'txt' && lineCount === 1) why = 'it holds a header line and no rows';
  else why = `none of its ${lineCount} lines has the gold label entailment, contradiction or neutral (SNLI's '-' rows are dropped)`;
  return `readSnli: ${file} has no labelled examples: ${why}; expected ${expected}`;
}

async function openSplit(file: string, dir: string): Promise<FileHandle> {
  try {
    return await openRegularFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SnliFileError(`readSnli: ${file} does not exist. SNLI 1.0 comes from https://nlp.stanford.edu/projects/snli/snli_1.0.zip: ` +
        `fetch it with downloadExtract('SNLI'), or download and unzip it by hand so that ${dir} holds snli_1.0_train.txt, ` +
        'snli_1.0_dev.txt and snli_1.0_test.txt.');
    }
    if (code === undefined) throw new SnliFileError(`readSnli: ${(error as Error).message}; an SNLI split is a text file`);
    if (code === 'ENOTDIR') throw new SnliFileError(`readSnli: ${file}: a part of the path is a file, not a directory`);
    if (code === 'EACCES' || code === 'EPERM') throw new SnliFileError(`readSnli: cannot read ${file}: permission denied`);
    throw error;
  }
}

interface SnliRow {
  premise: string;
  hypothesis: string;
  label: number;
}

// A Map, so that a label such as 'constructor' or '__proto__' is not found on Object.prototype.
const LABEL_INDEX: ReadonlyMap<string, number> = new Map(Object.entries(SNLI_LABELS));

// d2l: row = line.split('\t'); kept when row[0] is a label; premise row[1], hypothesis row[2].
function txtRow(line: string, where: string): SnliRow | undefined {
  const columns = line.split('\t');
  const label = LABEL_INDEX.get(columns[0]);
  if (label === undefined) return undefined;
  if (columns.length < 3) {
    throw new SnliFileError(`readSnli: ${where}: expected at least 3 tab-separated columns (gold_label, sentence1_binary_parse, ` +
      `sentence2_binary_parse), found ${columns.length}`);
  }
  return { premise: columns[1], hypothesis: columns[2], label };
}

function jsonlRow(line: string, where: string): SnliRow | undefined {
  if (line.trim() === '') return undefined;  // a blank line (e.g. after the last newline) holds no pair
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    throw new SnliFileError(`readSnli: ${where}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SnliFileError(`readSnli: ${where}: expected a JSON object`);
  const record = value as Record<string, unknown>;
  const field = (key: string): string => {
    const v = record[key];
    if (typeof v !== 'string') throw new SnliFileError(`readSnli: ${where}: field ${key} must be a string, got ${JSON.stringify(v)}`);
    return v;
  };
  const label = LABEL_INDEX.get(field('gold_label'));
  if (label === undefined) return undefined;
  return { premise: field('sentence1_binary_parse'), hypothesis: field('sentence2_binary_parse'), label };
}

const NEWLINE = 0x0a;
// SNLI's longest line is a few kB.
const MAX_LINE_BYTES = 1 << 24;
const LINE_BREAKS = /\r\n|\r|\n/;

/**
 * The lines of a UTF-8 file with their 1-based numbers, streamed (SNLI's train split is
 * ~470 MB, close to V8's longest string). Each decoded piece ends at a '\n' byte, which never
 * occurs inside a UTF-8 sequence, so pieces decode independently and a '\r\n' stays together.
 */
async function* lines(handle: FileHandle, file: string): AsyncGenerator<[string, number]> {
  // ignoreBOM keeps a U+FEFF as Python's 'utf-8' codec does, rather than dropping one at the
  // start of every piece.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let lineNumber = 0;
  let carry: Buffer = Buffer.alloc(0);
  const decode = (bytes: Buffer): string[] => {
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      throw new SnliFileError(`readSnli: ${file}:${lineNumber + firstBadLine(bytes)}: not valid UTF-8`);
    }
    const parts = text.split(LINE_BREAKS);
    // A piece that ends with a line break leaves an empty string after it: not a line.
    if (parts[parts.length - 1] === '') parts.pop();
    return parts;
  };
  for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false })) {
    const bytes = chunk as Buffer;
    const end = bytes.lastIndexOf(NEWLINE);
    if (end < 0) {
      // a line without end (a binary file, a stream of zeros) must not grow without bound
      if (carry.length + bytes.length > MAX_LINE_BYTES) {
        throw new SnliFileError(`readSnli: ${file}:${lineNumber + 1}: a line longer than ${MAX_LINE_BYTES >> 20} MiB: not SNLI's text`);
      }
      carry = Buffer.concat([carry, bytes]);
      continue;
    }
    const piece = carry.length > 0 ? Buffer.concat([carry, bytes.subarray(0, end + 1)]) : bytes.subarray(0, end + 1);
    carry = Buffer.from(bytes.subarray(end + 1));
    for (const line of decode(piece)) yield [line, ++lineNumber];
  }
  if (carry.length > 0) for (const line of decode(carry)) yield [line, ++lineNumber];
}

// The 1-based line, within `bytes`, of the first bytes that are not UTF-8.
function firstBadLine(bytes: Buffer): number {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let start = 0;
  let line = 1;
  for (;;) {
    const end = bytes.indexOf(NEWLINE, start);
    const stop = end < 0 ? bytes.length : end;
    try {
      decoder.decode(bytes.subarray(start, stop));
    } catch {
      break;
    }
    if (end < 0) break;
    // '\r' alone also ends a line for the reader; count those too.
    for (let k = start; k < stop; ++k) if (bytes[k] === 0x0d && bytes[k + 1] !== NEWLINE) ++line;
    ++line;
    start = end + 1;
  }
  return line;
}

// Penn Treebank conventions, as SNLI's own text: punctuation apart, clitics split off ("doesn't" -> "does n't").
const PTB_PUNCTUATION = /([.,!?;:"()[\]{}])/g;
const PTB_NEGATION = /(\w)(n't)\b/gi;
const PTB_CLITICS = /(\w)('(?:s|re|ve|ll|m|d))\b/gi;

/**
 * A raw sentence written as SNLI's text is (Penn Treebank tokenization: punctuation and
 * clitics as separate words), so that its words are found in a vocabulary built from SNLI:
 * `"A man's guitar isn't loud."` -> `"A man 's guitar is n't loud ."`. Then `extractText`.
 */
export function splitLikeSnli(sentence: string): string {
  return extractText(sentence.replace(PTB_PUNCTUATION, ' $1 ').replace(PTB_NEGATION, '$1 $2').replace(PTB_CLITICS, '$1 $2'));
}
