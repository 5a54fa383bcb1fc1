// c10d's NCCL backend (initProcessGroup({ backend: 'nccl' }), node lib/train.js --dist-backend):
// which binaries have it (version().nccl: the NCCL of libtorch_cuda, the one Python's
// torch.cuda.nccl.version() reports, in a CUDA libtorch 2.x build whose CUDA and NCCL headers
// scripts/find-libtorch.js found), the errors that say why not and what to use instead, and where
// a GPU is present, a one-rank group that all-reduces CUDA tensors through NCCL and CPU ones
// through Gloo. find-libtorch.js's search for those headers is tested on trees made here.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';
import { DistributedEnvError, initProcessGroup } from '../lib';
import { freePort } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const findLibtorch = require('../scripts/find-libtorch.js') as {
  withNccl(found: object, env: Record<string, string | undefined>): { nccl: boolean; ncclMissing?: string; includeDirs: string[] };
  ncclIncludeDirs(found: object, env: Record<string, string | undefined>): { dirs?: string[]; missing?: string[] };
};

async function soloEnv(): Promise<Record<string, string>> {
  return { MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(await freePort()), WORLD_SIZE: '1', RANK: '0', GLOO_SOCKET_IFNAME: 'lo' };
}

describe("c10d's NCCL backend", function () {
  this.timeout(60_000);
  const built = torch.version().binary.builtAgainst;

  it('version().nccl: the NCCL of a CUDA build with NCCL (as Python\'s torch.cuda.nccl.version()), null otherwise', function () {
    const nccl = torch.version().nccl;
    if (built === null || !built.cuda || built.nccl !== true) {
      assert.equal(nccl, null);
      return;
    }
    assert.match(nccl ?? '', /^\d+\.\d+\.\d+$/);
    if (built.python === undefined) this.skip();
    const python = spawnSync(built.python, ['-c', "import torch; print('.'.join(map(str, torch.cuda.nccl.version())))"], { encoding: 'utf8' });
    assert.equal(python.status, 0, python.stderr);
    assert.equal(nccl, python.stdout.trim());
  });

  it("backend 'nccl' without NCCL in the binary, or without a GPU, is a DistributedEnvError that says so and names 'gloo'", async function () {
    if (torch.version().nccl !== null && torch.cuda.isAvailable()) this.skip();  // the GPU test below runs instead
    const expected = torch.version().nccl === null ? /backend 'nccl' needs a torchbridge binary built with NCCL.*use backend 'gloo'/ : /no CUDA GPU.*use backend 'gloo'/;
    await assert.rejects(initProcessGroup({ env: await soloEnv(), backend: 'nccl', timeoutMs: 10_000 }),
      (e: Error) => e instanceof DistributedEnvError && expected.test(e.message));
    await assert.rejects(initProcessGroup({ env: await soloEnv(), backend: 'mpi' as 'gloo' }),
      (e: Error) => e instanceof DistributedEnvError && /backend must be 'gloo' or 'nccl', got the string "mpi"/.test(e.message));
  });

  it('with a GPU: a one-rank NCCL group all-reduces CUDA tensors on their device, and CPU ones through Gloo', async function () {
    if (torch.version().nccl === null || !torch.cuda.isAvailable()) this.skip();
    const group = await initProcessGroup({ env: await soloEnv(), backend: 'nccl', timeoutMs: 30_000 });
    assert.ok(group);
    try {
      assert.equal(group.backend, 'nccl');
      const x = torch.tensor([1.5, -2, 3]).to('cuda:0');
      const y = await group.allReduce(x);
      assert.equal(y.device, 'cuda:0');
      assert.deepEqual(y.to('cpu').toArray(), [1.5, -2, 3]);
      const c = await group.allReduce(torch.tensor([4, 5]));
      assert.deepEqual(c.toArray(), [4, 5]);
      await group.barrier();
      torch.dispose([x, y, c]);
    } finally {
      group.dispose();
    }
  });

  it("node lib/train.js --dist-backend: nccl for a CPU rank, or a value that is not one, exits 2 naming the fix", async () => {
    const train = path.join(__dirname, '..', 'lib', 'train.js');
    const env = { ...process.env, ...(await soloEnv()) };
    const cpu = spawnSync(process.execPath, [train, '--devices', 'cpu', '--dist-backend', 'nccl'], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(cpu.status, 2, cpu.stderr);
    const expected = torch.version().nccl === null ? /--dist-backend nccl.*(reduces CUDA tensors|has no NCCL).*use --dist-backend gloo/ : /--dist-backend nccl reduces CUDA tensors, and this rank trains on cpu; use --dist-backend gloo/;
    assert.match(cpu.stderr, expected);
    const bad = spawnSync(process.execPath, [train, '--dist-backend', 'mpi'], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /--dist-backend must be (one of )?'?auto'?.*gloo.*nccl/);
  });

  describe("scripts/find-libtorch.js: the headers of c10d's ProcessGroupNCCL.hpp", () => {
    let root: string;
    let found: { prefix: string; includeDirs: string[]; cuda: boolean };
    const touch = (...parts: string[]) => {
      const file = path.join(root, ...parts);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, '');
    };
    beforeEach(() => {
      // a wheel's site-packages: torch/ beside nvidia/
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-nccl-'));
      touch('torch', 'include', 'torch', 'csrc', 'distributed', 'c10d', 'ProcessGroupNCCL.hpp');
      found = { prefix: path.join(root, 'torch'), includeDirs: [path.join(root, 'torch', 'include')], cuda: true };
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("CUDA 13's wheels: nvidia/cu13/include (with crt/) and nvidia/nccl/include", () => {
      touch('nvidia', 'cu13', 'include', 'cuda_runtime_api.h');
      touch('nvidia', 'nccl', 'include', 'nccl.h');
      // (a CUDA toolkit in /usr/local/cuda would supply the crt headers the wheel tree lacks)
      if (!fs.existsSync('/usr/local/cuda/include/crt/host_config.h')) {
        const without = findLibtorch.withNccl(found, {});
        assert.equal(without.nccl, false);
        assert.match(without.ncclMissing ?? '', /crt\/host_config\.h: .*pip install "nvidia-cuda-crt==/);
        assert.throws(() => findLibtorch.withNccl(found, { TORCHBRIDGE_NCCL: '1' }), /TORCHBRIDGE_NCCL=1, but NCCL's build needs:\n {2}crt\/host_config\.h/);
      }
      touch('nvidia', 'cu13', 'include', 'crt', 'host_config.h');
      const withIt = findLibtorch.withNccl(found, {});
      assert.equal(withIt.nccl, true);
      assert.deepEqual(withIt.includeDirs.slice(1), [path.join(root, 'nvidia', 'cu13', 'include'), path.join(root, 'nvidia', 'nccl', 'include')]);
      assert.equal(findLibtorch.withNccl(found, { TORCHBRIDGE_NCCL: '0' }).nccl, false);
    });

    it('CUDA_HOME and NCCL_HOME (toolkit installs) come first; a CPU libtorch, or one without ProcessGroupNCCL.hpp, has no NCCL', () => {
      touch('cuda', 'include', 'cuda_runtime_api.h');
      touch('cuda', 'include', 'crt', 'host_config.h');
      touch('nccl', 'include', 'nccl.h');
      touch('nvidia', 'cu13', 'include', 'cuda_runtime_api.h');
      const env = { CUDA_HOME: path.join(root, 'cuda'), NCCL_HOME: path.join(root, 'nccl') };
      assert.deepEqual(findLibtorch.ncclIncludeDirs(found, env).dirs, [path.join(root, 'cuda', 'include'), path.join(root, 'nccl', 'include')]);
      assert.match(findLibtorch.withNccl({ ...found, cuda: false }, env).ncclMissing ?? '', /a CPU-only libtorch/);
      fs.rmSync(path.join(root, 'torch', 'include', 'torch'), { recursive: true });
      assert.match((findLibtorch.ncclIncludeDirs(found, env).missing ?? []).join('\n'), /ProcessGroupNCCL\.hpp \(this libtorch ships no NCCL backend\)/);
    });
  });
});
