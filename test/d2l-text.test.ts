// d2l 1.0's text utilities: tokenize, Vocab (built, loaded from vocab.json) and
// get_tokens_and_segments, against what d2l 1.0.3's own code returns
// (scripts/gen_d2l_data_fixtures.py -> test/fixtures/d2l/expected.json).
import { strict as assert } from 'assert';

import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

import { compareCodePoints, getTokensAndSegments, tokenize, Tokens, Vocab } from '../lib/d2l/text';

const FIXTURES = path.join(__dirname, 'fixtures', 'd2l');

interface VocabRecord {
  idxToToken: string[];
  tokenToIdx: Record<string, number>;
  tokenFreqs: [string, number][];
  length: number;
  unk: number;
  lookups: [Tokens, unknown][];
}

type VocabName = 'default' | 'minFreq2Reserved' | 'oneDimensional' | 'repeatedReserved' | 'empty' | 'minFreq3' | 'minFreqFloat'
  | 'minFreqNaN' | 'reservedOnly' | 'stringLine' | 'codePoints' | 'loaded' | 'loadedDuplicates';
type Outcome = { value: unknown } | { error: string };

interface Expected {
  tokenize: { line: string; word: string[]; char: string[] }[];
  tokensAndSegments: { a: string[]; b: string[] | null; result: [string[], number[]] }[];
  readSnli: { train: [string[], string[], number[]] };
  vocabs: Record<VocabName, VocabRecord>;
  loadedLists: {
    duplicates: string[];
    noUnk: string[];
    noUnkOutcomes: Record<'length' | 'unk' | 'known' | 'unknown' | 'emptyList' | 'toTokens', Outcome>;
  };
  toTokens: { index: number[]; indices: number[][]; results: { index: string[]; indices: string[][] } };
}

// Compares everything d2l's Vocab exposes with the record of the same Vocab in Python.
function assertVocab(vocab: Vocab, record: VocabRecord): void {
  assert.deepEqual(vocab.idxToToken, record.idxToToken);
  assert.deepEqual(Object.fromEntries(vocab.tokenToIdx), record.tokenToIdx);
  assert.deepEqual(vocab.tokenFreqs, record.tokenFreqs);
  assert.equal(vocab.length, record.length);
  assert.equal(vocab.unk, record.unk);
  for (const [tokens, indices] of record.lookups) assert.deepEqual(vocab.get(tokens), indices, `vocab[${JSON.stringify(tokens)}]`);
}

