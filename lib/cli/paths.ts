/**
 * Checks of paths named on the command line, answering yes or no instead of throwing.
 */
import { promises as fs } from 'fs';

import { describeKind } from '../core/atomic-file';

/** Whether `file` exists (any kind of entry). */
export async function exists(file: string): Promise<boolean> {
  return (await fs.stat(file).catch(() => undefined)) !== undefined;
}

/** Whether `dir` exists and is a directory. */
export async function isDirectory(dir: string): Promise<boolean> {
  return (await fs.stat(dir).catch(() => undefined))?.isDirectory() ?? false;
}

/**
 * What `file` is when it exists and is not a regular file ('a directory', 'a FIFO (named pipe)',
 * 'a character device', ...): reading those blocks or never ends. Undefined for a regular file or
 * one that does not exist.
 */
export async function notRegularFile(file: string): Promise<string | undefined> {
  const stats = await fs.stat(file).catch(() => undefined);
  return stats === undefined || stats.isFile() ? undefined : describeKind(stats);
}
