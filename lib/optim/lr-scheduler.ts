/**
 * Learning-rate schedulers with `torch.optim.lr_scheduler`'s names, defaults and arithmetic:
 * StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LambdaLR, LinearLR and OneCycleLR on
 * the base class LRScheduler. They set `optimizer.paramGroups[g].lr` of every group.
 *
 * Like PyTorch's, construction performs the initial step (`lastEpoch` goes from -1 to 0 and the
 * first learning rate is set), and `step()`, called after each `optimizer.step()`, advances one
 * epoch (or one batch, for OneCycleLR). The schedulers other than LambdaLR and OneCycleLR use
 * PyTorch's chainable (recursive) formulas: each step multiplies or adjusts the learning rate the
 * optimizer has now, so schedulers can be stacked on one optimizer (stepping each in turn, as
 * ChainedScheduler does) and a learning rate changed from outside carries on from its new value.
 * The same double operations run in the same order as in PyTorch, and cos and integer powers
 * are rounded to the nearest double (V8's Math.cos and ** are an ulp off now and then; glibc's,
 * which Python calls, far more rarely), so the learning rates are the bits PyTorch computes on
 * Linux but for such a rare misrounding of glibc's.
 *
 * PyTorch keeps each group's `initial_lr` in the optimizer's param_groups: the first scheduler
 * made on an optimizer records the groups' learning rates there, and later schedulers on the same
 * optimizer take those as their `baseLrs` (OneCycleLR sets them, as `maxLr / divFactor`).
 * torchbridge keeps them beside the optimizer, with the same rule.
 *
 * `stateDict()` has the layout of PyTorch 2.x's `scheduler.state_dict()` (PyTorch 1.13's has
 * `verbose` instead of `_is_initial`, and OneCycleLR's `anneal_func` instead of
 * `_anneal_func_type`; each version's `load_state_dict` takes the other's keys as unused
 * attributes), so `save(scheduler.stateDict(), path)` writes a file that Python's
 * `scheduler.load_state_dict(torch.load(path))` resumes from, and `loadStateDict()` takes what
 * Python's `torch.save(scheduler.state_dict())` wrote, as `loadValue()` reads it.
 */
import { describe } from '../core/describe';
import { optionsOf } from '../core/tensor';
import type { PickleValue } from '../serialization';
import { Optimizer } from './optimizer';

// ---- the two libm functions the schedulers use, correctly rounded --------------------------
// PyTorch's schedulers call Python's math.cos and float ** int, i.e. glibc's cos and pow, which
// round correctly but for astronomically rare cases. V8's Math.cos and ** (fdlibm) are off by an
// ulp now and then (cos(pi * 12 / 10), 0.95 ** 10), and a chainable schedule carries such an ulp
// into every later step. So these are computed here to the nearest double: cos in double-double
// arithmetic (about 2^-100 relative error before the final rounding), integer powers exactly.

type DD = [hi: number, lo: number];

function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return [s, b - (s - a)];
}

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return [s, (a - (s - bb)) + (b - bb)];
}

// Dekker's exact product (no fused multiply-add in JS).
function twoProd(a: number, b: number): DD {
  const p = a * b;
  const ca = 134217729 * a;
  const ah = ca - (ca - a);
  const al = a - ah;
  const cb = 134217729 * b;
  const bh = cb - (cb - b);
  const bl = b - bh;
  return [p, ((ah * bh - p) + ah * bl + al * bh) + al * bl];
}

function addDD(a: DD, b: DD): DD {
  const s = twoSum(a[0], b[0]);
  const t = twoSum(a[1], b[1]);
  const u = quickTwoSum(s[0], s[1] + t[0]);
  return quickTwoSum(u[0], u[1] + t[1]);
}

function mulDD(a: DD, b: DD): DD {
  const p = twoProd(a[0], b[0]);
  return quickTwoSum(p[0], p[1] + (a[0] * b[1] + a[1] * b[0]));
}

function divDDByNumber(a: DD, b: number): DD {
  const q = a[0] / b;
  const p = twoProd(q, b);
  return quickTwoSum(q, (a[0] - p[0] - p[1] + a[1]) / b);
}

// 1/n! for n = 0 .. 33, as double-doubles.
const INVERSE_FACTORIALS: DD[] = [[1, 0]];
for (let n = 1; n <= 33; ++n) INVERSE_FACTORIALS.push(divDDByNumber(INVERSE_FACTORIALS[n - 1], n));

// pi/2 as the sum of three doubles (160 bits).
const HALF_PI_1 = 1.5707963267948966;
const HALF_PI_2 = 6.123233995736766e-17;
const HALF_PI_3 = -1.4973849048591698e-33;

// sum_{n=0}^{15} (-1)^n s^n / (2n + offset)!, s = r^2, by Horner's rule (|r| <= pi/4 and a
// little: the terms left out are below 2^-110).
function alternatingSeries(s: DD, offset: 0 | 1): DD {
  const coefficient = (n: number): DD => {
    const c = INVERSE_FACTORIALS[2 * n + offset];
    return n % 2 === 0 ? c : [-c[0], -c[1]];
  };
  let acc = coefficient(15);
  for (let n = 14; n >= 0; --n) acc = addDD(mulDD(acc, s), coefficient(n));
  return acc;
}

