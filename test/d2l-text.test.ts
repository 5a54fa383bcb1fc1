// d2l's text utilities: tokenize, Vocab (built, loaded from vocab.json) and
// get_tokens_and_segments, against what d2l's own code returns
// (scripts/gen_d2l_data_fixtures.py -> test/fixtures/d2l/expected.json).
import { strict as assert } from 'assert';

import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

import { getTokensAndSegments, tokenize, Tokens, Vocab } from '../lib/d2l/text';

const FIXTURES = path.join(__dirname, 'fixtures', 'd2l');

interface VocabRecord {
  idxToToken: string[];
  tokenToIdx: Record<string, number>;
  tokenFreqs: [string, number][];
  length: number;
  lookups: [Tokens, unknown][];
}

interface Expected {
  tokenize: { line: string; word: string[]; char: string[] }[];
  tokensAndSegments: { a: string[]; b: string[] | null; result: [string[], number[]] }[];
  readSnli: { train: [string[], string[], number[]] };
  vocabs: Record<'default' | 'minFreq2Reserved' | 'oneDimensional' | 'repeatedReserved' | 'empty' | 'loaded', VocabRecord>;
  toTokens: { index: number[]; indices: number[][]; results: { index: string[]; indices: string[][] } };
}

// Compares everything d2l's Vocab exposes with the record of the same Vocab in Python.
function assertVocab(vocab: Vocab, record: VocabRecord): void {
  assert.deepEqual(vocab.idxToToken, record.idxToToken);
  assert.deepEqual(Object.fromEntries(vocab.tokenToIdx), record.tokenToIdx);
  assert.deepEqual(vocab.tokenFreqs, record.tokenFreqs);
  assert.equal(vocab.length, record.length);
  assert.equal(vocab.unk, 0);
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

  it("Vocab built from tokens equals d2l's Vocab (idx_to_token, token_to_idx, token_freqs, lookups)", () => {
    assertVocab(new Vocab(corpus), expected.vocabs.default);
    const reservedTokens = ['<pad>', '<mask>', '<cls>', '<sep>'];
    assertVocab(new Vocab(corpus, { minFreq: 2, reservedTokens }), expected.vocabs.minFreq2Reserved);
    assertVocab(new Vocab(['b', 'a', 'b', 'c', 'a', 'b', 'd']), expected.vocabs.oneDimensional);
    assertVocab(new Vocab([['x', 'y'], ['<pad>', 'x']], { reservedTokens: ['<pad>', '<unk>', '<pad>'] }), expected.vocabs.repeatedReserved);
    assertVocab(new Vocab(), expected.vocabs.empty);
  });

  it("Vocab.load reads vocab.json as d2l's load_pretrained_model does; toTokens as to_tokens", async () => {
    const vocab = await Vocab.load(path.join(FIXTURES, 'vocab.json'));
    assertVocab(vocab, expected.vocabs.loaded);
    assert.deepEqual(expected.toTokens.index.map((i) => vocab.toTokens(i)), expected.toTokens.results.index);
    assert.deepEqual(expected.toTokens.indices.map((ix) => vocab.toTokens(ix)), expected.toTokens.results.indices);
    const n = vocab.length;
    assert.throws(() => vocab.toTokens(n), new RegExp(`index ${n} is out of range for a vocabulary of ${n} tokens`));
    assert.throws(() => vocab.toTokens(-n - 1), RangeError);

    const fromList = Vocab.fromIdxToToken(['<unk>', 'a', 'b', 'a']);
    assert.equal(fromList.get('a'), 3, 'a repeated token maps to its last index, as the dict comprehension');
    assert.deepEqual(fromList.tokenFreqs, []);
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
