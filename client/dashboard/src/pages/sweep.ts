import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { get, type Job } from '../api.js';
import { dateTime } from '../format.js';
import { go } from '../router.js';
import { CompareCharts } from './compare.js';
import { ErrorBox, JobLink, Progress, StatusBadge } from './common.js';

interface Sweep {
  id: string;
  name: string | null;
  grid: Record<string, unknown[]>;
  job_count: number;
  created_at: string;
  jobs: Job[];
}

const at = (o: unknown, path: string) =>
  path
    .split('.')
    .reduce<unknown>(
      (x, k) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined),
      o,
    );

/** A sweep: its grid, its jobs with their grid values, and all of them on one chart. */
export function SweepPage({ id }: { id: string }) {
  const [sweep, setSweep] = useState<Sweep | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [metric, setMetric] = useState<string | undefined>(undefined);
  useEffect(() => {
    get<Sweep>(`v1/sweeps/${id}`).then(setSweep, setError);
  }, [id]);
  if (!sweep) return error ? html`<${ErrorBox} error=${error} />` : html`<p class="loading">Loading…</p>`;
  const keys = Object.keys(sweep.grid);
  return html`<div class="sweep">
    <div class="toolbar">
      <h1>Sweep ${sweep.name ?? sweep.id.slice(0, 8)}</h1>
      <small class="muted">${sweep.job_count} jobs · ${dateTime(sweep.created_at)}</small>
      <span class="spacer"></span>
      <button onClick=${() => go('compare', { ids: sweep.jobs.map((j) => j.id).join(',') })}>
        Open in compare
      </button>
    </div>
    <table class="grid">
      <thead>
        <tr>
          <th>#</th>
          <th>Job</th>
          <th>Status</th>
          ${keys.map((k) => html`<th>${k}</th>`)}
          <th>Progress</th>
        </tr>
      </thead>
      <tbody>
        ${sweep.jobs.map(
          (j) =>
            html`<tr key=${j.id}>
              <td>${j.sweep_index}</td>
              <td><${JobLink} job=${j} /></td>
              <td><${StatusBadge} status=${j.status} /></td>
              ${keys.map((k) => html`<td>${JSON.stringify(at(j.config, k) ?? at(j, k) ?? '—')}</td>`)}
              <td><${Progress} step=${j.progress_step} total=${j.total_steps} /></td>
            </tr>`,
        )}
      </tbody>
    </table>
    <${CompareCharts} ids=${sweep.jobs.map((j) => j.id)} metric=${metric} onMetric=${setMetric} />
  </div>`;
}