/** cos(x) rounded to the nearest double (as glibc's cos, which Python's math.cos calls). @internal */
export function cos(x: number): number {
  const ax = Math.abs(x);
  if (!(ax < 2 ** 40)) return Math.cos(x);  // NaN, infinities and huge arguments: beyond the reduction's precision
  const k = Math.round(ax / HALF_PI_1);
  // r = ax - k pi/2, in double-double: ax - k*HALF_PI_1's high part is exact (Sterbenz).
  const p1 = twoProd(k, HALF_PI_1);
  const p2 = twoProd(k, HALF_PI_2);
  let r: DD = twoSum(ax - p1[0], -p1[1]);
  r = addDD(r, [-p2[0], -p2[1]]);
  r = addDD(r, [-k * HALF_PI_3, 0]);
  const s = mulDD(r, r);
  const quadrant = k % 4;
  let value: DD;
  if (quadrant === 0 || quadrant === 2) value = alternatingSeries(s, 0);
  else value = mulDD(r, alternatingSeries(s, 1));
  const signed = quadrant === 1 || quadrant === 2 ? -value[0] - value[1] : value[0] + value[1];
  return signed;
}

const bits = new DataView(new ArrayBuffer(8));

// 2^e as a double, for -1022 <= e <= 1023.
function powerOfTwo(e: number): number {
  bits.setBigUint64(0, BigInt(e + 1023) << 52n);
  return bits.getFloat64(0);
}

/** x ** n for a non-negative integer n, rounded to the nearest double (as glibc's pow). @internal */
export function powInt(x: number, n: number): number {
  if (n === 0) return 1;
  if (!Number.isFinite(x) || x === 0 || !Number.isInteger(n) || n < 0 || n > 1024) return x ** n;
  bits.setFloat64(0, Math.abs(x));
  const raw = bits.getBigUint64(0);
  const biased = Number(raw >> 52n);
  const fraction = raw & ((1n << 52n) - 1n);
  // |x| = m * 2^e exactly.
  const m = biased === 0 ? fraction : fraction | (1n << 52n);
  const e = (biased === 0 ? 1 : biased) - 1075;
  let power = m ** BigInt(n);
  let exponent = e * n;
  const length = power.toString(2).length;
  if (length > 53) {
    const shift = BigInt(length - 53);
    const rest = power & ((1n << shift) - 1n);
    const half = 1n << (shift - 1n);
    power >>= shift;
    if (rest > half || (rest === half && (power & 1n) === 1n)) power += 1n;
    exponent += length - 53;
  }
  const top = exponent + power.toString(2).length - 1;
  if (top > 1023 || top < -1022 + 53) return x ** n;  // overflow or subnormal results: outside any learning rate
  const magnitude = Number(power) * powerOfTwo(exponent);
  return x < 0 && n % 2 === 1 ? -magnitude : magnitude;
}

/** Any of torchbridge's optimizers. */
type AnyOptimizer = Optimizer<object>;

// The values PyTorch's schedulers store in an optimizer's param_groups besides `lr`.
interface GroupSchedule {
  initial_lr?: number;
  max_lr?: number;
  min_lr?: number;
}

const groupSchedules = new WeakMap<AnyOptimizer, GroupSchedule[]>();

function groupSchedulesOf(optimizer: AnyOptimizer): GroupSchedule[] {
  let groups = groupSchedules.get(optimizer);
  if (groups === undefined) {
    groups = optimizer.paramGroups.map(() => ({}));
    groupSchedules.set(optimizer, groups);
  }
  return groups;
}

function checkOptimizer(optimizer: unknown, what: string): asserts optimizer is AnyOptimizer {
  if (!(optimizer instanceof Optimizer)) {
    throw new TypeError(`${what}: ${describe(optimizer)} is not an Optimizer; pass the torchbridge optimizer (Adam, AdamW, SGD) whose learning rates it schedules`);
  }
}

/**
 * One entry of a scheduler's state dict (what `LRScheduler.stateFields()` lists): its PyTorch
 * key, how it is saved, and how a saved value is checked and restored.
 */
export interface StateField {
  readonly key: string;
  save(): PickleValue;
  /** Checks a saved value and returns what restores it; throws an Error naming the problem otherwise. */
  load(value: unknown): () => void;
  /** The key may be absent (then the current value stays). */
  readonly optional?: boolean;
}

// Keys that PyTorch's state dicts of some version hold and that carry nothing torchbridge uses:
// PyTorch 1.13's `verbose`, and the flags that are false outside step().
const IGNORED_KEYS = new Set(['verbose', '_is_initial', '_get_lr_called_within_step']);

function entriesOf(dict: unknown, what: string): Map<string, unknown> {
  if (dict instanceof Map) {
    const out = new Map<string, unknown>();
    for (const [key, value] of dict as Map<unknown, unknown>) out.set(String(key), value);
    return out;
  }
  if (typeof dict === 'object' && dict !== null && !Array.isArray(dict)) return new Map(Object.entries(dict));
  throw new TypeError(`${what}: expected a scheduler state dict (the Map stateDict() returns, or what loadValue() read from ` +
    `torch.save(scheduler.state_dict())), got ${describe(dict)}`);
}

function fail(what: string, key: string, must: string, value: unknown): never {
  throw new Error(`${what}: ${key} ${must}, got ${describe(value)}`);
}

function integerAt(what: string, key: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) fail(what, key, `must be an integer >= ${min}`, value);
  return value;
}

function numberAt(what: string, key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(what, key, 'must be a finite number', value);
  return value;
}

function lrListAt(what: string, key: string, value: unknown, groups: number): number[] {
  if (!Array.isArray(value) || value.length !== groups || value.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    const got = Array.isArray(value) ? `${value.length} entr${value.length === 1 ? 'y' : 'ies'}` : describe(value);
    throw new Error(`${what}: ${key} must list one finite learning rate per parameter group (${groups}), got ${got}; ` +
      'was the state dict saved for an optimizer with other parameter groups?');
  }
  return [...(value as number[])];
}

