/**
 * `--devices`: 'all' (d2l's try_all_gpus: every GPU, else the CPU), or a comma-separated list
 * of 'cpu', 'cuda' and 'cuda:N', checked against the GPUs libtorch sees.
 */
import { cuda, devices as allDevices, version } from '../core/runtime';
import { Device } from '../core/types';
import { UsageError } from './flags';

const DEVICE = /^(cpu|cuda)(?::(\d+))?$/;

/** The devices `spec` names, in order; one replica each ('cpu' may repeat). */
export function parseDevices(spec: string): Device[] {
  if (spec.trim() === 'all') return allDevices();
  const names = spec.split(',').map((s) => s.trim());
  const gpus = cuda.deviceCount();
  return names.map((name): Device => {
    const m = DEVICE.exec(name);
    if (m === null || (m[1] === 'cpu' && m[2] !== undefined)) {
      throw new UsageError(`--devices: ${JSON.stringify(name)} is not a device; use all, cpu, cpu,cpu, cuda:0 or cuda:0,cuda:1`);
    }
    if (m[1] === 'cpu') return 'cpu';
    const index = m[2] === undefined ? 0 : Number(m[2]);
    if (gpus === 0) {
      const v = version();
      const why = v.cuda === null ? `this libtorch (${v.libtorch}) is built without CUDA` : 'no GPU is visible';
      throw new UsageError(`--devices: ${name} requested, but ${why}; use --devices cpu (or all), or build against a CUDA libtorch (see README)`);
    }
    if (index >= gpus) throw new UsageError(`--devices: ${name} requested, but only ${gpus} GPU(s) are visible (cuda:0..cuda:${gpus - 1})`);
    return `cuda:${index}`;
  });
}
