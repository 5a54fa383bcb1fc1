/**
 * TorchScript: `torch.jit.trace` of a module whose forward is written in TypeScript, and
 * `torch.jit.load` / `torch.jit.save` of the archives Python's `torch.jit.save` writes and reads.
 *
 * A traced or loaded module is a `ScriptModule`: a `Module` whose forward is a TorchScript
 * graph that runs natively, so the Trainer can train it off the JS thread, and whose parameters
 * and buffers are the module's under PyTorch's names (its state dict is PyTorch's).
 *
 * Tracing records the ATen ops that one forward run dispatches, as PyTorch's tracer does, with
 * PyTorch's caveats:
 * - control flow that depends on the data (an `if` on `x.item()`, a loop over `toArray()`) is
 *   frozen as it went for the example inputs: a TracerWarning is emitted when forward reads
 *   tensor values while being traced;
 * - numbers read from tensors (`x.shape[0]`, `x.size(1)`) become constants of the graph, so a
 *   forward that reshapes with `x.shape[0]` only works for the example's batch size: write
 *   `reshape([-1, n])` or `flatten(1)` instead (the Trainer runs pieces of other sizes);
 * - tensors forward creates from JS values (`torch.tensor([...])`) become constants;
 * - the example inputs' dtypes and devices are recorded.
 * Unlike PyTorch, train and eval mode are both traced: when the graphs differ (dropout, batch
 * norm), the traced forward runs the graph of its current mode (`if self.training: ...` in the
 * TorchScript code), so `train()` and `eval()` behave as the original module's.
 */
import * as fs from 'fs/promises';

import { describe } from '../core/describe';
import { writeFileAtomically } from '../core/atomic-file';
import { Tensor, optionsOf } from '../core/tensor';
import { Device } from '../core/types';
import { tidy, keep } from '../core/scope';
import { NativeModule, NativeTensor, ops } from '../native';
import { Module } from '../nn/module';
import { checkTorchScriptArchive } from './archive';
import { tracing } from '../core/tracing';

/**
 * A TorchScript module (PyTorch's `RecursiveScriptModule`): forward runs its graph natively.
 * Its parameters and buffers are the graph's attributes; train(), eval(), to(), stateDict(),
 * loadStateDict() and the optimizers work as on any module, and the Trainer trains it on several
 * replicas. Its structure is fixed: registering parameters or modules is refused.
 */
export class ScriptModule extends Module {
  /** @internal */
  constructor(handle: NativeModule) {
    super(handle);
  }

  /** forward's TorchScript graph (PyTorch's `module.graph`). */
  get graph(): string {
    return ops.jitInfo(this.handle).graph ?? '';
  }

  /** forward's signature, e.g. `forward(Tensor x0) -> Tensor`. */
  get signature(): string {
    return ops.jitInfo(this.handle).signature ?? '';
  }

  /** The names of the TorchScript methods (forward, and forward_train / forward_eval when tracing found two modes). */
  get methods(): string[] {
    return ops.jitInfo(this.handle).methods;
  }

  /** Runs forward's graph; a tuple or list of tensors is returned as forwardAll's array. @internal */
  protected override callNativeForward(inputs: (NativeTensor | null)[]): NativeTensor | (NativeTensor | null)[] {
    return ops.jitForward(this.handle, inputs);
  }

  /** Refused: a TorchScript module's attributes are fixed (register parameters before tracing). */
  override registerParameter(name: string, _tensor?: Tensor, _requiresGrad?: boolean): Tensor {
    throw new Error(`ScriptModule.registerParameter('${name}'): a TorchScript module's attributes are fixed; register it before tracing`);
  }

  /** Refused: a TorchScript module's submodules are fixed (register them before tracing). */
  override registerModule<T extends Module>(name: string, _module: T): T {
    throw new Error(`ScriptModule.registerModule('${name}'): a TorchScript module's submodules are fixed; register it before tracing`);
  }

  /** A deep copy (its own parameters and buffers, on `device` if given). */
  override clone(device?: Device): ScriptModule {
    return new ScriptModule(ops.moduleClone(this.handle, device));
  }
}

/** Options of `trace`. */
export interface TraceOptions {
  /**
   * Trace the other mode (train or eval) too and run the graph of the current mode (default
   * true). With false, the graph of the module's current mode runs in both modes, as PyTorch's
   * torch.jit.trace does (its dropout stays on after eval() when traced in train mode).
   */
  bothModes?: boolean;
}

/**
 * `torch.jit.trace(module, exampleInputs)`: runs `module.forward(...exampleInputs)` once under
 * libtorch's tracer (in the module's current mode, and by default in the other mode too, with
 * its buffers and the CPU generator restored after that second run) and returns a ScriptModule
 * whose forward is the recorded graph. Its parameters and buffers are the module's own tensors
 * (training one trains the other, as in PyTorch); dispose it and the module separately.
 * See the module comment for the caveats.
 * @param exampleInputs 1 to 4 tensors (a single tensor is one input).
 * @throws TypeError for a module that is not a Module or inputs that are not tensors; Error with
 *   forward's own error when it fails.
 */