describe('d2l text utilities', () => {
  let expected: Expected;
  let corpus: string[][];
  let tmp: string;

  before(async () => {
    expected = JSON.parse(await fs.readFile(path.join(FIXTURES, 'expected.json'), 'utf8'));
    const [premises, hypotheses] = expected.readSnli.train;
    corpus = tokenize([...premises, ...hypotheses].map((s) => s.toLowerCase()));
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'd2l-text-'));
  });

  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it("tokenize splits words on Python's whitespace and characters by code point, as d2l.tokenize", () => {
    for (const { line, word, char } of expected.tokenize) {
      assert.deepEqual(tokenize([line]), [word], `words of ${JSON.stringify(line)}`);
      assert.deepEqual(tokenize([line], 'char'), [char], `chars of ${JSON.stringify(line)}`);
    }
    assert.deepEqual(tokenize([]), []);
    assert.throws(() => tokenize(['a'], 'bpe' as 'word'), /unknown token type "bpe"/);
  });

  it("Vocab built from tokens equals d2l 1.0's Vocab (sorted idx_to_token, token_to_idx, unk, token_freqs, lookups)", () => {
    const reservedTokens = ['<pad>', '<mask>', '<cls>', '<sep>'];
    const cases: [VocabName, () => Vocab][] = [
      ['default', () => new Vocab(corpus)],
      ['minFreq2Reserved', () => new Vocab(corpus, { minFreq: 2, reservedTokens })],
      ['minFreq3', () => new Vocab(corpus, { minFreq: 3 })],
      ['minFreqFloat', () => new Vocab(corpus, { minFreq: 1.5, reservedTokens })],
      ['minFreqNaN', () => new Vocab(corpus, { minFreq: NaN, reservedTokens: ['<pad>'] })],
      ['oneDimensional', () => new Vocab(['b', 'a', 'b', 'c', 'a', 'b', 'd'])],
      ['repeatedReserved', () => new Vocab([['x', 'y'], ['<pad>', 'x']], { reservedTokens: ['<pad>', '<unk>', '<pad>'] })],
      ['reservedOnly', () => new Vocab([], { reservedTokens: ['<sep>', '<cls>', 'Zebra', 'apple'] })],
      // what d2l flattens: a string among token lists is iterated by character (not in Vocab's types)
      ['stringLine', () => new Vocab([['a', 'b'], 'cab', ['b']] as unknown as string[][])],
      ['empty', () => new Vocab()],
    ];
    for (const [name, build] of cases) {
      const record = expected.vocabs[name];
      try {
        assertVocab(build(), record);
      } catch (e) {
        (e as Error).message = `${name}: ${(e as Error).message}`;
        throw e;
      }
    }
    // The fixture vocabularies are ones where frequency order and '<unk>' first would differ.
    assert.notEqual(expected.vocabs.default.unk, 0);
    assert.notEqual(expected.vocabs.minFreq2Reserved.unk, 0);
    assert.notDeepEqual(expected.vocabs.default.idxToToken.slice(1), expected.vocabs.default.tokenFreqs.map(([token]) => token));
    // d2l's vocab['unknown'] is token_to_idx['<unk>'], wherever it stands
    const unknown = expected.vocabs.minFreq2Reserved.lookups.find(([tokens]) => tokens === 'zyzzyva')!;
    assert.equal(unknown[1], expected.vocabs.minFreq2Reserved.idxToToken.indexOf('<unk>'));
  });

  it("Vocab sorts as Python's sorted(): by code point, not by UTF-16 code unit", () => {
    const record = expected.vocabs.codePoints;
    const tokens = record.lookups.slice(0, -2).map(([token]) => token as string);
    assertVocab(new Vocab(tokens), record);
    // JS's default sort of the same tokens disagrees: the case is one where the order matters.
    assert.notDeepEqual([...record.idxToToken].sort(), record.idxToToken);
    assert.ok(compareCodePoints('\u{1F600}', '\uE000') > 0 && compareCodePoints('\uE000', '\u{1F600}') < 0);
    assert.ok(compareCodePoints('a', 'a\u{1F600}') < 0 && compareCodePoints('ab', 'a') > 0 && compareCodePoints('x', 'x') === 0);
    // lone surrogates are code points of their own, as in a Python str: U+D83D < U+E000 < U+1F600
    assert.deepEqual(['\u{1F600}', '\uE000', '\uD83D'].sort(compareCodePoints), ['\uD83D', '\uE000', '\u{1F600}']);
    assert.deepEqual(['\uD83Dz', '\u{1F600}', '\uD83D'].sort(compareCodePoints), ['\uD83D', '\uD83Dz', '\u{1F600}']);
    // a shared high surrogate, then a low one (U+1F600) or not (U+D83D, then U+E000): compared from the surrogate on
    assert.deepEqual(['\u{1F600}', '\uD83D\uE000'].sort(compareCodePoints), ['\uD83D\uE000', '\u{1F600}']);
  });

  it("Vocab.load reads vocab.json as d2l's load_pretrained_model does; toTokens as to_tokens", async () => {
    const vocab = await Vocab.load(path.join(FIXTURES, 'vocab.json'));
    assertVocab(vocab, expected.vocabs.loaded);
    assert.notEqual(vocab.unk, 0, "the fixture's vocab.json, as d2l 1.0 builds one, has '<unk>' elsewhere");
    assert.deepEqual(expected.toTokens.index.map((i) => vocab.toTokens(i)), expected.toTokens.results.index);
    assert.deepEqual(expected.toTokens.indices.map((ix) => vocab.toTokens(ix)), expected.toTokens.results.indices);
    const n = vocab.length;
    assert.throws(() => vocab.toTokens(n), new RegExp(`index ${n} is out of range for a vocabulary of ${n} tokens`));
    assert.throws(() => vocab.toTokens(-n - 1), RangeError);
  });

  it("a loaded vocab.json keeps its order; a repeated token (and '<unk>') maps to its last index, as the dict comprehension", async () => {
    const file = path.join(tmp, 'duplicates', 'vocab.json');
    await fs.mkdir(path.dirname(file));
    await fs.writeFile(file, JSON.stringify(expected.loadedLists.duplicates));
    const vocab = await Vocab.load(file);
    assertVocab(vocab, expected.vocabs.loadedDuplicates);
    assert.deepEqual(vocab.tokenFreqs, []);
    assertVocab(Vocab.fromIdxToToken(expected.loadedLists.duplicates), expected.vocabs.loadedDuplicates);
  });

  it("a vocab.json without '<unk>': every lookup fails naming the file, as d2l's (KeyError); the rest works", async () => {
    const file = path.join(tmp, 'no-unk', 'vocab.json');
    await fs.mkdir(path.dirname(file));
    await fs.writeFile(file, JSON.stringify(expected.loadedLists.noUnk));
    const vocab = await Vocab.load(file);
    const outcomes = expected.loadedLists.noUnkOutcomes;
    const ours: Record<keyof typeof outcomes, () => unknown> = {
      length: () => vocab.length, unk: () => vocab.unk, known: () => vocab.get('a'), unknown: () => vocab.get('zzz'),
      emptyList: () => vocab.get([]), toTokens: () => vocab.toTokens(1),
    };
    for (const [what, run] of Object.entries(ours) as [keyof typeof outcomes, () => unknown][]) {
      const want = outcomes[what];
      if ('value' in want) {
        assert.deepEqual(run(), want.value, what);
      } else {
        assert.equal(want.error, 'KeyError');
        assert.throws(run, (e: Error) => e.message.includes(file) && /has no '<unk>' token.*add "<unk>"/.test(e.message), what);
      }
    }
    assert.throws(() => Vocab.fromIdxToToken(expected.loadedLists.noUnk).get('a'), /this vocabulary has no '<unk>' token/);
  });

  it('Vocab.load names the file when it is missing or malformed', async () => {
    const missing = path.join(tmp, 'missing', 'vocab.json');
    await assert.rejects(Vocab.load(missing), (e: Error) => e.message.includes(missing) && /does not exist/.test(e.message));
    const cases: [string, RegExp][] = [
      ['["<unk>", "a",', /is not valid JSON/],
      ['{"<unk>": 0}', /must hold a JSON list of tokens/],
      ['["<unk>", 3]', /element 1 is 3, not a string/],
    ];
    for (const [k, [text, message]] of cases.entries()) {
      const file = path.join(tmp, `vocab${k}.json`);
      await fs.writeFile(file, text);
      await assert.rejects(Vocab.load(file), (e: Error) => e.message.includes(file) && message.test(e.message), text);
    }
  });

  it('getTokensAndSegments packs one sequence or a pair as d2l.get_tokens_and_segments', () => {
    for (const { a, b, result } of expected.tokensAndSegments) {
      assert.deepEqual(getTokensAndSegments(a, b ?? undefined), result, `${JSON.stringify(a)}, ${JSON.stringify(b)}`);
    }
  });
});
