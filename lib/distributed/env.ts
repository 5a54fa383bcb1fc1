/**
 * The environment contract of PyTorch's launchers (torchrun, Slurm scripts, Kubernetes'
 * PyTorchJob) and of `torchbridge-launch`: where the rendezvous store listens and who this
 * process is.
 *
 * | variable | meaning |
 * | --- | --- |
 * | MASTER_ADDR | host of rank 0, where the TCP store listens (its address or name) |
 * | MASTER_PORT | the store's TCP port on MASTER_ADDR: the port a firewall must open to the other machines |
 * | WORLD_SIZE | the number of processes in the job |
 * | RANK | this process's rank, 0 to WORLD_SIZE - 1 |
 * | LOCAL_RANK | its rank on this machine, 0 to LOCAL_WORLD_SIZE - 1 (picks its GPU) |
 * | LOCAL_WORLD_SIZE | the number of processes on this machine |
 */

/** Who this process is in a distributed job, read from the environment. */
export interface DistributedEnv {
  masterAddr: string;
  masterPort: number;
  worldSize: number;
  rank: number;
  localRank: number;
  localWorldSize: number;
}

/** A missing, malformed or contradictory variable of the launch environment (the CLIs exit with 2). */
export class DistributedEnvError extends Error {
  override readonly name = 'DistributedEnvError';
}

const VARIABLES = ['MASTER_ADDR', 'MASTER_PORT', 'WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE'] as const;

/**
 * The job this process belongs to, or undefined when none of the variables is set (a single
 * process). MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK are required once any variable is set;
 * LOCAL_RANK and LOCAL_WORLD_SIZE go together and default to 0 and 1 (one process per machine
 * or pod, as Kubernetes' PyTorchJob runs them).
 * @throws DistributedEnvError naming the variable, its value and the rule it breaks
 */
export function distributedEnv(env: Readonly<Record<string, string | undefined>> = process.env): DistributedEnv | undefined {
  const given = VARIABLES.filter((name) => env[name] !== undefined);
  if (given.length === 0) return undefined;
  const missing = ['MASTER_ADDR', 'MASTER_PORT', 'WORLD_SIZE', 'RANK'].filter((name) => env[name] === undefined);
  if (missing.length > 0) {
    throw new DistributedEnvError(`the launch environment sets ${given.join(', ')} but not ${missing.join(', ')}; a distributed job needs ` +
      'MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK (torchrun and torchbridge-launch set them all), a single process none of them');
  }
  const integer = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const text = env[name]!;
    const n = Number(text);
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new DistributedEnvError(`${name}=${JSON.stringify(text)} is not an integer ${max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : `of at least ${min}`}`);
    }
    return n;
  };
  const masterAddr = env.MASTER_ADDR!;
  if (masterAddr.trim() === '' || /\s/.test(masterAddr)) throw new DistributedEnvError(`MASTER_ADDR=${JSON.stringify(masterAddr)} is not a host name or address`);
  const masterPort = integer('MASTER_PORT', 1, 65535);
  const worldSize = integer('WORLD_SIZE', 1);
  const rank = integer('RANK', 0);
  if (rank >= worldSize) throw new DistributedEnvError(`RANK=${rank} is not below WORLD_SIZE=${worldSize} (ranks are 0 to ${worldSize - 1})`);
  if ((env.LOCAL_RANK === undefined) !== (env.LOCAL_WORLD_SIZE === undefined)) {
    const [set, unset] = env.LOCAL_RANK === undefined ? ['LOCAL_WORLD_SIZE', 'LOCAL_RANK'] : ['LOCAL_RANK', 'LOCAL_WORLD_SIZE'];
    throw new DistributedEnvError(`${set} is set but ${unset} is not; give both, or neither (one process per machine)`);
  }
  const localWorldSize = env.LOCAL_WORLD_SIZE === undefined ? 1 : integer('LOCAL_WORLD_SIZE', 1);
  const localRank = env.LOCAL_RANK === undefined ? 0 : integer('LOCAL_RANK', 0);
  if (localRank >= localWorldSize) {
    throw new DistributedEnvError(`LOCAL_RANK=${localRank} is not below LOCAL_WORLD_SIZE=${localWorldSize} (local ranks are 0 to ${localWorldSize - 1})`);
  }
  if (localWorldSize > worldSize) throw new DistributedEnvError(`LOCAL_WORLD_SIZE=${localWorldSize} is above WORLD_SIZE=${worldSize}: a machine cannot hold more processes than the job`);
  return { masterAddr, masterPort, worldSize, rank, localRank, localWorldSize };
}
