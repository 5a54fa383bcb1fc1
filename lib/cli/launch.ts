/**
 * `torchbridge-launch`: starts the processes of a distributed job on this machine with the
 * environment torchrun gives its workers (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK,
 * LOCAL_RANK, LOCAL_WORLD_SIZE; see lib/distributed/env.ts), for users without Python. As
 * `torchrun --no-python`, the command runs as given. When one process fails (a non-zero exit or
 * a signal), the others are stopped (SIGTERM, then SIGKILL after a grace period) and the
 * launcher exits with the failed process's status; a SIGINT or SIGTERM to the launcher is passed
 * on to every process.
 */
import { ChildProcess, spawn } from 'child_process';

import { FlagSpecs, UsageError, integerFlag, parseFlags } from './flags';

/** The launcher's own options (those before the command). */
export const LAUNCH_FLAGS = {
  'nproc-per-node': { type: 'string', value: 'N', help: 'processes to start on this machine (default 1)' },
  nnodes: { type: 'string', value: 'N', help: 'machines in the job (default 1); start the launcher once on each' },
  'node-rank': { type: 'string', value: 'K', help: 'this machine\'s index, 0 to nnodes - 1 (default 0); node 0 hosts rank 0' },
  'master-addr': { type: 'string', value: 'HOST', help: 'the host of node 0, where the store listens (default 127.0.0.1)' },
  'master-port': { type: 'string', value: 'PORT', help: 'the store\'s TCP port on that host (default 29500): open it in the firewall of node 0' },
  'grace-period': { type: 'string', value: 'S', help: 'seconds between SIGTERM and SIGKILL when the others are stopped (default 10)' },
  help: { type: 'boolean', help: 'print this help' },
} as const satisfies FlagSpecs;

/** What `torchbridge-launch --help` prints. */
export const LAUNCH_HELP = [
  'usage: torchbridge-launch [options] [--] COMMAND [ARGS...]',
  '',
  'Starts --nproc-per-node copies of COMMAND with the environment of torchrun\'s workers:',
  'MASTER_ADDR, MASTER_PORT, WORLD_SIZE (nnodes x nproc-per-node), RANK (node-rank x nproc-per-node',
  '+ LOCAL_RANK), LOCAL_RANK and LOCAL_WORLD_SIZE. e.g.',
  '  torchbridge-launch --nproc-per-node 2 -- node lib/train.js --devices cpu',
  '',
  'options:',
  ...Object.entries(LAUNCH_FLAGS).map(([name, spec]) => `  --${name}${'value' in spec ? ` ${spec.value}` : ''}`.padEnd(28) + spec.help),
].join('\n');

/** What to start: the processes of this machine, where rank 0's store is, and the command. */
export interface LaunchPlan {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  gracePeriodMs: number;
  command: string;
  args: string[];
}

/** The launch the command line asks for, or null for --help. @throws UsageError */
export function parseLaunchArgs(argv: readonly string[]): LaunchPlan | null {
  // the launcher's own options come first; the command starts at `--` or at the first word that is not an option
  const split = argv.indexOf('--');
  let own: readonly string[];
  let rest: readonly string[];
  if (split >= 0) {
    own = argv.slice(0, split);
    rest = argv.slice(split + 1);
  } else {
    let k = 0;
    while (k < argv.length && argv[k].startsWith('--')) k += argv[k].includes('=') || LAUNCH_FLAGS[argv[k].slice(2) as keyof typeof LAUNCH_FLAGS]?.type !== 'string' ? 1 : 2;
    own = argv.slice(0, k);
    rest = argv.slice(k);
  }
  const { flags } = parseFlags(own, LAUNCH_FLAGS);
  if (flags.help) return null;
  if (rest.length === 0) throw new UsageError('no command to launch: give it after the options, e.g. torchbridge-launch --nproc-per-node 2 -- node lib/train.js');
  const nnodes = integerFlag('nnodes', flags.nnodes, 1);
  const nodeRank = integerFlag('node-rank', flags['node-rank'], 0, 0);
  if (nodeRank >= nnodes) throw new UsageError(`--node-rank ${nodeRank} is not below --nnodes ${nnodes} (nodes are 0 to ${nnodes - 1})`);
  const masterAddr = flags['master-addr'] ?? '127.0.0.1';
  if (masterAddr.trim() === '' || /\s/.test(masterAddr)) throw new UsageError(`--master-addr must be a host name or address, got ${JSON.stringify(masterAddr)}`);
  return {
    nprocPerNode: integerFlag('nproc-per-node', flags['nproc-per-node'], 1, 1, 1024),
    nnodes,
    nodeRank,
    masterAddr,
    masterPort: integerFlag('master-port', flags['master-port'], 29500, 1, 65535),
    gracePeriodMs: integerFlag('grace-period', flags['grace-period'], 10, 0, 3600) * 1000,
    command: rest[0],
    args: rest.slice(1),
  };
}

/** The environment of local process `localRank`. */
export function workerEnv(plan: LaunchPlan, localRank: number, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...base,
    MASTER_ADDR: plan.masterAddr,
    MASTER_PORT: String(plan.masterPort),
    WORLD_SIZE: String(plan.nnodes * plan.nprocPerNode),
    RANK: String(plan.nodeRank * plan.nprocPerNode + localRank),
    LOCAL_RANK: String(localRank),
    LOCAL_WORLD_SIZE: String(plan.nprocPerNode),
  };
}

/**
 * Runs the plan's processes until all exit; resolves with the launcher's exit status: 0 when
 * every process exited 0, else the first failure's code (128 + signal number for a signal).
 */
export function launch(plan: LaunchPlan, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<number> {
  return new Promise((resolve) => {
    const children: ChildProcess[] = [];
    let running = 0;
    let status: number | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const stopOthers = (signal: NodeJS.Signals) => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      if (killTimer === undefined && plan.gracePeriodMs >= 0) {
        killTimer = setTimeout(() => {
          for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        }, plan.gracePeriodMs);
        killTimer.unref();
      }
    };
    const forward = (signal: NodeJS.Signals) => () => {
      log(`torchbridge-launch: ${signal}: stopping ${running} process(es)`);
      status ??= 128 + (signal === 'SIGINT' ? 2 : 15);
      stopOthers(signal);
    };
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const finish = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      clearTimeout(killTimer);
      resolve(status ?? 0);
    };
    for (let local = 0; local < plan.nprocPerNode; ++local) {
      const env = workerEnv(plan, local);
      const child = spawn(plan.command, plan.args, { env, stdio: 'inherit' });
      children.push(child);
      ++running;
      let ended = false;
      // each process ends once: by its exit, or by an error starting it (after which Node may
      // not report an exit)
      const end = (failure: number | undefined, why: string) => {
        if (ended) return;
        ended = true;
        --running;
        if (failure !== undefined && status === undefined) {
          status = failure;
          log(`torchbridge-launch: rank ${env.RANK} ${why}; stopping the other ${running} process(es)`);
          stopOthers('SIGTERM');
        }
        if (running === 0) finish();
      };
      child.on('error', (err) => {
        if (child.pid === undefined) end(127, `cannot start ${JSON.stringify(plan.command)}: ${err.message}`);
      });
      child.on('exit', (code, signal) => {
        if (code === 0) end(undefined, '');
        else if (code !== null) end(code, `(pid ${child.pid}) exited with status ${code}`);
        else end(128 + signalNumber(signal!), `(pid ${child.pid}) was killed by ${signal}`);
      });
    }
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };
  return numbers[signal] ?? 0;
}
