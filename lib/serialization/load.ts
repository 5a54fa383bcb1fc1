/**
 * Reading `torch.save` files: the zip archive, its `data.pkl` and the raw storages it names,
 * turned into CPU tensors. Tensors that share a storage in the file share one here too: each
 * storage becomes one tensor over its bytes and every tensor is a strided view of it, as
 * `torch.load` rebuilds them.
 */
import { promises as fs, Stats } from 'fs';

import { describeKind, openRegularFile } from '../core/atomic-file';
import { tensor } from '../core/creation';
import { Tensor } from '../core/tensor';
import { unpickle } from './pickle-read';
import { PickleTree, PickleValue, StateDict, StorageRef, TensorSpec, elementsSpanned } from './values';
import { fileSource, RandomAccessSource, ZIP_MAGIC, ZipEntry, ZipReader } from './zip';

// What PyTorch's legacy (pre-1.6) format starts with: the protocol-2 pickle of its magic
// number 0x1950a86a20f9469cfc6c (PROTO 2, LONG1 of 10 bytes).
const LEGACY_MAGIC = Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19);
// An empty zip archive is only its end record.
const EMPTY_ZIP_MAGIC = Uint8Array.of(0x50, 0x4b, 0x05, 0x06);

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, k) => bytes[k] === b);
}

/**
 * The zip directory of a `format` ('torch.save', 'torch.jit.save') file, after telling apart the
 * files that are not zip archives at all. @internal
 */
export async function openArchive(source: RandomAccessSource, format = 'torch.save'): Promise<ZipReader> {
  if (source.size === 0) throw new Error(`the file is empty (0 bytes), not a ${format} file`);
  const head = await source.read(0, Math.min(source.size, LEGACY_MAGIC.length));
  if (startsWith(head, LEGACY_MAGIC)) {
    throw new Error("the file is in PyTorch's legacy (non-zip) torch.save format, which torchbridge does not read; " +
      're-save it in Python: torch.save(torch.load(path), path, _use_new_zipfile_serialization=True)');
  }
  if (!startsWith(head, ZIP_MAGIC) && !startsWith(head, EMPTY_ZIP_MAGIC)) {
    const hex = Buffer.from(head.subarray(0, 4)).toString('hex');
    throw new Error(`not a ${format} file: it is not a zip archive (its first bytes are ${hex}; zip archives start with 504b0304)`);
  }
  return ZipReader.open(source);
}

// The pickle record and the directory all records live in. As PyTorch's PyTorchStreamReader
// does, the directory is that of the archive's first entry (PyTorch names it after the file, or
// 'archive'), and every record is looked up inside it.
function torchRecords(zip: ZipReader): { prefix: string; pickleEntry: ZipEntry } {
  const first = zip.entries[0];
  if (first === undefined) throw new Error('the file is an empty zip archive, not a torch.save file');
  const slash = first.name.indexOf('/');
  if (slash < 0) {
    throw new Error(`the file is a zip archive but not a torch.save file: its first record '${first.name}' is not in a directory ` +
      '(torch.save puts every record in one, <name>/data.pkl, <name>/data/..., <name>/version)');
  }
  const prefix = first.name.slice(0, slash);
  const pickleEntry = zip.find(`${prefix}/data.pkl`);
  if (pickleEntry === undefined) {
    throw new Error(`the file is a zip archive but not a torch.save file: it has no <name>/data.pkl record ` +
      `('${prefix}/data.pkl', in the directory of its first record '${first.name}', as PyTorch looks for it)`);
  }
  if (zip.find(`${prefix}/constants.pkl`) !== undefined) {
    throw new Error('the file is a TorchScript archive (torch.jit.save), not a torch.save file; ' +
      'save the model\'s state_dict() with torch.save in Python');
  }
  return { prefix, pickleEntry };
}

/** The archive format versions PyTorch 1.13 to 2.11 read (caffe2/serialize/versions.h). */
const MIN_FORMAT_VERSION = 1n;
const MAX_FORMAT_VERSION = 10n;

