/**
 * The data-parallel trainer: d2l's `train_batch_ch13` under `nn.DataParallel`, run natively
 * off the JS thread. One replica per device (the model itself on devices[0], clones on the
 * others); a step splits the batch along dim 0, runs forward and the loss on every replica in
 * its own thread, takes backward of the loss reduced as its reduction says, sums the gradients
 * onto the model's parameters, takes one optimizer step and refreshes the replicas. Parameters
 * that received no gradient in a step are skipped by the optimizer.
 */
import { NativeTensor, NativeTrainer, TrainerLossSpec, ops } from '../native';
import {
  BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss, Reduction, SmoothL1Loss,
} from '../nn/loss';
import { Module } from '../nn/module';
import { Optimizer } from '../optim/optimizer';
import { Tensor, optionsOf } from '../core/tensor';
import { Device, isFloatingPoint } from '../core/types';
import { describe } from '../core/describe';
import { ProcessGroup } from '../distributed/process-group';
import { writeFileAtomically } from '../core/atomic-file';

function busyError(what: string, pending: number): Error {
  return Object.assign(new Error(`${what}: the Trainer is busy: ${pending} step(s) or evaluation(s) are running or queued; await them first`),
    { code: 'ERR_TORCHBRIDGE_BUSY' });
}

/** The losses the Trainer computes natively (lib/nn/loss.ts), with any of their options. */
export type TrainerLoss = CrossEntropyLoss | NLLLoss | MSELoss | L1Loss | SmoothL1Loss | HuberLoss | BCELoss | BCEWithLogitsLoss;

/** What one training step measured (d2l's train_loss_sum, train_acc_sum and the batch size). */
export interface StepResult {
  /**
   * The batch's losses summed: per example for class indices (weighted by the class weights when
   * the loss has them), per element for the elementwise losses. d2l's `l.sum()` for reduction 'none'.
   */
  lossSum: number;
  /**
   * The value backward was taken of: `lossSum` for reduction 'none' and 'sum', the whole batch's
   * mean for 'mean' (what `loss(net(X), y)` returns in PyTorch for the batch on one device).
   */
  loss: number;
  /**
   * Number of examples whose argmax prediction equals the label (d2l.accuracy), or null when
   * the batch was not counted (see `TrainerOptions.accuracy`).
   */
  correct: number | null;
  /** Number of examples in the batch. */
  count: number;
}

