// `node lib/train.js` and `node lib/predict.js` on bad input (issue 13): every case ends with
// exit status 2 and one line that names the file or flag, what was given and what is expected;
// none hangs (a FIFO), trains on nothing (an empty split), fails only after training (--save), or
// reads a classifier whose files disagree.
import { strict as assert } from 'assert';
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const FIXTURE = path.join(__dirname, 'fixtures', 'train');
const HEADER = 'gold_label\tsentence1_binary_parse\tsentence2_binary_parse';

function run(script: 'train' | 'predict', args: string[], cwd = FIXTURE): SpawnSyncReturns<string> {
  // a hang shows as a timeout: status null, which the exit-status assertions below reject
  return spawnSync(process.execPath, [path.join(ROOT, 'lib', `${script}.js`), ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
}

/** Asserts exit status 2 and exactly one error line matching `message`, without a stack. */
function assertUsageError(r: SpawnSyncReturns<string>, script: 'train' | 'predict', message: RegExp): void {
  assert.equal(r.status, 2, `status ${r.status} (signal ${r.signal})\n${r.stdout}\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(lines[0].startsWith(`${script}: error: `), r.stderr);
  assert.match(lines[0], message);
  assert.ok(!/examples\/sec|^loss /m.test(r.stdout), `nothing was trained: ${r.stdout}`);
}

function mkfifo(file: string): void {
  const r = spawnSync('mkfifo', [file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

// a tiny random BERT on the fixture's splits: seconds per run
const TINY = ['--pretrained', 'random', '--num-hiddens', '8', '--ffn-num-hiddens', '16', '--num-heads', '2', '--num-blks', '1',
  '--bert-max-len', '32', '--max-len', '24', '--batch-size', '16', '--epochs', '1', '--devices', 'cpu', '--no-plot', '--max-steps', '1'];

describe('CLI robustness', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-cli-robust-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  // A data directory with the fixture's splits, the training split (or the test split) replaced.
  function dataDir(split: 'train' | 'test', make: (file: string) => void): string {
    const dir = fs.mkdtempSync(path.join(tmp, 'data-'));
    for (const name of ['train', 'test']) {
      const file = path.join(dir, `snli_1.0_${name}.txt`);
      if (name === split) make(file);
      else fs.copyFileSync(path.join(FIXTURE, 'snli', `snli_1.0_${name}.txt`), file);
    }
    return dir;
  }
  const write = (contents: string | Buffer) => (file: string) => fs.writeFileSync(file, contents);

  describe('train.js: SNLI splits', () => {
    const cases: [string, 'train' | 'test', (file: string) => void, RegExp][] = [
      ['a FIFO as the training split (would block forever)', 'train', mkfifo,
        /--train-split train: \S+snli_1\.0_train\.txt is not a regular file but a FIFO \(named pipe\)/],
      ['a directory as the training split (EISDIR without a path)', 'train', (f) => fs.mkdirSync(f),
        /--train-split train: \S+snli_1\.0_train\.txt is not a regular file but a directory/],
      ['/dev/zero as the test split', 'test', (f) => fs.symlinkSync('/dev/zero', f),
        /--test-split test: \S+snli_1\.0_test\.txt is not a regular file but a character device/],
      ['an empty (0 bytes) training split', 'train', write(''),
        /--train-split train: \S+snli_1\.0_train\.txt has no labelled examples: the file is empty \(0 bytes\).*\(training needs labelled pairs\)$/],
      ['a training split with only the header', 'train', write(`${HEADER}\n`),
        /--train-split train: \S+snli_1\.0_train\.txt has no labelled examples: it holds a header line and no rows/],
      ["a training split whose labels are all '-'", 'train', write(`${HEADER}\n-\ta man\ta person\n-\ta dog\ta cat\n`),
        /snli_1\.0_train\.txt has no labelled examples: none of its 3 lines has the gold label entailment, contradiction or neutral/],
      ['a training split in another format (JSON lines)', 'train', write('{"gold_label": "neutral", "sentence1_binary_parse": "a"}\n'),
        /snli_1\.0_train\.txt has no labelled examples: its first line is not SNLI's header/],
      ['an empty test split (test acc nan)', 'test', write(''),
        /--test-split test: \S+snli_1\.0_test\.txt has no labelled examples: the file is empty \(0 bytes\).*\(the test accuracy needs labelled pairs\)$/],
      ['a row with missing columns', 'train', write(`${HEADER}\nneutral\ta man\ta person\nentailment\tonly a premise\n`),
        /--train-split train: \S+snli_1\.0_train\.txt:3: expected at least 3 tab-separated columns/],
      ['bytes that are not UTF-8', 'train', write(Buffer.concat([Buffer.from(`${HEADER}\nneutral\ta man\ta person\nneutral\ta `), Buffer.from([0xff]), Buffer.from('\tb\n')])),
        /--train-split train: \S+snli_1\.0_train\.txt:3: not valid UTF-8/],
      ['a binary file (a state dict)', 'train', (f) => fs.copyFileSync(path.join(FIXTURE, 'init.pt'), f),
        /--train-split train: \S+snli_1\.0_train\.txt:\d+: (not valid UTF-8|a NUL byte: this is a binary file)/],
    ];
    for (const [what, split, make, message] of cases) {
      it(what, () => assertUsageError(run('train', [...TINY, '--data-dir', dataDir(split, make)]), 'train', message));
    }
  });

  describe('train.js: numeric flags are bounded', () => {
    const cores = os.availableParallelism();
    const cases: [string[], RegExp][] = [
      [['--bert-max-len', '1000000000'], /--bert-max-len must be an integer of at least 3 and at most 4096, got "1000000000"/],
      [['--bert-max-len', '1e9'], /--bert-max-len must be an integer of at least 3 and at most 4096, got "1e9"/],
      [['--num-hiddens', '1000000000'], /--num-hiddens must be an integer of at least 1 and at most 65536, got "1000000000"/],
      [['--ffn-num-hiddens', '70000'], /--ffn-num-hiddens must be an integer of at least 1 and at most 65536, got "70000"/],
      [['--num-heads', '100000'], /--num-heads must be an integer of at least 1 and at most 65536, got "100000"/],
      [['--num-blks', '1000'], /--num-blks must be an integer of at least 1 and at most 256, got "1000"/],
      [['--batch-size', '100000000'], /--batch-size must be an integer of at least 1 and at most 1048576, got "100000000"/],
      [['--length-groups', '5000'], /--length-groups must be an integer of at least 1 and at most 1024, got "5000"/],
      [['--max-len', '5000'], /--max-len must be an integer of at least 3 and at most 4096, got "5000"/],
      [['--threads', String(4 * cores + 1)], new RegExp(`--threads must be an integer of at least 1 and at most ${4 * cores}, got "${4 * cores + 1}"`)],
      [['--lr', 'Infinity'], /--lr must be a number above 0, got "Infinity"/],
      [['--lr', '1e400'], /--lr must be a number above 0, got "1e400"/],
      [['--epochs', '99999999999999999999'], /--epochs must be an integer of at least 1 and at most 9007199254740991, got "99999999999999999999"/],
      [['--num-hiddens', '65536', '--ffn-num-hiddens', '65536', '--num-heads', '1', '--num-blks', '256'],
        /--num-hiddens 65536, --ffn-num-hiddens 65536, --num-blks 256 and --bert-max-len 32 make a model of 6\.60e\+12 parameters before the vocabulary; at most 2147483648/],
    ];
    for (const [args, message] of cases) {
      it(args.join(' '), () => {
        const flags = [...TINY, '--data-dir', 'snli'];
        // the case's flags replace TINY's
        for (let k = 0; k < args.length; k += 2) {
          const at = flags.indexOf(args[k]);
          if (at >= 0) flags.splice(at, 2);
        }
        assertUsageError(run('train', [...flags, ...args]), 'train', message);
      });
    }
  });

  describe('train.js: --save and --init are checked before training', () => {
    const cases: [string, () => string, RegExp][] = [
      ['under /proc', () => '/proc/model.pt', /--save \/proc\/model\.pt: cannot create files in \/proc \(ENOENT: no such file or directory\); choose a file in a writable directory/],
      ['under a regular file', () => '/etc/hostname/x', /--save \/etc\/hostname\/x: \/etc\/hostname is not a directory; choose another path/],
      ['onto an existing directory', () => fs.mkdtempSync(path.join(tmp, 'target-')), /--save \S+target-\w+: \S+target-\w+ is a directory; give a file name/],
      // a FIFO of our own rather than /dev/null: a build without the check would rename the model over it
      ['onto a FIFO (or a device)', () => {
        const fifo = path.join(fs.mkdtempSync(path.join(tmp, 'save-fifo-')), 'pipe');
        mkfifo(fifo);
        return fifo;
      }, /--save \S+pipe: \S+pipe is a FIFO \(named pipe\), not a regular file/],
      ['where FILE.json is a directory', () => {
        const dir = fs.mkdtempSync(path.join(tmp, 'json-dir-'));
        fs.mkdirSync(path.join(dir, 'model.pt.json'));
        return path.join(dir, 'model.pt');
      }, /--save \S+model\.pt: \S+model\.pt\.json is a directory/],
    ];
    for (const [what, target, message] of cases) {
      it(what, () => assertUsageError(run('train', [...TINY, '--data-dir', 'snli', '--save', target()]), 'train', message));
    }

    it('into a read-only directory (skipped as root, who may write there anyway)', function () {
      if (process.getuid?.() === 0) return this.skip();
      const dir = fs.mkdtempSync(path.join(tmp, 'read-only-'));
      fs.chmodSync(dir, 0o555);
      try {
        assertUsageError(run('train', [...TINY, '--data-dir', 'snli', '--save', path.join(dir, 'm.pt')]), 'train', /cannot create files in .*EACCES/);
      } finally {
        fs.chmodSync(dir, 0o755);
      }
    });

    it('--init /dev/zero and --init a FIFO are not regular files', () => {
      assertUsageError(run('train', [...TINY, '--data-dir', 'snli', '--init', '/dev/zero']), 'train', /--init \/dev\/zero is a character device, not a regular file/);
      const fifo = path.join(tmp, 'init-fifo');
      mkfifo(fifo);
      assertUsageError(run('train', [...TINY, '--data-dir', 'snli', '--init', fifo]), 'train', /--init \S+init-fifo is a FIFO \(named pipe\), not a regular file/);
    });
  });

  describe('predict.js', () => {
    let model: string;
    let modelB: string;
    before(() => {
      model = path.join(tmp, 'model.pt');
      modelB = path.join(tmp, 'model-b.pt');
      for (const [file, seed] of [[model, '1'], [modelB, '2']]) {
        const r = run('train', [...TINY, '--data-dir', 'snli', '--seed', seed, '--save', file]);
        assert.equal(r.status, 0, r.stderr);
      }
    });

    // A copy of the classifier whose FILE.json is changed by `edit`.
    function edited(edit: (info: Record<string, unknown>) => unknown): string {
      const dir = fs.mkdtempSync(path.join(tmp, 'edited-'));
      const file = path.join(dir, 'model.pt');
      fs.copyFileSync(model, file);
      const info = JSON.parse(fs.readFileSync(`${model}.json`, 'utf8')) as Record<string, unknown>;
      const replaced = edit(info);
      fs.writeFileSync(`${file}.json`, JSON.stringify(replaced === undefined ? info : replaced));
      return file;
    }
    const predict = (file: string) => run('predict', ['--model', file, 'A man plays a guitar.', 'A person makes music.']);

    it('a saved pair works, and its FILE.json records the SHA-256 and size of FILE', () => {
      const r = predict(model);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^label: +(entailment|contradiction|neutral)$/m);
      const info = JSON.parse(fs.readFileSync(`${model}.json`, 'utf8')) as { version: number; model: { sha256: string; bytes: number } };
      assert.equal(info.version, 2);
      assert.equal(info.model.bytes, fs.statSync(model).size);
      assert.match(info.model.sha256, /^[0-9a-f]{64}$/);
      // no temporaries are left beside the pair
      assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.includes('torchbridge-')), []);
    });

    it("a model beside another save's FILE.json (a kill between the two renames) is refused", () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'unpaired-'));
      const file = path.join(dir, 'model.pt');
      fs.copyFileSync(modelB, file);
      fs.copyFileSync(`${model}.json`, `${file}.json`);
      assertUsageError(predict(file), 'predict', /--model \S+model\.pt: \S+model\.pt and \S+model\.pt\.json are not a pair: .*save the classifier again/);
    });

    it('a model file or FILE.json that is a FIFO, a directory or /dev/zero is refused at once', () => {
      assertUsageError(predict('/dev/zero'), 'predict', /--model \/dev\/zero is a character device, not a regular file/);
      assertUsageError(predict(tmp), 'predict', /--model \S+ is a directory, not a regular file/);
      const fifo = path.join(tmp, 'model-fifo');
      mkfifo(fifo);
      assertUsageError(predict(fifo), 'predict', /--model \S+model-fifo is a FIFO \(named pipe\), not a regular file/);
      const dir = fs.mkdtempSync(path.join(tmp, 'json-fifo-'));
      fs.copyFileSync(model, path.join(dir, 'model.pt'));
      mkfifo(path.join(dir, 'model.pt.json'));
      assertUsageError(predict(path.join(dir, 'model.pt')), 'predict', /model\.pt\.json is not a regular file but a FIFO \(named pipe\)/);
    });

    describe('every field of FILE.json is checked: the file and field, what was given, what is expected', () => {
      const cases: [(info: Record<string, unknown>) => unknown, RegExp][] = [
        [(i) => { i.maxLen = 1e9; }, /model\.pt\.json: field maxLen: got 1000000000, expected an integer from 3 to 32 \(config\.maxLen/],
        [(i) => { i.maxLen = 2.5; }, /field maxLen: got 2\.5, expected an integer from 3 to 32/],
        [(i) => { i.config = null; }, /field config: got null, expected an object with fields vocabSize, numHiddens, ffnNumHiddens, numHeads, numBlks, dropout, maxLen/],
        [(i) => { (i.config as Record<string, unknown>).numHiddens = '8'; }, /field config\.numHiddens: got "8", expected an integer from 1 to 65536/],
        [(i) => { (i.config as Record<string, unknown>).vocabSize = 1e12; }, /field config\.vocabSize: got 1000000000000, expected an integer from 1 to 16777216/],
        [(i) => { (i.config as Record<string, unknown>).dropout = 2; }, /field config\.dropout: got 2, expected a number at least 0 and below 1/],
        [(i) => { (i.config as Record<string, unknown>).numHeads = 3; }, /field config\.numHeads: got 3, expected a divisor of config\.numHiddens \(8\)/],
        [(i) => { (i.config as Record<string, unknown>).maxLen = 60000; }, /field config\.maxLen: got 60000, expected 32, the rows of encoder\.pos_embedding in \S+model\.pt/],
        [(i) => { (i.config as Record<string, unknown>).numBlks = 3; }, /field config\.numBlks: got 3, expected 1, the encoder blocks in/],
        [(i) => { (i.config as Record<string, unknown>).ffnNumHiddens = 4; }, /field config\.ffnNumHiddens: got 4, expected 16, the rows of encoder\.blks\.0\.ffn\.dense1\.weight/],
        [(i) => { i.vocab = ['<unk>', '<pad>', '<cls>', '<sep>', 'a']; (i.config as Record<string, unknown>).vocabSize = 5; },
          /field config\.vocabSize: got 5, expected \d+, the rows of encoder\.token_embedding\.weight in \S+model\.pt/],
        [(i) => { i.vocab = ['<unk>', '<pad>', '<cls>', '<sep>', 'a']; }, /field vocab: got 5 tokens, expected config\.vocabSize = \d+ tokens/],
        [(i) => { (i.vocab as unknown[])[4] = 7; }, /field vocab\[4\]: got 7, expected a string/],
        [(i) => { (i.vocab as unknown[])[5] = (i.vocab as unknown[])[4]; }, /field vocab\[5\]: got "[^"]*", already at vocab\[4\], expected each token once/],
        [(i) => { i.vocab = (i.vocab as string[]).map((t) => (t === '<cls>' ? '<CLS>' : t)); }, /field vocab: got a vocabulary without "<cls>"/],
        [(i) => { i.labels = ['neutral', 'entailment', 'contradiction']; }, /field labels: got \["neutral","entailment","contradiction"\], expected \["entailment","contradiction","neutral"\]/],
        [(i) => { delete i.model; }, /field model: got nothing \(the field is missing\), expected an object with fields sha256, bytes/],
        [(i) => { i.format = 'other'; }, /field format: got "other", expected "torchbridge\.bert-classifier"/],
        [(i) => { i.version = 3; }, /has format version 3; this torchbridge reads up to 2: upgrade torchbridge/],
        [(i) => { i.version = 1; }, /has format version 1, written by an older torchbridge without the hash/],
        [(i) => { i.version = '2'; }, /field version: got "2", expected an integer from 2 to 2/],
        [() => null, /model\.pt\.json holds null, expected an object with fields format, version, config, maxLen, vocab, labels, model/],
        [() => [1, 2], /model\.pt\.json holds an array, expected an object/],
      ];
      for (const [edit, message] of cases) {
        it(message.source.replace(/\\/g, '').slice(0, 70), () => assertUsageError(predict(edited(edit)), 'predict', message));
      }
    });
  });
});