// `<prefix>/.data/version`, else `<prefix>/version`, read as PyTorchStreamReader::init reads it:
// with std::stoull, that is leading white space, an optional sign and decimal digits, anything
// after them ignored, a minus sign wrapping around 2^64; then checked against the versions read.
/**
 * The archive format version of a torch.save or torch.jit.save archive whose records live in
 * `prefix`, as PyTorchStreamReader reads it (see above), with `shown`, the record's text for
 * messages. @internal
 * @throws Error when the record is missing, not a number, beyond 64 bits or below 1 (corrupt file)
 */
export async function readFormatVersion(zip: ZipReader, prefix: string, format: string): Promise<{ version: bigint; shown: string; entry: ZipEntry }> {
  const entry = zip.find(`${prefix}/.data/version`) ?? zip.find(`${prefix}/version`);
  if (entry === undefined) {
    throw new Error(`the archive has no version record '${prefix}/version', which every ${format} file has (truncated or corrupt file)`);
  }
  const text = Buffer.from(await zip.read(entry)).toString('latin1');
  const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
  const match = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)/.exec(text);
  if (match === null) throw new Error(`the version record '${entry.name}' holds ${shown}, not a number (corrupt file)`);
  let version = BigInt(match[2]);
  if (version >= 2n ** 64n) throw new Error(`the version record '${entry.name}' holds ${shown}, a number beyond 64 bits (corrupt file)`);
  if (match[1] === '-') version = BigInt.asUintN(64, -version);
  if (version < MIN_FORMAT_VERSION) {
    throw new Error(`the version record '${entry.name}' holds ${shown}: format version ${version} is older than any ${format} format ` +
      `(the oldest is ${MIN_FORMAT_VERSION}; corrupt file)`);
  }
  return { version, shown, entry };
}

async function checkFormatVersion(zip: ZipReader, prefix: string): Promise<void> {
  const { version, shown, entry } = await readFormatVersion(zip, prefix, 'torch.save');
  if (version > MAX_FORMAT_VERSION) {
    throw new Error(`the file's archive format version is ${version} ('${entry.name}' holds ${shown}), but torchbridge reads versions ` +
      `${MIN_FORMAT_VERSION} to ${MAX_FORMAT_VERSION}, as PyTorch 1.13 to 2.11 do: it was written by a newer PyTorch, or is corrupt`);
  }
}

// The containers and tensors of `tree`, each once (the memo lets a pickle name one object
// twice), walked without recursion: pickles nest as deep as memory allows.
function* nodesOf<Leaf extends object>(tree: PickleTree<Leaf>): Generator<Leaf | PickleTree<Leaf>[] | Map<string | number, PickleTree<Leaf>>> {
  const seen = new Set<object>();
  const todo: PickleTree<Leaf>[] = [tree];
  while (todo.length > 0) {
    const node = todo.pop() as PickleTree<Leaf>;
    if (typeof node !== 'object' || node === null || node instanceof Uint8Array || seen.has(node)) continue;
    seen.add(node);
    yield node;
    if (Array.isArray(node)) {
      for (const item of node) todo.push(item);
    } else if (node instanceof Map) {
      for (const item of node.values()) todo.push(item);
    }
  }
}

// Every storage the tensors of `tree` view, with the elements the furthest view needs.
function storagesOf(tree: PickleTree<TensorSpec>): Map<StorageRef, number> {
  const found = new Map<StorageRef, number>();
  for (const node of nodesOf(tree)) {
    if (Array.isArray(node) || node instanceof Map) continue;
    const needed = Math.max(elementsSpanned(node), found.get(node.storage) ?? 0);
    if (needed > node.storage.numel) {
      throw new Error(`a tensor of size [${node.size.join(', ')}] reaches element ${needed - 1} of storage '${node.storage.key}', ` +
        `which holds ${node.storage.numel} (corrupt data.pkl)`);
    }
    found.set(node.storage, needed);
  }
  return found;
}