/** Options of `new Trainer()`. */
export interface TrainerOptions {
  /**
   * The random stream of dropout in d2l's blocks during training steps. 'philox' (default): a
   * counter-based generator (Philox4x32-10, as CUDA dropout) fills each mask in parallel, seeded
   * by one draw from the global generator, so `manualSeed` still reproduces a run; it removes
   * what is otherwise a third of a CPU step. 'pytorch': PyTorch's own serial CPU stream (the
   * masks PyTorch draws after the same seed, for the same shapes). The masks have the same
   * distribution either way: Bernoulli(1 - p), scaled by 1 / (1 - p).
   */
  dropoutRng?: 'philox' | 'pytorch';
  /**
   * The kernel of d2l's attention blocks during steps: 'explicit' (default; d2l's masked softmax)
   * or 'fused' (libtorch 2.x's scaled_dot_product_attention, the same function: see
   * `d2l.attentionKernel`). Measured alone on the CPU with libtorch 2.11
   * (scripts/bench_attention_kernels.py), the fused kernel is 11-12% slower in training for the
   * key lengths that trimmed SNLI batches have (up to 64) and 14% faster at 128; whole steps varied
   * between runs (README). 'fused' is refused on libtorch 1.x. With 'fused', attention dropout draws libtorch's own
   * noise, not `dropoutRng`'s, so a seed reproduces another run than with 'explicit'.
   */
  attention?: 'explicit' | 'fused';
  /**
   * The kernels of d2l's blocks during steps and evaluations. 'fused' (default): native kernels
   * that compute the same functions with less work, equal to 'reference' up to float rounding
   * (tests: 1e-5 per step). So far:
   * - d2l's DotProductAttention as one kernel each way, with `attention: 'explicit'`, for CPU
   *   float32/float64 inputs, without dropout or with the 'philox' dropout stream (it draws the
   *   same noise); otherwise d2l's ops run;
   * - the token and segment embeddings' gradients as rows (one per token), summed once into the
   *   dense gradient before the optimizer step, instead of a dense [vocab, hidden] gradient zeroed,
   *   filled and accumulated per length group (dense under a processGroup, whose Reducer buckets
   *   dense gradients).
   * The native loops run the widest instruction set the CPU has (`version().cpuKernels`).
   * 'reference': d2l's ops one by one, as `Module.forward` runs them. Measured (README,
   * scripts/bench-kernels.js): 'fused' with a fused Adam is 1.2x 'reference' on Debian's
   * libtorch 1.13 and on torch 2.11's CPU wheel. For the optimizer's share, create Adam or AdamW
   * with `fused: true`.
   */
  kernels?: 'fused' | 'reference';
  /**
   * 'float32' (default), or 'bf16': forward passes under autocast to bfloat16 (torch.autocast:
   * matmuls and linears in bfloat16 on the CPU or the GPU, float32 parameters, gradients and
   * optimizer state; the loss computed in float32). Much faster where the hardware multiplies
   * bfloat16 natively (Ampere and later GPUs; CPUs with AVX512-BF16 or AMX), at bfloat16's
   * precision (about 3 significant digits) in the forward pass.
   */
  precision?: 'float32' | 'bf16';
  /**
   * Length groups (off by default): each step sorts its rows by length (`inputs[lengthsInput]`,
   * one length per row), cuts them into `groups` groups per replica, trims each group's
   * `trimmedInputs` along dim 1 to the group's longest row, and runs the groups one after
   * another, the gradients accumulating, before the one optimizer step. The batch and the step
   * are d2l's: with a loss summed over examples and d2l's masking (padding never reaches a
   * valid position), only rounding changes, while short rows stop paying for the longest one.
   * For SNLIBERTDataset batches: `{ groups: 4, lengthsInput: 2, trimmedInputs: [0, 1] }`.
   */
  lengthGroups?: { groups: number; lengthsInput: number; trimmedInputs: number[] };
  /**
   * Count correct predictions (d2l.accuracy: argmax over dim 1 equals the label). By default
   * they are counted where they mean something: for CrossEntropyLoss and NLLLoss with class-index
   * labels [batch] (int64) against scores [batch, classes]; `correct` is null for every other
   * batch (regression, binary and probability targets). `true` refuses a batch that cannot be
   * counted (and a loss without class indices); `false` never counts.
   */
  accuracy?: boolean;
  /**
   * Train as PyTorch's `DistributedDataParallel` in this group (from `initProcessGroup()`), one
   * device per rank (`devices` has one entry; one process per GPU). The Trainer starts at once:
   * it checks that every rank's parameters have the same shapes, broadcasts rank 0's parameters
   * and buffers to the others, and builds c10d's Reducer (`trainer.ready` resolves then; steps
   * wait for it). Each step's backward all-reduces the gradients in 25 MB buckets while it runs;
   * every rank then takes its own optimizer step, so the ranks stay identical. Buffers are
   * broadcast from rank 0 before each training forward, as DDP does. Every rank must call
   * `step` (and `evaluate`) the same number of times, with batches of its own shard
   * (DistributedSampler). With length groups, the groups but the last accumulate locally
   * (DDP's no_sync()).
   */
  processGroup?: ProcessGroup;
  /**
   * How the ranks' gradients are combined. 'sum': the global batch's gradient, the step one
   * process takes on the ranks' batches together, for a loss summed over examples (reduction
   * 'none', d2l's `l.sum()`, or 'sum'). 'mean': DDP's default, the ranks' gradients averaged,
   * which is the global batch's mean when each rank's loss is its own batch's mean (reduction
   * 'mean') over equal shards. Default: 'mean' for reduction 'mean', 'sum' otherwise; give
   * 'mean' to train in step with Python ranks that run stock DDP on a summed loss.
   */
  gradientReduction?: 'sum' | 'mean';
  /** DDP's bucket_cap_mb: the size of the gradient buckets all-reduced during backward (default 25). */
  bucketCapMB?: number;
}

