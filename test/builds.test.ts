// The three binaries — node-gyp (build/Release), cmake-js (build-cmake/Release) and the
// prebuilt (prebuilds/<platform>-<arch>/<libtorch variant>) — each load in a fresh process and
// pass a smoke test. CI builds all three (.ci/run); elsewhere a binary that was not built is
// skipped. The loader picks the prebuilt that fits the libtorch present, and no other.
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const prebuildDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);

// eslint-disable-next-line @typescript-eslint/no-var-requires
const runtime = require('../scripts/libtorch-runtime.js') as {
  choosePrebuilt(root: string, env?: NodeJS.ProcessEnv): { variant: { file: string; dir: string } | null; present: { version: string; cuda: boolean; abi: number; libDir: string } | null; reason?: string };
  variantName(info: { libtorch: string; cuda: boolean; abi: number }): string;
};

// The prebuilt that fits the libtorch here.
function prebuilt(): string | undefined {
  return runtime.choosePrebuilt(root).variant?.file;
}

const binaries: { name: string; file: () => string | undefined }[] = [
  { name: 'node-gyp build', file: () => path.join(root, 'build', 'Release', 'torchbridge.node') },
  { name: 'cmake-js build', file: () => path.join(root, 'build-cmake', 'Release', 'torchbridge.node') },
  { name: 'prebuilt binary', file: prebuilt },
];

// Runs in the child: loads the library on the given binary and exercises autograd end to end.
const smoke = `
const torch = require(${JSON.stringify(path.join(root, 'lib'))});
const x = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32', requiresGrad: true });
const y = x.matmul(x.transpose(0, 1)).sum();
y.backward();
process.stdout.write(JSON.stringify({ y: y.item(), grad: x.grad.toArray(), version: torch.version() }));
`;

