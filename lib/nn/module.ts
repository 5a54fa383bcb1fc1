/**
 * The Module base class: a typed wrapper of a native torch::nn::Module. Parameters, buffers,
 * state dicts and children use PyTorch's dotted names (`0.weight`, `encoder.blks.0.ffn.dense1.bias`).
 */
import { describe } from '../core/describe';
import { torchSize } from '../core/format';
import { NativeModule, NativeModuleInfo, NativeTensor, ops } from '../native';
import { noGrad } from '../core/runtime';
import type { StateDict } from '../serialization';
import { Disposable } from '../core/scope';
import { Tensor, conversionTarget, optionsOf } from '../core/tensor';
import { Device, DType } from '../core/types';

export type { StateDict };

/** What `loadStateDict` found when `strict` is false. */
export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Where and in which dtype a module's parameters live. */
export interface ModuleOptions {
  /** Defaults to 'cpu'. */
  device?: Device;
  /** Floating point dtype of the parameters; defaults to float32. */
  dtype?: DType;
}

function indent(text: string): string {
  return text.split('\n').join('\n  ');
}

// PyTorch's extra_repr of the known native module types.
function extraRepr(info: NativeModuleInfo): string {
  const py = (b: boolean | undefined) => (b ? 'True' : 'False');
  // a size as Python prints what was given: an int, or a tuple of ints
  const pySize = (v: number | number[] | string | undefined) => (typeof v === 'number' ? String(v) : pyTuple(v as number[]));
  switch (info.kind) {
    case 'Linear':
    case 'LazyLinear':
      return `in_features=${info.inFeatures}, out_features=${info.outFeatures}, bias=${py(info.bias)}`;
    case 'Embedding':
      return `${info.numEmbeddings}, ${info.embeddingDim}` + (info.paddingIdx !== undefined ? `, padding_idx=${info.paddingIdx}` : '');
    case 'LayerNorm':
      return `${pyTuple(info.normalizedShape!)}, eps=${formatFloat(info.eps!)}, elementwise_affine=${py(info.elementwiseAffine)}`;
    case 'Dropout':
      return `p=${formatFloat(info.p!)}, inplace=False`;
    case 'RecursiveScriptModule':
      return info.originalName === undefined ? '' : `original_name=${info.originalName}`;
    case 'GELU':
      return `approximate='${info.approximate}'`;
    case 'Conv1d':
    case 'Conv2d': {
      let s = `${info.inChannels}, ${info.outChannels}, kernel_size=${pySize(info.kernelSize)}, stride=${pySize(info.stride)}`;
      if (typeof info.padding === 'string') s += `, padding=${info.padding}`;
      else if ((info.padding as number[]).some((p) => p !== 0)) s += `, padding=${pySize(info.padding)}`;
      if ((info.dilation as number[]).some((d) => d !== 1)) s += `, dilation=${pySize(info.dilation)}`;
      if (info.groups !== 1) s += `, groups=${info.groups}`;
      if (!info.bias) s += ', bias=False';
      if (info.paddingMode !== 'zeros') s += `, padding_mode=${info.paddingMode}`;
      return s;
    }
    case 'MaxPool2d':
      return `kernel_size=${pySize(info.kernelSize)}, stride=${pySize(info.stride)}, padding=${pySize(info.padding)}, ` +
        `dilation=${pySize(info.dilation)}, ceil_mode=${py(info.ceilMode)}`;
    case 'AvgPool2d':
      return `kernel_size=${pySize(info.kernelSize)}, stride=${pySize(info.stride)}, padding=${pySize(info.padding)}`;
    case 'BatchNorm1d':
    case 'BatchNorm2d':
      return `${info.numFeatures}, eps=${formatFloat(info.eps!)}, momentum=${info.momentum === null ? 'None' : formatFloat(info.momentum!)}, ` +
        `affine=${py(info.affine)}, track_running_stats=${py(info.trackRunningStats)}`;
    case 'Flatten':
      return `start_dim=${info.startDim}, end_dim=${info.endDim}`;
    case 'Softmax':
      return `dim=${info.dim}`;
    default:
      return '';
  }
}

// Python's repr of a tuple of ints: (5,) and (2, 5).
function pyTuple(values: readonly number[]): string {
  return values.length === 1 ? `(${values[0]},)` : `(${values.join(', ')})`;
}