/** What one evaluation batch measured (in eval mode, without gradients). */
export interface EvalResult {
  /** Correct predictions (d2l.accuracy), or null when the accuracy metric is off. */
  correct: number | null;
  count: number;
  /** The batch's losses summed, and reduced as in `StepResult.loss`. */
  lossSum: number;
  loss: number;
}

/**
 * What the Trainer accepts (checked, with errors that name the fix):
 * - `net`: a native module (the nn layers, Sequential, d2l's blocks, BERTClassifier; not a
 *   container whose forward is written in TypeScript) whose forward takes 1 to 4 tensors and
 *   returns one tensor, the prediction the loss takes;
 * - `optimizer`: built from (at least) every trainable parameter of `net`;
 * - `loss`: one of the `TrainerLoss` modules, with any of its options (default d2l's
 *   `CrossEntropyLoss({ reduction: 'none' })`). Its reduction decides the step's backward:
 *   'none' and 'sum' take backward of the batch's summed loss (d2l's `l.sum().backward()`),
 *   'mean' of the whole batch's mean, as PyTorch's `loss(net(X), y).backward()` on one device:
 *   every replica's sum is divided by the whole batch's denominator (elements; summed class
 *   weights of the non-ignored targets), so the gradients add up to the mean's. The loss's
 *   tensors (weight, posWeight) are copied when the Trainer is created.
 * - labels, by loss: class indices (int64, `[batch]` or `[batch, d1, ...]`, each in
 *   [0, classes) or ignoreIndex) for NLLLoss and CrossEntropyLoss, whose model returns
 *   `[batch, classes, ...]` (at least 2 classes for cross-entropy); class probabilities of the
 *   prediction's shape and dtype for CrossEntropyLoss; targets of the prediction's shape and
 *   dtype for the others (a `[batch, 1]` output needs `[batch, 1]` labels, never a broadcast).
 *
 * While a step or evaluation runs (from the call until its Promise settles), the model, its
 * parameters, buffers and submodules, and the optimizer are busy: anything that reads or writes
 * them (forward, stateDict, loadStateDict, train(), an in-place op on a parameter, optimizer.step,
 * setting an lr, dispose) throws an Error whose `code` is 'ERR_TORCHBRIDGE_BUSY'. Await the
 * step first. Between steps, change anything: every replica sees the model's current weights
 * and trainable flags at the next step.
 */
export class Trainer {
  /** The model it trains (replica 0, on devices[0]). */
  readonly net: Module;
  /** The optimizer of every step: dispose it (after the trainer) to free its state. */
  readonly optimizer: Optimizer<object>;
  readonly devices: readonly Device[];
  /** The loss of every step and evaluation. */
  readonly loss: TrainerLoss;
  /** The loss's reduction: 'none' and 'sum' take backward of the batch's sum, 'mean' of its mean. */
  readonly reduction: Reduction;
  /** The group it trains in (TrainerOptions.processGroup), or undefined. */
  readonly processGroup: ProcessGroup | undefined;
  /**
   * Resolves once the Trainer can step: at once without a process group; with one, after the
   * parameters came from rank 0 (rejects when a rank did not arrive within the group's timeout).
   */
  readonly ready: Promise<void>;
  private _handle: NativeTrainer | undefined;
  // Steps run one at a time, in call order: a step called while another runs waits for it.
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;
  // why the distributed start failed: every later step and evaluation fails with it
  private startError: unknown;

