import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import type { ErrorDetail } from '../../common/api-error.js';
import { validationDetails } from '../../common/validation.js';
import { CreateJobDto } from './dto/create-job.dto.js';
import { HYPERPARAMETER_SCALARS, HYPERPARAMETER_SECTIONS } from './dto/hyperparameters.dto.js';

export interface GridPoint {
  /** path → value for this point, e.g. {"popo.alpha": 0.1, "optimizer.lr": 0.0003}. */
  values: Record<string, unknown>;
  dto: CreateJobDto;
}

/** Grid keys address hyperparameters only ("seed", "popo.alpha"): what a run varies, not what it runs on. */
function checkPath(path: string): string | undefined {
  const parts = path.split('.');
  if (parts.length === 1 && (HYPERPARAMETER_SCALARS as readonly string[]).includes(parts[0]))
    return undefined;
  if (parts.length === 2 && (HYPERPARAMETER_SECTIONS as readonly string[]).includes(parts[0]))
    return undefined;
  return `is not a hyperparameter path (use a top-level field such as "seed" or "<section>.<field>" with section one of ${HYPERPARAMETER_SECTIONS.join(', ')})`;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const [head, leaf] = path.split('.');
  if (leaf === undefined) {
    target[head] = value;
    return;
  }
  const section = target[head];
  target[head] = { ...(section && typeof section === 'object' ? (section as object) : {}), [leaf]: value };
}

/**
 * Expands `grid` over `base` into its cartesian product, each point validated as a full job request. Errors
 * name the grid entry and the offending value: `grid.popo.tau[1]`.
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

  // Each value is validated once, in its own position, so one bad value gives one error, not one per combination.
  for (const key of keys) {
    (grid[key] as unknown[]).forEach((value, i) => {
      const plain = structuredClone(base);
      setPath(plain, key, value);
      const dto = plainToInstance(CreateJobDto, plain);
      const details = validationDetails(validateSync(dto, { whitelist: true, forbidNonWhitelisted: true }));
      for (const d of details.filter((d) => d.field === key))
        errors.push({ field: `grid.${key}[${i}]`, reason: `${JSON.stringify(value)} ${d.reason}` });
    });
  }
  if (errors.length) return { points: [], errors };

  let combos: Record<string, unknown>[] = [{}];
  for (const key of keys)
    combos = combos.flatMap((c) => (grid[key] as unknown[]).map((v) => ({ ...c, [key]: v })));
  const points = combos.map((values) => {
    const plain = structuredClone(base);
    for (const [k, v] of Object.entries(values)) setPath(plain, k, v);
    return { values, dto: plainToInstance(CreateJobDto, plain) };
  });
  return { points, errors };
}