describe('builds', function () {
  this.timeout(60_000);
  for (const binary of binaries) {
    it(`${binary.name} loads and passes the smoke test`, function () {
      const file = binary.file();
      if (!file || !fs.existsSync(file)) {
        if (process.env.CI) assert.fail(`${binary.name}: no binary at ${file ?? prebuildDir} (CI builds all three)`);
        this.skip();
      }
      const out = JSON.parse(execFileSync(process.execPath, ['-e', smoke], {
        env: { ...process.env, TORCHBRIDGE_ADDON: file },
        encoding: 'utf8',
      }));
      // y = sum(x x^T) = 1+2+3+4 squared sums: [[5, 11], [11, 25]] -> 52; dy/dx = 2 * column sums
      assert.equal(out.y, 52);
      assert.deepEqual(out.grad, [[8, 12], [8, 12]]);
      assert.equal(out.version.binary.file, file);
      assert.ok(out.version.binary.builtAgainst, 'the binary records which libtorch it was built against');
      assert.equal(out.version.binary.builtAgainst.libtorch, out.version.libtorch);
    });
  }

  it('a binary that cannot load explains which libtorch it expects and how to fix it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-broken-'));
    const broken = path.join(dir, 'broken-test.node');
    fs.writeFileSync(broken, 'not an ELF file');
    fs.writeFileSync(path.join(dir, 'libtorch.json'), JSON.stringify({ libtorch: '1.13.0', cuda: false, abi: 1, source: 'test', libDir: '/usr/lib' }));
    try {
      assert.throws(
        () => execFileSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(root, 'lib'))})`], {
          env: { ...process.env, TORCHBRIDGE_ADDON: broken },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
        (err: { stderr: string }) => {
          assert.match(err.stderr, /torchbridge: cannot load the native addon/);
          assert.match(err.stderr, /built against libtorch 1\.13\.0 \(CPU\) found in \/usr\/lib/);
          assert.match(err.stderr, /npm run build:native/);
          return true;
        });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a binary whose libtorch is missing names the libraries to install', function () {
    // A stand-in addon linked against a libtorch-like library that is then removed: dlopen fails
    // exactly as it does for a prebuilt on a machine without libtorch.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-missing-'));
    try {
      fs.writeFileSync(path.join(dir, 'stub.c'), 'void torchbridge_stub(void) {}\n');
      const cc = (args: string[]) => execFileSync('cc', args, { cwd: dir, stdio: 'pipe' });
      try {
        cc(['-shared', '-fPIC', '-o', 'libtorch_gone.so', 'stub.c']);
      } catch {
        if (process.env.CI) throw new Error('no C compiler to build the stand-in addon');
        this.skip();
      }
      cc(['-shared', '-fPIC', '-o', 'addon.node', 'stub.c', '-L.', '-Wl,--no-as-needed', '-ltorch_gone']);
      fs.unlinkSync(path.join(dir, 'libtorch_gone.so'));
      fs.writeFileSync(path.join(dir, 'libtorch.json'), JSON.stringify({ libtorch: '9.9.9', cuda: true, source: 'test', libDir: '/nowhere' }));
      assert.throws(
        () => execFileSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(root, 'lib'))})`], {
          env: { ...process.env, TORCHBRIDGE_ADDON: path.join(dir, 'addon.node') },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
        (err: { stderr: string }) => {
          assert.match(err.stderr, /libtorch_gone\.so: cannot open shared object file/);
          assert.match(err.stderr, /built against libtorch 9\.9\.9 \(CUDA\) found in \/nowhere/);
          assert.match(err.stderr, /apt-get install -y libtorch-dev/);
          assert.match(err.stderr, /LD_LIBRARY_PATH/);
          return true;
        });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('prebuilt binaries per libtorch', () => {
    // A directory of variants whose records claim other libtorch builds than the one here; each
    // holds a copy of a real binary, so that a wrong choice would load (and be noticed).
    function variants(records: { libtorch: string; cuda: boolean; abi: number }[]): string {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-prebuilds-'));
      for (const record of records) {
        const variant = path.join(dir, runtime.variantName(record));
        fs.mkdirSync(variant);
        fs.writeFileSync(path.join(variant, 'torchbridge.node'), 'not loaded');
        fs.writeFileSync(path.join(variant, 'libtorch.json'), JSON.stringify({ ...record, source: 'test', libDir: '/ci/elsewhere/lib' }));
      }
      return dir;
    }

    it('the variant that fits the libtorch present is chosen, and only it', () => {
      const here = runtime.choosePrebuilt(root).present;
      if (!here) return assert.fail('no libtorch found on this machine');
      const fitting = { libtorch: here.version, cuda: here.cuda, abi: here.abi };
      const others = [
        { libtorch: here.version, cuda: !here.cuda, abi: here.abi },
        { libtorch: here.version, cuda: here.cuda, abi: 1 - here.abi },
        { libtorch: '0.9.1', cuda: here.cuda, abi: here.abi },
      ];
      const dir = variants([...others, fitting]);
      try {
        const choice = runtime.choosePrebuilt(root, { ...process.env, TORCHBRIDGE_PREBUILDS: dir });
        assert.equal(choice.variant?.dir, path.join(dir, runtime.variantName(fitting)));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('with no fitting variant, loading fails with what there is and the fix, and loads nothing', () => {
      const here = runtime.choosePrebuilt(root).present!;
      const dir = variants([{ libtorch: '0.9.1', cuda: here.cuda, abi: here.abi }, { libtorch: here.version, cuda: !here.cuda, abi: here.abi }]);
      try {
        assert.throws(
          () => execFileSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(root, 'lib'))})`], {
            env: { ...process.env, PREBUILDS_ONLY: '1', TORCHBRIDGE_PREBUILDS: dir },
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
          }),
          (err: { stderr: string }) => {
            assert.match(err.stderr, new RegExp(`no prebuilt binary fits libtorch ${here.version.replace(/\./g, '\\.')} \\(${here.cuda ? 'CUDA' : 'CPU'}, C\\+\\+ ABI ${here.abi}\\)`));
            assert.match(err.stderr, /libtorch-0\.9\.1-/);
            assert.match(err.stderr, /npm rebuild torchbridge/);
            assert.doesNotMatch(err.stderr, /invalid ELF header|not loaded/, 'a binary of another libtorch was loaded');
            return true;
          });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a prebuilt whose RPATH names another directory binds to the libtorch present (preloaded)', function () {
      const choice = runtime.choosePrebuilt(root);
      if (!choice.variant) {
        if (process.env.CI) assert.fail(`CI builds a prebuilt: ${choice.reason}`);
        return this.skip();
      }
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-moved-'));
      try {
        const variant = path.join(dir, path.basename(choice.variant.dir));
        fs.mkdirSync(variant);
        const file = path.join(variant, 'torchbridge.node');
        fs.copyFileSync(choice.variant.file, file);
        const info = JSON.parse(fs.readFileSync(path.join(choice.variant.dir, 'libtorch.json'), 'utf8'));
        fs.writeFileSync(path.join(variant, 'libtorch.json'), JSON.stringify({ ...info, libDir: '/ci/machine/torch/lib' }));
        try {
          execFileSync('patchelf', ['--set-rpath', '/ci/machine/torch/lib', file], { stdio: 'pipe' });
        } catch {
          if (process.env.CI) assert.fail('patchelf is needed for this check (apt-get install -y patchelf)');
          return this.skip();
        }
        const probe = `require(${JSON.stringify(path.join(root, 'lib'))});
          const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
          process.stdout.write(JSON.stringify([...new Set(maps.split('\\n').map((l) => l.split(' ').pop()).filter((f) => /libtorch_cpu\\.so/.test(f)))]));`;
        const out = execFileSync(process.execPath, ['-e', probe], {
          env: { ...process.env, PREBUILDS_ONLY: '1', TORCHBRIDGE_PREBUILDS: dir }, encoding: 'utf8',
        });
        const mapped = JSON.parse(out) as string[];
        assert.equal(mapped.length, 1, `libtorch_cpu mapped from ${mapped.join(', ')}`);
        assert.equal(fs.realpathSync(path.dirname(mapped[0])), fs.realpathSync(choice.present!.libDir));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
