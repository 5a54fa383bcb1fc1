// The files we read and write refuse bad input at once (issue 13): SNLI splits and classifier
// files that are not regular files (a FIFO would block forever, /dev/zero never ends), every
// field of a classifier's FILE.json checked against its state dict, the pairing of FILE and
// FILE.json, and the clean-up of temporaries that killed writers leave behind.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { checkWritableSync, removeStaleTemporaries, temporaryPath, writeFileAtomically } from '../lib/core/atomic-file';
import { readSnli, SnliFileError } from '../lib/d2l/snli';

const HEADER = 'gold_label\tsentence1_binary_parse\tsentence2_binary_parse';

/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(child.stdout);
  assert.ok(Number.isInteger(pid) && pid > 0, child.stderr);
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the child is gone');
  return pid;
}

function mkfifo(file: string): void {
  const r = spawnSync('mkfifo', [file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

describe('files: robustness', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-files-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const fresh = (name: string): string => fs.mkdtempSync(path.join(tmp, `${name}-`));

  describe('temporary files', () => {
    it('are named .<name>.torchbridge-<pid>-<hex>.tmp beside the target', () => {
      const name = path.basename(temporaryPath('/some/dir/model.pt'));
      assert.match(name, new RegExp(`^\\.model\\.pt\\.torchbridge-${process.pid}-[0-9a-f]{12}\\.tmp$`));
      assert.equal(path.dirname(temporaryPath('/some/dir/model.pt')), '/some/dir');
    });

    it("a write removes the stale temporaries of its directory (dead writer, or one older than the pid's process), never a live one's", async () => {
      const dir = fresh('stale');
      const dead = deadPid();
      const staleDead = path.join(dir, `.model.pt.torchbridge-${dead}-0123456789ab.tmp`);
      const staleOtherTarget = path.join(dir, `.chart.svg.torchbridge-${dead}-ba9876543210.tmp`);
      const live = path.join(dir, `.model.pt.torchbridge-${process.pid}-aaaaaaaaaaaa.tmp`);
      // our own pid, but last written an hour before this process started: another process's, long gone
      const reusedPid = path.join(dir, `.model.pt.torchbridge-${process.pid}-bbbbbbbbbbbb.tmp`);
      const notOurs = [`.model.pt.tmp`, `model.pt.torchbridge-${dead}-0123456789ab.tmp`, `.model.pt.torchbridge-${dead}-xyz.tmp`, 'other.txt'];
      for (const file of [staleDead, staleOtherTarget, live, reusedPid, ...notOurs.map((n) => path.join(dir, n))]) fs.writeFileSync(file, 'partial');
      const hourBeforeStart = (Date.now() - process.uptime() * 1000 - 3600_000) / 1000;
      fs.utimesSync(reusedPid, hourBeforeStart, hourBeforeStart);
      // a directory with our pattern is never removed
      const dirLike = path.join(dir, `.x.torchbridge-${dead}-cccccccccccc.tmp`);
      fs.mkdirSync(dirLike);

      await writeFileAtomically(path.join(dir, 'model.pt'), 'new');
      const left = fs.readdirSync(dir).sort();
      assert.deepEqual(left, [path.basename(live), path.basename(dirLike), 'model.pt', ...notOurs].sort());
      assert.equal(fs.readFileSync(path.join(dir, 'model.pt'), 'utf8'), 'new');
      assert.deepEqual(await removeStaleTemporaries(dir), [], 'nothing stale is left');
    });

    it('a live writer of another process (pid 1, started before its file) keeps its temporary', async () => {
      const dir = fresh('live-other');
      const file = path.join(dir, '.model.pt.torchbridge-1-dddddddddddd.tmp');
      fs.writeFileSync(file, 'being written');
      await writeFileAtomically(path.join(dir, 'model.pt'), 'x');
      assert.ok(fs.existsSync(file));
    });

    it('writeFileAtomically refuses to replace a device or a FIFO, leaving no temporary', async () => {
      const dir = fresh('device');
      const fifo = path.join(dir, 'pipe');
      mkfifo(fifo);
      await assert.rejects(writeFileAtomically(fifo, 'x'), /cannot write .*pipe: it is a FIFO \(named pipe\), not a regular file/);
      assert.deepEqual(fs.readdirSync(dir), ['pipe']);
      assert.ok(fs.statSync(fifo).isFIFO());
    });

    it('checkWritableSync: a directory target, a path under a file, /proc, a device; a probe that leaves nothing', () => {
      const dir = fresh('writable');
      assert.throws(() => checkWritableSync(dir), new RegExp(`${dir} is a directory; give a file name`));
      assert.throws(() => checkWritableSync('/etc/hostname/x'), /\/etc\/hostname is not a directory but a regular file/);
      assert.throws(() => checkWritableSync('/proc/model.pt'), /cannot create files in \/proc \(ENOENT: no such file or directory\)$/);
      assert.throws(() => checkWritableSync('/dev/null'), /\/dev\/null is a character device, not a regular file/);
      assert.throws(() => checkWritableSync(path.join(dir, 'missing', 'x')), /the directory .*missing does not exist/);
      checkWritableSync(path.join(dir, 'model.pt'));
      assert.deepEqual(fs.readdirSync(dir), []);
    });

    it('checkWritableSync: a read-only directory (skipped as root, who may write anyway)', function () {
      if (process.getuid?.() === 0) return this.skip();
      const dir = fresh('read-only');
      fs.chmodSync(dir, 0o555);
      try {
        assert.throws(() => checkWritableSync(path.join(dir, 'model.pt')), /cannot create files in .* \(EACCES: permission denied\)/);
      } finally {
        fs.chmodSync(dir, 0o755);
      }
    });
  });

  describe('readSnli', () => {
    const split = (contents: string | Buffer | null, kind: 'file' | 'fifo' | 'dir' | 'zero' = 'file'): string => {
      const dir = fresh('split');
      const file = path.join(dir, 'snli_1.0_train.txt');
      if (kind === 'fifo') mkfifo(file);
      else if (kind === 'dir') fs.mkdirSync(file);
      else if (kind === 'zero') fs.symlinkSync('/dev/zero', file);
      else fs.writeFileSync(file, contents ?? '');
      return dir;
    };
    const rejects = (dir: string, message: RegExp, options = {}) => assert.rejects(readSnli(dir, 'train', options),
      (e: Error) => e instanceof SnliFileError && e.message.includes(path.join(dir, 'snli_1.0_train.txt')) && message.test(e.message));

    it('refuses a FIFO at once (no writer: reading would block forever), a directory, and /dev/zero', async () => {
      await rejects(split(null, 'fifo'), /is not a regular file but a FIFO \(named pipe\)/);
      await rejects(split(null, 'dir'), /is not a regular file but a directory/);
      await rejects(split(null, 'zero'), /is not a regular file but a character device/);
    });

    it('a missing file is a SnliFileError that says where SNLI comes from', async () => {
      await assert.rejects(readSnli(path.join(tmp, 'none'), 'dev'), (e: Error) => e instanceof SnliFileError && /does not exist\. SNLI 1\.0 comes from/.test(e.message));
    });

    it('refuses a binary file (a NUL byte), and a line without end beyond 16 MiB', async () => {
      await rejects(split(Buffer.from(`${HEADER}\nneutral\ta\u0000b\tc\n`)), /:2: a NUL byte: this is a binary file/);
      await rejects(split(Buffer.alloc(17 << 20, 0x61)), /:1: a line longer than 16 MiB/);
    });

    it('with requireExamples, says why a split has no labelled example; without, returns the empty lists as d2l', async () => {
      const cases: [string, RegExp][] = [
        ['', /has no labelled examples: the file is empty \(0 bytes\)/],
        [`${HEADER}\n`, /has no labelled examples: it holds a header line and no rows/],
        [`${HEADER}\n-\ta\tb\n-\tc\td\n`, /has no labelled examples: none of its 3 lines has the gold label entailment, contradiction or neutral/],
        ['{"gold_label": "neutral"}\n{"gold_label": "neutral"}\n', /has no labelled examples: its first line is not SNLI's header \(gold_label\\t\.\.\.\), got "\{\\"gold_label/],
      ];
      for (const [contents, message] of cases) {
        const dir = split(contents);
        await rejects(dir, message, { requireExamples: true });
        assert.deepEqual(await readSnli(dir, 'train'), [[], [], []]);
      }
      assert.deepEqual(await readSnli(split(`${HEADER}\nneutral\ta\tb\n`), 'train', { requireExamples: true }), [['a'], ['b'], [2]]);
    });

    it('rows without columns and bytes that are not UTF-8 are SnliFileErrors with file:line', async () => {
      await rejects(split(`${HEADER}\nneutral\ta\tb\nentailment\tonly a premise\n`), /:3: expected at least 3 tab-separated columns/);
      await rejects(split(Buffer.concat([Buffer.from(`${HEADER}\nneutral\ta\tb\nneutral\t`), Buffer.from([0xc3, 0x28]), Buffer.from('\tb\n')])), /:3: not valid UTF-8/);
    });
  });
});