// Checks of constructor arguments that PyTorch leaves to a later failure (a division by zero, a NaN learning rate).
function positiveInteger(what: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${what}: ${name} must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

function finiteNumber(what: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${what}: ${name} must be a finite number, got ${describe(value)}`);
  return value;
}

/**
 * The base class of the schedulers, as `torch.optim.lr_scheduler.LRScheduler`. A subclass
 * implements `computeLr()` (PyTorch's `get_lr()`), lists its own state in `stateFields()`, and
 * calls `initialStep()` at the end of its constructor, once its fields are set (PyTorch's base
 * `__init__` makes that step; a TypeScript subclass's fields exist only after `super()` returns).
 */
export abstract class LRScheduler {
  /** The optimizer whose parameter groups' learning rates this scheduler sets. */
  readonly optimizer: AnyOptimizer;
  /** Each group's initial learning rate (PyTorch's `base_lrs`). */
  protected baseLrsValue: number[];
  /** Steps taken, the initial one being epoch 0 (PyTorch's `last_epoch`). */
  protected lastEpochValue = -1;
  /** `step()` calls, the initial step included (PyTorch's `_step_count`). */
  protected stepCount = 0;
  /** True during the step the constructor makes (PyTorch 2.x's `_is_initial`). */
  protected isInitial = false;
  private lastLrs: number[] = [];

  /**
   * Records each group's `initial_lr` on the optimizer unless an earlier scheduler did (then this
   * one's `baseLrs` are those), as PyTorch's `group.setdefault('initial_lr', group['lr'])`.
   * @throws TypeError when `optimizer` is not a torchbridge Optimizer
   */
  protected constructor(optimizer: AnyOptimizer) {
    checkOptimizer(optimizer, new.target.name);
    this.optimizer = optimizer;
    const groups = groupSchedulesOf(optimizer);
    groups.forEach((g, k) => {
      if (g.initial_lr === undefined) g.initial_lr = optimizer.paramGroups[k].lr;
    });
    this.baseLrsValue = groups.map((g) => g.initial_lr as number);
  }

  /** PyTorch's `get_lr()`: the learning rate of every group for epoch `lastEpoch` (already advanced). */
  protected abstract computeLr(): number[];

  /** The scheduler's own state dict entries, in PyTorch's order (before `base_lrs`). */
  protected abstract stateFields(): StateField[];

  /** The constructor's step: epoch 0. Subclasses call it last in their constructor. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.isInitial = true;
    try {
      this.step();
    } finally {
      this.isInitial = false;
    }
  }

  /** The learning rate every group has now. */
  protected currentLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The initial learning rates (PyTorch's `base_lrs`), one per parameter group. */
  get baseLrs(): number[] {
    return [...this.baseLrsValue];
  }

  /** The epoch (or batch, for OneCycleLR) of the current learning rates: 0 after construction, +1 per `step()` (PyTorch's `last_epoch`). */
  get lastEpoch(): number {
    return this.lastEpochValue;
  }

  /**
   * Advances one epoch and sets every group's learning rate, as PyTorch's `scheduler.step()`.
   * Call it after `optimizer.step()`. (PyTorch's deprecated `step(epoch)` is not offered.)
   * @throws Error when the schedule ends (OneCycleLR past `totalSteps`), as PyTorch raises; the
   *   epoch count has advanced all the same, as in PyTorch
   */
  step(): void {
    ++this.stepCount;
    ++this.lastEpochValue;
    const values = this.computeLr();
    values.forEach((lr, k) => {
      if (!(lr >= 0)) {
        throw new RangeError(`${this.constructor.name}: the schedule gives parameter group ${k} the learning rate ${lr} at epoch ` +
          `${this.lastEpochValue}, and torchbridge's optimizers take non-negative learning rates only; check the scheduler's arguments`);
      }
    });
    values.forEach((lr, k) => (this.optimizer.paramGroups[k].lr = lr));
    this.lastLrs = this.currentLrs();
  }

  /** The learning rates the last step set, one per parameter group (PyTorch's `get_last_lr()`); a copy. */
  getLastLr(): number[] {
    return [...this.lastLrs];
  }

  /**
   * PyTorch's `scheduler.state_dict()`: the scheduler's hyper-parameters under PyTorch's names
   * (`step_size`, `gamma`, `T_max`, ...), then `base_lrs`, `last_epoch`, `_step_count`,
   * `_is_initial` and `_get_lr_called_within_step` (both false), `_last_lr`, in PyTorch 2.x's
   * order. Plain numbers, booleans, strings, arrays and Maps: `save()` writes it as a file that
   * Python's `load_state_dict(torch.load(path))` takes.
   */
  stateDict(): Map<string, PickleValue> {
    const fields = this.stateFields();
    const trailing = fields.filter((f) => f.key === 'lr_lambdas');
    return new Map<string, PickleValue>([
      ...fields.filter((f) => !trailing.includes(f)).map((f): [string, PickleValue] => [f.key, f.save()]),
      ['base_lrs', [...this.baseLrsValue]],
      ['last_epoch', this.lastEpochValue],
      ['_step_count', this.stepCount],
      ['_is_initial', false],
      ['_get_lr_called_within_step', false],
      ['_last_lr', [...this.lastLrs]],
      ...trailing.map((f): [string, PickleValue] => [f.key, f.save()]),
    ]);
  }

  /**
   * Restores what `stateDict()` returned, or what PyTorch 1.13 or 2.x's
   * `torch.save(scheduler.state_dict())` wrote and `loadValue()` read: as PyTorch's
   * `load_state_dict`, every saved value replaces the scheduler's (its hyper-parameters too). The
   * optimizer's learning rates are the optimizer's state: restore them with
   * `optimizer.loadStateDict()`, as in PyTorch. Everything is checked before anything changes.
   * @throws TypeError when `dict` is not a Map or object; Error naming the key when one is
   *   missing, unknown to this scheduler (a state dict of another scheduler type) or invalid
   */
  loadStateDict(dict: Map<string, PickleValue> | Record<string, unknown>): void {
    const what = `${this.constructor.name}.loadStateDict`;
    const entries = entriesOf(dict, what);
    const fields = this.stateFields();
    const known = new Set([...fields.map((f) => f.key), 'base_lrs', 'last_epoch', '_step_count', '_last_lr']);
    for (const key of entries.keys()) {
      if (!known.has(key) && !IGNORED_KEYS.has(key)) {
        throw new Error(`${what}: unexpected key '${key}'; a ${this.constructor.name} state dict has ${[...known].join(', ')} ` +
          '(was it saved from another kind of scheduler?)');
      }
    }
    const required = (key: string): unknown => {
      if (!entries.has(key)) throw new Error(`${what}: the state dict has no '${key}'; pass a complete ${this.constructor.name} state dict`);
      return entries.get(key);
    };
    const groups = this.optimizer.paramGroups.length;
    const baseLrs = lrListAt(what, 'base_lrs', required('base_lrs'), groups);
    const lastLrs = lrListAt(what, '_last_lr', required('_last_lr'), groups);
    const lastEpoch = integerAt(what, 'last_epoch', required('last_epoch'), 0);
    const stepCount = integerAt(what, '_step_count', required('_step_count'), 0);
    const restores = fields.filter((f) => !f.optional || entries.has(f.key)).map((f) => f.load(required(f.key)));
    for (const restore of restores) restore();
    this.baseLrsValue = baseLrs;
    this.lastLrs = lastLrs;
    this.lastEpochValue = lastEpoch;
    this.stepCount = stepCount;
  }

  /** A state field holding a number, checked by `check` on load. @internal */
  protected numberField(key: string, get: () => number, set: (v: number) => void, check: (v: unknown) => number): StateField {
    return { key, save: get, load: (value) => { const v = check(value); return () => set(v); } };
  }
}

function loadCheck(scheduler: string, key: string, rule: 'positiveInteger' | 'nonNegativeInteger' | 'finite' | 'positive'): (v: unknown) => number {
  const what = `${scheduler}.loadStateDict`;
  return (v) => {
    switch (rule) {
      case 'positiveInteger':
        return integerAt(what, key, v, 1);
      case 'nonNegativeInteger':
        return integerAt(what, key, v, 0);
      case 'positive':
        if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) fail(what, key, 'must be a positive finite number', v);
        return v;
      default:
        return numberAt(what, key, v);
    }
  };
}

/** Options of `new StepLR()`. */
export interface StepLROptions {
  /** Period of learning rate decay, in epochs (a positive integer; required). */
  stepSize: number;
  /** Multiplicative factor of the decay; default 0.1. */
  gamma?: number;
}

/**
 * Multiplies every group's learning rate by `gamma` every `stepSize` epochs, as
 * `torch.optim.lr_scheduler.StepLR`: lr = initial lr * gamma^floor(epoch / stepSize) when
 * nothing else changes it.
 */
export class StepLR extends LRScheduler {
  private stepSize: number;
  private gamma: number;

  constructor(optimizer: AnyOptimizer, options: StepLROptions) {
    const o = optionsOf(options as StepLROptions | null | undefined, 'StepLR');
    const stepSize = positiveInteger('StepLR', 'stepSize', o.stepSize);
    const gamma = finiteNumber('StepLR', 'gamma', o.gamma ?? 0.1);
    super(optimizer);
    this.stepSize = stepSize;
    this.gamma = gamma;
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.currentLrs();
    if (this.lastEpochValue === 0 || this.lastEpochValue % this.stepSize !== 0) return lrs;
    return lrs.map((lr) => lr * this.gamma);
  }

  protected stateFields(): StateField[] {
    return [
      this.numberField('step_size', () => this.stepSize, (v) => (this.stepSize = v), loadCheck('StepLR', 'step_size', 'positiveInteger')),
      this.numberField('gamma', () => this.gamma, (v) => (this.gamma = v), loadCheck('StepLR', 'gamma', 'finite')),
    ];
  }
}

/** Options of `new MultiStepLR()`. */
export interface MultiStepLROptions {
  /** Epochs (non-negative integers, increasing) at which the learning rate decays; a repeated epoch decays that many times (required). */
  milestones: readonly number[];
  /** Multiplicative factor of each decay; default 0.1. */
  gamma?: number;
}

/**
 * Multiplies every group's learning rate by `gamma` at each milestone epoch (by gamma^k at an
 * epoch listed k times), as `torch.optim.lr_scheduler.MultiStepLR`. Its state dict's
 * `milestones` is a Map from epoch to count (PyTorch's Counter; Python receives a dict, which its
 * `step()` uses alike).
 */
export class MultiStepLR extends LRScheduler {
  private milestones: Map<number, number>;
  private gamma: number;

  constructor(optimizer: AnyOptimizer, options: MultiStepLROptions) {
    const o = optionsOf(options as MultiStepLROptions | null | undefined, 'MultiStepLR');
    const milestones: unknown = o.milestones;
    if (!Array.isArray(milestones) || milestones.some((m) => typeof m !== 'number' || !Number.isInteger(m) || m < 0)) {
      throw new RangeError(`MultiStepLR: milestones must be an array of non-negative integer epochs, got ${describe(milestones)}`);
    }
    const counts = new Map<number, number>();
    for (const m of milestones as number[]) counts.set(m, (counts.get(m) ?? 0) + 1);
    const gamma = finiteNumber('MultiStepLR', 'gamma', o.gamma ?? 0.1);
    super(optimizer);
    this.milestones = counts;
    this.gamma = gamma;
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.currentLrs();
    const count = this.milestones.get(this.lastEpochValue);
    if (count === undefined) return lrs;
    return lrs.map((lr) => lr * powInt(this.gamma, count));
  }

  protected stateFields(): StateField[] {
    const what = 'MultiStepLR.loadStateDict';
    return [
      {
        key: 'milestones',
        save: () => new Map<string | number, PickleValue>(this.milestones),
        load: (value) => {
          const entries = value instanceof Map ? [...(value as Map<unknown, unknown>)]
            : typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.entries(value) : undefined;
          if (entries === undefined) fail(what, 'milestones', 'must map epochs to counts (a Map or dict)', value);
          const milestones = new Map<number, number>();
          for (const [epoch, count] of entries) {
            const e = Number(epoch);
            if (!Number.isInteger(e) || e < 0) fail(what, 'milestones', 'must have non-negative integer epochs as keys', epoch);
            milestones.set(e, integerAt(what, `milestones[${e}]`, count, 1));
          }
          return () => (this.milestones = milestones);
        },
      },
      this.numberField('gamma', () => this.gamma, (v) => (this.gamma = v), loadCheck('MultiStepLR', 'gamma', 'finite')),
    ];
  }
}

/** Options of `new ExponentialLR()`. */
export interface ExponentialLROptions {
  /** Multiplicative factor of the decay, applied every epoch (required, as in PyTorch). */
  gamma: number;
}

/** Multiplies every group's learning rate by `gamma` every epoch, as `torch.optim.lr_scheduler.ExponentialLR`. */
export class ExponentialLR extends LRScheduler {
  private gamma: number;

  constructor(optimizer: AnyOptimizer, options: ExponentialLROptions) {
    const o = optionsOf(options as ExponentialLROptions | null | undefined, 'ExponentialLR');
    const gamma = finiteNumber('ExponentialLR', 'gamma', o.gamma);
    super(optimizer);
    this.gamma = gamma;
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.currentLrs();
    if (this.isInitial) return lrs;
    return lrs.map((lr) => lr * this.gamma);
  }

  protected stateFields(): StateField[] {
    return [this.numberField('gamma', () => this.gamma, (v) => (this.gamma = v), loadCheck('ExponentialLR', 'gamma', 'finite'))];
  }
}

/** Options of `new CosineAnnealingLR()`. */
export interface CosineAnnealingLROptions {
  /** Half period of the cosine, in epochs (PyTorch's `T_max`; a positive number, required). */
  TMax: number;
  /** Minimum learning rate; default 0. */
  etaMin?: number;
}

/**
 * Cosine annealing from each group's initial learning rate down to `etaMin` over `TMax` epochs,
 * as `torch.optim.lr_scheduler.CosineAnnealingLR` (SGDR's annealing, without restarts: past
 * `TMax` the learning rate rises again along the cosine). Uses PyTorch's recursive form, which
 * follows changes made to the learning rate from outside.
 */
export class CosineAnnealingLR extends LRScheduler {
  private TMax: number;
  private etaMin: number;

  constructor(optimizer: AnyOptimizer, options: CosineAnnealingLROptions) {
    const o = optionsOf(options as CosineAnnealingLROptions | null | undefined, 'CosineAnnealingLR');
    const TMax = o.TMax;
    if (typeof TMax !== 'number' || !(TMax > 0) || !Number.isFinite(TMax)) {
      throw new RangeError(`CosineAnnealingLR: TMax (PyTorch's T_max, the half period in epochs) must be a positive number, got ${describe(TMax)}`);
    }
    const etaMin = finiteNumber('CosineAnnealingLR', 'etaMin', o.etaMin ?? 0);
    super(optimizer);
    this.TMax = TMax;
    this.etaMin = etaMin;
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.currentLrs();
    const epoch = this.lastEpochValue;
    const { TMax, etaMin } = this;
    if (this.isInitial) return lrs;
    if (this.stepCount === 1 && epoch > 0) {
      // A scheduler whose state was loaded with _step_count 0: PyTorch's closed form.
      return this.baseLrsValue.map((base) => etaMin + (base - etaMin) * (1 + cos(epoch * Math.PI / TMax)) / 2);
    }
    if ((epoch - 1 - TMax) % (2 * TMax) === 0) {
      return lrs.map((lr, k) => lr + (this.baseLrsValue[k] - etaMin) * (1 - cos(Math.PI / TMax)) / 2);
    }
    return lrs.map((lr) => (1 + cos(Math.PI * epoch / TMax)) / (1 + cos(Math.PI * (epoch - 1) / TMax)) * (lr - etaMin) + etaMin);
  }

  protected stateFields(): StateField[] {
    return [
      this.numberField('T_max', () => this.TMax, (v) => (this.TMax = v), loadCheck('CosineAnnealingLR', 'T_max', 'positive')),
      this.numberField('eta_min', () => this.etaMin, (v) => (this.etaMin = v), loadCheck('CosineAnnealingLR', 'eta_min', 'finite')),
    ];
  }
}

