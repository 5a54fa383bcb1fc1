/**
 * The raw addon: the only module that touches it. It loads the file named by
 * `TORCHBRIDGE_ADDON`, else this checkout's source build (`build/Release`, found by
 * node-gyp-build; skipped with `PREBUILDS_ONLY`), else the prebuilt binary made for the libtorch
 * on this machine (`prebuilds/<platform>-<arch>/libtorch-<version>-<cpu|cuda>-abi<N>/`, chosen
 * and bound to that libtorch by scripts/libtorch-runtime.js), and explains what to do when it
 * cannot load one.
 * @internal
 */
import * as fs from 'fs';
import * as path from 'path';

/** An opaque native tensor handle. */
export interface NativeTensor {
  dispose(): void;
  isDisposed(): boolean;
}

/** An opaque native module handle (a torch::nn::Module). */
export interface NativeModule {
  readonly __nativeModule?: never;
}

/** An opaque native optimizer handle. */
export interface NativeOptimizer {
  readonly __nativeOptimizer?: never;
}

/** The Trainer's loss as trainerCreate takes it (native/trainer/loss_spec.h). */
export interface TrainerLossSpec {
  kind: 'CrossEntropyLoss' | 'NLLLoss' | 'MSELoss' | 'L1Loss' | 'SmoothL1Loss' | 'HuberLoss' | 'BCELoss' | 'BCEWithLogitsLoss';
  reduction: 'none' | 'mean' | 'sum';
  ignoreIndex?: number;
  labelSmoothing?: number;
  beta?: number;
  delta?: number;
  weight?: NativeTensor;
  posWeight?: NativeTensor;
}

/** What a native step or evaluation returns. */
export interface TrainerStepSums {
  lossSum: number;
  loss: number;
  correct: number | null;
  count: number;
}

/** An opaque native trainer handle. */
export interface NativeTrainer {
  readonly __nativeTrainer?: never;
}

/** An opaque native c10d process group handle (native/distributed/process_group.cc). */
export interface NativeProcessGroup {
  readonly __nativeProcessGroup?: never;
}

/** What processGroupJoin takes: the rendezvous, as lib/distributed/process-group.ts reads it from the environment. */
export interface NativeJoinOptions {
  masterAddr: string;
  masterPort: number;
  rank: number;
  worldSize: number;
  timeoutMs: number;
  agentStore: boolean;
  restartCount: string;
  interfaces: string[];
  backend: 'gloo' | 'nccl';
}

/** Hyper-parameters of one optimizer parameter group (fields by optimizer kind). */
export interface NativeGroupOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
}

/** One parameter's optimizer state: Adam/AdamW fields, or SGD's momentum buffer. */
export interface NativeParamState {
  step?: number;
  expAvg?: NativeTensor;
  expAvgSq?: NativeTensor;
  maxExpAvgSq?: NativeTensor;
  momentumBuffer?: NativeTensor;
}

/** Options of a known native module type, for printing. */
export interface NativeModuleInfo {
  kind: string;
  originalName?: string;
  inFeatures?: number;
  outFeatures?: number;
  bias?: boolean;
  numEmbeddings?: number;
  embeddingDim?: number;
  paddingIdx?: number;
  normalizedShape?: number[];
  eps?: number;
  elementwiseAffine?: boolean;
  p?: number;
  approximate?: string;
  inChannels?: number;
  outChannels?: number;
  /** Conv: always a tuple; pools: a number when given as one. */
  kernelSize?: number | number[];
  stride?: number | number[];
  /** Conv: a tuple or 'same'/'valid'; pools: a number when given as one. */
  padding?: number | number[] | string;
  dilation?: number | number[];
  groups?: number;
  paddingMode?: string;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number;
  numFeatures?: number;
  /** null: cumulative moving average (PyTorch's momentum=None). */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
  startDim?: number;
  endDim?: number;
  dim?: number;
}

/** Sizes of d2l's BERT (native/d2l.h BERTConfig). */
export interface NativeBERTConfig {
  vocabSize: number;
  numHiddens: number;
  ffnNumHiddens: number;
  numHeads: number;
  numBlks: number;
  dropout: number;
  maxLen: number;
}

type M = NativeModule;
type NamedHandles = [string, NativeTensor][];

