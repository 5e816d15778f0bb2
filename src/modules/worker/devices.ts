import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * The device slots a worker offers: one concurrent job per slot. A count or list comes from POPO_WORKER_DEVICES;
 * otherwise GPUs are counted with `nvidia-smi -L` and a host without one gets a single CPU slot.
 */
export async function resolveDevices(setting: string | undefined, detectGpus = countGpus): Promise<string[]> {
  const value = setting?.trim();
  if (value) {
    if (/^\d+$/.test(value)) {
      const n = Number(value);
      if (n < 1) throw new Error(`POPO_WORKER_DEVICES must be at least 1, got "${setting}"`);
      const kind = (await detectGpus()) > 0 ? 'cuda' : 'cpu';
      return Array.from({ length: n }, (_, i) => `${kind}:${i}`);
    }
    const list = value.split(',').map((d) => d.trim());
    const bad = list.find((d) => !/^(cpu|cuda|gpu)(:\d+)?$/.test(d));
    if (bad !== undefined) {
      throw new Error(`POPO_WORKER_DEVICES has an unknown device "${bad}": use cpu, cuda:N or a count`);
    }
    if (new Set(list).size !== list.length)
      throw new Error(`POPO_WORKER_DEVICES lists a device twice: "${setting}"`);
    return list;
  }
  const gpus = await detectGpus();
  return gpus > 0 ? Array.from({ length: gpus }, (_, i) => `cuda:${i}`) : ['cpu'];
}

/** Number of NVIDIA GPUs visible to this process; 0 when nvidia-smi is absent or fails. */
export async function countGpus(): Promise<number> {
  try {
    const { stdout } = await promisify(execFile)('nvidia-smi', ['-L'], { timeout: 5_000 });
    const visible = process.env.CUDA_VISIBLE_DEVICES;
    const all = stdout.split('\n').filter((l) => l.startsWith('GPU ')).length;
    if (visible === undefined) return all;
    return visible.trim() === '' ? 0 : Math.min(all, visible.split(',').length);
  } catch {
    return 0;
  }
}
