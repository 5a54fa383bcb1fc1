// `node lib/train.js` and `node lib/predict.js` end to end on test/fixtures/train (a tiny SNLI
// split, a tiny pretrained BERT and an initial classifier; scripts/gen_train_fixtures.py), against
// what d2l's PyTorch loop reaches from the same start, and every CLI error case.
import { strict as assert } from 'assert';
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';
import { PYTHON, freePort } from './helpers';

const ROOT = path.join(__dirname, '..');
const FIXTURE = path.join(__dirname, 'fixtures', 'train');
const BAD_PRETRAINED = path.join(os.tmpdir(), `torchbridge-bad-pretrained-${process.pid}`);

interface Expected {
  args: string[];
  steps: { epoch: number; batch: number; lossSum: number; correct: number; count: number }[];
  epochs: { epoch: number; trainLoss: number; trainAcc: number; testAcc: number }[];
  lines: string[];
  trainExamples: number;
  predictions: { premise: string; hypothesis: string; probabilities: number[] }[];
  randomVocab: string[];
}
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8')) as Expected;

function run(script: 'train' | 'predict', args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [path.join(ROOT, 'lib', `${script}.js`), ...args], {
    cwd: FIXTURE, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000,
  });
}

function pythonHasTorch(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

const relClose = (a: number, b: number, rtol: number) => Math.abs(a - b) <= rtol * Math.max(Math.abs(a), Math.abs(b), 1e-12);

describe('node lib/train.js', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-cli-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  // The fixture's vocabulary is d2l 1.0's (sorted): '<unk>' is not at index 0, so unknown words
  // must map to where it stands for the steps to match.
  it("the fixture's pretrained vocab.json has '<unk>' elsewhere than index 0, and words that map to it", () => {
    const vocab = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'pretrained', 'vocab.json'), 'utf8')) as string[];
    assert.ok(vocab.indexOf('<unk>') > 0, `'<unk>' at ${vocab.indexOf('<unk>')}`);
    const known = new Set(vocab);
    const words = fs.readFileSync(path.join(FIXTURE, 'snli', 'snli_1.0_train.txt'), 'utf8').split('\n').slice(1)
      .flatMap((row) => row.split('\t').slice(1, 3)).join(' ').replace(/[()]/g, ' ').toLowerCase().split(/\s+/).filter((w) => w !== '');
    assert.ok(words.some((w) => !known.has(w)), 'some training words are unknown');
  });

  for (const devices of ['cpu', 'cpu,cpu']) {
    it(`--init, dropout 0, no shuffle, --devices ${devices}: the same steps and final parameters as d2l's PyTorch loop`, async () => {
      await parity(devices);
    });
  }

  it("2 ranks (torchbridge-launch, DistributedDataParallel over Gloo on 127.0.0.1), --init: d2l's steps and final parameters", async () => {
    await parity('cpu', 2);
  });

  async function parity(devices: string, ranks = 1): Promise<void> {
    const out = path.join(tmp, `parity-${devices}-${ranks}.pt`);
    const args = [...expected.args];
    assert.equal(args[args.indexOf('--devices') + 1], 'cpu');
    args[args.indexOf('--devices') + 1] = devices;
    const trainArgs = [...args, '--json', '--no-plot', '--save', out];
    // ranks > 1: each rank takes half of every global batch of 8 (the fixture's d2l batch)
    const r = ranks === 1 ? run('train', trainArgs) : spawnSync(process.execPath, [path.join(ROOT, 'lib', 'launch.js'), '--nproc-per-node', String(ranks),
      '--master-port', String(await freePort()), '--', process.execPath, path.join(ROOT, 'lib', 'train.js'), ...trainArgs], {
      cwd: FIXTURE, encoding: 'utf8', env: { ...process.env, GLOO_SOCKET_IFNAME: 'lo' }, timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, number | string>);
    // fewer than ten batches per epoch: every batch is a progress point, with the epoch's sums so far
    const progress = events.filter((e) => e.event === 'progress');
    assert.equal(progress.length, expected.steps.length);
    let previous = { lossSum: 0, correct: 0, examples: 0 };
    progress.forEach((p, k) => {
      const step = expected.steps[k];
      if (p.batch === 1) previous = { lossSum: 0, correct: 0, examples: 0 };
      assert.equal(p.epoch, step.epoch);
      assert.equal(p.batch, step.batch);
      // per-step sums: float32 sums of 8 losses, as PyTorch's, to rounding
      assert.ok(relClose((p.lossSum as number) - previous.lossSum, step.lossSum, 1e-5), `step ${k}: ${(p.lossSum as number) - previous.lossSum} vs ${step.lossSum}`);
      assert.equal((p.correct as number) - previous.correct, step.correct, `step ${k} correct`);
      assert.equal((p.examples as number) - previous.examples, step.count);
      previous = { lossSum: p.lossSum as number, correct: p.correct as number, examples: p.examples as number };
    });
    const epochs = events.filter((e) => e.event === 'epoch');
    assert.equal(epochs.length, expected.epochs.length);
    epochs.forEach((e, k) => {
      assert.ok(relClose(e.trainLoss as number, expected.epochs[k].trainLoss, 1e-5));
      assert.equal(e.trainAcc, expected.epochs[k].trainAcc);
      assert.equal(e.testAcc, expected.epochs[k].testAcc);
    });
    const done = events[events.length - 1] as unknown as { event: string; lines: string[] };
    assert.equal(done.event, 'done');
    assert.equal(done.lines[0], expected.lines[0]);
    assert.match(r.stderr, /read 40 examples\nread 16 examples/);

    const ours = await torch.load(out);
    const reference = await torch.load(path.join(FIXTURE, 'expected.pt'));
    const init = await torch.load(path.join(FIXTURE, 'init.pt'));
    assert.deepEqual([...ours.keys()], [...reference.keys()]);
    const steps = expected.steps.length;
    torch.tidy(() => {
      for (const [name, want] of reference) {
        const got = ours.get(name)!;
        assert.deepEqual(got.shape, want.shape, name);
        if (name.endsWith('attention.W_k.bias')) {
          // The key bias adds q.b to every score of a query, which softmax cancels: its true
          // gradient is 0, and what both sides compute is rounding noise that Adam's
          // normalisation turns into steps of up to lr. Both must stay within lr per step of the start.
          for (const t of [got, want]) assert.ok((t.sub(init.get(name)!).abs().max().item() as number) <= 1e-3 * steps, name);
          continue;
        }
        const diff = got.sub(want).abs().max().item() as number;
        const scale = Math.max(want.abs().max().item() as number, 1);
        assert.ok(diff <= 1e-4 * scale, `${name}: max |ours - PyTorch| = ${diff}`);
        assert.ok((want.sub(init.get(name)!).abs().max().item() as number) > 1e-5, `${name} moved`);
      }
    });
    torch.dispose([...ours.values(), ...reference.values(), ...init.values()]);
  }

  it('end to end: exit 0, progress lines, d2l\'s two lines, the chart files, and a --save that PyTorch loads', async function () {
    const model = path.join(tmp, 'model.pt');
    const chart = path.join(tmp, 'chart');
    const r = run('train', [...expected.args, '--save', model, '--plot', chart]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    // not a terminal: plain lines at the progress points and after each epoch, then d2l's two lines
    assert.equal(lines.filter((l) => /^epoch \d\/2 batch \d\/5: loss \d\.\d{3}, train acc \d\.\d{3}, [\d.]+ examples\/sec$/.test(l)).length, 10);
    assert.ok(lines.includes(`epoch 2/2: ${expected.lines[0]}`));
    const summary = lines.slice(lines.findIndex((l) => l === expected.lines[0]));
    assert.equal(summary[0], expected.lines[0]);
    assert.match(summary[1], /^\d+\.\d examples\/sec on \[cpu\]$/);
    // the chart: three series (d2l's legend) in SVG and a PNG
    const svg = fs.readFileSync(`${chart}.svg`, 'utf8');
    for (const label of ['train loss', 'train acc', 'test acc', 'epoch']) assert.ok(svg.includes(label), label);
    assert.deepEqual([...fs.readFileSync(`${chart}.png`).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp')), [], 'no temporary files left');
    // --save: our reader sees the classifier's entries; PyTorch loads it into d2l's BERTClassifier
    const saved = await torch.load(model);
    assert.equal(saved.size, 39);
    torch.dispose([...saved.values()]);
    const info = JSON.parse(fs.readFileSync(`${model}.json`, 'utf8')) as { maxLen: number; vocab: string[]; config: { numHeads: number } };
    assert.equal(info.maxLen, 32);
    assert.equal(info.config.numHeads, 4);
    assert.deepEqual(info.vocab, JSON.parse(fs.readFileSync(path.join(FIXTURE, 'pretrained', 'vocab.json'), 'utf8')));
    if (!pythonHasTorch()) return this.skip();
    const check = spawnSync(PYTHON, [path.join(ROOT, 'scripts', 'gen_train_fixtures.py'), 'check', model], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    const { maxAbsDiff, keys } = JSON.parse(check.stdout) as { maxAbsDiff: number; keys: number };
    assert.equal(keys, 39);
    assert.ok(maxAbsDiff <= 1e-3 * expected.steps.length, `${maxAbsDiff}`);  // W_k.bias, as in the parity test
  });

  it("--pretrained random builds d2l 1.0's vocabulary of the training split and trains a random BERT (bf16, bucketed)", () => {
    const model = path.join(tmp, 'random.pt');
    const r = run('train', ['--precision', 'bf16', '--bucket', '--pretrained', 'random', '--data-dir', 'snli', '--epochs', '1', '--batch-size', '16', '--max-len', '24',
      '--bert-max-len', '32', '--num-hiddens', '8', '--ffn-num-hiddens', '16', '--num-heads', '2', '--num-blks', '1',
      '--devices', 'cpu,cpu', '--seed', '3', '--no-plot', '--save', model]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}\n\d+\.\d examples\/sec on \[cpu, cpu\]\nsaved the classifier to \S+random\.pt \(and \S+random\.pt\.json\)\n$/);
    // the vocabulary saved with the classifier is the one d2l 1.0's Vocab builds (sorted; '<unk>' not first)
    const info = JSON.parse(fs.readFileSync(`${model}.json`, 'utf8')) as { vocab: string[]; config: { vocabSize: number } };
    assert.deepEqual(info.vocab, expected.randomVocab);
    assert.equal(info.config.vocabSize, expected.randomVocab.length);
    assert.ok(expected.randomVocab.indexOf('<unk>') > 0);
  });

  it('--max-steps stops early; --help prints the options and exits 0', () => {
    const r = run('train', [...expected.args, '--max-steps', '2', '--json', '--no-plot']);
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string });
    assert.equal(events.filter((e) => e.event === 'progress').length, 2);
    assert.equal(events.filter((e) => e.event === 'epoch').length, 1);
    const help = run('train', ['--help']);
    assert.equal(help.status, 0);
    for (const flag of ['--pretrained', '--data-dir', '--train-split', '--test-split', '--epochs', '--lr', '--batch-size', '--max-len',
      '--bert-max-len', '--num-hiddens', '--ffn-num-hiddens', '--num-heads', '--num-blks', '--dropout', '--devices', '--seed',
      '--fixed-padding', '--length-groups', '--bucket', '--exact-dropout', '--precision', '--threads',
      '--no-shuffle', '--init', '--save', '--plot', '--max-steps', '--json', '--help']) {
      assert.ok(help.stdout.includes(`  ${flag}`), flag);
    }
  });

  describe('errors: one line naming the fix, exit status 2', () => {
    // a valid command line for the fixture, with some flags replaced
    const base = (changes: Record<string, string> = {}): string[] => Object.entries({
      '--pretrained': 'pretrained', '--data-dir': 'snli', '--num-hiddens': '16', '--ffn-num-hiddens': '32', '--bert-max-len': '64',
      '--max-len': '32', '--devices': 'cpu', ...changes,
    }).flatMap(([flag, value]) => [flag, value]).concat(['--no-plot']);
    const cases: [string, () => string[], RegExp, NodeJS.ProcessEnv?][] = [
      ['an unknown option, with the closest one', () => ['--epoch', '2'], /unknown option --epoch \(did you mean --epochs\?\)/],
      ['an option without its value', () => ['--lr'], /--lr needs a value: --lr LR/],
      ['an option given twice', () => ['--lr', '1', '--lr', '2'], /--lr is given twice/],
      ['a value for a switch', () => ['--json=yes'], /--json takes no value/],
      ['a positional argument', () => ['snli'], /unexpected argument "snli"/],
      ['a non-number', () => ['--lr', 'fast'], /--lr must be a number above 0, got "fast"/],
      ['a negative learning rate', () => ['--lr', '-1'], /--lr must be a number above 0, got "-1"/],
      ['zero epochs', () => ['--epochs', '0'], /--epochs must be an integer of at least 1, got "0"/],
      ['a fractional batch size', () => ['--batch-size', '8.5'], /--batch-size must be an integer of at least 1/],
      ['dropout 1', () => ['--dropout', '1'], /--dropout must be a number at least 0 and below 1/],
      ['an unknown split', () => ['--train-split', 'validation'], /--train-split must be one of train, dev/],
      ['fixed padding with length groups', () => ['--fixed-padding', '--length-groups', '2'], /--fixed-padding and --length-groups contradict each other/],
      ['zero length groups', () => ['--length-groups', '0'], /--length-groups must be an integer of at least 1/],
      ['an unknown precision', () => ['--precision', 'fp16'], /--precision must be one of float32, bf16, got "fp16"/],
      ['an unknown device', () => ['--devices', 'tpu'], /--devices: "tpu" is not a device/],
      ['CUDA without a GPU', () => ['--devices', torch.cuda.deviceCount() > 0 ? `cuda:${torch.cuda.deviceCount()}` : 'cuda:0'],
        /--devices: cuda:\d+ requested, but .*use --devices cpu|only \d+ GPU/],
      ['heads that do not divide the hidden size', () => base({ '--num-heads': '3' }),
        /--num-heads 3 is not a divisor of --num-hiddens \(16\): each head gets numHiddens \/ numHeads units; change --num-heads/],
      ['a sequence longer than the position table', () => ['--max-len', '600'], /--max-len 600 exceeds BERT's position table/],
      ['a missing data directory', () => base({ '--data-dir': 'nowhere' }), /--data-dir nowhere is not a directory/],
      ['a data directory without the training split', () => base({ '--data-dir': 'pretrained' }), /has no snli_1\.0_train\.txt .*--train-split dev/],
      ['missing data offline', () => ['--pretrained', 'pretrained', '--devices', 'cpu', '--no-plot'],
        /cannot get SNLI: .*place it at .*snli_1\.0\.zip.*or pass --data-dir DIR/, { TORCHBRIDGE_DATA_DIR: '' }],
      ['a missing pretrained directory', () => base({ '--pretrained': 'bert.tiny' }), /--pretrained bert\.tiny is neither bert\.small, bert\.base, random nor a directory/],
      ['a pretrained directory without weights', () => base({ '--pretrained': 'snli' }), /--pretrained snli has no vocab\.json/],
      ['a pretrained model of other sizes', () => base({ '--num-hiddens': '32' }),
        /--pretrained pretrained: .*does not match the options.*made with numHiddens 16/],
      ['a pretrained directory whose vocab.json is not JSON', () => base({ '--pretrained': BAD_PRETRAINED }),
        /--pretrained \S*bad-pretrained-\d+: Vocab\.load: .*vocab\.json is not valid JSON/],
      ["a pretrained directory whose vocab.json has no '<unk>'", () => base({ '--pretrained': BAD_PRETRAINED }),
        /--pretrained \S*bad-pretrained-\d+: Vocab: \S*bad-pretrained-\d+\/vocab\.json has no '<unk>' token.*add "<unk>" to the list/],
      ['a missing --init file', () => base({ '--init': 'nope.pt' }), /--init nope\.pt does not exist/],
      ['an --init file that is not a state dict', () => base({ '--init': 'expected.json' }), /--init expected\.json is not a readable state dict/],
      ['an --init state dict of another model', () => base({ '--init': 'pretrained/pretrained.params' }), /--init pretrained\/pretrained\.params does not fit this classifier/],
      ['a --save path in a missing directory', () => ['--save', 'nowhere/model.pt'], /--save nowhere\/model\.pt: the directory .* does not exist/],
      ['a --plot with an unknown extension', () => ['--plot', 'chart.jpg'], /--plot chart\.jpg: use \.svg, \.png, or no extension/],
    ];
    for (const [what, args, message, env] of cases) {
      it(what, function () {
        let environment = env;
        if (env?.TORCHBRIDGE_DATA_DIR === '') {
          environment = { TORCHBRIDGE_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-nodata-')) };
        }
        if (what.includes('vocab.json')) {
          // a pretrained directory with a broken vocab.json (removed below): not JSON, or the
          // fixture's list with '<unk>' renamed (the same size, so the weights still fit)
          const vocab = fs.readFileSync(path.join(FIXTURE, 'pretrained', 'vocab.json'), 'utf8');
          fs.mkdirSync(BAD_PRETRAINED, { recursive: true });
          fs.writeFileSync(path.join(BAD_PRETRAINED, 'vocab.json'), what.includes('not JSON') ? '["<unk>", ' : vocab.replace('"<unk>"', '"<UNK>"'));
          fs.copyFileSync(path.join(FIXTURE, 'pretrained', 'pretrained.params'), path.join(BAD_PRETRAINED, 'pretrained.params'));
        }
        const r = run('train', args(), environment);
        fs.rmSync(BAD_PRETRAINED, { recursive: true, force: true });
        if (environment?.TORCHBRIDGE_DATA_DIR) fs.rmSync(environment.TORCHBRIDGE_DATA_DIR, { recursive: true, force: true });
        // with internet, SNLI would download: this case is about a machine without it
        if (what === 'missing data offline' && r.status === 0) return this.skip();
        assert.equal(r.status, 2, `${r.stdout}\n${r.stderr}`);
        const errorLines = r.stderr.split('\n').filter((l) => l.startsWith('train: error: '));
        assert.equal(errorLines.length, 1, r.stderr);
        assert.match(errorLines[0], message);
        assert.ok(!/^\s+at /m.test(r.stderr), 'no stack trace');
      });
    }
  });
});

describe('node lib/predict.js', function () {
  this.timeout(120_000);
  let tmp: string;
  let model: string;
  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-predict-'));
    model = path.join(tmp, 'model.pt');
    const r = run('train', [...expected.args, '--save', model, '--no-plot', '--json']);
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('prints the label and the three probabilities PyTorch gives the trained classifier', () => {
    const pairs = expected.predictions.flatMap((p) => [p.premise, p.hypothesis]);
    const r = run('predict', ['--model', model, '--format', 'json', ...pairs]);
    assert.equal(r.status, 0, r.stderr);
    const results = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { premise: string; label: string; probabilities: Record<string, number> });
    assert.equal(results.length, expected.predictions.length);
    results.forEach((got, k) => {
      const want = expected.predictions[k].probabilities;
      const labels = ['entailment', 'contradiction', 'neutral'];
      labels.forEach((label, j) => assert.ok(Math.abs(got.probabilities[label] - want[j]) <= 1e-4, `${label}: ${got.probabilities[label]} vs ${want[j]}`));
      assert.equal(got.label, labels[want.indexOf(Math.max(...want))]);
      assert.equal(got.premise, expected.predictions[k].premise);
    });
    const text = run('predict', ['--model', model, 'A man plays a guitar.', 'A person makes music.']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^premise: +A man plays a guitar\.\nhypothesis: +A person makes music\.\nlabel: +(entailment|contradiction|neutral)\n +entailment +0\.\d{4}\n +contradiction +0\.\d{4}\n +neutral +0\.\d{4}\n$/);
  });

  it('errors exit 2 with one line', () => {
    const cases: [string[], RegExp][] = [
      [['a', 'b'], /--model FILE is required/],
      [['--model', model, 'only a premise'], /expected premise\/hypothesis pairs, got 1 sentence/],
      [['--model', path.join(tmp, 'none.pt'), 'a', 'b'], /--model .*none\.pt does not exist/],
      [['--model', path.join(FIXTURE, 'expected.pt'), 'a', 'b'], /--model .*expected\.pt: .*expected\.pt\.json does not exist: .*node lib\/train\.js --save/],
      [['--modle', model], /unknown option --modle \(did you mean --model\?\)/],
      [['--model', model, '--format', 'xml', 'a', 'b'], /--format must be one of text, json/],
    ];
    for (const [args, message] of cases) {
      const r = run('predict', args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.trim(), new RegExp(`^predict: error: ${message.source}`));
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });
});