  /**
   * @param net the model: a native module whose forward takes the batch inputs and returns
   *   logits [batch, classes]. It is moved to devices[0] in place (its parameters stay the same
   *   tensors, so an optimizer built from `net.parameters()` before remains valid); when the
   *   construction fails the model stays where it was.
   * @param optimizer built from `net.parameters()`.
   * @param devices one replica per entry ('cpu' may repeat: `['cpu', 'cpu']` trains two replicas).
   * @param loss one of the `TrainerLoss` modules (default `CrossEntropyLoss({ reduction: 'none' })`, d2l's).
   */
  constructor(net: Module, optimizer: Optimizer<object>, devices: readonly Device[], loss: TrainerLoss = new CrossEntropyLoss({ reduction: 'none' }),
    options?: TrainerOptions | null) {
    const o = optionsOf(options, 'Trainer');
    if (!(net instanceof Module)) throw new TypeError('Trainer: net must be an nn.Module (a native module such as d2l.BERTClassifier or nn.Sequential)');
    if (!(optimizer instanceof Optimizer)) throw new TypeError('Trainer: optimizer must be an optim.Optimizer built from net.parameters(), e.g. new optim.Adam(net.parameters())');
    const spec = lossSpecOf(loss);
    if (o.accuracy !== undefined && typeof o.accuracy !== 'boolean') throw new TypeError(`Trainer: options.accuracy must be a boolean, got ${describe(o.accuracy)}`);
    if (o.accuracy === true && spec.kind !== 'CrossEntropyLoss' && spec.kind !== 'NLLLoss') {
      throw new TypeError(`Trainer: options.accuracy counts argmax predictions equal to class-index labels, which ${spec.kind} does not have; leave it off`);
    }
    if (!Array.isArray(devices) || devices.length === 0) throw new TypeError('Trainer: devices must be a non-empty array');
    this.net = net;
    this.optimizer = optimizer;
    this.devices = Object.freeze([...devices]);
    this.loss = loss;
    this.reduction = spec.reduction;
    const group = o.processGroup;
    if (group !== undefined && !(group instanceof ProcessGroup)) throw new TypeError(`Trainer: options.processGroup must be a ProcessGroup from initProcessGroup(), got ${describe(group)}`);
    if (o.gradientReduction !== undefined && o.gradientReduction !== 'sum' && o.gradientReduction !== 'mean') {
      throw new TypeError(`Trainer: options.gradientReduction must be 'sum' or 'mean', got ${describe(o.gradientReduction)}`);
    }
    if (group === undefined && (o.gradientReduction !== undefined || o.bucketCapMB !== undefined)) {
      throw new TypeError('Trainer: options.gradientReduction and bucketCapMB apply to distributed training; give options.processGroup too');
    }
    if (group !== undefined && devices.length !== 1) {
      throw new TypeError(`Trainer: with a processGroup, give one device per rank (one process per GPU, as DistributedDataParallel), got [${devices.join(', ')}]`);
    }
    this.processGroup = group;
    this._handle = ops.trainerCreate(net.handle, optimizer.handle, [...devices], {
      loss: { ...spec, accuracy: o.accuracy },
      dropoutRng: o.dropoutRng,
      attention: o.attention,
      kernels: o.kernels,
      precision: o.precision,
      lengthGroups: o.lengthGroups,
      ...(group === undefined ? {} : {
        processGroup: group.handle,
        gradientReduction: o.gradientReduction ?? (spec.reduction === 'mean' ? 'mean' : 'sum'),
        bucketCapMB: o.bucketCapMB,
      }),
    });
    if (group === undefined) {
      this.ready = Promise.resolve();
    } else {
      ++this.pending;
      const started = ops.trainerStart(this._handle);
      // registered before the tail below, so a queued step sees startError
      started.then(() => --this.pending, (err: unknown) => {
        --this.pending;
        this.startError = err;
      });
      this.ready = started;
      this.tail = started.catch(() => undefined);  // steps wait for the start
    }
  }

  private get handle(): NativeTrainer {
    if (this._handle === undefined) throw new Error('Trainer was disposed; create a new Trainer');
    return this._handle;
  }

  /**
   * One training step on a batch: `inputs` are the model's inputs (each [batch, ...]), `labels`
   * the loss's targets ([batch, ...]: see the class comment). The tensors may live on any device
   * (they are copied to each replica's) and may be disposed as soon as this returns. Rejects
   * with a TypeError for a malformed batch.
   */
  step(inputs: readonly Tensor[], labels: Tensor): Promise<StepResult> {
    return this.enqueue('step', inputs, labels, (h, l) => ops.trainerStep(this.handle, h, l));
  }

