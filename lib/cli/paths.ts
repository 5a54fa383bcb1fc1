/**
 * Checks of paths named on the command line, answering yes or no instead of throwing.
 */
import { promises as fs } from 'fs';

/** Whether `file` exists (any kind of entry). */
export async function exists(file: string): Promise<boolean> {
  return (await fs.stat(file).catch(() => undefined)) !== undefined;
}

/** Whether `dir` exists and is a directory. */
export async function isDirectory(dir: string): Promise<boolean> {
  return (await fs.stat(dir).catch(() => undefined))?.isDirectory() ?? false;
}
