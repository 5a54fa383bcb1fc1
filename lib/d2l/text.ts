/**
 * d2l 1.0's text utilities (PyTorch tab): `tokenize`, `Vocab` and `getTokensAndSegments`, with
 * Python's semantics reproduced exactly (what counts as whitespace, `sorted()` order of strings
 * by code point, stable sorting by frequency, unknown tokens mapping to wherever `<unk>` stands).
 *
 * This module is plain JS: it never loads the native addon, so worker threads can use it.
 */
import { promises as fs } from 'fs';

/**
 * Python's whitespace (`str.isspace()`, also what `str.split()`, `str.strip()` and `re`'s `\s`
 * use). JS's `\s` differs: it lacks U+001C..U+001F and U+0085 and adds U+FEFF.
 */
export const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const WHITESPACE_RUN = new RegExp(`[${PY_WHITESPACE}]+`);

/** Python's `s.split()` (no argument): split on runs of whitespace, no empty strings. */
export function splitWhitespace(s: string): string[] {
  const parts = s.split(WHITESPACE_RUN);
  // Leading or trailing whitespace leaves one empty string at that end.
  const start = parts[0] === '' ? 1 : 0;
  const end = parts.length > start && parts[parts.length - 1] === '' ? parts.length - 1 : parts.length;
  return start === 0 && end === parts.length ? parts : parts.slice(start, end);
}

/** `'word'` (whitespace-separated words) or `'char'` (Unicode code points). */
export type TokenType = 'word' | 'char';

/**
 * d2l's `tokenize(lines, token='word')`: each line as a list of tokens, `line.split()` for
 * words (runs of Python whitespace, no empty tokens) or `list(line)` for characters (code
 * points, so a character outside the BMP is one token).
 */
export function tokenize(lines: readonly string[], token: TokenType = 'word'): string[][] {
  if (token === 'word') return lines.map(splitWhitespace);
  if (token === 'char') return lines.map((line) => Array.from(line));
  throw new TypeError(`tokenize: unknown token type ${JSON.stringify(token)}; expected 'word' or 'char'`);
}

/** Tokens as `Vocab` looks them up: one token or (nested) lists of tokens. */
export type Tokens = string | readonly Tokens[];
/** The indices `Vocab.get` returns for `Tokens` (same nesting). */
export type Indices = number | Indices[];

/**
 * The token counts d2l 1.0's `Vocab` starts from, in first-seen order (`collections.Counter`).
 * As d2l (`if tokens and isinstance(tokens[0], list)`), a list whose first element is a list is
 * flattened one level; otherwise each element is one token.
 */
export function countCorpus(tokens: readonly string[] | readonly (readonly string[])[]): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (token: unknown): void => {
    if (typeof token !== 'string') throw new TypeError(`Vocab: tokens must be strings, got ${JSON.stringify(token)}`);
    counts.set(token, (counts.get(token) ?? 0) + 1);
  };
  if (tokens.length > 0 && Array.isArray(tokens[0])) {
    // `for token in line`: a string among the lines is iterated by code point, as in Python.
    for (const line of tokens as readonly (readonly string[] | string)[]) for (const token of line) add(token);
  } else {
    for (const token of tokens) {
      if (Array.isArray(token)) throw new TypeError("Vocab: a token list after a first element that is a token (Python: unhashable type: 'list'); give tokens or lists of tokens, not both");
      add(token);
    }
  }
  return counts;
}

/**
 * Python's `str` order (`sorted()`): by Unicode code point. JS's default sort compares UTF-16
 * code units, which puts characters beyond U+FFFF (surrogate pairs) before U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) ++i;
  if (i === n) return a.length - b.length;
  // A high surrogate always starts a code point: when the shared unit before i is one, the
  // first differing code points start there; otherwise they start at i in both strings.
  let k = i > 0 && (a.charCodeAt(i - 1) & 0xfc00) === 0xd800 ? i - 1 : i;
  for (;;) {
    if (k >= a.length || k >= b.length) return a.length - b.length;
    const ca = a.codePointAt(k)!;
    const cb = b.codePointAt(k)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    k += ca > 0xffff ? 2 : 1;
  }
}

/** Options of `new Vocab()`, as d2l's keyword arguments. */
export interface VocabOptions {
  /** Tokens seen fewer times are left out (d2l's `min_freq`, default 0: every token is kept). */
  minFreq?: number;
  /** Tokens that are in the vocabulary whatever their count (d2l's `reserved_tokens`); sorted in with the rest. */
  reservedTokens?: readonly string[];
}

