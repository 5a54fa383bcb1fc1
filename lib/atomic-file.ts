/**
 * Files that appear whole or not at all: written to a temporary file in the same directory,
 * then renamed over the target (rename is atomic within a file system), so a reader, or a run
 * killed midway, never sees half a file.
 */
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';

/**
 * Writes `data` to `file` atomically, replacing any previous file.
 * @throws Error saying that the directory does not exist when it does not; the file system's
 *   error otherwise (the temporary file is removed either way).
 */
export async function writeFileAtomically(file: string, data: string | Uint8Array): Promise<void> {
  const directory = path.dirname(file);
  const temporary = path.join(directory, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await fs.writeFile(temporary, data, { flag: 'wx' });
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    const missing = await fs.stat(directory).then(() => false, () => true);
    if (missing) throw new Error(`cannot write ${file}: directory ${directory} does not exist`);
    throw error;
  }
}