/** Options of `new LinearLR()`. */
export interface LinearLROptions {
  /** Factor of the initial learning rate at epoch 0, in (0, 1]; default 1/3. */
  startFactor?: number;
  /** Factor reached at epoch `totalIters` and kept afterwards, in [0, 1]; default 1. */
  endFactor?: number;
  /** Epochs over which the factor moves from `startFactor` to `endFactor` (a non-negative integer); default 5. */
  totalIters?: number;
}

/**
 * Scales every group's learning rate by a factor that moves linearly from `startFactor` to
 * `endFactor` over `totalIters` epochs, as `torch.optim.lr_scheduler.LinearLR`: a warm-up with the
 * defaults (1/3 to 1 over 5 epochs), or a linear decay with `endFactor` < `startFactor`.
 */
export class LinearLR extends LRScheduler {
  private startFactor: number;
  private endFactor: number;
  private totalIters: number;

  constructor(optimizer: AnyOptimizer, options?: LinearLROptions | null) {
    const o = optionsOf(options, 'LinearLR');
    const startFactor = o.startFactor ?? 1.0 / 3;
    const endFactor = o.endFactor ?? 1.0;
    if (typeof startFactor !== 'number' || !(startFactor > 0 && startFactor <= 1.0)) {
      throw new RangeError(`LinearLR: Starting multiplicative factor expected to be greater than 0 and less or equal to 1. (startFactor is ${describe(startFactor)})`);
    }
    if (typeof endFactor !== 'number' || !(endFactor >= 0 && endFactor <= 1.0)) {
      throw new RangeError(`LinearLR: Ending multiplicative factor expected to be between 0 and 1. (endFactor is ${describe(endFactor)})`);
    }
    const totalIters = o.totalIters ?? 5;
    if (typeof totalIters !== 'number' || !Number.isInteger(totalIters) || totalIters < 0) {
      throw new RangeError(`LinearLR: totalIters must be a non-negative integer, got ${describe(totalIters)}`);
    }
    super(optimizer);
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.currentLrs();
    const epoch = this.lastEpochValue;
    const { startFactor: start, endFactor: end, totalIters: total } = this;
    if (epoch === 0) return lrs.map((lr) => lr * start);
    if (this.isInitial || epoch > total) return lrs;
    return lrs.map((lr) => lr * (1.0 + (end - start) / (total * start + (epoch - 1) * (end - start))));
  }

