import { describe, expect, it } from 'vitest';
import { resolveDevices } from './devices.js';

const gpus = (n: number) => async () => n;

describe('resolveDevices', () => {
  it('detects GPUs when unset, else offers one CPU slot', async () => {
    expect(await resolveDevices(undefined, gpus(2))).toEqual(['cuda:0', 'cuda:1']);
    expect(await resolveDevices(undefined, gpus(0))).toEqual(['cpu']);
    expect(await resolveDevices('  ', gpus(0))).toEqual(['cpu']);
  });

  it('takes a count (GPU slots when GPUs exist) or an explicit list', async () => {
    expect(await resolveDevices('3', gpus(0))).toEqual(['cpu:0', 'cpu:1', 'cpu:2']);
    expect(await resolveDevices('2', gpus(4))).toEqual(['cuda:0', 'cuda:1']);
    expect(await resolveDevices('cuda:1, cuda:3', gpus(0))).toEqual(['cuda:1', 'cuda:3']);
    expect(await resolveDevices('cpu', gpus(8))).toEqual(['cpu']);
  });

  it('refuses nonsense, naming the variable', async () => {
    await expect(resolveDevices('0', gpus(0))).rejects.toThrow(/POPO_WORKER_DEVICES must be at least 1/);
    await expect(resolveDevices('tpu:0', gpus(0))).rejects.toThrow(
      /POPO_WORKER_DEVICES has an unknown device "tpu:0"/,
    );
    await expect(resolveDevices('cpu,cpu', gpus(0))).rejects.toThrow(/lists a device twice/);
  });
});