  /**
   * The loss and correct predictions on a batch, in eval mode without gradients (d2l's
   * evaluate_accuracy_gpu per batch); nothing is trained. With a processGroup the figures are this
   * rank's batch's: sum them over the ranks with `processGroup.allReduce` (as trainCh13's
   * evaluation does); every rank must call it as many times, since a forward may broadcast buffers.
   */
  evaluate(inputs: readonly Tensor[], labels: Tensor): Promise<EvalResult> {
    return this.enqueue('evaluate', inputs, labels, (h, l) => ops.trainerEvaluate(this.handle, h, l))
      .then(({ correct, count, lossSum, loss }) => ({ correct, count, lossSum, loss }));
  }

  /**
   * Starts libtorch's profiler (its legacy, CPU-event profiler) on the thread where steps run
   * their forward, backward and optimizer step (replica 0's: a CPU Trainer's whole step). Every
   * operator call of the steps and evaluations until `stopProfile` is recorded. Throws while a
   * step is running (await it first) or when the Trainer is profiling already.
   */
  startProfile(): void {
    if (this.pending > 0) throw busyError('Trainer.startProfile', this.pending);
    ops.trainerProfileStart(this.handle);
  }

  /**
   * Ends the profile begun by `startProfile` and writes it to `file` atomically (a temporary
   * file, then a rename), as a Chrome trace: a JSON array of complete events
   * `{name, ph: 'X', ts, dur, tid, ...}` in microseconds, which chrome://tracing and Perfetto open
   * and `summarizeProfile` sums by operator. Throws while a step is
   * running or when the Trainer is not profiling.
   */
  async stopProfile(file: string): Promise<void> {
    if (typeof file !== 'string' || file === '') throw new TypeError(`Trainer.stopProfile: file must be a path, got ${describe(file)}`);
    if (this.pending > 0) throw busyError('Trainer.stopProfile', this.pending);
    await writeFileAtomically(file, ops.trainerProfileStop(this.handle));
  }

  /**
   * Frees the replicas (their memory and threads) now and lets go of the model and the
   * optimizer, which can then be disposed. Throws while a step or evaluation is running or
   * queued (await it first). Using the trainer afterwards is an error. Idempotent.
   */
  dispose(): void {
    if (this._handle === undefined) return;
    if (this.pending > 0) throw busyError('Trainer.dispose', this.pending);
    ops.trainerDispose(this._handle);
    this._handle = undefined;
  }