  protected stateFields(): StateField[] {
    return [
      this.numberField('start_factor', () => this.startFactor, (v) => (this.startFactor = v), loadCheck('LinearLR', 'start_factor', 'positive')),
      this.numberField('end_factor', () => this.endFactor, (v) => (this.endFactor = v), loadCheck('LinearLR', 'end_factor', 'finite')),
      this.numberField('total_iters', () => this.totalIters, (v) => (this.totalIters = v), loadCheck('LinearLR', 'total_iters', 'nonNegativeInteger')),
    ];
  }
}

/** A learning-rate multiplier: the factor of the initial learning rate at `epoch` (0, 1, ...). */
export type LrLambda = (epoch: number) => number;

/** Options of `new LambdaLR()`. */
export interface LambdaLROptions {
  /** One function for every group, or one per parameter group (required). */
  lrLambda: LrLambda | readonly LrLambda[];
}

/**
 * Sets every group's learning rate to its initial learning rate times `lrLambda(epoch)`, as
 * `torch.optim.lr_scheduler.LambdaLR` (closed form: changes made from outside are overwritten
 * at the next step). The functions are not part of the state dict: `lr_lambdas` holds null for
 * each, as PyTorch saves plain functions; construct the scheduler with the same functions before
 * loading a state dict.
 */