/**
 * d2l 1.0's `Vocab`: `idx_to_token` is `sorted(set(['<unk>'] + reserved_tokens + [tokens seen
 * at least min_freq times]))`, in Python's order (by code point), so `<unk>` stands wherever it
 * sorts; `unk` is its index, what every unknown token maps to. `token_freqs` lists the counts,
 * most frequent first (ties in first-seen order, as Python's stable `sorted`).
 */
export class Vocab {
  private _idxToToken: string[];
  private _tokenToIdx: Map<string, number>;
  private readonly _tokenFreqs: [string, number][];
  // Where a loaded vocabulary came from, for the error when it has no '<unk>'.
  private _source: string | undefined;

  /**
   * d2l's `Vocab(tokens, min_freq, reserved_tokens)`: `tokens` is a list of tokens or a list of
   * token lists (as `tokenize` returns).
   */
  constructor(tokens: readonly string[] | readonly (readonly string[])[] = [], options: VocabOptions = {}) {
    const minFreq = options.minFreq ?? 0;
    if (typeof minFreq !== 'number') throw new TypeError(`Vocab: minFreq must be a number, got ${JSON.stringify(minFreq)}`);
    const reserved = options.reservedTokens ?? [];
    reserved.forEach((token, k) => {
      if (typeof token !== 'string') throw new TypeError(`Vocab: reservedTokens[${k}] is ${JSON.stringify(token)}, not a string`);
    });
    // Array.prototype.sort is stable, like Python's sorted(): equal counts keep first-seen order.
    this._tokenFreqs = [...countCorpus(tokens)].sort((a, b) => b[1] - a[1]);
    // `freq >= min_freq` (so a NaN minFreq keeps no corpus token, as in Python).
    const kept = this._tokenFreqs.filter(([, freq]) => freq >= minFreq).map(([token]) => token);
    this._idxToToken = [...new Set(['<unk>', ...reserved, ...kept])].sort(compareCodePoints);
    this._tokenToIdx = indexTokens(this._idxToToken);
  }

  /**
   * A vocabulary with this index -> token list, as d2l's `load_pretrained_model` builds one from
   * `vocab.json`: an empty `Vocab()` given `idx_to_token` and `token_to_idx = {token: idx for
   * idx, token in enumerate(idx_to_token)}` (a repeated token maps to its last index). The list
   * is kept as it is (not sorted); `unk` is the index of `<unk>`, wherever it stands.
   * `source` names where the list came from in errors.
   */
  static fromIdxToToken(idxToToken: readonly string[], source?: string): Vocab {
    if (!Array.isArray(idxToToken)) throw new TypeError('Vocab.fromIdxToToken: expected an array of strings');
    idxToToken.forEach((token, k) => {
      if (typeof token !== 'string') throw new TypeError(`Vocab.fromIdxToToken: element ${k} is not a string`);
    });
    // As d2l: an empty Vocab() whose tables are then replaced (its token_freqs stay empty).
    const vocab = new Vocab();
    vocab._idxToToken = [...idxToToken];
    vocab._tokenToIdx = indexTokens(vocab._idxToToken);
    vocab._source = source;
    return vocab;
  }