// Python's repr of a float: 1e-05, 0.1, 0.5.
function formatFloat(x: number): string {
  if (Number.isInteger(x)) return `${x}.0`;
  if (Math.abs(x) < 1e-4) {
    const [mantissa, exponent] = x.toExponential().split('e');
    const e = Number(exponent);
    return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return String(x);
}

export class Module implements Disposable {
  private _handle: NativeModule | undefined;
  private readonly parameterCache = new Map<string, Tensor>();
  private childModules: Map<string, Module> | undefined;

  /**
   * Wraps a native module. Subclasses pass the handle their constructor built; a plain
   * `new Module()` is a container whose forward a subclass writes in TypeScript.
   */
  constructor(handle?: NativeModule, children?: Map<string, Module>) {
    this._handle = handle ?? ops.moduleContainer();
    this.childModules = children;
  }

  /** The native handle. @internal */
  get handle(): NativeModule {
    if (this._handle === undefined) throw new Error(`${this.constructor.name} was disposed`);
    return this._handle;
  }

  /**
   * Runs the module. Native modules take tensors and return a tensor; a container subclass
   * overrides this with its own computation.
   */
  forward(...inputs: Tensor[]): Tensor {
    const out = this.forwardNative(inputs);
    if (!(out instanceof Tensor)) {
      if (Array.isArray(out)) out.forEach((t) => t?.dispose());
      throw new Error(`${this.kind()}.forward returned several tensors; use forwardAll()`);
    }
    return out;
  }

  /** Runs the module and returns every output (null for an output the module did not compute). */
  forwardAll(...inputs: (Tensor | null)[]): (Tensor | null)[] {
    const out = this.forwardNative(inputs);
    return out instanceof Tensor ? [out] : out;
  }

  /** Calls the native forward; `null`/`undefined` inputs are absent optional inputs (Python's None). */
  protected forwardNative(inputs: readonly (Tensor | null | undefined)[]): Tensor | (Tensor | null)[] {
    inputs.forEach((t, k) => {
      if (t !== null && t !== undefined && !(t instanceof Tensor)) {
        throw new TypeError(`${this.kind()}.forward: input ${k + 1} must be a Tensor (or null for an absent optional input), got ${describe(t)}`);
      }
    });
    const out = this.callNativeForward(inputs.map((t) => t?.handle ?? null));
    if (Array.isArray(out)) return out.map((h) => (h === null ? null : new Tensor(h)));
    return new Tensor(out);
  }

  /** The native call behind forwardNative (a TorchScript module runs its graph instead). @internal */
  protected callNativeForward(inputs: (NativeTensor | null)[]): NativeTensor | (NativeTensor | null)[] {
    return ops.moduleForward(this.handle, inputs);
  }

  // ---- parameters and state -------------------------------------------------------------

  /**
   * (name, parameter) pairs in PyTorch's order, each parameter once. The tensors are the
   * module's own (training them changes the module); they belong to the module: tidy() scopes
   * do not release them and `dispose()` of the module does.
   */
  namedParameters(recurse = true): [string, Tensor][] {
    return ops.moduleNamedParameters(this.handle, recurse).map(([name, h]) => [name, this.cachedParameter(name, h)]);
  }

  /** The parameters, as `namedParameters()` without names. */
  parameters(recurse = true): Tensor[] {
    return this.namedParameters(recurse).map(([, t]) => t);
  }

  /** (name, buffer) pairs (non-trainable state such as running statistics); the caller owns the tensors. */
  namedBuffers(recurse = true): [string, Tensor][] {
    return ops.moduleNamedBuffers(this.handle, recurse).map(([name, h]) => [name, new Tensor(h)]);
  }

  /** The number of scalar parameters (as `sum(p.numel() for p in net.parameters())`). */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }

  /**
   * PyTorch's `state_dict()`: parameters and buffers by dotted name, detached, sharing memory
   * with the module. The caller owns the returned tensors (dispose them, or use tidy()).
   */
  stateDict(): StateDict {
    return new Map(ops.moduleStateDict(this.handle).map(([name, h]): [string, Tensor] => [name, new Tensor(h)]));
  }

  /**
   * Copies values into the module's parameters and buffers (converting dtype and device).
   * Every problem is checked before anything is copied: shape mismatches always fail; with
   * `strict` (default) missing and unexpected keys fail too, each listed in the error.
   */
  loadStateDict(dict: StateDict | Record<string, Tensor>, options?: { strict?: boolean } | null): LoadStateDictResult {
    const strict = optionsOf(options, 'loadStateDict').strict ?? true;
    if (typeof dict !== 'object' || dict === null || Array.isArray(dict)) {
      throw new TypeError(`loadStateDict: expected a state dict (a Map or an object of parameter names to Tensors), got ${describe(dict)}`);
    }
    const source: Map<unknown, unknown> = dict instanceof Map ? dict : new Map(Object.entries(dict));
    for (const key of source.keys()) {
      if (typeof key !== 'string') {
        throw new TypeError(`loadStateDict: state dict keys must be strings (parameter and buffer names such as "weight"), got the key ${describe(key)}`);
      }
    }
    const targets = ops.moduleStateDict(this.handle);
    try {
      const missingKeys: string[] = [];
      const mismatches: string[] = [];
      const names = new Set<string>();
      for (const [name, h] of targets) {
        names.add(name);
        const value = source.get(name);
        if (value === undefined) {
          missingKeys.push(name);
          continue;
        }
        if (!(value instanceof Tensor)) {
          mismatches.push(`value for ${name} is not a Tensor`);
          continue;
        }
        const want = ops.shape(h);
        const got = value.shape;
        if (want.length !== got.length || want.some((d, k) => d !== got[k])) {
          mismatches.push(`size mismatch for ${name}: copying a param with shape ${torchSize(got)} from checkpoint, ` +
            `the shape in current model is ${torchSize(want)}.`);
        }
      }
      const unexpectedKeys = this.unexpectedKeys([...source.keys() as Iterable<string>].filter((k) => !names.has(k)), '');
      const problems: string[] = [];
      if (strict && missingKeys.length > 0) problems.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}. `);
      if (strict && unexpectedKeys.length > 0) problems.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}. `);
      problems.push(...mismatches);
      if (problems.length > 0) {
        throw new Error(`Error(s) in loading state_dict for ${this.kind()}:\n\t${problems.join('\n\t')}`);
      }
      noGrad(() => {
        for (const [name, h] of targets) {
          const value = source.get(name);
          if (value !== undefined) ops.copy_(h, (value as Tensor).handle);
        }
      });
      return { missingKeys, unexpectedKeys };
    } finally {
      for (const [, h] of targets) h.dispose();
    }
  }

  /** Registers a tensor as a parameter named `name` (as assigning an nn.Parameter) and returns it. */
  registerParameter(name: string, tensor: Tensor, requiresGrad = true): Tensor {
    const h = ops.moduleRegisterParameter(this.handle, name, tensor.handle, requiresGrad);
    return this.cachedParameter(name, h);
  }

  /** Registers `module` as a child named `name` (its parameters become `name.*`) and returns it. */
  registerModule<T extends Module>(name: string, module: T): T {
    // the wrappers of the children so far first: made after the native registration, they would
    // include a generic wrapper of `module` itself, replaced below and never disposed
    const children = this.children$();
    ops.moduleRegisterModule(this.handle, name, module.handle);
    children.set(name, module);
    return module;
  }

  // ---- structure ------------------------------------------------------------------------

  /** (name, child) pairs of the direct children. */
  namedChildren(): [string, Module][] {
    return [...this.children$().entries()];
  }

  children(): Module[] {
    return [...this.children$().values()];
  }

  /** Training mode (dropout active) for this module and its children. */
  train(mode = true): this {
    ops.moduleTrain(this.handle, mode);
    return this;
  }

  /** Evaluation mode (dropout off), as `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  get training(): boolean {
    return ops.moduleIsTraining(this.handle);
  }

  /**
   * Moves parameters and buffers to a device and/or converts them to a dtype, in place: a
   * dtype name, a device name, or `{ device, dtype }` (either may be absent; other keys are
   * ignored, so that a layer's constructor options can be passed on as they are).
   */
  to(target: Device | DType | ModuleOptions): this {
    const options: ModuleOptions = conversionTarget(target, `${this.constructor.name}.to`);
    ops.moduleTo(this.handle, options.device, options.dtype);
    return this;
  }

  /** Zeroes every parameter's gradient, or drops them (`setToNone`), as PyTorch's zero_grad. */
  zeroGrad(options?: { setToNone?: boolean } | null): void {
    ops.moduleZeroGrad(this.handle, optionsOf(options, 'zeroGrad').setToNone ?? false);
  }

  /** Sets requiresGrad on every parameter (false freezes the module). */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad_(requiresGrad);
    return this;
  }

  /** PyTorch's module repr, e.g. `Linear(in_features=4, out_features=8, bias=True)`. */
  toString(): string {
    const name = this.kind();
    const extra = this.extraRepr();
    const children = this.namedChildren();
    if (children.length === 0) return `${name}(${extra})`;
    const lines = extra ? extra.split('\n') : [];
    for (const [childName, child] of children) lines.push(`(${childName}): ${indent(child.toString())}`);
    return `${name}(\n  ${lines.join('\n  ')}\n)`;
  }

  /** The one-line description inside the parentheses of `toString()`. */
  protected extraRepr(): string {
    return extraRepr(ops.moduleInfo(this.handle));
  }

  /** The class name shown by `toString()` and in errors. */
  protected kind(): string {
    const info = ops.moduleInfo(this.handle);
    return info.kind === 'Container' ? this.constructor.name : info.kind;
  }

  /**
   * A deep copy (parameters and buffers copied, on `device` if given), as the data-parallel
   * trainer makes one replica per device. Containers written in TypeScript cannot be cloned.
   */
  clone(device?: Device): Module {
    return new Module(ops.moduleClone(this.handle, device));
  }

  /**
   * Frees the module now: its native module, the parameter tensors it handed out and its
   * children's wrappers (a module owns its children: the Linear layers given to a Sequential are
   * disposed with it). Memory that another live handle still shares (the BERTModel a
   * BERTClassifier was built from, a parameter tensor you cloned) lives on until that handle is
   * disposed too. Refused, with nothing released, while a Trainer or an Optimizer still uses
   * the module (dispose those first) or a step runs. Using the module afterwards is an error.
   * Idempotent.
   */
  dispose(): void {
    if (this._handle === undefined) return;
    ops.moduleDispose(this._handle);
    for (const t of this.parameterCache.values()) t.dispose();
    this.parameterCache.clear();
    for (const child of this.childModules?.values() ?? []) child.dispose();
    this.childModules = undefined;
    this._handle = undefined;
  }

  /** `using net = ...` disposes the module at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  get isDisposed(): boolean {
    return this._handle === undefined;
  }

  // PyTorch's order of unexpected keys: each module, in pre-order, reports the keys under its
  // prefix whose next name component is neither one of its children nor its own state.
  private unexpectedKeys(keys: readonly string[], prefix: string): string[] {
    if (keys.length === 0) return [];
    const children = this.namedChildren();
    const own = new Set<string>();
    for (const [name, h] of [...ops.moduleNamedParameters(this.handle, false), ...ops.moduleNamedBuffers(this.handle, false)]) {
      own.add(name);
      h.dispose();
    }
    const childNames = new Set(children.map(([name]) => name));
    const mine = keys.filter((key) => {
      if (!key.startsWith(prefix)) return false;
      const first = key.slice(prefix.length).split('.')[0];
      return !childNames.has(first) && !own.has(first);
    });
    return [...mine, ...children.flatMap(([name, child]) => child.unexpectedKeys(keys, `${prefix}${name}.`))];
  }

  private cachedParameter(name: string, h: NativeTensor): Tensor {
    const cached = this.parameterCache.get(name);
    if (cached !== undefined && !cached.isDisposed && ops.sameTensor(cached.handle, h)) {
      h.dispose();
      return cached;
    }
    cached?.dispose();
    const t = new Tensor(h, false);
    this.parameterCache.set(name, t);
    return t;
  }

  // Children built in TypeScript are known here; children of a module built natively (a clone,
  // a d2l block) get generic wrappers.
  private children$(): Map<string, Module> {
    if (this.childModules === undefined) {
      this.childModules = new Map(ops.moduleNamedChildren(this.handle).map(([name, h]): [string, Module] => [name, new Module(h)]));
    }
    return this.childModules;
  }
}

// console.log and util.inspect print the module's repr (its toString(), as Python's print(net)),
// `<Class> <disposed>` once disposed, not the wrapper's internals. Defined as Tensor's is, with
// Symbol.for('nodejs.util.inspect.custom'), so that the declarations need no Node types.
Object.defineProperty(Module.prototype, Symbol.for('nodejs.util.inspect.custom'), {
  value(this: Module): string {
    return this.isDisposed ? `${this.constructor.name} <disposed>` : this.toString();
  },
  writable: true,
  configurable: true,
});
