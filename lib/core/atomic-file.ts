/**
 * Files that appear whole or not at all, and the one temporary-file scheme behind them.
 *
 * A file is written to a temporary file in the same directory, then renamed over the target
 * (rename is atomic within a file system), so a reader, or a run killed midway, never sees half
 * a file. A run killed midway does leave its temporary file behind, so temporaries carry a name
 * that says whose they are: `.<target name>.torchbridge-<pid>-<random hex>.tmp`. Before each
 * write, the directory's temporaries of that pattern whose writer is gone are removed: the
 * process with that pid is not alive, or it started after the temporary was last modified (so
 * that pid now belongs to another process). A temporary of a live writer is never touched.
 *
 * Every atomic write of torchbridge goes through `replaceAtomically` (the rename and the
 * clean-up): `writeAtomically` fills a temporary through a file handle, `writeFileAtomically`
 * writes one buffer, and a writer with names of its own (the downloads' part files, which say
 * which machine wrote them) passes its `TemporaryNames`.
 */
import { randomBytes } from 'crypto';
import { constants, promises as fs, readFileSync, statSync, unlinkSync, writeFileSync } from 'fs';
import * as path from 'path';

/**
 * How a writer names its temporary files, and how its clean-up recognises them: which names are
 * temporaries of this scheme, and which process wrote each.
 */
export interface TemporaryNames {
  /** A fresh temporary path for `file`, in the directory of `file`, of a write by process `pid` (default: this process). */
  pathFor(file: string, pid?: number): string;
  /** The pid of the process that wrote the temporary named `name` (a base name); undefined when `name` is not one of this scheme's. */
  writerOf(name: string): number | undefined;
}

/** The names of our temporaries: `.<target>.torchbridge-<pid>-<random hex>.tmp`. */
const TEMPORARY_NAME = /^\..*\.torchbridge-(\d{1,10})-[0-9a-f]{12}\.tmp$/s;

/** torchbridge's temporaries: `.<target name>.torchbridge-<pid>-<12 hex digits>.tmp`, beside the target. */
export const TEMPORARY_NAMES: TemporaryNames = Object.freeze({
  pathFor(file: string, pid: number = process.pid): string {
    return path.join(path.dirname(file), `.${path.basename(file)}.torchbridge-${pid}-${randomBytes(6).toString('hex')}.tmp`);
  },
  writerOf(name: string): number | undefined {
    const match = TEMPORARY_NAME.exec(name);
    return match === null ? undefined : Number(match[1]);
  },
});

// Linux's largest pid (PID_MAX_LIMIT, 2^22): a larger number is no live process.
const PID_MAX = 1 << 22;

// /proc/<pid>/stat's start time is in clock ticks since boot and /proc/stat's btime in whole
// seconds: a process counts as started after a file only with this much room.
const START_TIME_SLACK_MS = 2000;

/** A fresh temporary file name for `file`, in its directory, following the pattern above (`TEMPORARY_NAMES`). */
export function temporaryPath(file: string): string {
  return TEMPORARY_NAMES.pathFor(file);
}

