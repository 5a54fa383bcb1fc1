/**
 * A c10d process group: PyTorch's `torch.distributed.init_process_group('gloo')` from Node, on
 * libtorch's own TCPStore and ProcessGroupGloo, keyed exactly as Python keys them, so Node
 * ranks and Python ranks (torchrun, `DistributedDataParallel`) can share one group; with
 * backend 'nccl', Python's `init_process_group('cpu:gloo,cuda:nccl')` (ProcessGroupNCCL for CUDA
 * tensors, Gloo for CPU ones).
 */
import { NativeProcessGroup, ops } from '../native';
import { Tensor } from '../core/tensor';
import { describe } from '../core/describe';
import { DistributedEnv, DistributedEnvError, distributedEnv } from './env';

/** The default time a rank waits for the others (rendezvous, and any collective): 5 minutes. */
export const DEFAULT_TIMEOUT_MS = 5 * 60 * 1000;

/** Options of `initProcessGroup`. */
export interface InitProcessGroupOptions {
  /**
   * Where to read the launch contract (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK,
   * LOCAL_WORLD_SIZE; see distributed/env.ts), and torchrun's TORCHELASTIC_USE_AGENT_STORE and
   * TORCHELASTIC_RESTART_COUNT, and Gloo's GLOO_SOCKET_IFNAME. Default `process.env`.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * How long a rank waits for the others, in milliseconds: at the rendezvous, and in every
   * collective (a rank that died or never came ends the others' wait with an Error after at
   * most this long). Default `DEFAULT_TIMEOUT_MS` (5 minutes; Python's default is 30).
   */
  timeoutMs?: number;
  /**
   * 'gloo' (default): CPU tensors. 'nccl': CUDA tensors through c10d's ProcessGroupNCCL, one GPU
   * per rank (NCCL refuses two ranks on one device), and CPU tensors still through Gloo, as
   * Python's `init_process_group('cpu:gloo,cuda:nccl')` (a Python rank of the same job must use
   * that backend string). 'nccl' needs a binary with NCCL (`version().nccl` not null: a CUDA
   * libtorch 2.x built with CUDA's and NCCL's headers) and a CUDA GPU; otherwise it throws a
   * DistributedEnvError naming what is missing.
   */
  backend?: 'gloo' | 'nccl';
}

/** Reductions of `ProcessGroup.allReduce` (c10d's ReduceOp). */
export type ReduceOp = 'sum' | 'product' | 'min' | 'max';

/**
 * One process's membership of a distributed job. Every rank must issue the same collectives,
 * in the same order: this object runs its own one at a time, in call order, and refuses one
 * while a Trainer step on the group is running.
 */
export class ProcessGroup {
  /** This process's rank, 0 to worldSize - 1. */
  readonly rank: number;
  /** The number of processes in the group. */
  readonly worldSize: number;
  /** The ranks' rank on their machine and the number of ranks there (LOCAL_RANK, LOCAL_WORLD_SIZE). */
  readonly localRank: number;
  readonly localWorldSize: number;
  /** 'gloo', or 'nccl' (CUDA tensors through NCCL, CPU ones through Gloo). */
  readonly backend: 'gloo' | 'nccl';
  /** How long a rank waits for the others (milliseconds). */
  readonly timeoutMs: number;
  private _handle: NativeProcessGroup | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(handle: NativeProcessGroup, env: DistributedEnv) {
    const info = ops.processGroupInfo(handle);
    this._handle = handle;
    this.rank = info.rank;
    this.worldSize = info.worldSize;
    this.localRank = env.localRank;
    this.localWorldSize = env.localWorldSize;
    this.backend = info.backend;
    this.timeoutMs = info.timeoutMs;
  }