async function readStorage(zip: ZipReader, prefix: string, storage: StorageRef, fileSize: number): Promise<Uint8Array> {
  const name = `${prefix}/data/${storage.key}`;
  const entry = zip.find(name);
  if (entry === undefined) throw new Error(`the storage record '${name}' is missing (truncated or corrupt file)`);
  // Checked before reading: the pickle's element count is as untrusted as the record's size.
  const needed = storage.numel * storage.storageClass.itemSize;
  if (entry.size < needed) {
    throw new Error(`the storage record '${name}' holds ${entry.size} bytes but its ${storage.numel} ` +
      `${storage.storageClass.dtype} elements need ${needed} (the whole file has ${fileSize} bytes: truncated or corrupt)`);
  }
  const bytes = await zip.read(entry);
  return bytes.subarray(0, needed);
}

function disposeAll(tensors: Iterable<Tensor>): void {
  for (const t of tensors) t.dispose();
}

// The tensors in `value`, each once.
function tensorsIn(value: PickleValue): Tensor[] {
  const out: Tensor[] = [];
  for (const node of nodesOf(value)) if (node instanceof Tensor) out.push(node);
  return out;
}

// Tensors over the storages' bytes (shared, not copied), one view per TensorSpec. What the
// pickle shares (one tensor or container named twice) stays shared. Containers are filled from
// a work list, not by recursion; the storage tensors go once every view holds its storage.
function materialize(tree: PickleTree<TensorSpec>, storageBytes: Map<StorageRef, Uint8Array>): PickleValue {
  const storages = new Map<StorageRef, Tensor>();
  const views: Tensor[] = [];
  try {
    const storageTensor = (ref: StorageRef): Tensor => {
      let out = storages.get(ref);
      if (out === undefined) {
        const bytes = tensor(storageBytes.get(ref) as Uint8Array, { dtype: 'uint8' });
        const dtype = ref.storageClass.dtype;
        if (dtype === 'uint8') {
          out = bytes;
        } else {
          try {
            out = bytes.view(dtype);
          } finally {
            bytes.dispose();
          }
        }
        storages.set(ref, out);
      }
      return out;
    };
    type Container = PickleTree<TensorSpec>[] | Map<string | number, PickleTree<TensorSpec>>;
    const built = new Map<object, PickleValue>();
    const unfilled: Array<[Container, PickleValue[] | Map<string | number, PickleValue>]> = [];
    const convert = (node: PickleTree<TensorSpec>): PickleValue => {
      if (typeof node !== 'object' || node === null || node instanceof Uint8Array) return node;
      let out = built.get(node);
      if (out !== undefined) return out;
      if (Array.isArray(node)) {
        const list: PickleValue[] = [];
        unfilled.push([node, list]);
        out = list;
      } else if (node instanceof Map) {
        const dict = new Map<string | number, PickleValue>();
        unfilled.push([node, dict]);
        out = dict;
      } else {
        const view = storageTensor(node.storage).asStrided(node.size, node.stride, node.offset);
        views.push(view);
        out = node.requiresGrad ? view.requiresGrad_(true) : view;
      }
      built.set(node, out);
      return out;
    };
    const root = convert(tree);
    for (let next = unfilled.pop(); next !== undefined; next = unfilled.pop()) {
      const [node, out] = next;
      if (Array.isArray(node)) {
        for (const item of node) (out as PickleValue[]).push(convert(item));
      } else {
        for (const [key, item] of node) (out as Map<string | number, PickleValue>).set(key, convert(item));
      }
    }
    return root;
  } catch (e) {
    disposeAll(views);
    throw e;
  } finally {
    disposeAll(storages.values());
  }
}

/**
 * Opens the file at `path` for random-access reading, refusing at once anything but a regular
 * file, where `torch.load` would block or misbehave: a FIFO waits for a writer forever,
 * /dev/zero reports 0 bytes and reads without end, a directory fails to read. Opened without
 * blocking and checked again on the descriptor, should the path change meanwhile. The caller
 * closes `file`. @internal
 * @param format what such files are, for messages: 'torch.save', 'safetensors'
 * @throws Error 'the file does not exist', or saying what the path is instead (`the path is a
 *   FIFO (named pipe), not a regular file (<format> files are regular files)`); the file
 *   system's error otherwise
 */
