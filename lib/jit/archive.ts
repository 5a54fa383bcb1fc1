/**
 * The checks torch.jit.load makes before libtorch reads an archive, so that the common mistakes
 * get messages that name them (libtorch says "failed locating file constants.pkl" for a state
 * dict, and "failed finding central directory" for any other file). @internal
 */
import { openArchive, openRegularSource, readFormatVersion } from '../serialization/load';

/**
 * Refuses what is not a TorchScript archive that this libtorch reads: a missing or non-regular
 * file, a file that is not a zip archive, a torch.save file, an archive without its records, or
 * one whose format version is newer than `maxVersion` (this libtorch's
 * kMaxSupportedFileFormatVersion).
 */
export async function checkTorchScriptArchive(path: string, maxVersion: number): Promise<void> {
  const { file, source } = await openRegularSource(path, 'TorchScript');
  try {
    const zip = await openArchive(source, 'torch.jit.save');
    const first = zip.entries[0];
    const slash = first === undefined ? -1 : first.name.indexOf('/');
    if (first === undefined || slash < 0) throw new Error('the file is a zip archive but not a TorchScript archive (torch.jit.save puts every record in one directory)');
    const prefix = first.name.slice(0, slash);
    const has = (name: string) => zip.find(`${prefix}/${name}`) !== undefined;
    if (!has('constants.pkl')) {
      if (has('data.pkl')) {
        throw new Error('the file is a torch.save file (a state dict or another value), not a TorchScript archive: read it with ' +
          'torch.load(path) and give it to a module with loadStateDict(), or save a TorchScript module in Python with torch.jit.save');
      }
      throw new Error(`the file is a zip archive but not a TorchScript archive: it has no '${prefix}/constants.pkl' record`);
    }
    if (!zip.entries.some((e) => e.name.startsWith(`${prefix}/code/`))) {
      throw new Error(`the archive has no code ('${prefix}/code/...'): it is not a TorchScript module archive, or it is corrupt`);
    }
    const { version, shown, entry } = await readFormatVersion(zip, prefix, 'torch.jit.save');
    if (version > BigInt(maxVersion)) {
      throw new Error(`the archive's format version is ${version} ('${entry.name}' holds ${shown}), but this libtorch reads versions up to ` +
        `${maxVersion}: it was written by a newer PyTorch than this libtorch (torch.version()), or is corrupt; save it with an older ` +
        'PyTorch or use a newer libtorch');
    }
  } finally {
    await file.close();
  }
}
