/**
 * Reading `torch.save` files: the zip archive, its `data.pkl` and the raw storages it names,
 * turned into CPU tensors. Tensors that share a storage in the file share one here too: each
 * storage becomes one tensor over its bytes and every tensor is a strided view of it, as
 * `torch.load` rebuilds them.
 */
import { promises as fs } from 'fs';

import { tensor } from '../creation';
import { dispose, tidy } from '../scope';
import { Tensor } from '../tensor';
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

// The zip directory, after telling apart the files that are not zip archives at all.
async function openArchive(source: RandomAccessSource): Promise<ZipReader> {
  if (source.size === 0) throw new Error('the file is empty (0 bytes), not a torch.save file');
  const head = await source.read(0, Math.min(source.size, LEGACY_MAGIC.length));
  if (startsWith(head, LEGACY_MAGIC)) {
    throw new Error("the file is in PyTorch's legacy (non-zip) torch.save format, which torchbridge does not read; " +
      're-save it in Python: torch.save(torch.load(path), path, _use_new_zipfile_serialization=True)');
  }
  if (!startsWith(head, ZIP_MAGIC) && !startsWith(head, EMPTY_ZIP_MAGIC)) {
    const hex = Buffer.from(head.subarray(0, 4)).toString('hex');
    throw new Error(`not a torch.save file: it is not a zip archive (its first bytes are ${hex}; zip archives start with 504b0304)`);
  }
  return ZipReader.open(source);
}

// The pickle record and the directory all records live in: `<prefix>/data.pkl` (PyTorch names
// the directory after the file, or 'archive').
function torchRecords(zip: ZipReader): { prefix: string; pickleEntry: ZipEntry } {
  const pickleEntry = zip.entries.find((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pickleEntry === undefined) {
    throw new Error('the file is a zip archive but not a torch.save file: it has no <name>/data.pkl record');
  }
  const prefix = pickleEntry.name.slice(0, -'/data.pkl'.length);
  if (zip.find(`${prefix}/constants.pkl`) !== undefined) {
    throw new Error('the file is a TorchScript archive (torch.jit.save), not a torch.save file; ' +
      'save the model\'s state_dict() with torch.save in Python');
  }
  return { prefix, pickleEntry };
}

// Every storage the tensors of `tree` view, with the elements the furthest view needs.
function storagesOf(tree: PickleTree<TensorSpec>, found: Map<StorageRef, number>, seen = new Set<object>()): void {
  if (typeof tree !== 'object' || tree === null || tree instanceof Uint8Array || seen.has(tree)) return;
  seen.add(tree);
  if (Array.isArray(tree)) {
    for (const item of tree) storagesOf(item, found, seen);
  } else if (tree instanceof Map) {
    for (const item of tree.values()) storagesOf(item, found, seen);
  } else {
    const needed = Math.max(elementsSpanned(tree), found.get(tree.storage) ?? 0);
    if (needed > tree.storage.numel) {
      throw new Error(`a tensor of size [${tree.size.join(', ')}] reaches element ${needed - 1} of storage '${tree.storage.key}', ` +
        `which holds ${tree.storage.numel} (corrupt data.pkl)`);
    }
    found.set(tree.storage, needed);
  }
}

async function readStorage(zip: ZipReader, prefix: string, storage: StorageRef): Promise<Uint8Array> {
  const name = `${prefix}/data/${storage.key}`;
  const entry = zip.find(name);
  if (entry === undefined) throw new Error(`the storage record '${name}' is missing (truncated or corrupt file)`);
  const bytes = await zip.read(entry);
  const needed = storage.numel * storage.storageClass.itemSize;
  if (bytes.length < needed) {
    throw new Error(`the storage record '${name}' holds ${bytes.length} bytes but its ${storage.numel} ` +
      `${storage.storageClass.dtype} elements need ${needed} (truncated or corrupt file)`);
  }
  return bytes.subarray(0, needed);
}

// Tensors over the storages' bytes (shared, not copied), one view per TensorSpec. What the
// pickle shares (one tensor or container named twice) stays shared.
function materialize(tree: PickleTree<TensorSpec>, storageBytes: Map<StorageRef, Uint8Array>): PickleValue {
  return tidy(() => {
    const storages = new Map<StorageRef, Tensor>();
    const storageTensor = (ref: StorageRef): Tensor => {
      let out = storages.get(ref);
      if (out === undefined) {
        const bytes = tensor(storageBytes.get(ref) as Uint8Array, { dtype: 'uint8' });
        const dtype = ref.storageClass.dtype;
        out = dtype === 'uint8' ? bytes : bytes.view(dtype);
        storages.set(ref, out);
      }
      return out;
    };
    const built = new Map<object, PickleValue>();
    const build = (node: PickleTree<TensorSpec>): PickleValue => {
      if (typeof node !== 'object' || node === null || node instanceof Uint8Array) return node;
      let out = built.get(node);
      if (out !== undefined) return out;
      if (Array.isArray(node)) {
        out = node.map(build);
      } else if (node instanceof Map) {
        out = new Map([...node].map(([k, v]) => [k, build(v)]));
      } else {
        const view = storageTensor(node.storage).asStrided(node.size, node.stride, node.offset);
        out = node.requiresGrad ? view.requiresGrad_(true) : view;
      }
      built.set(node, out);
      return out;
    };
    return build(tree);
  });
}

async function readValue(path: string): Promise<PickleValue> {
  let file: fs.FileHandle;
  try {
    file = await fs.open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('the file does not exist');
    throw e;
  }
  try {
    const { size } = await file.stat();
    const zip = await openArchive(fileSource(file, size));
    const { prefix, pickleEntry } = torchRecords(zip);
    let tree: PickleTree<TensorSpec>;
    try {
      tree = unpickle(await zip.read(pickleEntry));
    } catch (e) {
      throw new Error(`${pickleEntry.name}: ${(e as Error).message}`);
    }
    const needed = new Map<StorageRef, number>();
    storagesOf(tree, needed);
    const storageBytes = new Map<StorageRef, Uint8Array>();
    for (const storage of needed.keys()) storageBytes.set(storage, await readStorage(zip, prefix, storage));
    return materialize(tree, storageBytes);
  } finally {
    await file.close();
  }
}

async function withPathInErrors<T>(what: string, path: string, body: () => Promise<T>): Promise<T> {
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
    dispose(value);
    throw new Error(`the file holds ${what}, not a state dict (a dict of tensors); read it with loadValue()`);
  });
}