/** What a native call accepts as "the other operand". */
export type NativeOperand = NativeTensor | number | boolean | bigint;
/** One index of `index()`: integer, null (new axis), '...', boolean, tensor or slice. */
export type NativeIndex = number | null | '...' | boolean | NativeTensor | { start?: number; stop?: number; step?: number };

type T = NativeTensor;
type Dims = number[];
type Opt<X> = X | undefined;

/** The native entry points (every op table registered under native/: core, nn, optim, trainer, d2l). */
export interface NativeOps {
  // creation
  fromTypedArray(data: ArrayBufferView, shape: Dims, dtype: Opt<string>, device: Opt<string>, requiresGrad: boolean, share: boolean): T;
  toTypedArray(t: T): Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
  item(t: T): number | boolean;
  zeros(shape: Dims, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  ones(shape: Dims, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  empty(shape: Dims, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  full(shape: Dims, value: number | boolean, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  arange(start: number, end: number, step: number, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  linspace(start: number, end: number, steps: number, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  eye(n: number, m: Opt<number>, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  rand(shape: Dims, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  randn(shape: Dims, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  randint(low: number, high: number, shape: Dims, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  randperm(n: number, seed: bigint | null, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  manualSeed(seed: bigint): void;
  zerosLike(t: T, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  onesLike(t: T, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  emptyLike(t: T, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  fullLike(t: T, value: number | boolean, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  randLike(t: T, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  randnLike(t: T, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  randintLike(t: T, low: number, high: number, dtype: Opt<string>, device: Opt<string>, requiresGrad: Opt<boolean>): T;
  // metadata and autograd
  shape(t: T): number[];
  strides(t: T): number[];
  dtype(t: T): string;
  device(t: T): string;
  storageOffset(t: T): number;
  isContiguous(t: T): boolean;
  sameTensor(a: T, b: T): boolean;
  requiresGrad(t: T): boolean;
  setRequiresGrad(t: T, value: boolean): void;
  isLeaf(t: T): boolean;
  gradFn(t: T): string | null;
  grad(t: T): T | undefined;
  gradIs(t: T, cached: T | undefined): boolean;
  clearGrad(t: T): void;
  backward(t: T, grad: Opt<T>, retainGraph: Opt<boolean>, createGraph: Opt<boolean>): void;
  retainGrad(t: T): void;
  // elementwise
  add(a: T, b: NativeOperand, alpha: Opt<number>): T;
  sub(a: T, b: NativeOperand, alpha: Opt<number>): T;
  mul(a: T, b: NativeOperand): T;
  div(a: T, b: NativeOperand, roundingMode: Opt<string>): T;
  pow(a: T, b: NativeOperand): T;
  maximum(a: T, b: NativeOperand): T;
  minimum(a: T, b: NativeOperand): T;
  neg(t: T): T;
  sqrt(t: T): T;
  rsqrt(t: T): T;
  exp(t: T): T;
  log(t: T): T;
  abs(t: T): T;
  sin(t: T): T;
  cos(t: T): T;
  clamp(t: T, min: Opt<number>, max: Opt<number>): T;
  relu(t: T): T;
  tanh(t: T): T;
  sigmoid(t: T): T;
  gelu(t: T, approximate: Opt<string>): T;
  softmax(t: T, dim: number, dtype: Opt<string>): T;
  dropout(t: T, p: number, train: boolean, rng: 'pytorch' | 'philox'): T;
  /** Elements [begin, end) of the Philox dropout noise for seed (high, low 32 bits): the kernel's, or libtorch's engine's (tests). */
  philoxNoise(seedHigh: number, seedLow: number, keep: number, begin: number, end: number, byEngine: boolean, dtype: 'float32' | 'float64'): T;
  logSoftmax(t: T, dim: number, dtype: Opt<string>): T;
  // reductions
  sum(t: T, dims: Opt<Dims>, keepdim: Opt<boolean>, dtype: Opt<string>): T;
  mean(t: T, dims: Opt<Dims>, keepdim: Opt<boolean>, dtype: Opt<string>): T;
  max(t: T, dim: Opt<number>, keepdim: Opt<boolean>): T | [T, T];
  min(t: T, dim: Opt<number>, keepdim: Opt<boolean>): T | [T, T];
  argmax(t: T, dim: Opt<number>, keepdim: Opt<boolean>): T;
  argmin(t: T, dim: Opt<number>, keepdim: Opt<boolean>): T;
  std(t: T, dims: Opt<Dims>, correction: Opt<number>, keepdim: Opt<boolean>): T;
  var(t: T, dims: Opt<Dims>, correction: Opt<number>, keepdim: Opt<boolean>): T;
  norm(t: T, p: number, dims: Opt<Dims>, keepdim: Opt<boolean>, dtype: Opt<string>): T;
  cumsum(t: T, dim: number, dtype: Opt<string>): T;
  any(t: T, dim: Opt<number>, keepdim: Opt<boolean>): T;
  all(t: T, dim: Opt<number>, keepdim: Opt<boolean>): T;
  sort(t: T, dim: number, descending: boolean, stable: boolean): [T, T];
  topk(t: T, k: number, dim: number, largest: boolean, sorted: boolean): [T, T];
  // comparison and logic
  eq(a: T, b: NativeOperand): T;
  ne(a: T, b: NativeOperand): T;
  lt(a: T, b: NativeOperand): T;
  le(a: T, b: NativeOperand): T;
  gt(a: T, b: NativeOperand): T;
  ge(a: T, b: NativeOperand): T;
  logicalAnd(a: T, b: NativeOperand): T;
  logicalOr(a: T, b: NativeOperand): T;
  logicalXor(a: T, b: NativeOperand): T;
  logicalNot(t: T): T;
  where(cond: T, x: NativeOperand, y: NativeOperand): T;
  maskedFill(t: T, mask: T, value: NativeOperand): T;
  // linear algebra
  matmul(a: T, b: T): T;
  bmm(a: T, b: T): T;
  linear(x: T, weight: T, bias: Opt<T>): T;
  // shape
  reshape(t: T, shape: Dims): T;
  view(t: T, shape: Dims): T;
  permute(t: T, dims: Dims): T;
  transpose(t: T, dim0: number, dim1: number): T;
  unsqueeze(t: T, dim: number): T;
  squeeze(t: T, dim: Opt<number>): T;
  flatten(t: T, startDim: Opt<number>, endDim: Opt<number>): T;
  expand(t: T, sizes: Dims): T;
  contiguous(t: T): T;
  asStrided(t: T, size: Dims, stride: Dims, storageOffset: Opt<number>): T;
  viewDtype(t: T, dtype: string): T;
  cat(ts: T[], dim: Opt<number>): T;
  stack(ts: T[], dim: Opt<number>): T;
  split(t: T, sizeOrSizes: number | Dims, dim: Opt<number>): T[];
  chunk(t: T, chunks: number, dim: Opt<number>): T[];
  narrow(t: T, dim: number, start: number, length: number): T;
  select(t: T, dim: number, index: number): T;
  index(t: T, indices: NativeIndex[]): T;
  indexPut_(t: T, indices: NativeIndex[], value: NativeOperand): void;
  indexSelect(t: T, dim: number, index: T): T;
  gather(t: T, dim: number, index: T): T;
  repeatInterleave(t: T, repeats: number | T, dim: Opt<number>): T;
  // conversion
  to(t: T, device: Opt<string>, dtype: Opt<string>, nonBlocking: Opt<boolean>, copy: Opt<boolean>): T;
  clone(t: T): T;
  detach(t: T): T;
  // in place
  add_(t: T, b: NativeOperand, alpha: Opt<number>): void;
  sub_(t: T, b: NativeOperand, alpha: Opt<number>): void;
  mul_(t: T, b: NativeOperand): void;
  div_(t: T, b: NativeOperand): void;
  zero_(t: T): void;
  fill_(t: T, value: number | boolean): void;
  copy_(t: T, src: T): void;
  clamp_(t: T, min: Opt<number>, max: Opt<number>): void;
  maskedFill_(t: T, mask: T, value: NativeOperand): void;
  // modules
  moduleLinear(inFeatures: number, outFeatures: number, bias: boolean, dtype: Opt<string>): M;
  moduleLazyLinear(outFeatures: number, bias: boolean, dtype: Opt<string>): M;
  moduleEmbedding(numEmbeddings: number, embeddingDim: number, paddingIdx: Opt<number>, dtype: Opt<string>): M;
  moduleLayerNorm(normalizedShape: Dims, eps: number, elementwiseAffine: boolean, dtype: Opt<string>): M;
  moduleDropout(p: number): M;
  moduleReLU(): M;
  moduleTanh(): M;
  moduleGELU(approximate: string): M;
  moduleSequential(children: M[]): M;
  moduleConv1d(inChannels: number, outChannels: number, kernelSize: Dims, stride: Dims, padding: Dims | 'same' | 'valid', dilation: Dims,
    groups: number, bias: boolean, paddingMode: string, dtype: Opt<string>): M;
  moduleConv2d(inChannels: number, outChannels: number, kernelSize: Dims, stride: Dims, padding: Dims | 'same' | 'valid', dilation: Dims,
    groups: number, bias: boolean, paddingMode: string, dtype: Opt<string>): M;
  moduleMaxPool2d(kernelSize: number | Dims, stride: Opt<number | Dims>, padding: number | Dims, dilation: number | Dims, ceilMode: boolean): M;
  moduleAvgPool2d(kernelSize: number | Dims, stride: Opt<number | Dims>, padding: number | Dims, ceilMode: boolean, countIncludePad: boolean,
    divisorOverride: Opt<number>): M;
  moduleBatchNorm1d(numFeatures: number, eps: number, momentum: number | null, affine: boolean, trackRunningStats: boolean, dtype: Opt<string>): M;
  moduleBatchNorm2d(numFeatures: number, eps: number, momentum: number | null, affine: boolean, trackRunningStats: boolean, dtype: Opt<string>): M;
  moduleFlatten(startDim: number, endDim: number): M;
  moduleIdentity(): M;
  moduleSigmoid(): M;
  moduleSoftmax(dim: number): M;
  moduleContainer(): M;
  moduleInfo(m: M): NativeModuleInfo;
  moduleForward(m: M, inputs: (T | null)[]): T | (T | null)[];
  jitTrace(m: M, inputs: T[], forward: (inputs: T[]) => T | T[], className: string, bothModes: boolean): M;
  jitLoad(bytes: Uint8Array, device?: string): M;
  jitSave(m: M): Uint8Array;
  jitForward(m: M, inputs: (T | null)[]): T | (T | null)[];
  jitInfo(m: M): { methods: string[]; graph?: string; signature?: string };
  jitMaxFileFormatVersion(): number;
  moduleNamedParameters(m: M, recurse: boolean): NamedHandles;
  moduleNamedBuffers(m: M, recurse: boolean): NamedHandles;
  moduleStateDict(m: M): NamedHandles;
  moduleNamedChildren(m: M): [string, M][];
  moduleRegisterParameter(m: M, name: string, t: T, requiresGrad: boolean): T;
  moduleRegisterModule(m: M, name: string, child: M): void;
  moduleTrain(m: M, mode: boolean): void;
  moduleIsTraining(m: M): boolean;
  moduleTo(m: M, device: Opt<string>, dtype: Opt<string>): void;
  moduleZeroGrad(m: M, setToNone: boolean): void;
  moduleClone(m: M, device: Opt<string>): M;
  moduleDispose(m: M): void;
  moduleDotProductAttention(dropout: number): M;
  moduleMultiHeadAttention(numHiddens: number, numHeads: number, dropout: number, bias: boolean, querySize: number): M;
  modulePositionWiseFFN(inputs: number, ffnNumHiddens: number, ffnNumOutputs: number): M;
  moduleAddNorm(normShape: number, dropout: number): M;
  moduleTransformerEncoderBlock(numHiddens: number, ffnNumHiddens: number, numHeads: number, dropout: number, useBias: boolean): M;
  moduleBERTEncoder(config: NativeBERTConfig): M;
  moduleMaskLM(vocabSize: number, numHiddens: number): M;
  moduleNextSentencePred(numInputs: number): M;
  moduleBERTModel(config: NativeBERTConfig): M;
  moduleBERTClassifier(bert: M): M;
  attentionKernel(kernel: Opt<'explicit' | 'fused'>): 'explicit' | 'fused';
  fusedAttentionAvailable(): boolean;
  // optimizers and losses
  optimizerCreate(kind: 'adam' | 'adamw' | 'sgd', groups: ({ params: T[] } & Partial<NativeGroupOptions>)[], options?: { fused?: boolean }): NativeOptimizer;
  optimizerStep(o: NativeOptimizer): void;
  optimizerZeroGrad(o: NativeOptimizer, setToNone: boolean): void;
  optimizerGroupCount(o: NativeOptimizer): number;
  optimizerGetLr(o: NativeOptimizer, group: number): number;
  optimizerSetLr(o: NativeOptimizer, group: number, lr: number): void;
  optimizerGroupOptions(o: NativeOptimizer, group: number): NativeGroupOptions;
  optimizerState(o: NativeOptimizer): (NativeParamState | null)[];
  optimizerSetState(o: NativeOptimizer, index: number, state: NativeParamState): void;
  optimizerDispose(o: NativeOptimizer): void;
  trainerCreate(module: M, optimizer: NativeOptimizer, devices: string[], options: { loss: TrainerLossSpec & { accuracy?: boolean }; dropoutRng?: 'philox' | 'pytorch'; attention?: 'explicit' | 'fused'; kernels?: 'fused' | 'reference'; precision?: 'float32' | 'bf16';
    lengthGroups?: { groups: number; lengthsInput: number; trimmedInputs: number[] };
    processGroup?: NativeProcessGroup; gradientReduction?: 'sum' | 'mean'; bucketCapMB?: number }): NativeTrainer;
  trainerStart(trainer: NativeTrainer): Promise<void>;
  trainerStep(trainer: NativeTrainer, inputs: T[], labels: T): Promise<TrainerStepSums>;
  trainerEvaluate(trainer: NativeTrainer, inputs: T[], labels: T): Promise<TrainerStepSums>;
  trainerProfileStart(trainer: NativeTrainer): void;
  trainerProfileStop(trainer: NativeTrainer): string;
  trainerDispose(trainer: NativeTrainer): void;
  processGroupJoin(options: NativeJoinOptions): Promise<NativeProcessGroup>;
  processGroupInfo(group: NativeProcessGroup): { rank: number; worldSize: number; backend: 'gloo' | 'nccl'; timeoutMs: number };
  ncclVersion(): string | null;
  processGroupAllReduce(group: NativeProcessGroup, tensor: T, op: 'sum' | 'product' | 'min' | 'max'): Promise<T>;
  processGroupBroadcast(group: NativeProcessGroup, tensor: T, src: number): Promise<T>;
  processGroupBarrier(group: NativeProcessGroup): Promise<void>;
  processGroupDispose(group: NativeProcessGroup): void;
  clipGradNorm_(parameters: T[], maxNorm: number, normType: number, errorIfNonfinite: boolean): T;
  clipGradValue_(parameters: T[], clipValue: number): void;
  crossEntropy(logits: T, target: T, weight: Opt<T>, reduction: string, ignoreIndex: number, labelSmoothing: number): T;
  nllLoss(input: T, target: T, weight: Opt<T>, reduction: string, ignoreIndex: number): T;
  mseLoss(input: T, target: T, reduction: string): T;
  l1Loss(input: T, target: T, reduction: string): T;
  smoothL1Loss(input: T, target: T, reduction: string, beta: number): T;
  huberLoss(input: T, target: T, reduction: string, delta: number): T;
  binaryCrossEntropy(input: T, target: T, weight: Opt<T>, reduction: string): T;
  binaryCrossEntropyWithLogits(input: T, target: T, weight: Opt<T>, posWeight: Opt<T>, reduction: string): T;
  broadcastPair(a: T, b: T): [T, T];
  // runtime
  version(): { libtorch: string; cuda: string | null; cudnn: string | null; cpuKernels: 'avx512' | 'avx2' | 'default'; cxx11Abi: boolean; config: string };
  memory(): { liveTensors: number; bytes: number; cpuBytes: number; moduleBytes: number };
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  getNumThreads(): number;
  setNumThreads(n: number): void;
  maxNumThreads(): number;
  isGradEnabled(): boolean;
  setGradEnabled(enabled: boolean): boolean;
}

export interface NativeAddon {
  NativeTensor: new () => NativeTensor;
  NativeModule: new () => NativeModule;
  ops: NativeOps;
}

/** Which libtorch a binary was built against (written by scripts/find-libtorch.js at build time). */
export interface BuildInfo {
  libtorch: string;
  cuda: boolean;
  /** Whether c10d's NCCL backend was compiled in (absent in binaries built before it existed). */
  nccl?: boolean;
  /** The C++ ABI it was compiled with (_GLIBCXX_USE_CXX11_ABI), libtorch's own. */
  abi: 0 | 1;
  source: string;
  libDir: string;
  /** The Python interpreter whose torch package held that libtorch, when it came from one. */
  python?: string;
}

const root = path.resolve(__dirname, '..');

function readBuildInfo(dir: string): BuildInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'libtorch.json'), 'utf8')) as BuildInfo;
  } catch {
    return undefined;
  }
}

function loadFailure(cause: unknown, info: BuildInfo | undefined): Error {
  const message = cause instanceof Error ? cause.message : String(cause);
  const expects = info
    ? `This binary was built against libtorch ${info.libtorch} (${info.cuda ? 'CUDA' : 'CPU'}) found in ${info.libDir}.`
    : 'No binary records which libtorch it was built against.';
  let fix: string;
  if (/lib(torch|c10)[\w.]*\.so/.test(message)) {
    fix = 'The libtorch shared libraries are missing: install them (Debian/Ubuntu: apt-get install -y libtorch-dev), ' +
      'or add the lib/ directory of your libtorch to LD_LIBRARY_PATH, or rebuild from source against the libtorch you ' +
      'have (npm run build:native; LIBTORCH=/path/to/libtorch selects one).';
  } else if (/No native build was found|Cannot find module/.test(message)) {
    fix = 'No compiled addon: build it with `npm run build:native` (needs libtorch: apt-get install -y libtorch-dev, ' +
      'or LIBTORCH=/path/to/libtorch).';
  } else {
    fix = 'Rebuild from source against the libtorch on this machine: npm run build:native.';
  }
  const error = new Error(`torchbridge: cannot load the native addon: ${message}\n${expects}\n${fix}`);
  (error as Error & { cause?: unknown }).cause = cause;
  return error;
}

function load(): { addon: NativeAddon; buildInfo: BuildInfo | undefined; file: string } {
  const explicit = process.env.TORCHBRIDGE_ADDON;
  if (explicit) {
    const file = path.resolve(explicit);
    const info = readBuildInfo(path.dirname(path.dirname(file))) ?? readBuildInfo(path.dirname(file));
    try {
      return { addon: require(file) as NativeAddon, buildInfo: info, file };
    } catch (err) {
      throw loadFailure(err, info);
    }
  }
  // A source build of this checkout (node-gyp's build/Release), unless PREBUILDS_ONLY asks for a prebuilt.
  if (!process.env.PREBUILDS_ONLY) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    let file: string | undefined;
    try {
      file = nodeGypBuild.resolve(root);
    } catch {
      file = undefined;  // none: a prebuilt then
    }
    if (file !== undefined && !file.includes(`${path.sep}prebuilds${path.sep}`)) {
      const info = readBuildInfo(path.join(root, 'build'));
      try {
        return { addon: require(file) as NativeAddon, buildInfo: info, file };
      } catch (err) {
        throw loadFailure(err, info);
      }
    }
  }
  // The prebuilt binary made for the libtorch on this machine, bound to it (never to another).
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const runtime = require('../scripts/libtorch-runtime.js') as LibtorchRuntime;
  const choice = runtime.choosePrebuilt(root);
  if (!choice.variant || !choice.present) throw new Error(`torchbridge: cannot load the native addon: ${choice.reason}`);
  const { file, info } = choice.variant;
  try {
    if (path.resolve(info.libDir) !== path.resolve(choice.present.libDir)) runtime.preload(choice.present);
    return { addon: require(file) as NativeAddon, buildInfo: info, file };
  } catch (err) {
    throw loadFailure(err, info);
  }
}

/** scripts/libtorch-runtime.js, as the loader uses it. */
interface LibtorchRuntime {
  choosePrebuilt(root: string): {
    variant: { file: string; info: BuildInfo } | null;
    present: { libDir: string; version: string | null; cuda: boolean; abi: number | null } | null;
    reason?: string;
  };
  preload(present: { libDir: string; cuda: boolean }): void;
}

const loaded = load();

/** The native op table. */
export const ops: NativeOps = loaded.addon.ops;
/** The class of native handles (for `instanceof` checks). */
export const NativeTensorClass = loaded.addon.NativeTensor;
/** Which libtorch the loaded binary was built against, and where the binary is. */
export const build = { file: loaded.file, info: loaded.buildInfo };