  /**
   * Joins the group that `env` describes: rank 0 serves the TCP store on MASTER_ADDR:MASTER_PORT
   * (libtorch 2.x listens on that address only, 1.13 on every interface of its machine; the one
   * port a firewall must open to the other machines: Gloo's own connections then use ports the
   * system picks), the others connect to it, and
   * every rank connects to every other. Resolves once all have; rejects with an Error that names
   * the rank, the address and the fix when they do not within the timeout.
   * @internal use initProcessGroup
   */
  static async join(
    env: DistributedEnv,
    options: { timeoutMs: number; vars: Readonly<Record<string, string | undefined>>; backend?: 'gloo' | 'nccl' },
  ): Promise<ProcessGroup> {
    const vars = options.vars;
    const interfaces = (vars.GLOO_SOCKET_IFNAME ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
    const handle = await ops.processGroupJoin({
      masterAddr: env.masterAddr,
      masterPort: env.masterPort,
      rank: env.rank,
      worldSize: env.worldSize,
      timeoutMs: options.timeoutMs,
      agentStore: vars.TORCHELASTIC_USE_AGENT_STORE === 'True',
      restartCount: vars.TORCHELASTIC_RESTART_COUNT ?? '0',
      interfaces,
      backend: options.backend ?? 'gloo',
    });
    return new ProcessGroup(handle, env);
  }

  /** @internal the native handle, for the Trainer. */
  get handle(): NativeProcessGroup {
    if (this._handle === undefined) throw new Error('ProcessGroup was disposed; join a new one with initProcessGroup()');
    return this._handle;
  }

  get isDisposed(): boolean {
    return this._handle === undefined;
  }

  /**
   * The elementwise reduction of `tensor` over every rank (each passes a tensor of the same shape
   * and dtype), as a new CPU tensor; `tensor` itself is not written. Rejects when a rank fails
   * or the timeout passes.
   */
  allReduce(tensor: Tensor, op: ReduceOp = 'sum'): Promise<Tensor> {
    return this.collective('allReduce', tensor, () => ops.processGroupAllReduce(this.handle, tensor.handle, checkOp(op)).then((h) => new Tensor(h)));
  }

  /** Rank `src`'s `tensor`, on every rank (each passes a tensor of the same shape and dtype), as a new CPU tensor. */
  broadcast(tensor: Tensor, src = 0): Promise<Tensor> {
    if (!Number.isInteger(src) || src < 0 || src >= this.worldSize) {
      return Promise.reject(new RangeError(`ProcessGroup.broadcast: src must be a rank from 0 to ${this.worldSize - 1}, got ${describe(src)}`));
    }
    return this.collective('broadcast', tensor, () => ops.processGroupBroadcast(this.handle, tensor.handle, src).then((h) => new Tensor(h)));
  }

  /** Resolves once every rank has called it. */
  barrier(): Promise<void> {
    return this.collective('barrier', undefined, () => ops.processGroupBarrier(this.handle));
  }

  /**
   * Leaves the group: closes its connections (and, on rank 0, the store). Throws while a
   * collective runs or a Trainer uses the group (dispose the Trainer first). Idempotent.
   */
  dispose(): void {
    if (this._handle === undefined) return;
    ops.processGroupDispose(this._handle);
    this._handle = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private collective<R>(what: string, tensor: Tensor | undefined, run: () => Promise<R>): Promise<R> {
    if (tensor !== undefined && !(tensor instanceof Tensor)) {
      return Promise.reject(new TypeError(`ProcessGroup.${what}: expected a Tensor, got ${describe(tensor)}`));
    }
    if (tensor !== undefined && tensor.device !== 'cpu' && !(this.backend === 'nccl' && tensor.device.startsWith('cuda'))) {
      const which = this.backend === 'nccl' ? 'the NCCL group reduces CUDA and CPU tensors' : 'the Gloo group reduces CPU tensors';
      return Promise.reject(new TypeError(`ProcessGroup.${what}: ${which}, got one on ${tensor.device}; pass tensor.to('cpu')`));
    }
    // Own handle to the tensor while the collective waits its turn
    const held = tensor?.detach();
    const start = async (): Promise<R> => {
      try {
        return await run();
      } finally {
        held?.dispose();
      }
    };
    const result = this.tail.then(start);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

function checkOp(op: ReduceOp): ReduceOp {
  if (!['sum', 'product', 'min', 'max'].includes(op)) throw new TypeError(`ProcessGroup.allReduce: op must be 'sum', 'product', 'min' or 'max', got ${describe(op)}`);
  return op;
}

/**
 * `torch.distributed.init_process_group('gloo', init_method='env://')`: joins the job that the
 * environment describes (torchrun, Slurm and Kubernetes' PyTorchJob set it, and so does
 * `torchbridge-launch`), or resolves undefined when the environment names no job (a single
 * process). Python ranks of the same job may join the same group.
 * @throws DistributedEnvError (synchronously rejected) for a malformed or contradictory environment
 */
export async function initProcessGroup(options: InitProcessGroupOptions = {}): Promise<ProcessGroup | undefined> {
  const vars = options.env ?? process.env;
  const env = distributedEnv(vars);
  if (env === undefined) return undefined;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 1) throw new RangeError(`initProcessGroup: timeoutMs must be a positive number of milliseconds, got ${describe(timeoutMs)}`);
  const backend = options.backend ?? 'gloo';
  if (backend !== 'gloo' && backend !== 'nccl') throw new DistributedEnvError(`initProcessGroup: backend must be 'gloo' or 'nccl', got ${describe(options.backend)}`);
  if (backend === 'nccl') {
    if (ops.ncclVersion() === null) {
      throw new DistributedEnvError(
        "initProcessGroup: backend 'nccl' needs a torchbridge binary built with NCCL (a CUDA libtorch 2.x, and CUDA's and NCCL's headers at build time: " +
          "`node scripts/find-libtorch.js` says which are missing), and this one has none; use backend 'gloo'",
      );
    }
    if (ops.cudaDeviceCount() === 0) throw new DistributedEnvError("initProcessGroup: backend 'nccl' reduces CUDA tensors, and this machine has no CUDA GPU that libtorch can use; use backend 'gloo'");
  }
  return ProcessGroup.join(env, { timeoutMs: Math.round(timeoutMs), vars, backend });
}
