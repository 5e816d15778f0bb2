import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, type Job, type JobEvent, type JobPage } from '../api.js';
import { Chart } from '../chart.js';
import { alignOnSteps, chartSpecs, PALETTE, SeriesStore, smooth } from '../metrics.js';
import { go } from '../router.js';
import { subscribe } from '../socket.js';
import { ErrorBox, jobTitle, JobLink, StatusBadge } from './common.js';
import { addEval, loadMetrics } from './job-data.js';
import { SmoothingControl, smoothingValue } from './job.js';

const EVAL = 'eval:';

/** Several jobs' metrics, kept live, for one chart per metric with a line per job. */
function useJobsSeries(ids: string[]) {
  const stores = useRef(new Map<string, { metrics: SeriesStore; evals: SeriesStore }>());
  const [jobs, setJobs] = useState<Map<string, Job>>(new Map());
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const idsKey = ids.join(',');

  useEffect(() => {
    const offs: (() => void)[] = [];
    let alive = true;
    const bump = () => alive && setTick((t) => t + 1);
    for (const id of ids) {
      if (!stores.current.has(id))
        stores.current.set(id, { metrics: new SeriesStore(), evals: new SeriesStore() });
      const st = stores.current.get(id)!;
      get<Job>(`v1/jobs/${id}`).then((j) => alive && setJobs((m) => new Map(m).set(id, j)), setError);
      loadMetrics(id, st.metrics).then(bump, setError);
      get<JobEvent[]>(`v1/jobs/${id}/events?limit=1000`).then(
        (l) => {
          l.forEach((e) => addEval(st.evals, e));
          bump();
        },
        () => undefined,
      );
      offs.push(
        subscribe(
          { job_id: id },
          {
            'job.metrics': (m) => {
              st.metrics.add(m.step, m.values);
              bump();
            },
            'job.event': (e) => {
              addEval(st.evals, e as JobEvent);
              bump();
            },
            'job.status': (m) =>
              alive &&
              setJobs((all) => (all.has(id) ? new Map(all).set(id, { ...all.get(id)!, ...m }) : all)),
          },
        ),
      );
    }
    return () => {
      alive = false;
      offs.forEach((f) => f());
    };
  }, [idsKey]);
  return { stores: stores.current, jobs, error, tick };
}

export function CompareCharts({
  ids,
  metric,
  onMetric,
}: {
  ids: string[];
  metric?: string;
  onMetric: (m: string) => void;
}) {
  const { stores, jobs, error, tick } = useJobsSeries(ids);
  const [smoothing, setSmoothing] = useState(smoothingValue);
  const names = new Set<string>();
  const evalNames = new Set<string>();
  for (const id of ids) {
    stores.get(id)?.metrics.names.forEach((n) => names.add(n));
    stores.get(id)?.evals.names.forEach((n) => evalNames.add(n));
  }
  const options = [...[...evalNames].map((n) => EVAL + n), ...chartSpecs(names).flatMap((s) => s.keys)];
  const chosen =
    metric && options.includes(metric) ? metric : (options.find((o) => o === 'pass_rate') ?? options[0]);
  const isEval = chosen?.startsWith(EVAL);
  const name = isEval ? chosen!.slice(EVAL.length) : chosen;
  const series = ids.map((id) => {
    const st = stores.get(id);
    const cols = (isEval ? st?.evals : st?.metrics)?.columns();
    return { steps: cols?.steps ?? [], values: (name && cols?.cols.get(name)) || [] };
  });
  const { x, ys } = alignOnSteps(series);
  return html`<div data-tick=${tick}>
    <${ErrorBox} error=${error} />
    <div class="toolbar">
      <label
        >Metric
        <select
          name="metric"
          value=${chosen ?? ''}
          onChange=${(e: Event) => onMetric((e.target as HTMLSelectElement).value)}
        >
          ${options.map((o) => html`<option value=${o}>${o}</option>`)}
        </select></label
      >
      <span class="spacer"></span>
      <${SmoothingControl} value=${smoothing} onChange=${setSmoothing} />
    </div>
    ${
      chosen
        ? html`<${Chart}
            id="compare"
            title=${chosen}
            height=${320}
            x=${x}
            lines=${ids.map((id, i) => ({
              label: jobs.get(id) ? jobTitle(jobs.get(id)!) : id.slice(0, 8),
              values: isEval ? ys[i] : smooth(ys[i], smoothing),
              color: PALETTE[i % PALETTE.length],
              points: isEval,
            }))}
          />`
        : html`<p class="empty">No metrics recorded for these jobs yet.</p>`
    }
    <table class="grid small" data-test="compare-jobs">
      <thead>
        <tr>
          <th></th>
          <th>Job</th>
          <th>Status</th>
          <th>Kind</th>
          <th>Steps</th>
          <th>Last ${chosen ?? ''}</th>
        </tr>
      </thead>
      <tbody>
        ${ids.map((id, i) => {
          const j = jobs.get(id);
          const last = series[i].values.filter((v) => v !== null).at(-1);
          return html`<tr key=${id}>
            <td><span class="swatch" style="background:${PALETTE[i % PALETTE.length]}"></span></td>
            <td>${j ? html`<${JobLink} job=${j} />` : id.slice(0, 8)}</td>
            <td>${j ? html`<${StatusBadge} status=${j.status} />` : '—'}</td>
            <td>${j?.kind ?? '—'}</td>
            <td>${stores.get(id)?.metrics.size ?? 0}</td>
            <td>${last ?? '—'}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}

export function ComparePage({ ids, metric }: { ids: string[]; metric?: string }) {
  const [recent, setRecent] = useState<Job[]>([]);
  useEffect(() => {
    get<JobPage>('v1/jobs?limit=100').then(
      (p) => setRecent(p.items),
      () => undefined,
    );
  }, []);
  const set = (next: string[], m = metric) => go('compare', { ids: next.join(',') || undefined, metric: m });
  return html`<div class="compare">
    <div class="toolbar">
      <h1>Compare jobs</h1>
      <label
        >Add a job
        <select
          name="add-job"
          value=""
          onChange=${(e: Event) => {
            const v = (e.target as HTMLSelectElement).value;
            if (v && !ids.includes(v)) set([...ids, v]);
          }}
        >
          <option value="">—</option>
          ${recent.filter((j) => !ids.includes(j.id)).map((j) => html`<option value=${j.id}>${jobTitle(j)} · ${j.kind} · ${j.status}</option>`)}
        </select></label
      >
      ${ids.map((id) => {
        const j = recent.find((x) => x.id === id);
        return html`<span class="chip"
          >${j ? jobTitle(j) : id.slice(0, 8)}
          <button class="link" title="remove" onClick=${() => set(ids.filter((x) => x !== id))}>
            ×
          </button></span
        >`;
      })}
    </div>
    ${
      ids.length === 0
        ? html`<p class="empty">Pick jobs above, or tick them in the jobs table.</p>`
        : html`<${CompareCharts} ids=${ids} metric=${metric} onMetric=${(m: string) => set(ids, m)} />`
    }
  </div>`;
}
