/**
 * The Optimizer base class over libtorch's optimizers, with PyTorch's semantics: parameters
 * without a gradient are skipped (stale parameters stay unchanged), the learning rate is
 * readable and settable per parameter group, and `stateDict()` has PyTorch's layout
 * (`{state, param_groups}`), so it can be saved with `save()` and resumed with `loadStateDict()`.
 */
import { NativeGroupOptions, NativeOptimizer, NativeParamState, ops } from '../native';
import { PickleValue } from '../serialization';
import { Tensor, optionsOf } from '../core/tensor';

/** A group of parameters with its own hyper-parameters (unset ones take the optimizer's). */
export type ParamGroup<O> = { params: Tensor[] } & Partial<O>;

/** A live view of one parameter group: reading or assigning `lr` talks to the optimizer. */
export interface ParamGroupView {
  readonly params: readonly Tensor[];
  lr: number;
}

type Kind = 'adam' | 'adamw' | 'sgd';

// PyTorch's names of the hyper-parameters in a state dict.
const pythonNames: Record<keyof NativeGroupOptions, string> = {
  lr: 'lr',
  betas: 'betas',
  eps: 'eps',
  weightDecay: 'weight_decay',
  amsgrad: 'amsgrad',
  momentum: 'momentum',
  dampening: 'dampening',
  nesterov: 'nesterov',
};

// PyTorch's names of per-parameter state entries.
const stateNames: Record<keyof NativeParamState, string> = {
  step: 'step',
  expAvg: 'exp_avg',
  expAvgSq: 'exp_avg_sq',
  maxExpAvgSq: 'max_exp_avg_sq',
  momentumBuffer: 'momentum_buffer',
};

// Options PyTorch 1.13 records that libtorch has no counterpart for (all at their defaults here),
// so that PyTorch's load_state_dict sees the layout it writes itself.
const pythonOnlyOptions: Record<Kind, [string, PickleValue][]> = {
  adam: [['maximize', false], ['foreach', null], ['capturable', false], ['differentiable', false], ['fused', false]],
  adamw: [['foreach', null], ['maximize', false], ['capturable', false]],
  sgd: [['maximize', false], ['foreach', null], ['differentiable', false]],
};

function isGroupList<O>(params: readonly Tensor[] | readonly ParamGroup<O>[]): params is readonly ParamGroup<O>[] {
  return params.length > 0 && !(params[0] instanceof Tensor);
}

function get(map: unknown, key: string | number): unknown {
  if (map instanceof Map) return map.get(key);
  if (typeof map === 'object' && map !== null) return (map as Record<string, unknown>)[String(key)];
  return undefined;
}

export abstract class Optimizer<O extends object> {
  private _handle: NativeOptimizer | undefined;
  /** The parameter groups, in order; `paramGroups[g].lr` reads and sets that group's learning rate. */
  readonly paramGroups: readonly ParamGroupView[];
  private readonly kind: Kind;

  protected constructor(kind: Kind, params: readonly Tensor[] | readonly ParamGroup<O>[], defaults: O, native: { fused?: boolean } = {}) {
    if (!Array.isArray(params) || params.length === 0) {
      throw new TypeError(`${new.target.name}: params must be a non-empty array of Tensors or of parameter groups`);
    }
    const groups: ParamGroup<O>[] = isGroupList(params) ? params.map((g) => ({ ...defaults, ...g })) : [{ ...defaults, params: [...params] }];
    groups.forEach((g, k) => {
      if (!Array.isArray(g.params) || g.params.some((p) => !(p instanceof Tensor))) {
        throw new TypeError(`${new.target.name}: parameter group ${k} must have params: Tensor[]`);
      }
    });
    this.kind = kind;
    this._handle = ops.optimizerCreate(kind, groups.map((g) => ({ ...g, params: g.params.map((p) => p.handle) })), native);
    const self = this;
    this.paramGroups = groups.map((g, k): ParamGroupView => ({
      params: Object.freeze([...g.params]),
      get lr() {
        return ops.optimizerGetLr(self.handle, k);
      },
      set lr(value: number) {
        if (typeof value !== 'number' || !(value >= 0)) throw new TypeError(`lr must be a non-negative number, got ${value}`);
        ops.optimizerSetLr(self.handle, k, value);
      },
    }));
  }

  /** The native handle. @internal */
  get handle(): NativeOptimizer {
    if (this._handle === undefined) throw new Error(`${this.constructor.name} was disposed; create a new optimizer`);
    return this._handle;
  }

  /**
   * Frees the optimizer's state (Adam's moments, SGD's momentum) now and lets go of its
   * parameters, so that their module can be disposed. Refused while a Trainer uses the optimizer
   * (dispose the Trainer first). Using the optimizer afterwards is an error. Idempotent.
   */
  dispose(): void {
    if (this._handle === undefined) return;
    ops.optimizerDispose(this._handle);
    this._handle = undefined;
  }

  /** `using opt = ...` disposes the optimizer at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  get isDisposed(): boolean {
    return this._handle === undefined;
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    ops.optimizerStep(this.handle);
  }

  /** Zeroes the gradients (or drops them with `setToNone`), as `optimizer.zero_grad()`. */
  zeroGrad(options?: { setToNone?: boolean } | null): void {
    ops.optimizerZeroGrad(this.handle, optionsOf(options, 'zeroGrad').setToNone ?? false);
  }