export function trace(module: Module, exampleInputs: Tensor | readonly Tensor[], options?: TraceOptions | null): ScriptModule {
  const o = optionsOf(options, 'torch.jit.trace');
  if (!(module instanceof Module)) throw new TypeError(`torch.jit.trace: module must be an nn.Module, got ${describe(module)}`);
  const inputs = exampleInputs instanceof Tensor ? [exampleInputs] : exampleInputs;
  if (!Array.isArray(inputs) || inputs.length < 1 || inputs.length > 4 || inputs.some((t) => !(t instanceof Tensor))) {
    throw new TypeError(`torch.jit.trace: exampleInputs must be a Tensor or an array of 1 to 4 Tensors, got ${describe(exampleInputs)}`);
  }
  if (o.bothModes !== undefined && typeof o.bothModes !== 'boolean') throw new TypeError(`torch.jit.trace: bothModes must be a boolean, got ${describe(o.bothModes)}`);
  // forward's results, kept until the tracer has read them; everything else forward made is released
  const results: Tensor[] = [];
  const run = (handles: NativeTensor[]): NativeTensor | NativeTensor[] => {
    const out = tracing(() => tidy(() => {
      const args = handles.map((h) => new Tensor(h));
      const value: unknown = module.forward(...args);
      if (value instanceof Tensor) return keep(value);
      if (Array.isArray(value) && value.length > 0 && value.every((t) => t instanceof Tensor)) return value.map((t: Tensor) => keep(t));
      throw new TypeError(`torch.jit.trace: ${module.constructor.name}.forward must return a Tensor or an array of Tensors, got ${describe(value)}`);
    }));
    const list = out instanceof Tensor ? [out] : out;
    results.push(...list);
    return out instanceof Tensor ? out.handle : list.map((t) => t.handle);
  };
  try {
    const handle = ops.jitTrace(module.handle, inputs.map((t) => t.handle), run, module.constructor.name, o.bothModes ?? true);
    return new ScriptModule(handle);
  } finally {
    results.forEach((t) => t.dispose());
  }
}

/** Options of `load`. */
export interface JitLoadOptions {
  /** Where the parameters and buffers go (`map_location`); default where they were saved. */
  device?: Device;
}

/**
 * `torch.jit.load(path)`: a TorchScript archive that Python's `torch.jit.save` (traced or
 * scripted modules) or `torch.jit.save` here wrote, as a ScriptModule.
 * @throws Error, its message starting with `torch.jit.load('<path>'):`, for a missing or
 *   non-regular file, a file that is not a zip archive, a `torch.save` file (use torch.load), a
 *   file written by a newer PyTorch than this libtorch reads, or a corrupt archive.
 */
export async function load(path: string, options?: JitLoadOptions | null): Promise<ScriptModule> {
  const o = optionsOf(options, 'torch.jit.load');
  if (typeof path !== 'string') throw new TypeError(`torch.jit.load(path): path must be a string, got ${describe(path)}`);
  try {
    await checkTorchScriptArchive(path, ops.jitMaxFileFormatVersion());
    const bytes = await fs.readFile(path);
    return new ScriptModule(loadArchive(bytes, o.device));
  } catch (e) {
    throw new Error(`torch.jit.load('${path}'): ${(e as Error).message}`);
  }
}

// libtorch's reading of the archive: an operator or type it does not know means a newer PyTorch wrote it.
function loadArchive(bytes: Uint8Array, device: Device | undefined): NativeModule {
  try {
    return ops.jitLoad(bytes, device);
  } catch (e) {
    const message = (e as Error).message;
    if (/Unknown builtin op|Unknown type name|Unknown type constructor|Schema not found/.test(message)) {
      throw new Error(`the archive uses an operator or type that this libtorch lacks (it was probably written by a newer PyTorch; ` +
        `save it with the PyTorch of this libtorch, or use a newer libtorch): ${message}`);
    }
    throw new Error(`libtorch could not read the archive (corrupt?): ${message}`);
  }
}

/**
 * `torch.jit.save(module, path)`: writes the ScriptModule as a TorchScript archive that Python's
 * `torch.jit.load` reads, atomically (a temporary file renamed into place: a failed save leaves
 * any previous file as it was).
 */
export async function save(module: ScriptModule, path: string): Promise<void> {
  if (!(module instanceof ScriptModule)) {
    throw new TypeError(`torch.jit.save: module must be a ScriptModule (from torch.jit.trace or torch.jit.load), got ${describe(module)}` +
      ((module as unknown) instanceof Module ? '; trace it first with torch.jit.trace(module, exampleInputs), or save its stateDict() with torch.save' : ''));
  }
  if (typeof path !== 'string') throw new TypeError(`torch.jit.save(module, path): path must be a string, got ${describe(path)}`);
  const bytes = ops.jitSave(module.handle);
  try {
    await writeFileAtomically(path, bytes);
  } catch (e) {
    throw new Error(`torch.jit.save('${path}'): ${(e as Error).message}`);
  }
}