export class LambdaLR extends LRScheduler {
  private readonly lrLambdas: LrLambda[];

  constructor(optimizer: AnyOptimizer, options: LambdaLROptions) {
    checkOptimizer(optimizer, 'LambdaLR');
    const given: unknown = optionsOf(options as LambdaLROptions | null | undefined, 'LambdaLR').lrLambda;
    const groups = optimizer.paramGroups.length;
    let lrLambdas: unknown[];
    if (Array.isArray(given)) {
      if (given.length !== groups) {
        throw new RangeError(`LambdaLR: Expected ${groups} lrLambdas, but got ${given.length} (pass one function per parameter group, or one function for all)`);
      }
      lrLambdas = [...given];
    } else {
      lrLambdas = new Array<unknown>(groups).fill(given);
    }
    lrLambdas.forEach((f, k) => {
      if (typeof f !== 'function') throw new TypeError(`LambdaLR: lrLambda${Array.isArray(given) ? `[${k}]` : ''} must be a function of the epoch, got ${describe(f)}`);
    });
    super(optimizer);
    this.lrLambdas = lrLambdas as LrLambda[];
    this.initialStep();
  }

  protected computeLr(): number[] {
    return this.baseLrsValue.map((base, k) => {
      const factor: unknown = this.lrLambdas[k](this.lastEpochValue);
      if (typeof factor !== 'number') {
        throw new TypeError(`LambdaLR: lrLambda of group ${k} returned ${describe(factor)} for epoch ${this.lastEpochValue}; it must return a number`);
      }
      return base * factor;
    });
  }

  protected stateFields(): StateField[] {
    return [{
      key: 'lr_lambdas',
      save: () => this.lrLambdas.map(() => null),
      load: (value) => {
        if (!Array.isArray(value) || value.length !== this.lrLambdas.length) {
          fail('LambdaLR.loadStateDict', 'lr_lambdas', `must have one entry per parameter group (${this.lrLambdas.length})`, value);
        }
        value.forEach((entry, k) => {
          if (entry !== null) {
            throw new Error(`LambdaLR.loadStateDict: lr_lambdas[${k}] holds the state of a Python callable object, which a JS ` +
              'function cannot take; only plain functions (saved as None) can be resumed here');
          }
        });
        return () => undefined;
      },
    }];
  }
}

/** Which learning rate of a group a OneCycleLR phase starts or ends at. */
type PhaseLr = 'initial_lr' | 'max_lr' | 'min_lr';
type PhaseMomentum = 'max_momentum' | 'base_momentum';

interface SchedulePhase {
  endStep: number;
  startLr: PhaseLr;
  endLr: PhaseLr;
  startMomentum: PhaseMomentum;
  endMomentum: PhaseMomentum;
}