export async function openRegularSource(path: string, format: string): Promise<{ file: fs.FileHandle; size: number; source: RandomAccessSource }> {
  let stats: Stats;
  try {
    stats = await fs.stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('the file does not exist');
    throw e;
  }
  if (!stats.isFile()) throw new Error(`the path is ${describeKind(stats)}, not a regular file (${format} files are regular files)`);
  const file = await openRegularFile(path);
  try {
    const { size } = await file.stat();
    return { file, size, source: fileSource(file, size) };
  } catch (e) {
    await file.close();
    throw e;
  }
}

async function readValue(path: string): Promise<PickleValue> {
  const { file, size, source } = await openRegularSource(path, 'torch.save');
  try {
    const zip = await openArchive(source);
    const { prefix, pickleEntry } = torchRecords(zip);
    await checkFormatVersion(zip, prefix);
    let tree: PickleTree<TensorSpec>;
    try {
      tree = unpickle(await zip.read(pickleEntry));
    } catch (e) {
      throw new Error(`${pickleEntry.name}: ${(e as Error).message}`);
    }
    const storageBytes = new Map<StorageRef, Uint8Array>();
    for (const storage of storagesOf(tree).keys()) storageBytes.set(storage, await readStorage(zip, prefix, storage, size));
    return materialize(tree, storageBytes);
  } finally {
    await file.close();
  }
}

/**
 * Runs `body`, its errors' messages prefixed with `<what>('<path>'): ` (the function and the file
 * they are about), after refusing a `path` that is not a string. @internal
 * @param what the public function's name: 'load', 'loadSafetensors', ...
 * @throws TypeError when `path` is not a string; Error with the prefixed message of whatever `body` threw
 */
export async function withPathInErrors<T>(what: string, path: string, body: () => Promise<T>): Promise<T> {
  if (typeof path !== 'string') throw new TypeError(`${what}(path): path must be a string, got ${typeof path}`);
  try {
    return await body();
  } catch (e) {
    throw new Error(`${what}('${path}'): ${(e as Error).message}`);
  }
}

function describeNonStateDict(value: PickleValue): string {
  if (value instanceof Map) {
    for (const [key, item] of value) {
      if (typeof key !== 'string') return `a dict with the non-str key ${key}`;
      if (!(item instanceof Tensor)) return `a dict whose entry '${key}' is not a tensor`;
    }
  }
  if (value instanceof Tensor) return 'a single tensor';
  if (Array.isArray(value)) return 'a list or tuple';
  return value === null ? 'None' : `a ${typeof value}`;
}

function isStateDict(value: PickleValue): value is StateDict {
  if (!(value instanceof Map)) return false;
  for (const [key, item] of value) if (typeof key !== 'string' || !(item instanceof Tensor)) return false;
  return true;
}

/**
 * Reads any value `torch.save` wrote (the zip format of PyTorch 1.6 and later): nested dicts,
 * lists, numbers, strings and tensors (for instance an optimizer's state dict). Tensors are on
 * the CPU whatever device they were saved from.
 * @throws Error, its message starting with `loadValue('<path>'):`, for a missing, empty,
 *   truncated or corrupt file, one that is not a torch.save file, or one holding Python objects
 *   other than those listed.
 */
export async function loadValue(path: string): Promise<PickleValue> {
  return withPathInErrors('loadValue', path, () => readValue(path));
}

/**
 * Reads a state dict that `torch.save(model.state_dict(), path)` wrote (an OrderedDict or dict
 * of tensors), in the file's order. Tensors are CPU tensors; those saved as views of one storage
 * stay views of one storage, and those saved with requires_grad (Parameters) require grad.
 * @throws Error, its message starting with `load('<path>'):`, as `loadValue`, and when the file
 *   holds something other than a dict of tensors.
 */
export async function load(path: string): Promise<StateDict> {
  return withPathInErrors('load', path, async () => {
    const value = await readValue(path);
    if (isStateDict(value)) return value;
    const what = describeNonStateDict(value);
    disposeAll(tensorsIn(value));
    throw new Error(`the file holds ${what}, not a state dict (a dict of tensors); read it with loadValue()`);
  });
}
