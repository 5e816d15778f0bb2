import type { Job, MetricPoint } from './types.js';

/** `--fail-below <metric>=<min>`: the run fails the gate when the metric is below `min` (or was never reported). */
export interface QualityGate {
  metric: string;
  min: number;
}

export interface GateResult extends QualityGate {
  /** Undefined when the job reported no such metric: a gate that cannot be read fails. */
  value: number | undefined;
  passed: boolean;
}

/** Parses `pass_rate=0.5` or `eval_after.avg_at_k=0.3`; throws a TypeError naming what is wrong. */
export function parseGate(spec: string): QualityGate {
  const m = /^\s*([A-Za-z_][\w.]*)\s*=\s*(\S+)\s*$/.exec(spec);
  const min = m ? Number(m[2]) : NaN;
  if (!m || !Number.isFinite(min))
    throw new TypeError(`quality gate "${spec}": expected <metric>=<number>, e.g. pass_rate=0.5`);
  return { metric: m[1], min };
}

/**
 * A gate's metric, read from the finished job: a dotted path into `job.result` (`eval_after.avg_at_k`, the held-out
 * eval after training) first, else the value of that name at the last recorded step (`pass_rate`, `reward_mean`).
 */
export function gateValue(metric: string, job: Job, lastPoint?: MetricPoint): number | undefined {
  let node: unknown = job.result;
  for (const key of metric.split('.')) {
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined;
  }
  if (typeof node === 'number') return node;
  const v = lastPoint?.values[metric];
  return typeof v === 'number' ? v : undefined;
}

export function checkGates(gates: readonly QualityGate[], job: Job, lastPoint?: MetricPoint): GateResult[] {
  return gates.map((g) => {
    const value = gateValue(g.metric, job, lastPoint);
    return { ...g, value, passed: value !== undefined && value >= g.min };
  });
}
