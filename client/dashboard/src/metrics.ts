/**
 * Which metric goes on which chart. The API's step record is open (`values` is whatever the trainer reports,
 * and its fields differ per algorithm), so nothing here is a fixed list: every numeric series found is
 * charted; the known ones are grouped and ordered, the rest get a chart each, after them.
 */

export interface Group {
  id: string;
  title: string;
  /** Matched against the last segment of a (possibly dotted) metric name. */
  match: (leaf: string) => boolean;
  note?: string;
}

const is =
  (...names: string[]) =>
  (leaf: string) =>
    names.includes(leaf);

export const GROUPS: Group[] = [
  { id: 'train_pass', title: 'Train pass rate', match: is('pass_rate', 'positive_fraction') },
  {
    id: 'reward',
    title: 'Reward',
    match: (l) => l === 'reward_mean' || l.startsWith('reward_') || l === 'reward',
  },
  {
    id: 'loss',
    title: 'Loss terms',
    match: (l) => ['loss', 'nll', 'l_sim', 'l_ent', 'kl', 'pg_loss'].includes(l) || l.endsWith('_loss'),
  },
  { id: 'entropy', title: 'Entropy (nats)', match: is('entropy') },
  {
    id: 'drift',
    title: '‖θ−ξ‖ and the Lemma 3.2 bound',
    match: is('drift', 'drift_bound'),
    note: 'bound τ·η·G_max/(1−τ) with the running G_max',
  },
  {
    id: 'zero_pos',
    title: 'Groups without signal',
    match: is('zero_positive_group_fraction', 'zero_correct_group_fraction', 'zero_advantage_group_fraction'),
  },
  { id: 'throughput', title: 'Tokens / s', match: is('tokens_per_second') },
  { id: 'positives', title: 'Positive set size', match: is('mean_positive_set_size') },
  {
    id: 'clip',
    title: 'Clipped fraction',
    match: is('clip_fraction', 'low_clip_fraction', 'high_clip_fraction'),
  },
  { id: 'advantage', title: 'Advantage', match: is('mean_advantage', 'mean_abs_advantage') },
  { id: 'ratio', title: 'Importance ratio', match: is('ratio_mean') },
  { id: 'length', title: 'Completion length', match: is('completion_length') },
  { id: 'grad', title: 'Gradient norm', match: is('grad_norm') },
  { id: 'lr', title: 'Learning rate', match: is('lr') },
  { id: 'time', title: 'Step seconds', match: is('step_seconds') },
];

export const leaf = (name: string) => name.slice(name.lastIndexOf('.') + 1);

/** Flattens nested records (`{ popo: { l_sim } }` → `popo.l_sim`) and keeps the finite numbers. */
export function numericFields(
  values: Record<string, unknown>,
  prefix = '',
  out: Record<string, number> = {},
) {
  for (const [k, v] of Object.entries(values)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'number' && Number.isFinite(v)) out[name] = v;
    else if (v && typeof v === 'object' && !Array.isArray(v))
      numericFields(v as Record<string, unknown>, name, out);
  }
  return out;
}

export interface ChartSpec {
  id: string;
  title: string;
  note?: string;
  keys: string[];
}

/** Groups the metric names: known groups in GROUPS order (members in first-seen order), then one chart per other name. */
export function chartSpecs(names: Iterable<string>): ChartSpec[] {
  const grouped = new Map<string, string[]>();
  const other: string[] = [];
  for (const name of names) {
    const g = GROUPS.find((x) => x.match(leaf(name)));
    if (g) grouped.set(g.id, [...(grouped.get(g.id) ?? []), name]);
    else other.push(name);
  }
  const specs: ChartSpec[] = GROUPS.filter((g) => grouped.has(g.id)).map((g) => ({
    id: g.id,
    title: g.title,
    note: g.note,
    keys: grouped.get(g.id)!,
  }));
  for (const name of other.sort()) specs.push({ id: `m:${name}`, title: name, keys: [name] });
  return specs;
}

/** A job's series by step: points may arrive twice (socket replays) or out of order; the last write wins. */
export class SeriesStore {
  private byStep = new Map<number, Record<string, number>>();
  readonly names = new Set<string>();
  private cache?: { steps: number[]; cols: Map<string, (number | null)[]> };

  add(step: number, values: Record<string, unknown>): void {
    const nums = numericFields(values);
    for (const k of Object.keys(nums)) this.names.add(k);
    this.byStep.set(step, { ...this.byStep.get(step), ...nums });
    this.cache = undefined;
  }

  get size(): number {
    return this.byStep.size;
  }

  get lastStep(): number | undefined {
    return this.columns().steps.at(-1);
  }

  columns(): { steps: number[]; cols: Map<string, (number | null)[]> } {
    if (this.cache) return this.cache;
    const steps = [...this.byStep.keys()].sort((a, b) => a - b);
    const cols = new Map<string, (number | null)[]>();
    for (const n of this.names)
      cols.set(
        n,
        steps.map((s) => this.byStep.get(s)![n] ?? null),
      );
    this.cache = { steps, cols };
    return this.cache;
  }
}

/** Exponential moving average with the start-up bias removed (TensorBoard's smoothing); gaps stay gaps. */
export function smooth(values: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return values;
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null) return null;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - weight ** n);
  });
}

/** Puts several jobs' series on one x axis (steps), null where a job has no point. */
export function alignOnSteps(series: { steps: number[]; values: (number | null)[] }[]): {
  x: number[];
  ys: (number | null)[][];
} {
  const x = [...new Set(series.flatMap((s) => s.steps))].sort((a, b) => a - b);
  const index = new Map(x.map((s, i) => [s, i]));
  const ys = series.map((s) => {
    const col: (number | null)[] = new Array<number | null>(x.length).fill(null);
    s.steps.forEach((step, i) => (col[index.get(step)!] = s.values[i] ?? null));
    return col;
  });
  return { x, ys };
}

export const PALETTE = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#9333ea',
  '#ea580c',
  '#0891b2',
  '#ca8a04',
  '#db2777',
  '#4b5563',
];
