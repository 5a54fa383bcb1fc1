/**
 * Zip extraction as d2l's `download_extract` does it (every entry, into a directory), made safe
 * to interrupt: entries are written into a staging directory beside the target, moved into
 * place once all are written, and a marker recording the archive's sha1 is written last. A
 * folder without its marker is never taken as complete.
 */
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';

import { writeFileAtomically } from '../core/atomic-file';
import { fileSource, ZipReader } from '../serialization/zip';

/** How `extractZip` behaves. */
export interface ExtractOptions {
  /** The archive's sha1 (already verified), recorded in the marker. */
  readonly sha1: string;
  /** Told when an extraction actually starts (not when it is skipped). */
  readonly note: (line: string) => void;
}

// What the marker file holds: which archive was extracted and what it put in the directory.
interface Marker {
  readonly sha1: string;
  readonly entries: readonly string[];
}

function isMarker(value: unknown): value is Marker {
  if (typeof value !== 'object' || value === null) return false;
  const { sha1, entries } = value as Record<string, unknown>;
  return typeof sha1 === 'string' && Array.isArray(entries) && entries.every((e) => typeof e === 'string');
}

// The marker of `archive` extracted into `directory`: `<directory>/<archive name>.extracted`.
function markerPath(archive: string, directory: string): string {
  return path.join(directory, `${path.basename(archive)}.extracted`);
}

// True when the marker names this archive and everything it listed is still there.
async function isExtracted(marker: string, directory: string, sha1: string): Promise<boolean> {
  let recorded: unknown;
  try {
    recorded = JSON.parse(await fs.readFile(marker, 'utf8'));
  } catch {
    // Missing or unreadable: extract again (a real file system problem then shows there).
    return false;
  }
  if (!isMarker(recorded) || recorded.sha1 !== sha1) return false;
  for (const entry of recorded.entries) {
    try {
      await fs.lstat(path.join(directory, entry));
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * The path components of a zip entry's name, or undefined when the entry would land outside
 * the extraction directory ("zip slip"): an absolute path, a drive letter, or a `..` component
 * (also between backslashes, which Windows tools use as separators).
 */
export function entryComponents(name: string): string[] | undefined {
  if (name.includes('\0') || name.startsWith('/') || name.startsWith('\\') || /^[a-zA-Z]:/.test(name)) return undefined;
  const components = name.split('/').filter((c) => c !== '' && c !== '.');
  if (components.some((c) => c.split('\\').includes('..'))) return undefined;
  return components;
}

// Moves each of `names` from `staging` into `directory`, replacing what is there.
async function moveIntoPlace(staging: string, directory: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const target = path.join(directory, name);
    let replaced: string | undefined;
    try {
      await fs.lstat(target);
      // rename() cannot replace a non-empty directory: move the old one aside first.
      replaced = `${target}.old-${process.pid}-${randomBytes(6).toString('hex')}`;
      await fs.rename(target, replaced);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await fs.rename(path.join(staging, name), target);
    if (replaced !== undefined) await fs.rm(replaced, { recursive: true, force: true });
  }
}

async function extractInto(zip: ZipReader, archive: string, directory: string, options: ExtractOptions): Promise<void> {
  // Every name is checked before anything is written.
  const plan = zip.entries.map((entry) => {
    const components = entryComponents(entry.name);
    if (components === undefined) {
      throw new Error(`its entry '${entry.name}' points outside the directory it is extracted into (an absolute path or '..'); nothing was extracted`);
    }
    return { entry, components };
  });
  options.note(`Extracting ${archive} into ${directory}`);
  const staging = await fs.mkdtemp(path.join(directory, `.${path.basename(archive)}.extract-`));
  try {
    for (const { entry, components } of plan) {
      if (components.length === 0) continue;
      const target = path.join(staging, ...components);
      if (entry.name.endsWith('/')) {
        await fs.mkdir(target, { recursive: true });
        continue;
      }
      await fs.mkdir(path.dirname(target), { recursive: true });
      const out = await fs.open(target, 'w');
      try {
        await out.writeFile(await zip.read(entry));
        await out.sync();
      } finally {
        await out.close();
      }
    }
    const names = await fs.readdir(staging);
    const marker = markerPath(archive, directory);
    // The old marker goes first: while folders are being replaced, nothing claims completeness.
    await fs.rm(marker, { force: true });
    await moveIntoPlace(staging, directory, names);
    const recorded: Marker = { sha1: options.sha1, entries: names };
    await writeFileAtomically(marker, `${JSON.stringify(recorded)}\n`);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/**
 * Extracts every entry of the zip `archive` (stored or deflated, CRC-checked) into `directory`,
 * unless its marker says that this archive (same sha1) was already extracted there and what it
 * put there is still present. Top-level files and folders already there are replaced whole.
 * @throws Error naming the archive: an entry that would land outside `directory` (then nothing
 *   is written), a corrupt archive, or a file system failure; `directory` then holds no partly
 *   written folder and no marker.
 */
export async function extractZip(archive: string, directory: string, options: ExtractOptions): Promise<void> {
  if (await isExtracted(markerPath(archive, directory), directory, options.sha1)) return;
  try {
    const file = await fs.open(archive, 'r');
    try {
      const zip = await ZipReader.open(fileSource(file, (await file.stat()).size));
      await extractInto(zip, archive, directory, options);
    } finally {
      await file.close();
    }
  } catch (e) {
    throw new Error(`cannot extract ${archive}: ${(e as Error).message}`);
  }
}