  /** Reads a `vocab.json` (a JSON list of tokens, index -> token), as d2l's pretrained BERT archives hold. */
  static async load(vocabJsonPath: string): Promise<Vocab> {
    let text: string;
    try {
      text = await fs.readFile(vocabJsonPath, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new Error(`Vocab.load: ${vocabJsonPath} does not exist (it comes with d2l's pretrained BERT archives)`);
      throw new Error(`Vocab.load: cannot read ${vocabJsonPath}: ${(e as Error).message}`);
    }
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch (e) {
      throw new Error(`Vocab.load: ${vocabJsonPath} is not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(list)) throw new Error(`Vocab.load: ${vocabJsonPath} must hold a JSON list of tokens (index -> token)`);
    const bad = list.findIndex((token) => typeof token !== 'string');
    if (bad >= 0) throw new Error(`Vocab.load: ${vocabJsonPath}: element ${bad} is ${JSON.stringify(list[bad])}, not a string`);
    return Vocab.fromIdxToToken(list as string[], vocabJsonPath);
  }

  /** Index -> token (d2l's `idx_to_token`). */
  get idxToToken(): readonly string[] {
    return this._idxToToken;
  }

  /** Token -> index (d2l's `token_to_idx`). */
  get tokenToIdx(): ReadonlyMap<string, number> {
    return this._tokenToIdx;
  }

  /** `[token, count]` pairs by decreasing count (d2l's `token_freqs`); empty for a loaded vocabulary. */
  get tokenFreqs(): readonly (readonly [string, number])[] {
    return this._tokenFreqs;
  }

  /** The number of tokens (d2l's `len(vocab)`). */
  get length(): number {
    return this.idxToToken.length;
  }

  /**
   * The index of the unknown token `<unk>` (d2l's `unk`, `token_to_idx['<unk>']`).
   * @throws Error when the vocabulary has no `<unk>` (d2l: KeyError), naming the file it came from.
   */
  get unk(): number {
    const index = this._tokenToIdx.get('<unk>');
    if (index === undefined) {
      const where = this._source === undefined ? 'this vocabulary' : this._source;
      throw new Error(`Vocab: ${where} has no '<unk>' token, which d2l's Vocab maps unknown tokens to (its unk is token_to_idx['<unk>']); add "<unk>" to the list`);
    }
    return index;
  }

  /**
   * d2l's `vocab[tokens]`: the index of a token (`unk` when absent), or of each token of (nested)
   * lists. As d2l's `token_to_idx.get(tokens, self.unk)`, which evaluates `unk` first, looking up
   * any token in a vocabulary without `<unk>` throws.
   */
  get(token: string): number;
  get(tokens: readonly string[]): number[];
  get(tokens: readonly (readonly string[])[]): number[][];
  get(tokens: Tokens): Indices;
  get(tokens: Tokens): Indices {
    if (typeof tokens === 'string') {
      const unk = this.unk;
      return this._tokenToIdx.get(tokens) ?? unk;
    }
    return tokens.map((token) => this.get(token));
  }

  /**
   * d2l's `to_tokens`: the token at an index, or at each index of a list (negative indices count
   * from the end, as in Python). d2l 1.0 indexes `idx_to_token` with a list of fewer than two
   * indices, a TypeError in Python; here every list gives a list.
   */
  toTokens(index: number): string;
  toTokens(indices: readonly number[]): string[];
  toTokens(indices: number | readonly number[]): string | string[] {
    if (typeof indices === 'number') return this.tokenAt(indices);
    return indices.map((index) => this.tokenAt(index));
  }

  private tokenAt(index: number): string {
    const n = this._idxToToken.length;
    if (!Number.isInteger(index) || index < -n || index >= n) {
      throw new RangeError(`Vocab.toTokens: index ${index} is out of range for a vocabulary of ${n} tokens`);
    }
    return this._idxToToken[index < 0 ? index + n : index];
  }
}

// {token: idx for idx, token in enumerate(idx_to_token)}: a repeated token keeps its last index.
function indexTokens(idxToToken: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  idxToToken.forEach((token, idx) => map.set(token, idx));
  return map;
}

/**
 * d2l's `get_tokens_and_segments`: BERT's input for one sequence (`<cls> A <sep>`, segments
 * all 0) or a pair (`<cls> A <sep> B <sep>`, segments 0 for `<cls> A <sep>`, 1 for `B <sep>`).
 */
export function getTokensAndSegments(tokensA: readonly string[], tokensB?: readonly string[]): [tokens: string[], segments: number[]] {
  const tokens = ['<cls>', ...tokensA, '<sep>'];
  const segments = new Array<number>(tokensA.length + 2).fill(0);
  if (tokensB !== undefined) {
    tokens.push(...tokensB, '<sep>');
    for (let k = 0; k <= tokensB.length; ++k) segments.push(1);
  }
  return [tokens, segments];
}
