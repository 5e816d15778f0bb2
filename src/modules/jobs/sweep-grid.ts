import type { ErrorDetail } from '../../common/api-error.js';
import { ConfigError, parseRun } from '../../learner/trainer/config.js';
import { RUN_FIELD_PATHS } from '../../learner/trainer/run-spec.js';
import { jobRequestSchema } from './job-request-schema.js';

export interface GridPoint {
  /** path → value for this point, e.g. {"popo.alpha": 0.1, "optimizer.lr": 0.0003}. */
  values: Record<string, unknown>;
  /** The job request of this point: the base with the values set. */
  body: Record<string, unknown>;
}

/** Grid keys address the run's own fields ("seed", "popo.alpha", "data.task.n_train"), never the model or dataset. */
function checkPath(path: string): string | undefined {
  if (RUN_FIELD_PATHS.includes(path)) return undefined;
  return 'is not a hyperparameter path (a run field such as "seed", "popo.alpha" or "data.task.n_train"; the model and the dataset are the same for every point)';
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node[key] = next && typeof next === 'object' && !Array.isArray(next) ? { ...(next as object) } : {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

const withValues = (base: Record<string, unknown>, values: Record<string, unknown>) => {
  const body = structuredClone(base);
  for (const [k, v] of Object.entries(values)) setPath(body, k, v);
  return body;
};

/**
 * Expands `grid` over `base` into its cartesian product. Each value is first checked alone, in its own position,
 * against the run spec, so one bad value gives one error naming the grid entry and the value: `grid.popo.tau[1]`.
 */
export function expandGrid(
  base: Record<string, unknown>,
  grid: Record<string, unknown>,
  maxJobs: number,
): { points: GridPoint[]; errors: ErrorDetail[] } {
  const errors: ErrorDetail[] = [];
  const keys = Object.keys(grid);
  if (keys.length === 0) errors.push({ field: 'grid', reason: 'must list at least one hyperparameter' });
  let total = 1;
  for (const key of keys) {
    const reason = checkPath(key);
    if (reason) errors.push({ field: `grid.${key}`, reason });
    const values = grid[key];
    if (!Array.isArray(values) || values.length === 0)
      errors.push({ field: `grid.${key}`, reason: 'must be a non-empty array of values' });
    else total *= values.length;
  }
  if (errors.length) return { points: [], errors };
  if (total > maxJobs)
    return {
      points: [],
      errors: [{ field: 'grid', reason: `expands to ${total} jobs; the limit is ${maxJobs}` }],
    };

  for (const key of keys) {
    (grid[key] as unknown[]).forEach((value, i) => {
      try {
        parseRun(jobRequestSchema, withValues(base, { [key]: value }));
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        for (const d of e.issues.filter((d) => d.field === key))
          errors.push({ field: `grid.${key}[${i}]`, reason: `${JSON.stringify(value)} ${d.reason}` });
      }
    });
  }
  if (errors.length) return { points: [], errors };

  let combos: Record<string, unknown>[] = [{}];
  for (const key of keys)
    combos = combos.flatMap((c) => (grid[key] as unknown[]).map((v) => ({ ...c, [key]: v })));
  return { points: combos.map((values) => ({ values, body: withValues(base, values) })), errors };
}