  /** `using trainer = ...` disposes the trainer at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  get isDisposed(): boolean {
    return this._handle === undefined;
  }

  private enqueue(what: string, inputs: readonly Tensor[], labels: Tensor, run: (h: NativeTensor[], l: NativeTensor) => Promise<StepResult>): Promise<StepResult> {
    let held: NativeTensor[];
    try {
      checkBatch(`Trainer.${what}`, inputs, labels, this.loss);
      this.handle;  // disposed: fail now
      // Own handles to the batch, so that the caller may dispose theirs before a queued step starts.
      held = [...inputs, labels].map((t) => ops.detach(t.handle));
    } catch (err) {
      return Promise.reject(err);
    }
    const start = () => (this.startError === undefined ? run(held.slice(0, -1), held[held.length - 1]) : Promise.reject(startFailure(this.startError)));
    let result: Promise<StepResult>;
    try {
      // Start at once when idle, so the model is busy from this call on.
      result = this.pending === 0 ? start() : this.tail.then(start);
    } catch (err) {
      result = Promise.reject(err);
    }
    ++this.pending;
    const done = () => {
      --this.pending;
      held.forEach((h) => h.dispose());
    };
    result.then(done, done);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

function startFailure(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`Trainer: the distributed start failed, so the Trainer cannot step: ${message}`);
}

const LOSSES: readonly (new () => TrainerLoss)[] = [CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, SmoothL1Loss, HuberLoss, BCELoss, BCEWithLogitsLoss];

// The loss as the native step takes it: its class and options (checked as its forward checks them).
function lossSpecOf(loss: TrainerLoss): TrainerLossSpec {
  const kind = LOSSES.find((cls) => loss instanceof cls);
  if (kind === undefined) {
    throw new TypeError(`Trainer: loss must be one of nn.${LOSSES.map((cls) => cls.name).join(', nn.')}, got ${describe(loss)}`);
  }
  const o = loss.options as Record<string, unknown>;
  const reduction = (o.reduction ?? 'mean') as Reduction;
  if (!['none', 'mean', 'sum'].includes(reduction)) throw new TypeError(`Trainer: the loss's reduction must be 'none', 'mean' or 'sum', got ${describe(reduction)}`);
  const tensor = (key: string): NativeTensor | undefined => {
    const t = o[key];
    if (t === undefined || t === null) return undefined;
    if (!(t instanceof Tensor)) throw new TypeError(`Trainer: the loss's ${key} must be a Tensor, got ${describe(t)}`);
    return t.handle;
  };
  const number = (key: string, check: (x: number) => boolean, range: string): number | undefined => {
    const x = o[key];
    if (x === undefined) return undefined;
    if (typeof x !== 'number' || !check(x)) throw new RangeError(`Trainer: the loss's ${key} must be ${range}, got ${describe(x)}`);
    return x;
  };
  const weight = tensor('weight');
  if (weight !== undefined && (kind === CrossEntropyLoss || kind === NLLLoss)) {
    const w = o.weight as Tensor;
    if (w.ndim !== 1 || !isFloatingPoint(w.dtype)) throw new TypeError(`Trainer: the loss's weight must be a floating [classes] tensor, got ${w.dtype} [${w.shape.join(', ')}]`);
  }
  return {
    kind: kind.name as TrainerLossSpec['kind'],
    reduction,
    ignoreIndex: number('ignoreIndex', Number.isInteger, 'an integer'),
    labelSmoothing: number('labelSmoothing', (x) => x >= 0 && x <= 1, 'in [0, 1]'),
    beta: number('beta', (x) => x >= 0, 'at least 0'),
    delta: number('delta', (x) => x > 0, 'greater than 0'),
    weight,
    posWeight: tensor('posWeight'),
  };
}

// The batch as the native step needs it, so that a wrong one is named here instead of surfacing
// as libtorch's message from a worker thread (or as a silently wrong accuracy).
function checkBatch(what: string, inputs: readonly Tensor[], labels: Tensor, loss: TrainerLoss): void {
  if (!Array.isArray(inputs) || inputs.length < 1 || inputs.length > 4 || inputs.some((t) => !(t instanceof Tensor))) {
    throw new TypeError(`${what}: inputs must be an array of 1 to 4 Tensors (the model's forward arguments)`);
  }
  const floating = labels instanceof Tensor && isFloatingPoint(labels.dtype);
  if (loss instanceof CrossEntropyLoss || loss instanceof NLLLoss) {
    const name = loss.constructor.name;
    const probabilities = loss instanceof CrossEntropyLoss;
    if (!(labels instanceof Tensor)) throw new TypeError(`${what}: labels must be a Tensor of int64 class indices [batch]`);
    if (probabilities && floating && labels.ndim >= 2) return checkRows(what, inputs, labels);
    if (labels.dtype !== 'int64' || labels.ndim < 1) {
      throw new TypeError(`${what}: labels must be int64 class indices of shape [batch]` + (probabilities ? ' (or class probabilities [batch, classes])' : '') +
        ` for ${name}, got ${labels.dtype} [${labels.shape.join(', ')}]` +
        (labels.dtype !== 'int64' && labels.ndim <= 1 ? "; convert them with labels.to('int64')" : ''));
    }
  } else {
    if (!(labels instanceof Tensor)) throw new TypeError(`${what}: labels must be a Tensor of targets [batch, ...] of the model's output shape`);
    if (!floating || labels.ndim < 1) {
      throw new TypeError(`${what}: ${loss.constructor.name} needs floating targets [batch, ...] of the model's output shape and dtype, got ${labels.dtype} [${labels.shape.join(', ')}]` +
        (!floating ? "; convert them with labels.to('float32')" : ''));
    }
  }
  checkRows(what, inputs, labels);
}

function checkRows(what: string, inputs: readonly Tensor[], labels: Tensor): void {
  const rows = labels.shape[0];
  inputs.forEach((t, k) => {
    if (t.ndim < 1 || t.shape[0] !== rows) {
      throw new TypeError(`${what}: inputs[${k}] has shape [${t.shape.join(', ')}] but labels has ${rows} rows; ` +
        'every input needs the batch along dim 0');
    }
  });
}
