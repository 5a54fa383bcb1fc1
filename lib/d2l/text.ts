/**
 * d2l's text utilities (PyTorch tab): `tokenize`, `Vocab` and `getTokensAndSegments`, with
 * Python's semantics reproduced exactly (what counts as whitespace, stable sorting by
 * frequency, unknown tokens mapping to index 0).
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
 * d2l's `count_corpus`: token frequencies in first-seen order (as `collections.Counter`). A list
 * of token lists is flattened one level first.
 */
export function countCorpus(tokens: readonly string[] | readonly (readonly string[])[]): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (token: string): void => {
    counts.set(token, (counts.get(token) ?? 0) + 1);
  };
  for (const item of tokens) {
    if (typeof item === 'string') add(item);
    else for (const token of item) add(token);
  }
  return counts;
}

/** Options of `new Vocab()`, as d2l's keyword arguments. */
export interface VocabOptions {
  /** Tokens seen fewer times are left out (d2l's `min_freq`, default 0). */
  minFreq?: number;
  /** Tokens placed right after `<unk>`, in this order (d2l's `reserved_tokens`). */
  reservedTokens?: readonly string[];
}

/**
 * d2l's `Vocab`: index 0 is `<unk>` (what every unknown token maps to), then the reserved
 * tokens, then the corpus tokens seen at least `minFreq` times, most frequent first (ties in
 * first-seen order, as Python's stable `sorted`).
 */
export class Vocab {
  private _idxToToken: string[];
  private _tokenToIdx: Map<string, number>;
  private readonly _tokenFreqs: [string, number][];

  /**
   * d2l's `Vocab(tokens, min_freq, reserved_tokens)`: `tokens` is a list of tokens or a list of
   * token lists (as `tokenize` returns).
   */
  constructor(tokens: readonly string[] | readonly (readonly string[])[] = [], options: VocabOptions = {}) {
    const minFreq = options.minFreq ?? 0;
    if (typeof minFreq !== 'number' || Number.isNaN(minFreq)) throw new TypeError(`Vocab: minFreq must be a number, got ${minFreq}`);
    // Array.prototype.sort is stable, like Python's sorted(): equal counts keep first-seen order.
    this._tokenFreqs = [...countCorpus(tokens)].sort((a, b) => b[1] - a[1]);
    this._idxToToken = ['<unk>', ...(options.reservedTokens ?? [])];
    this._tokenToIdx = indexTokens(this._idxToToken);
    for (const [token, freq] of this._tokenFreqs) {
      if (freq < minFreq) break;
      if (!this._tokenToIdx.has(token)) {
        this._idxToToken.push(token);
        this._tokenToIdx.set(token, this._idxToToken.length - 1);
      }
    }
  }

  /**
   * A vocabulary with this index -> token list, as d2l's `load_pretrained_model` builds one from
   * `vocab.json` (`token_to_idx = {token: idx for idx, token in enumerate(idx_to_token)}`, so a
   * repeated token maps to its last index). Index 0 stays the unknown index, whatever token it holds.
   */
  static fromIdxToToken(idxToToken: readonly string[]): Vocab {
    if (!Array.isArray(idxToToken)) throw new TypeError('Vocab.fromIdxToToken: expected an array of strings');
    idxToToken.forEach((token, k) => {
      if (typeof token !== 'string') throw new TypeError(`Vocab.fromIdxToToken: element ${k} is not a string`);
    });
    // As d2l: an empty Vocab() whose tables are then replaced (its token_freqs stay empty).
    const vocab = new Vocab();
    vocab._idxToToken = [...idxToToken];
    vocab._tokenToIdx = indexTokens(vocab._idxToToken);
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
    return Vocab.fromIdxToToken(list as string[]);
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

  /** The index of the unknown token: always 0 (d2l's `unk`). */
  get unk(): number {
    return 0;
  }

  /** d2l's `vocab[tokens]`: the index of a token (`unk` when absent), or of each token of (nested) lists. */
  get(token: string): number;
  get(tokens: readonly string[]): number[];
  get(tokens: readonly (readonly string[])[]): number[][];
  get(tokens: Tokens): Indices;
  get(tokens: Tokens): Indices {
    if (typeof tokens === 'string') return this._tokenToIdx.get(tokens) ?? this.unk;
    return tokens.map((token) => this.get(token));
  }

  /** d2l's `to_tokens`: the token at an index, or at each index of a list (negative indices count from the end, as in Python). */
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
