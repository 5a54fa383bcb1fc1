/**
 * Adam, AdamW and SGD: libtorch's implementations, whose updates equal PyTorch's (single-tensor
 * path) step for step.
 */
import { describe } from '../core/describe';
import { Tensor, optionsOf } from '../core/tensor';
import { Optimizer, ParamGroup } from './optimizer';

export interface AdamOptions {
  /** Learning rate; default 1e-3. */
  lr: number;
  /** Decay rates of the first and second moment averages; default [0.9, 0.999]. */
  betas: [number, number];
  /** Added to the denominator; default 1e-8. */
  eps: number;
  /** L2 penalty added to the gradient (Adam) or decoupled decay (AdamW); defaults 0 and 1e-2. */
  weightDecay: number;
  /** Use the maximum of past second moments (AMSGrad); default false. */
  amsgrad: boolean;
}

/** Options of the whole Adam or AdamW optimizer (not of one parameter group). */
export interface AdamConstructorOptions extends AdamOptions {
  /**
   * Take each step in one pass over every parameter (native/optim/fused_adam.h) instead of
   * libtorch's eight tensor operations per parameter: the same update, the same arithmetic in
   * the same order, equal to libtorch's up to float rounding (within 1e-6 relative over many
   * steps, where the default is PyTorch's step to the last bit), and several times faster on large
   * parameters such as a BERT token embedding. Applies to dense, contiguous CPU float32 and
   * float64 parameters and gradients; a step where any parameter is otherwise is libtorch's.
   * The state is the same (`stateDict` is unchanged: PyTorch loads it, `fused` False). Default false.
   */
  fused: boolean;
}

export interface SGDOptions {
  /** Learning rate (required, as in PyTorch). */
  lr: number;
  /** Default 0. */
  momentum: number;
  /** Default 0. */
  dampening: number;
  /** Default 0. */
  weightDecay: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0); default false. */
  nesterov: boolean;
}

function checkAdam(name: string, o: Partial<AdamOptions>): void {
  if (o.lr !== undefined && !(o.lr >= 0)) throw new RangeError(`${name}: invalid learning rate ${o.lr}`);
  if (o.eps !== undefined && !(o.eps >= 0)) throw new RangeError(`${name}: invalid eps ${o.eps}`);
  const betas: unknown = o.betas;
  if (betas !== undefined && !(Array.isArray(betas) && betas.length === 2 && betas.every((b) => typeof b === 'number' && b >= 0 && b < 1))) {
    const given = Array.isArray(betas) ? `[${betas.map((b) => (typeof b === 'number' ? String(b) : describe(b))).join(', ')}]` : describe(betas);
    throw new RangeError(`${name}: betas must be two numbers in [0, 1), got ${given}`);
  }
  if (o.weightDecay !== undefined && !(o.weightDecay >= 0)) throw new RangeError(`${name}: invalid weightDecay ${o.weightDecay}`);
}

function checkFused(name: string, fused: unknown): boolean {
  if (fused !== undefined && typeof fused !== 'boolean') throw new TypeError(`${name}: options.fused must be a boolean, got ${describe(fused)}`);
  return fused === true;
}

/** Adam (Kingma & Ba), as `torch.optim.Adam`. */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: readonly Tensor[] | readonly ParamGroup<AdamOptions>[], options?: Partial<AdamConstructorOptions> | null) {
    const { fused, ...o } = optionsOf(options, 'Adam');
    checkAdam('Adam', o);
    super('adam', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, ...o }, { fused: checkFused('Adam', fused) });
  }
}

/** AdamW (decoupled weight decay), as `torch.optim.AdamW`. */
export class AdamW extends Optimizer<AdamOptions> {
  constructor(params: readonly Tensor[] | readonly ParamGroup<AdamOptions>[], options?: Partial<AdamConstructorOptions> | null) {
    const { fused, ...o } = optionsOf(options, 'AdamW');
    checkAdam('AdamW', o);
    super('adamw', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, ...o }, { fused: checkFused('AdamW', fused) });
  }
}

/** Stochastic gradient descent with optional (Nesterov) momentum, as `torch.optim.SGD`. */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: readonly Tensor[] | readonly ParamGroup<SGDOptions>[], options: Partial<SGDOptions> & { lr: number }) {
    const given = optionsOf(options as Partial<SGDOptions> | null | undefined, 'SGD');
    if (typeof given.lr !== 'number' || !(given.lr >= 0)) {
      throw new TypeError(`SGD: options.lr (a non-negative learning rate) is required, got ${given.lr === undefined ? 'none' : describe(given.lr)}`);
    }
    if ((given as { fused?: unknown }).fused !== undefined) throw new TypeError('SGD: options.fused applies to Adam and AdamW (SGD has one step)');
    const o = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...given, lr: given.lr };
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) throw new RangeError('SGD: Nesterov momentum requires a momentum and zero dampening');
    super('sgd', params, o);
  }
}