  /** The learning rate of group `group` (default 0). */
  getLr(group = 0): number {
    return this.paramGroups[group]?.lr ?? this.noGroup(group);
  }

  /** Sets the learning rate of one group, or of every group when `group` is omitted. */
  setLr(lr: number, group?: number): void {
    if (group === undefined) for (const g of this.paramGroups) g.lr = lr;
    else if (this.paramGroups[group] !== undefined) this.paramGroups[group].lr = lr;
    else this.noGroup(group);
  }

  /**
   * PyTorch's `optimizer.state_dict()`: `state` maps each parameter's index (over all groups in
   * order) to its state (`step`, `exp_avg`, ... as float32 0-dim `step` like PyTorch 1.13);
   * `param_groups` lists each group's hyper-parameters and parameter indices. The tensors are
   * copies owned by the caller.
   */
  stateDict(): Map<string, PickleValue> {
    const state = new Map<string | number, PickleValue>();
    ops.optimizerState(this.handle).forEach((s, index) => {
      if (s === null) return;
      const entry = new Map<string | number, PickleValue>();
      for (const [key, value] of Object.entries(s) as [keyof NativeParamState, NativeParamState[keyof NativeParamState]][]) {
        if (value === undefined) continue;
        if (typeof value === 'number') entry.set(stateNames[key], new Tensor(ops.full([], value, 'float32', undefined, false)));
        else entry.set(stateNames[key], new Tensor(ops.clone(value)));
        if (typeof value !== 'number') value.dispose();
      }
      if (this.kind === 'sgd' && !entry.has('momentum_buffer')) entry.set('momentum_buffer', null);
      state.set(index, entry);
    });
    let first = 0;
    const groups = this.paramGroups.map((g, k) => {
      const options = ops.optimizerGroupOptions(this.handle, k);
      const entry = new Map<string | number, PickleValue>();
      for (const [key, value] of Object.entries(options) as [keyof NativeGroupOptions, number | boolean | [number, number]][]) {
        entry.set(pythonNames[key], Array.isArray(value) ? [...value] : value);
      }
      for (const [key, value] of pythonOnlyOptions[this.kind]) entry.set(key, value);
      entry.set('params', g.params.map((_, j) => first + j));
      first += g.params.length;
      return entry;
    });
    return new Map<string, PickleValue>([['state', state], ['param_groups', groups]]);
  }

  /**
   * Restores what `stateDict()` returned (or what PyTorch's `optimizer.state_dict()` saved and
   * `load()` read): per-parameter state and each group's learning rate. The groups must have
   * the same sizes and the other hyper-parameters the same values as this optimizer's.
   */
  loadStateDict(dict: Map<string, PickleValue> | Record<string, unknown>): void {
    const groups = get(dict, 'param_groups');
    const state = get(dict, 'state');
    if (!Array.isArray(groups) || state === undefined) {
      throw new Error('loadStateDict: expected an optimizer state dict with `state` and `param_groups`');
    }
    if (groups.length !== this.paramGroups.length) {
      throw new Error(`loadStateDict: the state dict has ${groups.length} parameter group(s), this optimizer ${this.paramGroups.length}`);
    }
    const lrs: number[] = [];
    groups.forEach((saved, k) => {
      const params = get(saved, 'params');
      if (!Array.isArray(params) || params.length !== this.paramGroups[k].params.length) {
        throw new Error(`loadStateDict: group ${k} has ${Array.isArray(params) ? params.length : 'no'} parameters in the state dict, ` +
          `${this.paramGroups[k].params.length} here`);
      }
      const current = ops.optimizerGroupOptions(this.handle, k);
      for (const [key, value] of Object.entries(current) as [keyof NativeGroupOptions, unknown][]) {
        if (key === 'lr') continue;
        const savedValue = get(saved, pythonNames[key]);
        if (savedValue !== undefined && JSON.stringify(savedValue) !== JSON.stringify(value)) {
          throw new Error(`loadStateDict: group ${k} was saved with ${pythonNames[key]}=${JSON.stringify(savedValue)} but this optimizer ` +
            `has ${JSON.stringify(value)}; construct it with the saved hyper-parameters`);
        }
      }
      const lr = get(saved, 'lr');
      if (typeof lr !== 'number') throw new Error(`loadStateDict: group ${k} has no lr`);
      lrs.push(lr);
    });
    let index = 0;
    groups.forEach((saved) => {
      for (const id of get(saved, 'params') as unknown[]) {
        const entry = get(state, id as number);
        if (entry !== undefined && entry !== null) ops.optimizerSetState(this.handle, index, this.nativeState(entry, index));
        ++index;
      }
    });
    lrs.forEach((lr, k) => (this.paramGroups[k].lr = lr));
  }

  private nativeState(entry: unknown, index: number): NativeParamState {
    const out: NativeParamState = {};
    for (const [key, name] of Object.entries(stateNames) as [keyof NativeParamState, string][]) {
      const value = get(entry, name);
      if (value === undefined || value === null) continue;
      if (key === 'step') {
        out.step = value instanceof Tensor ? Number(value.item()) : Number(value);
      } else if (value instanceof Tensor) {
        out[key] = value.handle;
      } else {
        throw new Error(`loadStateDict: state ${name} of parameter ${index} is not a tensor`);
      }
    }
    return out;
  }

  private noGroup(group: number): never {
    throw new RangeError(`parameter group ${group} does not exist (this optimizer has ${this.paramGroups.length})`);
  }
}
