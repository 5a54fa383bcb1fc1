// The three binaries — node-gyp (build/Release), cmake-js (build-cmake/Release) and the
// prebuilt (prebuilds/<platform>-<arch>) — each load in a fresh process and pass a smoke test.
// CI builds all three (.ci/run); elsewhere a binary that was not built is skipped.
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const prebuildDir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);

function prebuilt(): string | undefined {
  if (!fs.existsSync(prebuildDir)) return undefined;
  const file = fs.readdirSync(prebuildDir).find((f) => f.endsWith('.node'));
  return file && path.join(prebuildDir, file);
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
    const broken = path.join(root, 'build', 'broken-test.node');
    fs.mkdirSync(path.dirname(broken), { recursive: true });
    fs.writeFileSync(broken, 'not an ELF file');
    try {
      assert.throws(
        () => execFileSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(root, 'lib'))})`], {
          env: { ...process.env, TORCHBRIDGE_ADDON: broken },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
        (err: { stderr: string }) => {
          assert.match(err.stderr, /torchbridge: cannot load the native addon/);
          assert.match(err.stderr, /built against libtorch \d+\.\d+\.\d+/);
          assert.match(err.stderr, /npm run build:native/);
          return true;
        });
    } finally {
      fs.unlinkSync(broken);
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
});
