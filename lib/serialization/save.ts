/**
 * Writing `torch.save` files as PyTorch 1.13 lays them out: `archive/data.pkl` (a protocol-2
 * pickle), one raw little-endian record `archive/data/<key>` per storage, `archive/version`.
 * The file appears atomically: it is written to a temporary file in the same directory, synced
 * and renamed over the target, so readers never see half a checkpoint (`writeAtomically` of
 * `lib/core/atomic-file.ts`, which also removes the temporaries that killed writers left).
 */
import { writeAtomically } from '../core/atomic-file';
import { keep, tidy } from '../core/scope';
import { Tensor } from '../core/tensor';
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

type Container = unknown[] | Map<unknown, unknown>;
type EncodedContainer = PickleTree<TensorSpec>[] | Map<string | number, PickleTree<TensorSpec>>;

/** A container being encoded: its items so far, and where the walk is inside it. */
interface Frame {
  readonly source: Container;
  readonly out: EncodedContainer;
  /** The Map's entries or the array's items, read one at a time. */
  readonly items: Iterator<unknown> | undefined;
  /** The next index (arrays) or the key being encoded (Maps), for error paths. */
  next: number;
  key: unknown;
}

// A path such as value["a"][0][2], its middle cut out when it is long.
function pathOf(frames: readonly Frame[], upTo: number): string {
  const step = (f: Frame): string => (Array.isArray(f.source) ? `[${f.next - 1}]` : `[${JSON.stringify(f.key)}]`);
  const steps = frames.slice(0, upTo);
  if (steps.length <= 16) return `value${steps.map(step).join('')}`;
  return `value${steps.slice(0, 8).map(step).join('')}...(${steps.length - 16} levels)...${steps.slice(-8).map(step).join('')}`;
}

/**
 * Turns a value into the pickle tree, without recursion (values nest as deep as memory allows)
 * and once per object: a container or Tensor named twice becomes one node named twice, which
 * the pickle writer's memo writes once, as Python's pickler does. Paths for messages are built
 * only when something is refused.
 */
class Planner {
  readonly storages: PendingStorage[] = [];
  private readonly specs = new Map<Tensor, TensorSpec>();
  private readonly done = new Map<Container, EncodedContainer>();
  private readonly open = new Set<Container>();

  encode(root: unknown): PickleTree<TensorSpec> {
    const frames: Frame[] = [];
    const result = this.node(root, frames);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      const step = frame.items?.next();
      const atEnd = frame.items === undefined ? frame.next >= (frame.source as unknown[]).length : step?.done === true;
      if (atEnd) {
        frames.pop();
        this.open.delete(frame.source);
        this.done.set(frame.source, frame.out);
        continue;
      }
      if (Array.isArray(frame.source)) {
        const k = frame.next++;
        if (!(k in frame.source)) throw new TypeError(`${pathOf(frames, frames.length)} is missing (the array has a hole); holes cannot be saved`);
        (frame.out as PickleTree<TensorSpec>[]).push(this.node(frame.source[k], frames));
      } else {
        const [key, item] = step?.value as [unknown, unknown];
        frame.key = key;
        if (typeof key !== 'string' && typeof key !== 'number') {
          throw new TypeError(`${pathOf(frames, frames.length - 1)} has the key ${describe(key)}; dict keys must be strings or numbers`);
        }
        (frame.out as Map<string | number, PickleTree<TensorSpec>>).set(key, this.node(item, frames));
      }
    }
    return result;
  }

  // The node for `value` (a container's node is filled as the walk reaches it).
  private node(value: unknown, frames: Frame[]): PickleTree<TensorSpec> {
    if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'bigint' ||
      typeof value === 'string' || value instanceof Uint8Array) {
      return value;
    }
    if (value instanceof Tensor) return this.tensor(value, frames);
    if (Array.isArray(value) || value instanceof Map) {
      if (this.open.has(value)) throw new TypeError(`${pathOf(frames, frames.length)} contains itself; cyclic values cannot be saved`);
      const finished = this.done.get(value);
      if (finished !== undefined) return finished;
      const out: EncodedContainer = Array.isArray(value) ? [] : new Map();
      this.open.add(value);
      frames.push({ source: value, out, items: value instanceof Map ? value.entries() : undefined, next: 0, key: undefined });
      return out;
    }
    return this.refuse(value, frames);
  }

  private refuse(value: unknown, frames: readonly Frame[]): never {
    throw new TypeError(`${pathOf(frames, frames.length)} is ${describe(value)}, which cannot be saved (save accepts ${ACCEPTED})`);
  }

  // Each distinct Tensor object is one storage, written from a contiguous CPU copy, and one node.
  private tensor(t: Tensor, frames: readonly Frame[]): TensorSpec {
    const known = this.specs.get(t);
    if (known !== undefined) return known;
    if (t.isDisposed) throw new TypeError(`${pathOf(frames, frames.length)} is a disposed tensor`);
    const key = String(this.storages.length);
    // A handle of our own: the caller may dispose theirs while the file is being written.
    this.storages.push({ key, tensor: keep(t.detach()) });
    const size = t.shape;
    const spec: TensorSpec = {
      kind: 'tensor',
      storage: { kind: 'storage', key, storageClass: storageClassOf(t.dtype), numel: t.numel, location: 'cpu' },
      offset: 0,
      size,
      stride: contiguousStrides(size),
      requiresGrad: t.requiresGrad,
    };
    this.specs.set(t, spec);
    return spec;
  }
}

function plan(value: unknown): Plan {
  const planner = new Planner();
  try {
    // A plain object is accepted at the top only, as the dict it spells.
    const root = isPlainObject(value) ? new Map(Object.entries(value)) : value;
    const tree = planner.encode(root);
    const rootIsStateDict = root instanceof Map && [...root].every(([k, v]) => typeof k === 'string' && v instanceof Tensor);
    return { tree, rootIsStateDict, storages: planner.storages };
  } catch (e) {
    for (const { tensor } of planner.storages) tensor.dispose();
    throw e;
  }
}

/**
 * A tensor's elements as `torch.save` storages and safetensors data hold them: the bytes of a
 * contiguous CPU copy, in the machine's (little-endian) byte order, whatever the tensor's device
 * and layout. @internal
 */
export function storageBytes(t: Tensor): Uint8Array {
  return tidy(() => {
    const flat = t.to({ device: 'cpu' }).contiguous().reshape([t.numel]);
    return (flat.dtype === 'uint8' ? flat : flat.view('uint8')).data() as Uint8Array;
  });
}

async function writeArchive(path: string, { tree, rootIsStateDict, storages }: Plan): Promise<void> {
  await writeAtomically(path, async (file) => {
    // FileHandle.writeFile writes all of its bytes at the current position: each call appends.
    const zip = new ZipWriter({ write: (bytes) => file.writeFile(bytes) });
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