/** When the process `pid` started (ms since the epoch), from Linux's /proc; undefined where unknown. */
function processStartMs(pid: number): number | undefined {
  if (pid === process.pid) return Date.now() - process.uptime() * 1000;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // the fields after the command (which may hold spaces and parentheses) end at the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);  // field 22 of proc(5), the 20th after the command
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'))?.[1]);
    // USER_HZ is 100 on every Linux architecture Node runs on
    return Number.isFinite(startTicks) && Number.isFinite(bootSeconds) ? bootSeconds * 1000 + startTicks * 10 : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
function isAlive(pid: number): boolean {
  if (pid < 1 || pid > PID_MAX) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporaries in `directory` left by writers that are gone (see the file's comment):
 * only regular files that `names` recognises (by default `.<name>.torchbridge-<pid>-<hex>.tmp`),
 * and only when their writer's process is dead or started after the file was last modified.
 * Best effort: a file that cannot be removed (or that another cleaner removed first) is skipped.
 * @returns the paths removed
 */
export async function removeStaleTemporaries(directory: string, names: TemporaryNames = TEMPORARY_NAMES): Promise<string[]> {
  const entries = await fs.readdir(directory).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of entries) {
    const pid = names.writerOf(name);
    if (pid === undefined) continue;
    const file = path.join(directory, name);
    const stats = await fs.lstat(file).catch(() => undefined);
    if (stats === undefined || !stats.isFile()) continue;
    let stale = !isAlive(pid);
    if (!stale) {
      const started = processStartMs(pid);
      stale = started !== undefined && stats.mtimeMs < started - START_TIME_SLACK_MS;
    }
    if (stale && await fs.unlink(file).then(() => true, () => false)) removed.push(file);
  }
  return removed;
}

// A file system error's code and reason without the path Node appends ("ENOENT: no such file or directory").
function reason(error: unknown): string {
  return (error as Error).message.replace(/, \w+ '.*'$/s, '');
}

/**
 * Checks, before long work, that `file` can be written later: its directory exists and is one,
 * `file` is a regular file or does not exist yet (a directory, a device or a FIFO is refused:
 * a rename would replace the device node), and a temporary file can be created there (it is
 * removed at once). Synchronous: meant for command-line checks.
 * @throws Error saying which of these fails, naming the path and the file system's reason
 */
export function checkWritableSync(file: string): void {
  const directory = path.dirname(path.resolve(file));
  let dirStats;
  try {
    dirStats = statSync(directory);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `the directory ${directory} does not exist`
      : code === 'ENOTDIR' ? `${directory} is not a directory: a part of that path is a file`
        : `the directory ${directory} cannot be reached (${reason(error)})`);
  }
  if (!dirStats.isDirectory()) throw new Error(`${directory} is not a directory but ${describeKind(dirStats)}`);
  const target = statSync(file, { throwIfNoEntry: false });
  if (target?.isDirectory()) throw new Error(`${file} is a directory; give a file name, e.g. ${path.join(file, 'model.pt')}`);
  if (target !== undefined && !target.isFile()) throw new Error(`${file} is ${describeKind(target)}, not a regular file`);
  const probe = temporaryPath(file);
  try {
    writeFileSync(probe, '', { flag: 'wx' });
  } catch (error) {
    throw new Error(`cannot create files in ${directory} (${reason(error)})`);
  }
  try {
    unlinkSync(probe);
  } catch {
    // the probe is ours by its name: the next write's clean-up removes it
  }
}

/** What a non-regular file is, for messages: 'a directory', 'a FIFO (named pipe)', ... */
export function describeKind(stats: { isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean;
  isBlockDevice(): boolean; isSocket(): boolean; isSymbolicLink(): boolean; }): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/**
 * Opens `file` for reading only if it is a regular file: opened without blocking (a FIFO would
 * otherwise wait for a writer forever), then checked on the open descriptor (no race with a
 * rename), so that a directory, a FIFO or a device (whose reads never end) is refused at once.
 * The caller closes the handle.
 * @throws Error naming `file` and what it is instead; the file system's error (with its `code`) when it cannot be opened
 */
export async function openRegularFile(file: string): Promise<fs.FileHandle> {
  const handle = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new Error(`${file} is not a regular file but ${describeKind(stats)}`);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Options of `replaceAtomically`, `writeAtomically` and `writeFileAtomically`. */
export interface AtomicWriteOptions {
  /**
   * How the temporary file is named (default `TEMPORARY_NAMES`); the stale temporaries of this
   * scheme in the target's directory are removed before the write.
   */
  readonly names?: TemporaryNames;
}

/**
 * Makes `file` appear atomically, replacing any previous one: `produce` creates the file at the
 * temporary path it is given (beside `file`, named by `options.names`), which is then renamed
 * over `file`. Stale temporaries of the directory are removed first (see the file's comment).
 * `produce` syncs what it wrote (`writeAtomically` does).
 * @returns what `produce` returned
 * @throws Error saying that `file` is a device, FIFO or socket (a rename would replace it);
 *   whatever `produce` threw; the file system's error when the rename fails. On any failure the
 *   temporary file is removed and `file` is as it was.
 */
export async function replaceAtomically<T>(file: string, produce: (temporary: string) => Promise<T>,
  options: AtomicWriteOptions = {}): Promise<T> {
  const names = options.names ?? TEMPORARY_NAMES;
  // a rename would replace a device node or a FIFO (as root, /dev/null itself)
  const existing = await fs.stat(file).catch(() => undefined);
  if (existing !== undefined && !existing.isFile() && !existing.isDirectory()) {
    throw new Error(`cannot write ${file}: it is ${describeKind(existing)}, not a regular file`);
  }
  await removeStaleTemporaries(path.dirname(file), names);
  const temporary = names.pathFor(file);
  let renamed = false;
  try {
    const result = await produce(temporary);
    await fs.rename(temporary, file);
    renamed = true;
    return result;
  } finally {
    if (!renamed) await fs.rm(temporary, { force: true });
  }
}

/**
 * Writes a file atomically, replacing any previous one: `write` fills the temporary file (through
 * its handle; its path is given for messages), which is then synced and renamed over `file`
 * (`replaceAtomically`). Stale temporaries of the directory are removed first (see the file's comment).
 * @throws Error saying that the directory does not exist when it does not, or that `file` is a
 *   device, FIFO or socket; whatever `write` threw; the file system's error otherwise. On any
 *   failure the temporary file is removed and `file` is as it was.
 */
export async function writeAtomically(file: string, write: (handle: fs.FileHandle, temporary: string) => Promise<void>,
  options: AtomicWriteOptions = {}): Promise<void> {
  await replaceAtomically(file, async (temporary) => {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(temporary, 'wx');
    } catch (error) {
      const directory = path.dirname(file);
      const code = (error as NodeJS.ErrnoException).code;
      const missing = code === 'ENOENT' && await fs.stat(directory).then(() => false, () => true);
      if (missing) throw new Error(`cannot write ${file}: directory ${directory} does not exist`);
      throw new Error(`cannot write ${file}: cannot create a file in ${directory} (${reason(error)})`);
    }
    try {
      await write(handle, temporary);
      await handle.sync();
    } catch (error) {
      // the error that got here says more than a failing close
      await handle.close().catch(() => undefined);
      throw error;
    }
    await handle.close();
  }, options);
}

/**
 * Writes `data` to `file` atomically (see `writeAtomically`), replacing any previous file.
 * @throws Error saying that the directory does not exist when it does not; the file system's
 *   error otherwise (the temporary file is removed either way).
 */
export async function writeFileAtomically(file: string, data: string | Uint8Array): Promise<void> {
  await writeAtomically(file, (handle) => handle.writeFile(data));
}
