/**
 * Writing `torch.save` files as PyTorch 1.13 lays them out: `archive/data.pkl` (a protocol-2
 * pickle), one raw little-endian record `archive/data/<key>` per storage, `archive/version`.
 * The file appears atomically: it is written to a temporary file in the same directory, synced
 * and renamed over the target, so readers never see half a checkpoint (`writeAtomically` of
 * `lib/atomic-file.ts`, which also removes the temporaries that killed writers left).
 */
import { promises as fs } from 'fs';

import { writeAtomically } from '../atomic-file';
import { keep, tidy } from '../scope';
import { Tensor } from '../tensor';
import { pickle } from './pickle-write';
import { PickleTree, PickleValue, StateDict, TensorSpec, contiguousStrides, storageClassOf } from './values';
import { ZipWriter } from './zip';

/** The records' directory; PyTorch uses the file's base name or 'archive', and readers take any. */
const PREFIX = 'archive';
/** The format version PyTorch 1.13 writes (kProducedFileFormatVersion). */
const FORMAT_VERSION = '3\n';

const ACCEPTED = 'Tensors, Maps with string or number keys, arrays, numbers, bigints, strings, booleans, null and Uint8Arrays';

/** One storage to write: a detached handle of the tensor, owned by the save until it ends. */
interface PendingStorage {
  readonly key: string;
  readonly tensor: Tensor;
}

/** A value ready to pickle, and the storages its tensors name. */
interface Plan {
  readonly tree: PickleTree<TensorSpec>;
  readonly rootIsStateDict: boolean;
  readonly storages: PendingStorage[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'no prototype'})`;
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

class Planner {
  readonly storages: PendingStorage[] = [];
  private readonly keys = new Map<Tensor, string>();
  private readonly open = new Set<unknown>();

  encode(value: unknown, where: string): PickleTree<TensorSpec> {
    if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'bigint' ||
      typeof value === 'string' || value instanceof Uint8Array) {
      return value;
    }
    if (value instanceof Tensor) return this.tensor(value, where);
    if (Array.isArray(value) || value instanceof Map) {
      if (this.open.has(value)) throw new TypeError(`${where} contains itself; cyclic values cannot be saved`);
      this.open.add(value);
      let out: PickleTree<TensorSpec>;
      if (Array.isArray(value)) {
        out = value.map((item, k) => this.encode(item, `${where}[${k}]`));
      } else {
        const map = new Map<string | number, PickleTree<TensorSpec>>();
        for (const [key, item] of value as Map<unknown, unknown>) {
          if (typeof key !== 'string' && typeof key !== 'number') {
            throw new TypeError(`${where} has the key ${describe(key)}; dict keys must be strings or numbers`);
          }
          map.set(key, this.encode(item, `${where}[${JSON.stringify(key)}]`));
        }
        out = map;
      }
      this.open.delete(value);
      return out;
    }
    throw new TypeError(`${where} is ${describe(value)}, which cannot be saved (save accepts ${ACCEPTED})`);
  }

  // Each distinct Tensor object is one storage, written from a contiguous CPU copy.
  private tensor(t: Tensor, where: string): TensorSpec {
    if (t.isDisposed) throw new TypeError(`${where} is a disposed tensor`);
    let key = this.keys.get(t);
    if (key === undefined) {
      key = String(this.storages.length);
      this.keys.set(t, key);
      // A handle of our own: the caller may dispose theirs while the file is being written.
      this.storages.push({ key, tensor: keep(t.detach()) });
    }
    const size = t.shape;
    return {
      kind: 'tensor',
      storage: { kind: 'storage', key, storageClass: storageClassOf(t.dtype), numel: t.numel, location: 'cpu' },
      offset: 0,
      size,
      stride: contiguousStrides(size),
      requiresGrad: t.requiresGrad,
    };
  }
}

function plan(value: unknown): Plan {
  const planner = new Planner();
  try {
    // A plain object is accepted at the top only, as the dict it spells.
    const root = isPlainObject(value) ? new Map(Object.entries(value)) : value;
    const tree = planner.encode(root, 'value');
    const rootIsStateDict = root instanceof Map && [...root].every(([k, v]) => typeof k === 'string' && v instanceof Tensor);
    return { tree, rootIsStateDict, storages: planner.storages };
  } catch (e) {
    for (const { tensor } of planner.storages) tensor.dispose();
    throw e;
  }
}

// The storage's bytes as PyTorch writes them: the elements of a contiguous CPU copy, in the
// machine's (little-endian) byte order.
function storageBytes(t: Tensor): Uint8Array {
  return tidy(() => {
    const flat = t.to({ device: 'cpu' }).contiguous().reshape([t.numel]);
    return (flat.dtype === 'uint8' ? flat : flat.view('uint8')).data() as Uint8Array;
  });
}

async function writeAll(file: fs.FileHandle, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}

async function writeArchive(path: string, { tree, rootIsStateDict, storages }: Plan): Promise<void> {
  await writeAtomically(path, async (file) => {
    const zip = new ZipWriter({ write: (bytes) => writeAll(file, bytes) });
    await zip.add(`${PREFIX}/data.pkl`, pickle(tree, { rootAsOrderedDict: rootIsStateDict }));
    // One storage in memory at a time: big checkpoints need no second full copy.
    for (const { key, tensor } of storages) await zip.add(`${PREFIX}/data/${key}`, storageBytes(tensor));
    await zip.add(`${PREFIX}/version`, Buffer.from(FORMAT_VERSION, 'latin1'));
    await zip.finish();
  });
}

/**
 * Writes `value` where Python's `torch.load(path)` reads it; a state dict (a Map or plain object
 * of tensors) is written as the `collections.OrderedDict` that `model.load_state_dict()` takes.
 * Other values (an optimizer's state dict: nested Maps with number keys, arrays, numbers) are
 * written as dicts, lists, ints (integral numbers and bigints), floats, str, bytes and None.
 *
 * Tensors are written from contiguous CPU copies, whatever their device and layout; the same
 * Tensor object appearing twice is written once. The file replaces `path` atomically: after a
 * failure, `path` is as it was and no temporary file remains.
 * @throws TypeError (rejected) for values that cannot be pickled; Error for file system errors.
 *   Messages start with `save('<path>'):`.
 */
export async function save(value: StateDict | Record<string, Tensor> | PickleValue, path: string): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new TypeError('save(value, path): path must be a non-empty string');
  let planned: Plan;
  try {
    planned = plan(value);
  } catch (e) {
    throw new TypeError(`save('${path}'): ${(e as Error).message}`);
  }
  try {
    await writeArchive(path, planned);
  } catch (e) {
    throw new Error(`save('${path}'): ${(e as Error).message}`);
  } finally {
    for (const { tensor } of planned.storages) tensor.dispose();
  }
}