/** Options of `new OneCycleLR()`, PyTorch's arguments in camelCase. */
export interface OneCycleLROptions {
  /** The peak learning rate, for every group or one per group (required). */
  maxLr: number | readonly number[];
  /** Steps in the cycle; if absent, `epochs * stepsPerEpoch`. */
  totalSteps?: number;
  /** With `stepsPerEpoch`, gives `totalSteps` when that is absent. */
  epochs?: number;
  /** With `epochs`, gives `totalSteps` when that is absent. */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the learning rate, in [0, 1]; default 0.3. */
  pctStart?: number;
  /** 'cos' (default) or 'linear' annealing. */
  annealStrategy?: 'cos' | 'linear';
  /**
   * Must be false: PyTorch's default (true) cycles SGD's momentum or Adam's beta1 inversely to
   * the learning rate, and torchbridge's optimizers take those only at construction. Pass false
   * to schedule the learning rate alone, exactly as PyTorch does with `cycle_momentum=False`.
   */
  cycleMomentum: false;
  /** Initial learning rate = maxLr / divFactor; default 25. */
  divFactor?: number;
  /** Minimum learning rate = initial learning rate / finalDivFactor; default 1e4. */
  finalDivFactor?: number;
  /**
   * Three phases (up to maxLr, back down to the initial learning rate, then down to the minimum)
   * as in the 1cycle paper, instead of fastai's two (up, then down to the minimum); default false.
   */
  threePhase?: boolean;
}

/**
 * The 1cycle policy, as `torch.optim.lr_scheduler.OneCycleLR`: from `maxLr / divFactor` up to
 * `maxLr` over the first `pctStart` of `totalSteps`, then down to
 * `maxLr / divFactor / finalDivFactor`. Call `step()` after every batch; stepping more than
 * `totalSteps` times is an error, as in PyTorch. Momentum cycling is not available (see
 * `cycleMomentum`).
 *
 * The one departure from PyTorch's numbers: the `totalSteps`-th step (after the last batch of
 * `epochs * stepsPerEpoch`) extrapolates one step past the end of the schedule, which with
 * `annealStrategy: 'linear'` gives a negative learning rate in PyTorch; here it is 0, since
 * torchbridge's optimizers take no negative learning rate.
 */
export class OneCycleLR extends LRScheduler {
  private totalSteps: number;
  private phases: SchedulePhase[];
  private annealStrategy: 'cos' | 'linear';

