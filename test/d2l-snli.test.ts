// d2l's read_snli and SNLIBERTDataset: results equal those of d2l's own code on an SNLI-format
// fixture (scripts/gen_d2l_data_fixtures.py -> test/fixtures/d2l/) and, through digests, on the
// real dev and test splits in ../shared/data/snli_1.0.
import { strict as assert } from 'assert';

import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import { existsSync, promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';
import { settledLiveTensors } from './helpers';
import { readSnli, SnliData } from '../lib/d2l/snli';
import { SNLIBERTDataset } from '../lib/d2l/snli-dataset';
import { tokenize, Vocab } from '../lib/d2l/text';

const FIXTURES = path.join(__dirname, 'fixtures', 'd2l');
// `../shared/data/snli_1.0` from the repository root.
const REAL_SNLI = path.resolve(__dirname, '..', '..', 'shared', 'data', 'snli_1.0');

interface DatasetRecord {
  tokens: number[][];
  segments: number[][];
  validLens: number[];
  labels: number[];
  dtypes: string[];
}

interface SplitDigest {
  count: number;
  labelCounts: number[];
  first: [string, string, number];
  last: [string, string, number];
  sha256: string;
}

interface Expected {
  readSnli: { train: SnliData; test: SnliData };
  datasets: Record<string, DatasetRecord>;
  real: {
    dev: SplitDigest;
    test: SplitDigest;
    devVocab: { minFreq: number; reservedTokens: string[]; length: number; idxToTokenSha256: string; tokenFreqsHead: [string, number][] };
    devDataset: {
      maxLen: number; shape: number[]; dtypes: string[]; truncated: number;
      tokensSha256: string; segmentsSha256: string; validLensSha256: string; labelsSha256: string;
    };
  } | null;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

// As the generator's split_digest: 'premise\thypothesis\tlabel' lines joined by '\n'.
function splitDigest([premises, hypotheses, labels]: SnliData): SplitDigest {
  return {
    count: labels.length,
    labelCounts: [0, 1, 2].map((k) => labels.filter((label) => label === k).length),
    first: [premises[0], hypotheses[0], labels[0]],
    last: [premises[premises.length - 1], hypotheses[hypotheses.length - 1], labels[labels.length - 1]],
    sha256: sha256(premises.map((p, i) => `${p}\t${hypotheses[i]}\t${labels[i]}`).join('\n')),
  };
}

// As the generator's tensor_digest: the row-major elements as decimal integers joined by ' '.
function tensorDigest(t: torch.Tensor): string {
  return sha256(Array.from(t.data() as BigInt64Array, String).join(' '));
}

function assertDatasetEquals(dataset: SNLIBERTDataset, record: DatasetRecord): void {
  assert.deepEqual([dataset.tokens, dataset.segments, dataset.validLens, dataset.labels].map((t) => `torch.${t.dtype}`), record.dtypes);
  assert.deepEqual(dataset.tokens.toArray(), record.tokens);
  assert.deepEqual(dataset.segments.toArray(), record.segments);
  assert.deepEqual(dataset.validLens.toArray(), record.validLens);
  assert.deepEqual(dataset.labels.toArray(), record.labels);
}

function assertSameTensors(a: SNLIBERTDataset, b: SNLIBERTDataset): void {
  for (const key of ['tokens', 'segments', 'validLens', 'labels'] as const) {
    assert.deepEqual(a[key].shape, b[key].shape, key);
    assert.deepEqual(a[key].data(), b[key].data(), key);
  }
}

// The real splits are on the development machines; CI must have them, elsewhere the test skips.
function requireRealSnli(ctx: Mocha.Context, expected: Expected): NonNullable<Expected['real']> {
  if (existsSync(REAL_SNLI) && expected.real !== null) return expected.real;
  const why = !existsSync(REAL_SNLI) ? `${REAL_SNLI} does not exist` : 'expected.json has no digests (regenerate it where the data exists)';
  if (process.env.CI) assert.fail(`the real SNLI dev/test splits are required in CI: ${why}`);
  console.log(`      (skipped: ${why})`);
  ctx.skip();
}

const quiet = { log: null };

describe('d2l SNLI', function () {
  this.timeout(300_000);
  let expected: Expected;
  let vocab: Vocab;
  let tmp: string;

  before(async () => {
    expected = JSON.parse(await fs.readFile(path.join(FIXTURES, 'expected.json'), 'utf8'));
    vocab = await Vocab.load(path.join(FIXTURES, 'vocab.json'));
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'd2l-snli-'));
  });

  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  // A file of `lines` joined by '\n', in a fresh directory; returns the directory and the file.
  async function writeSplit(name: string, lines: string[] | Buffer): Promise<[string, string]> {
    const dir = await fs.mkdtemp(path.join(tmp, 'split-'));
    const file = path.join(dir, name);
    await fs.writeFile(file, Buffer.isBuffer(lines) ? lines : lines.join('\n') + '\n');
    return [dir, file];
  }

  describe('readSnli', () => {
    it("equals d2l's read_snli on the fixture: brackets, whitespace runs, unlabelled rows, CRLF, 3-column rows", async () => {
      assert.deepEqual(await readSnli(FIXTURES, true), expected.readSnli.train);
      assert.deepEqual(await readSnli(FIXTURES, 'train'), expected.readSnli.train);
      assert.deepEqual(await readSnli(FIXTURES, false), expected.readSnli.test);
      assert.deepEqual(await readSnli(FIXTURES, 'test'), expected.readSnli.test);
    });

    it('reads the .jsonl files: the same pairs as the .txt reader on the same rows', async () => {
      const fromJsonl = await readSnli(FIXTURES, 'train', { format: 'jsonl' });
      assert.deepEqual(fromJsonl, await readSnli(FIXTURES, 'train', { format: 'txt' }));
      assert.deepEqual(fromJsonl, expected.readSnli.train);
    });

    it("reads the real dev (9,842 pairs) and test (9,824 pairs) splits as d2l's read_snli", async function () {
      const real = requireRealSnli(this, expected);
      const dev = splitDigest(await readSnli(REAL_SNLI, 'dev'));
      const test = splitDigest(await readSnli(REAL_SNLI, false));
      assert.equal(dev.count, 9842);
      assert.equal(test.count, 9824);
      assert.deepEqual(dev, real.dev);
      assert.deepEqual(test, real.test);
    });

    it('names the missing file and where SNLI comes from', async () => {
      const dir = path.join(tmp, 'nowhere');
      await assert.rejects(readSnli(dir, 'dev'), (e: Error) =>
        e.message.includes(path.join(dir, 'snli_1.0_dev.txt')) && e.message.includes("downloadExtract('SNLI')") &&
        e.message.includes('https://nlp.stanford.edu/projects/snli/snli_1.0.zip'));
      await assert.rejects(readSnli(FIXTURES, 'dev', { format: 'jsonl' }), /snli_1\.0_dev\.jsonl does not exist/);
      await assert.rejects(readSnli(FIXTURES, 'validation' as 'dev'), TypeError);
    });

    it('gives file:line for a labelled row with too few columns, counting lines as Python does', async () => {
      // Line 3 ends with a lone '\r', which Python's universal newlines also end a line at.
      const [dir, file] = await writeSplit('snli_1.0_train.txt', [
        'gold_label\tsentence1_binary_parse\tsentence2_binary_parse',
        'neutral\tA man\tA person',
        '-\tan unlabelled row may be short\rentailment\tonly a premise',
      ]);
      await assert.rejects(readSnli(dir, true), (e: Error) => e.message.startsWith(`readSnli: ${file}:4: expected at least 3`));
    });

    it('gives file:line for bad JSON, a non-object line or a non-string field in .jsonl', async () => {
      const good = JSON.stringify({ gold_label: 'neutral', sentence1_binary_parse: '( A man )', sentence2_binary_parse: 'A person' });
      const cases: [string, RegExp][] = [
        ['{"gold_label": "neutral",', /:2: not valid JSON/],
        ['["neutral", "a", "b"]', /:2: expected a JSON object/],
        [JSON.stringify({ gold_label: 'neutral', sentence1_binary_parse: 3, sentence2_binary_parse: 'b' }), /:2: field sentence1_binary_parse must be a string, got 3/],
      ];
      for (const [line, message] of cases) {
        const [dir, file] = await writeSplit('snli_1.0_dev.jsonl', [good, line, good]);
        await assert.rejects(readSnli(dir, 'dev', { format: 'jsonl' }), (e: Error) => e.message.includes(file) && message.test(e.message), line);
      }
    });

    it('gives file:line for bytes that are not UTF-8', async () => {
      const bytes = Buffer.concat([
        Buffer.from('gold_label\tsentence1_binary_parse\tsentence2_binary_parse\nneutral\tA man\tA person\nneutral\tA '),
        Buffer.from([0xff, 0xfe]),
        Buffer.from(' man\tA person\n'),
      ]);
      const [dir, file] = await writeSplit('snli_1.0_test.txt', bytes);
      await assert.rejects(readSnli(dir, false), (e: Error) => e.message === `readSnli: ${file}:3: not valid UTF-8`);
    });
  });

  describe('SNLIBERTDataset', () => {
    it("equals d2l's SNLIBERTDataset exactly (truncation both ways and on ties, case, OOV words, dropped rows), int64", async () => {
      const data = await readSnli(FIXTURES, true);
      for (const maxLen of [12, 16, 64]) {
        const dataset = await SNLIBERTDataset.create(data, maxLen, vocab, { ...quiet, workers: 0 });
        assertDatasetEquals(dataset, expected.datasets[String(maxLen)]);
        assert.equal(dataset.length, 9);
        assert.equal(dataset.maxLen, maxLen);
        dataset.dispose();
      }
    });

    it('the worker-thread path equals the single-thread path', async () => {
      const data = await readSnli(FIXTURES, true);
      // Chunks of 2 pairs on 3 threads: results arrive out of order and land in place.
      const dataset = await SNLIBERTDataset.create(data, 12, vocab, { ...quiet, workers: 3, chunkSize: 2 });
      assertDatasetEquals(dataset, expected.datasets['12']);
      dataset.dispose();
    });

    it('the worker script never loads the native addon', () => {
      const script = path.join(__dirname, '..', 'lib', 'd2l', 'snli-worker.js');
      const loaded: string[] = JSON.parse(execFileSync(process.execPath,
        ['-e', `require(${JSON.stringify(script)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)))`], { encoding: 'utf8' }));
      assert.ok(loaded.includes(script));
      assert.deepEqual(loaded.filter((file) => file.endsWith('.node') || /[\\/]lib[\\/](native|index)\.js$/.test(file)), []);
    });

    it("get(i) returns d2l's __getitem__: ((tokens, segments, valid_len), label)", async () => {
      const dataset = await SNLIBERTDataset.create(await readSnli(FIXTURES, true), 16, vocab, quiet);
      const record = expected.datasets['16'];
      for (const i of [0, 4, -1]) {
        const k = i < 0 ? i + dataset.length : i;
        const example = dataset.get(i);
        const [[tokens, segments, validLen], label] = example;
        assert.deepEqual(tokens.shape, [16]);
        assert.deepEqual(validLen.shape, []);
        assert.deepEqual([tokens.toArray(), segments.toArray(), validLen.item(), label.item()],
          [record.tokens[k], record.segments[k], record.validLens[k], record.labels[k]]);
        torch.dispose(example);
      }
      assert.throws(() => dataset.get(9), /index 9 is out of range for 9 examples/);
      dataset.dispose();
    });

    it("prints 'read N examples' like d2l unless log says otherwise", async () => {
      const data = await readSnli(FIXTURES, false);
      const lines: string[] = [];
      (await SNLIBERTDataset.create(data, 12, vocab, { log: (line) => lines.push(line) })).dispose();
      assert.deepEqual(lines, ['read 2 examples']);
      const consoleLog = console.log;
      console.log = (line: string) => lines.push(`console: ${line}`);
      try {
        (await SNLIBERTDataset.create(data, 12, vocab)).dispose();
      } finally {
        console.log = consoleLog;
      }
      assert.deepEqual(lines, ['read 2 examples', 'console: read 2 examples']);
    });

    it('rejects a maxLen below 3 and lists of different lengths', async () => {
      const data = await readSnli(FIXTURES, false);
      await assert.rejects(SNLIBERTDataset.create(data, 2, vocab, quiet), /maxLen must be an integer of at least 3/);
      await assert.rejects(SNLIBERTDataset.create([data[0], data[1], [0]], 12, vocab, quiet), /2 premises, 2 hypotheses and 1 labels/);
    });

    it("rejects a vocabulary without '<unk>' on either path, naming its file (d2l: KeyError at the first lookup)", async () => {
      const data = await readSnli(FIXTURES, true);
      const file = path.join(await fs.mkdtemp(path.join(tmp, 'no-unk-')), 'vocab.json');
      await fs.writeFile(file, JSON.stringify(vocab.idxToToken.map((token) => (token === '<unk>' ? '<UNK>' : token))));
      const noUnk = await Vocab.load(file);
      const before = await settledLiveTensors();
      for (const options of [{ workers: 0 }, { workers: 2, chunkSize: 2 }]) {
        await assert.rejects(SNLIBERTDataset.create(data, 12, noUnk, { ...quiet, ...options }),
          (e: Error) => e.message.includes(file) && /has no '<unk>' token/.test(e.message));
      }
      assert.equal(torch.memory().liveTensors, before);
      // no pairs, no lookups: no error, as in d2l
      const empty = await SNLIBERTDataset.create([[], [], []], 12, noUnk, quiet);
      assert.equal(empty.length, 0);
      empty.dispose();
    });

    it('rejects when a worker fails, leaving no tensor behind', async () => {
      const [premises, hypotheses, labels] = await readSnli(FIXTURES, true);
      // A premise that is not a string makes encodePairs throw inside the worker that gets it.
      const broken = [...premises.slice(0, 7), null as unknown as string, ...premises.slice(8)];
      const before = await settledLiveTensors();
      await assert.rejects(SNLIBERTDataset.create([broken, hypotheses, labels], 12, vocab, { ...quiet, workers: 2, chunkSize: 2 }),
        /a preprocessing worker failed: TypeError: Cannot read properties of null/);
      assert.equal(torch.memory().liveTensors, before);
    });

    it('leaves no tensor behind once disposed, on either path', async () => {
      const data = await readSnli(FIXTURES, true);
      const before = await settledLiveTensors();
      for (const options of [{ workers: 0 }, { workers: 2, chunkSize: 3 }]) {
        const dataset = await SNLIBERTDataset.create(data, 12, vocab, { ...quiet, ...options });
        assert.equal(torch.memory().liveTensors, before + 4);
        dataset.dispose();
        assert.equal(dataset.isDisposed, true);
        assert.equal(torch.memory().liveTensors, before);
      }
    });

    it("equals d2l's vocabulary and SNLIBERTDataset on the real dev split, on both paths", async function () {
      const real = requireRealSnli(this, expected);
      const dev = await readSnli(REAL_SNLI, 'dev');
      const devVocab = new Vocab(tokenize([...dev[0], ...dev[1]].map((s) => s.toLowerCase())),
        { minFreq: real.devVocab.minFreq, reservedTokens: real.devVocab.reservedTokens });
      assert.equal(devVocab.length, real.devVocab.length);
      assert.equal(sha256(devVocab.idxToToken.join('\n')), real.devVocab.idxToTokenSha256);
      assert.deepEqual(devVocab.tokenFreqs.slice(0, real.devVocab.tokenFreqsHead.length), real.devVocab.tokenFreqsHead);

      const d = real.devDataset;
      for (const options of [{ workers: 0 }, { workers: 2, chunkSize: 1000 }]) {
        const dataset = await SNLIBERTDataset.create(dev, d.maxLen, devVocab, { ...quiet, ...options });
        assert.deepEqual(dataset.tokens.shape, d.shape);
        assert.deepEqual([dataset.tokens, dataset.segments, dataset.validLens, dataset.labels].map((t) => `torch.${t.dtype}`), d.dtypes);
        assert.equal(tensorDigest(dataset.tokens), d.tokensSha256);
        assert.equal(tensorDigest(dataset.segments), d.segmentsSha256);
        assert.equal(tensorDigest(dataset.validLens), d.validLensSha256);
        assert.equal(tensorDigest(dataset.labels), d.labelsSha256);
        dataset.dispose();
      }
    });

    it('keeps the event loop running while a large input is built in workers, with the same result', async () => {
      // 120,000 synthetic pairs from the fixture's words, lengths 1..40, some capitalised.
      const words = tokenize([...expected.readSnli.train[0], ...expected.readSnli.train[1]]).flat();
      let state = 12345;
      const next = (n: number): number => {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        return state % n;
      };
      const sentence = (): string => Array.from({ length: 1 + next(40) }, () => words[next(words.length)]).join(' ');
      const n = 120_000;
      const data: SnliData = [Array.from({ length: n }, sentence), Array.from({ length: n }, sentence), Array.from({ length: n }, () => next(3))];

      let ticks = 0;
      const timer = setInterval(() => ++ticks, 1);
      let ticksWhenDone = 0;
      const threaded = await SNLIBERTDataset.create(data, 32, vocab, { ...quiet, workers: 2 }).finally(() => {
        ticksWhenDone = ticks;
        clearInterval(timer);
      });
      assert.ok(ticksWhenDone > 0, 'no timer fired while the dataset was built');
      const inThread = await SNLIBERTDataset.create(data, 32, vocab, { ...quiet, workers: 0 });
      assertSameTensors(threaded, inThread);
      threaded.dispose();
      inThread.dispose();
    });
  });
});
