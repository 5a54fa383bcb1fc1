// The package as users install it: `npm pack`, then `npm install <tarball>` into a clean app
// whose PATH has no compiler, then the README's first program compiled by TypeScript (the
// tsconfig the README recommends, no @types/node) and run, the same program as an ES module, the
// subpath exports and the bins.
import * as assert from 'assert';
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { choosePrebuilt } = require('../scripts/libtorch-runtime') as {
  choosePrebuilt(root: string): { variant?: { file: string }; reason?: string };
};

/** The tsconfig.json the README recommends for an application. */
const RECOMMENDED_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'node16',
    moduleResolution: 'node16',
    lib: ['ES2022', 'ESNext.Disposable'],
    strict: true,
    outDir: 'dist',
  },
};

const FIRST_PROGRAM = `import * as torch from 'torchbridge';

const x = torch.randn([2, 3], { requiresGrad: true });
const y = x.matmul(x.transpose(0, 1)).sum();
y.backward();
console.log(x.grad!.toString(), torch.memory().liveTensors);
`;

// The public declarations, used by a program that needs nothing of Node's (so no @types/node).
const DECLARATIONS_PROGRAM = `import * as torch from 'torchbridge';
import * as d2l from 'torchbridge/d2l';

export const x: torch.Tensor = torch.zeros([2, 3]);
export const net: torch.nn.Module = new torch.nn.Linear(3, 2);
export const opt = new torch.optim.Adam(net.parameters(), { lr: 1e-3 });
export const saved: Promise<void> = torch.save(net.stateDict(), 'net.pt');
export const st: Promise<void> = torch.saveSafetensors(net.stateDict(), 'net.safetensors');
export const vocab: d2l.Vocab = new d2l.Vocab([['a', 'b']]);
export const chart = new d2l.Animator({ xlabel: 'epoch', legend: ['loss'] });
export const png: Uint8Array = chart.toPNG();
export const bert = new d2l.BERTModel({ vocabSize: 10, numHiddens: 8, ffnNumHiddens: 16, numHeads: 2, numBlks: 1, dropout: 0.1, maxLen: 16 });
`;

// What the typed API gives an application (with @types/node, as Node applications have).
const TYPED_PROGRAM = `import * as torch from 'torchbridge';
import { BERTModel, Vocab } from 'torchbridge/d2l';

const net = new torch.nn.Sequential(new torch.nn.Linear(4, 8), new torch.nn.ReLU(), new torch.nn.Linear(8, 3));
const opt = new torch.optim.Adam(net.parameters(), { lr: 1e-3 });
const loss = new torch.nn.CrossEntropyLoss({ reduction: 'none' });
const l: torch.Tensor = loss.forward(net.forward(torch.randn([5, 4])), torch.tensor([0, 1, 2, 0, 1]));
opt.zeroGrad(); l.sum().backward(); opt.step();
const shape: readonly number[] = l.shape;
const dtype: torch.DType = l.dtype;
const vocab = new Vocab([['a', 'b']], { reservedTokens: ['<pad>'] });
console.log('typed', shape.join('x'), dtype, typeof BERTModel, vocab.length > 0);
`;

const ESM_PROGRAM = `import * as torch from 'torchbridge';
import { tensor } from 'torchbridge';
import { BERTModel } from 'torchbridge/d2l';

const x = torch.randn([2, 3], { requiresGrad: true });
const y = x.matmul(x.transpose(0, 1)).sum();
y.backward();
console.log(x.grad.toString(), torch.memory().liveTensors, tensor([1, 2]).sum().item(), typeof BERTModel);
`;

function npmCli(): string {
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  if (which.status !== 0 || !found) throw new Error('npm is not on PATH');
  return fs.realpathSync(found);
}