  constructor(optimizer: AnyOptimizer, options: OneCycleLROptions) {
    checkOptimizer(optimizer, 'OneCycleLR');
    const o = optionsOf(options as OneCycleLROptions | null | undefined, 'OneCycleLR');
    const isPositiveInteger = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
    let totalSteps: number;
    if (o.totalSteps !== undefined) {
      if (!isPositiveInteger(o.totalSteps)) throw new RangeError(`OneCycleLR: Expected positive integer totalSteps, but got ${String(o.totalSteps)}`);
      totalSteps = o.totalSteps;
    } else if (o.epochs !== undefined && o.stepsPerEpoch !== undefined) {
      if (!isPositiveInteger(o.epochs)) throw new RangeError(`OneCycleLR: Expected positive integer epochs, but got ${String(o.epochs)}`);
      if (!isPositiveInteger(o.stepsPerEpoch)) throw new RangeError(`OneCycleLR: Expected positive integer stepsPerEpoch, but got ${String(o.stepsPerEpoch)}`);
      totalSteps = o.epochs * o.stepsPerEpoch;
    } else {
      throw new RangeError('OneCycleLR: You must define either totalSteps OR (epochs AND stepsPerEpoch)');
    }
    const pctStart = o.pctStart ?? 0.3;
    if (typeof pctStart !== 'number' || !(pctStart >= 0 && pctStart <= 1)) {
      throw new RangeError(`OneCycleLR: Expected float between 0 and 1 pctStart, but got ${String(pctStart)}`);
    }
    const annealStrategy = o.annealStrategy ?? 'cos';
    if (annealStrategy !== 'cos' && annealStrategy !== 'linear') {
      throw new RangeError(`OneCycleLR: annealStrategy must be one of 'cos' or 'linear', instead got ${String(annealStrategy)}`);
    }
    const groups = optimizer.paramGroups.length;
    const maxLr: unknown = o.maxLr;
    if (Array.isArray(maxLr) && maxLr.length !== groups) {
      throw new RangeError(`OneCycleLR: maxLr must have the same length as optimizer.paramGroups. maxLr has ${maxLr.length} values, paramGroups has ${groups}.`);
    }
    const maxLrs = Array.isArray(maxLr) ? [...maxLr] : new Array<unknown>(groups).fill(maxLr);
    maxLrs.forEach((lr) => {
      if (typeof lr !== 'number' || !(lr >= 0) || !Number.isFinite(lr)) {
        throw new RangeError(`OneCycleLR: maxLr must be a non-negative learning rate or one per parameter group, got ${describe(maxLr)}`);
      }
    });
    const divFactor = o.divFactor ?? 25.0;
    const finalDivFactor = o.finalDivFactor ?? 1e4;
    for (const [name, value] of [['divFactor', divFactor], ['finalDivFactor', finalDivFactor]] as const) {
      if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
        throw new RangeError(`OneCycleLR: ${name} must be a positive number, got ${describe(value)}`);
      }
    }
    if (o.cycleMomentum !== false) {
      throw new TypeError(`OneCycleLR: cycleMomentum must be false (got ${describe(o.cycleMomentum)}; PyTorch's default is true): cycling ` +
        "SGD's momentum or Adam's beta1 needs an optimizer whose momentum can change after construction, which torchbridge's " +
        'optimizers do not offer. Pass cycleMomentum: false to schedule the learning rate alone, as PyTorch does with cycle_momentum=False');
    }
    const phases: SchedulePhase[] = o.threePhase === true ? [
      { endStep: pctStart * totalSteps - 1, startLr: 'initial_lr', endLr: 'max_lr', startMomentum: 'max_momentum', endMomentum: 'base_momentum' },
      { endStep: 2 * pctStart * totalSteps - 2, startLr: 'max_lr', endLr: 'initial_lr', startMomentum: 'base_momentum', endMomentum: 'max_momentum' },
      { endStep: totalSteps - 1, startLr: 'initial_lr', endLr: 'min_lr', startMomentum: 'max_momentum', endMomentum: 'max_momentum' },
    ] : [
      { endStep: pctStart * totalSteps - 1, startLr: 'initial_lr', endLr: 'max_lr', startMomentum: 'max_momentum', endMomentum: 'base_momentum' },
      { endStep: totalSteps - 1, startLr: 'max_lr', endLr: 'min_lr', startMomentum: 'base_momentum', endMomentum: 'max_momentum' },
    ];
    groupSchedulesOf(optimizer).forEach((g, k) => {
      g.initial_lr = (maxLrs[k] as number) / divFactor;
      g.max_lr = maxLrs[k] as number;
      g.min_lr = g.initial_lr / finalDivFactor;
    });
    super(optimizer);
    this.totalSteps = totalSteps;
    this.phases = phases;
    this.annealStrategy = annealStrategy;
    this.initialStep();
  }

  protected computeLr(): number[] {
    const stepNum = this.lastEpochValue;
    if (stepNum > this.totalSteps) {
      throw new RangeError(`OneCycleLR: Tried to step ${stepNum} times. The specified number of total steps is ${this.totalSteps} ` +
        '(make a scheduler with a larger totalSteps, or epochs and stepsPerEpoch, to train longer)');
    }
    const anneal = this.annealStrategy === 'cos'
      ? (start: number, end: number, pct: number) => end + (start - end) / 2.0 * (cos(Math.PI * pct) + 1)
      : (start: number, end: number, pct: number) => (end - start) * pct + start;
    return groupSchedulesOf(this.optimizer).map((group, k) => {
      const value = (key: PhaseLr): number => {
        const v = group[key];
        if (v === undefined) throw new Error(`OneCycleLR: parameter group ${k} has no ${key}; was the scheduler made for this optimizer?`);
        return v;
      };
      let startStep = 0;
      for (let i = 0; i < this.phases.length; ++i) {
        const phase = this.phases[i];
        if (stepNum <= phase.endStep || i === this.phases.length - 1) {
          if (phase.endStep - startStep === 0) {
            // Python raises ZeroDivisionError here.
            throw new RangeError(`OneCycleLR: float division by zero: phase ${i} of the schedule ends at step ${phase.endStep}, where it ` +
              `starts (pctStart * totalSteps = ${phase.endStep + 1}); choose pctStart and totalSteps so that every phase spans a step`);
          }
          const pct = (stepNum - startStep) / (phase.endStep - startStep);
          const lr = anneal(value(phase.startLr), value(phase.endLr), pct);
          // Step totalSteps lies one step past the schedule's last value, and linear annealing
          // extrapolates there below the minimum, to a negative learning rate in PyTorch, which
          // torchbridge's optimizers refuse: 0 instead (the training loop has ended by then).
          return lr < 0 && stepNum === this.totalSteps ? 0 : lr;
        }
        startStep = phase.endStep;
      }
      throw new Error('OneCycleLR: no schedule phase');  // unreachable: the last phase always matches
    });
  }

  protected stateFields(): StateField[] {
    const what = 'OneCycleLR.loadStateDict';
    const lrKeys: readonly string[] = ['initial_lr', 'max_lr', 'min_lr'];
    const momentumKeys: readonly string[] = ['max_momentum', 'base_momentum'];
    return [
      this.numberField('total_steps', () => this.totalSteps, (v) => (this.totalSteps = v), loadCheck('OneCycleLR', 'total_steps', 'positiveInteger')),
      {
        key: '_schedule_phases',
        save: () => this.phases.map((p) => new Map<string, PickleValue>([
          ['end_step', p.endStep], ['start_lr', p.startLr], ['end_lr', p.endLr], ['start_momentum', p.startMomentum], ['end_momentum', p.endMomentum],
        ])),
        load: (value) => {
          if (!Array.isArray(value) || value.length < 1) fail(what, '_schedule_phases', 'must be a list of phases', value);
          const phases = value.map((saved, i): SchedulePhase => {
            const entry = entriesOf(saved, `${what}: _schedule_phases[${i}]`);
            const pick = (key: string, allowed: readonly string[]): string => {
              const v = entry.get(key);
              if (typeof v !== 'string' || !allowed.includes(v)) fail(what, `_schedule_phases[${i}].${key}`, `must be one of ${allowed.join(', ')}`, v);
              return v;
            };
            return {
              endStep: numberAt(what, `_schedule_phases[${i}].end_step`, entry.get('end_step')),
              startLr: pick('start_lr', lrKeys) as PhaseLr,
              endLr: pick('end_lr', lrKeys) as PhaseLr,
              startMomentum: pick('start_momentum', momentumKeys) as PhaseMomentum,
              endMomentum: pick('end_momentum', momentumKeys) as PhaseMomentum,
            };
          });
          return () => (this.phases = phases);
        },
      },
      {
        key: '_anneal_func_type',
        optional: true,  // PyTorch 1.13 saves the function itself (anneal_func)
        save: () => this.annealStrategy,
        load: (value) => {
          if (value !== 'cos' && value !== 'linear') fail(what, '_anneal_func_type', "must be 'cos' or 'linear'", value);
          return () => (this.annealStrategy = value);
        },
      },
      {
        key: 'cycle_momentum',
        save: () => false,
        load: (value) => {
          if (value !== false) {
            throw new Error(`${what}: the state dict was saved with cycle_momentum=${describe(value)}; torchbridge's OneCycleLR schedules ` +
              'the learning rate only (cycleMomentum: false), so it cannot continue that schedule');
          }
          return () => undefined;
        },
      },
    ];
  }
}