// The environment of a user's shell that has Node and npm but no compiler: PATH is one directory
// with node, npm, sh and env only. npm's own per-run variables (npm_lifecycle_*, npm_package_*,
// most npm_config_*) are dropped, network settings kept.
function userEnv(bin: string, home: string): NodeJS.ProcessEnv {
  const keep = /^npm_config_(registry|cafile|ca|proxy|https_proxy|noproxy|strict_ssl|cache)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !keep.test(k)) continue;
    if (k === 'PREBUILDS_ONLY' || k === 'TORCHBRIDGE_ADDON' || k === 'TORCHBRIDGE_PREBUILDS') continue;
    env[k] = v;
  }
  env.PATH = bin;
  env.HOME = home;
  if (!env.npm_config_cache) env.npm_config_cache = path.join(os.homedir(), '.npm');
  return env;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout = 240_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.strictEqual(r.status, 0, `${what} failed (status ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

describe('the npm package (pack, install without a compiler, use)', function () {
  this.timeout(600_000);
  let work = '';
  let app = '';
  let env: NodeJS.ProcessEnv = {};
  let tarball = '';
  let installLog = '';
  const node = process.execPath;

  before(function () {
    const choice = choosePrebuilt(ROOT);
    if (!choice.variant) {
      // CI makes the prebuilt before the tests (npm run build:prebuilt); elsewhere it is optional.
      if (process.env.CI) throw new Error(`no prebuilt binary fits this machine's libtorch: ${choice.reason}`);
      this.skip();
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-package-'));
    const npm = npmCli();
    const bin = path.join(work, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(node, path.join(bin, 'node'));
    fs.symlinkSync(npm, path.join(bin, 'npm'));
    fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
    fs.symlinkSync('/usr/bin/env', path.join(bin, 'env'));
    const home = path.join(work, 'home');
    fs.mkdirSync(home);
    env = userEnv(bin, home);

    const packed = ok(run(node, [npm, 'pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT, env), 'npm pack');
    const info = JSON.parse(packed.slice(packed.indexOf('['))) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
    tarball = path.join(work, path.basename(info[0].filename));
    const files = info[0].files.map((f) => f.path);
    // what the package must hold, and what it must not
    for (const wanted of ['LICENSE', 'package.json', 'lib/index.js', 'lib/index.d.ts', 'lib/d2l/index.js', 'lib/train.js', 'lib/predict.js',
      'scripts/install.js', 'scripts/libtorch-runtime.js', 'binding.gyp', 'native/core/addon.cc', 'assets/fonts/DejaVuSans-chart.ttf']) {
      assert.ok(files.includes(wanted), `the tarball lacks ${wanted}`);
    }
    const prebuilt = path.relative(ROOT, choice.variant!.file);
    assert.ok(files.includes(prebuilt), `the tarball lacks the prebuilt ${prebuilt}`);
    for (const f of files) assert.ok(!/^(test|build|build-cmake)\/|\.ts$(?<!\.d\.ts)/.test(f), `the tarball holds ${f}`);
    // eslint-disable-next-line no-console
    console.log(`      tarball ${(info[0].size / 1e6).toFixed(2)} MB (${(info[0].unpackedSize / 1e6).toFixed(2)} MB unpacked, ${files.length} files)`);
    assert.ok(info[0].size < 16e6, `the tarball is ${info[0].size} bytes`);

    app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    const install = run(node, [npm, 'install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', tarball], app, env);
    installLog = install.stdout + install.stderr;
    ok(install, 'npm install of the tarball');
  });

  after(function () {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('installs from the prebuilt binary: no compiler on PATH, nothing compiled', function () {
    assert.match(installLog, /torchbridge: using the prebuilt prebuilds\/linux-x64\/libtorch-[^ ]+\/torchbridge\.node/);
    const pkg = path.join(app, 'node_modules', 'torchbridge');
    assert.ok(!fs.existsSync(path.join(pkg, 'build')), 'the install made a build/ directory');
    for (const tool of ['cc', 'gcc', 'g++', 'c++', 'make', 'cmake']) {
      assert.notStrictEqual(run('sh', ['-c', `command -v ${tool}`], app, env).status, 0, `${tool} is on the install's PATH`);
    }
    const loaded = ok(run(node, ['-e', "console.log(require('torchbridge').version().binary.file)"], app, env), 'loading');
    assert.ok(loaded.trim().startsWith(path.join(fs.realpathSync(pkg), 'prebuilds')), loaded);
  });

  it('has public declarations that compile in a strict app without @types/node', function () {
    assert.ok(!fs.existsSync(path.join(app, 'node_modules', '@types', 'node')), '@types/node came with the install');
    const dir = path.join(app, 'declarations');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ ...RECOMMENDED_TSCONFIG, files: ['check.ts'] }, null, 2));
    fs.writeFileSync(path.join(dir, 'check.ts'), DECLARATIONS_PROGRAM);
    ok(run(node, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.', '--noEmit'], dir, env), 'tsc without @types/node');
  });

  it("compiles and runs the README's first program in TypeScript, with the recommended tsconfig", function () {
    // what `npm install --save-dev typescript @types/node` gives an app, from this checkout
    for (const dep of ['@types/node', 'undici-types']) {
      fs.cpSync(path.join(ROOT, 'node_modules', dep), path.join(app, 'node_modules', dep), { recursive: true });
    }
    fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ ...RECOMMENDED_TSCONFIG, files: ['main.ts', 'typed.ts'] }, null, 2));
    fs.writeFileSync(path.join(app, 'main.ts'), FIRST_PROGRAM);
    fs.writeFileSync(path.join(app, 'typed.ts'), TYPED_PROGRAM);
    ok(run(node, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], app, env), 'tsc');
    const out = ok(run(node, ['dist/main.js'], app, env), 'the first program');
    assert.match(out, /^tensor\(\[\[.*\]\]\) \d+\n$/s);
    assert.match(ok(run(node, ['dist/typed.js'], app, env), 'the typed program'), /^typed 5 float32 function true\n$/);
  });

  it('runs the first program as an ES module, with named imports and the d2l subpath', function () {
    fs.writeFileSync(path.join(app, 'main.mjs'), ESM_PROGRAM);
    const out = ok(run(node, ['main.mjs'], app, env), 'the ESM program');
    assert.match(out, /^tensor\(\[\[.*\]\]\) \d+ 3 function\n$/s);
  });

  it('exports only its entry points: deep imports are refused', function () {
    const r = run(node, ['-e', "require('torchbridge/lib/core/tensor')"], app, env);
    assert.notStrictEqual(r.status, 0);
    assert.match(r.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  it('installs the bins torchbridge-train and torchbridge-predict', function () {
    const train = ok(run(path.join(app, 'node_modules', '.bin', 'torchbridge-train'), ['--help'], app, env), 'torchbridge-train --help');
    assert.match(train, /--pretrained/);
    const predict = ok(run(path.join(app, 'node_modules', '.bin', 'torchbridge-predict'), ['--help'], app, env), 'torchbridge-predict --help');
    assert.match(predict, /--model/);
  });
});
