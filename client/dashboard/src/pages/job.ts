import { html } from 'htm/preact';
import { useMemo, useState } from 'preact/hooks';
import { api, ApiError, download, type Job, type JobEvent } from '../api.js';
import { Chart, type Line } from '../chart.js';
import { bytes, dateTime, duration, num, shortId } from '../format.js';
import { chartSpecs, PALETTE, smooth, type SeriesStore } from '../metrics.js';
import { href } from '../router.js';
import { dataOf, ErrorBox, jobTitle, modelOf, Progress, StatusBadge } from './common.js';
import { Completions } from './completions.js';
import { evalLabel, useJobLive } from './job-data.js';

const ACTIONS: { action: string; label: string; when: (j: Job) => boolean; danger?: boolean }[] = [
  {
    action: 'pause',
    label: 'Pause',
    when: (j) => j.status === 'queued' || (j.status === 'running' && j.stop_requested !== 'pause'),
  },
  {
    action: 'resume',
    label: 'Resume',
    when: (j) => j.status === 'paused' || (j.status === 'running' && j.stop_requested === 'pause'),
  },
  {
    action: 'cancel',
    label: 'Cancel',
    when: (j) => ['queued', 'running', 'paused'].includes(j.status),
    danger: true,
  },
  { action: 'retry', label: 'Retry', when: (j) => j.status === 'failed' || j.status === 'cancelled' },
];

function Actions({ job, setJob }: { job: Job; setJob: (j: Job) => void }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (action: string) => {
    setBusy(action);
    setError(null);
    try {
      setJob(await api<Job>('POST', `v1/jobs/${job.id}/${action}`));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  return html`<div class="actions">
    ${ACTIONS.map(
      (a) =>
        html`<button
          data-action=${a.action}
          class=${a.danger ? 'danger' : ''}
          disabled=${!a.when(job) || !!busy}
          onClick=${() => run(a.action)}
        >
          ${busy === a.action ? '…' : a.label}
        </button>`,
    )}
    <a class="button" href=${href('new', { from: job.id })}>New job from this config</a>
    <a class="button" href=${href('compare', { ids: job.id })}>Compare…</a>
    <${ErrorBox} error=${error instanceof ApiError ? `${error.message} (${error.code})` : error} />
  </div>`;
}

export function smoothingValue(): number {
  return Number(localStorage.getItem('popo.smoothing') ?? '0');
}

export function SmoothingControl({ value, onChange }: { value: number; onChange: (v: number) => void }) {
  return html`<label class="smoothing"
    >Smoothing
    <input
      type="range"
      name="smoothing"
      min="0"
      max="0.99"
      step="0.01"
      value=${value}
      onInput=${(e: Event) => {
        const v = Number((e.target as HTMLInputElement).value);
        localStorage.setItem('popo.smoothing', String(v));
        onChange(v);
      }}
    />
    <output>${value.toFixed(2)}</output></label
  >`;
}

function Charts({
  metrics,
  evals,
  evalK,
  smoothing,
}: {
  metrics: SeriesStore;
  evals: SeriesStore;
  evalK: unknown;
  smoothing: number;
}) {
  const { steps, cols } = metrics.columns();
  const ev = evals.columns();
  const charts = [];
  if (ev.steps.length) {
    charts.push(
      html`<${Chart}
        id="eval"
        title="Held-out evaluation"
        note="before, during and after training"
        x=${ev.steps}
        lines=${[...ev.cols].map(([name, values], i): Line => ({ label: evalLabel(name, evalK), values, color: PALETTE[i % PALETTE.length], points: ev.steps.length < 3 }))}
      />`,
    );
  }
  for (const spec of chartSpecs(metrics.names)) {
    const lines: Line[] = spec.keys.map((k, i) => ({
      label: k,
      values: smooth(cols.get(k) ?? [], k === 'drift_bound' ? 0 : smoothing),
      color: k === 'drift_bound' ? '#dc2626' : PALETTE[i % PALETTE.length],
      dash: k === 'drift_bound' ? [6, 4] : undefined,
    }));
    charts.push(
      html`<${Chart}
        key=${spec.id}
        id=${spec.id}
        title=${spec.title}
        note=${spec.note}
        x=${steps}
        lines=${lines}
      />`,
    );
  }
  if (!charts.length)
    return html`<p class="empty" data-test="no-metrics">
      No steps recorded yet; charts appear with the first step.
    </p>`;
  return html`<div class="charts">${charts}</div>`;
}

/** Warnings and errors once per code with a count; status changes and other notes as a timeline. */
function Events({ events }: { events: JobEvent[] }) {
  const groups = useMemo(() => {
    const m = new Map<
      string,
      {
        level: string;
        code: string;
        count: number;
        first: number | null;
        last: number | null;
        message: string;
      }
    >();
    for (const e of events) {
      if (e.level === 'info') continue;
      const key = `${e.level}:${e.code}`;
      const g = m.get(key);
      if (g) {
        g.count++;
        g.last = e.step ?? g.last;
        g.message = e.message;
      } else
        m.set(key, {
          level: e.level,
          code: e.code,
          count: 1,
          first: e.step,
          last: e.step,
          message: e.message,
        });
    }
    return [...m.values()];
  }, [events]);
  const timeline = events
    .filter((e) => e.level === 'info')
    .slice(-30)
    .reverse();
  return html`<section class="panel events" data-test="events">
    <h2>Events</h2>
    ${
      groups.length
        ? html`<ul class="warnings">
            ${groups.map(
              (g) =>
                html`<li class="lvl-${g.level}" data-code=${g.code} data-count=${g.count}>
                  <b>${g.code}</b> <span class="count">×${g.count}</span>
                  <small
                    >${g.first === g.last ? `step ${g.first ?? '—'}` : `steps ${g.first}–${g.last}`}</small
                  >
                  <div>${g.message}</div>
                </li>`,
            )}
          </ul>`
        : html`<p class="muted">No warnings.</p>`
    }
    <ul class="timeline">
      ${timeline.map(
        (e) =>
          html`<li key=${e.id}>
            <small>${dateTime(e.created_at)}${e.step !== null ? ` · step ${e.step}` : ''}</small>
            <b>${e.code}</b> ${e.message}
          </li>`,
      )}
    </ul>
  </section>`;
}

function Checkpoints({
  job,
  list,
}: {
  job: Job;
  list: { step: number; sha256: string; size_bytes: number; created_at: string }[];
}) {
  const [error, setError] = useState<unknown>(null);
  const dl = (path: string, name: string) =>
    download(`v1/jobs/${job.id}/checkpoints/${path}`, name).catch(setError);
  return html`<section class="panel checkpoints" data-test="checkpoints">
    <h2>Checkpoints</h2>
    ${list.length === 0 ? html`<p class="muted">None yet.</p>` : null}
    <table class="grid small">
      ${[...list]
        .sort((a, b) => b.step - a.step)
        .map(
          (c) =>
            html`<tr>
              <td>step ${c.step}</td>
              <td>${bytes(c.size_bytes)}</td>
              <td title=${c.sha256}><code>${c.sha256.slice(0, 12)}</code></td>
              <td>
                <button
                  class="link"
                  onClick=${() => dl(`${c.step}/download`, `${shortId(job.id)}-step-${c.step}.safetensors`)}
                >
                  raw
                </button>
                <button
                  class="link"
                  onClick=${() => dl(`${c.step}/model`, `${shortId(job.id)}-step-${c.step}-hf.tar.gz`)}
                >
                  HF model
                </button>
              </td>
            </tr>`,
        )}
    </table>
    <${ErrorBox} error=${error} />
  </section>`;
}

export function JobPage({ id }: { id: string }) {
  const live = useJobLive(id);
  const [smoothing, setSmoothing] = useState(smoothingValue);
  const { job } = live;
  if (!job)
    return live.error ? html`<${ErrorBox} error=${live.error} />` : html`<p class="loading">Loading…</p>`;
  const last = live.metrics.columns();
  const lastValues = new Map([...last.cols].map(([k, v]) => [k, v.at(-1)]));
  return html`<div class="job" data-job=${job.id}>
    <div class="toolbar">
      <h1>${jobTitle(job)}</h1>
      <${StatusBadge} status=${job.status} stop=${job.stop_requested} />
      <span class="spacer"></span>
      <${Actions} job=${job} setJob=${live.setJob} />
    </div>
    <dl class="facts">
      <div>
        <dt>id</dt>
        <dd><code>${job.id}</code></dd>
      </div>
      <div>
        <dt>kind</dt>
        <dd>${job.kind}</dd>
      </div>
      <div>
        <dt>model</dt>
        <dd>${modelOf(job)}</dd>
      </div>
      <div>
        <dt>data</dt>
        <dd>${dataOf(job)}</dd>
      </div>
      <div>
        <dt>progress</dt>
        <dd><${Progress} step=${job.progress_step} total=${job.total_steps} /></dd>
      </div>
      <div>
        <dt>backend</dt>
        <dd>${job.backend ?? '—'} ${job.device ? `on ${job.device}` : ''}</dd>
      </div>
      <div>
        <dt>created</dt>
        <dd>${dateTime(job.created_at)}</dd>
      </div>
      <div>
        <dt>ran</dt>
        <dd>${duration(job.started_at, job.finished_at)}</dd>
      </div>
      ${
        job.sweep_id
          ? html`<div>
              <dt>sweep</dt>
              <dd>
                <a href=${href(`sweeps/${job.sweep_id}`)}>#${job.sweep_index} of ${shortId(job.sweep_id)}</a>
              </dd>
            </div>`
          : null
      }
      ${['pass_rate', 'reward_mean', 'tokens_per_second']
        .filter((k) => lastValues.get(k) != null)
        .map(
          (k) =>
            html`<div>
              <dt>${k}</dt>
              <dd>${num(lastValues.get(k))}</dd>
            </div>`,
        )}
    </dl>
    ${job.error ? html`<p class="error">${job.error}</p>` : null}
    <div class="toolbar">
      <h2>Metrics <small class="muted" data-test="steps-seen">${live.metrics.size} steps</small></h2>
      <span class="spacer"></span>
      <${SmoothingControl} value=${smoothing} onChange=${setSmoothing} />
    </div>
    <${Charts}
      metrics=${live.metrics}
      evals=${live.evals}
      evalK=${live.evalK}
      smoothing=${smoothing}
      tick=${live.tick}
    />
    <${Completions} job=${job} tick=${live.tick} />
    <div class="columns">
      <${Events} events=${live.events} />
      <${Checkpoints} job=${job} list=${live.checkpoints} />
    </div>
    <details class="panel">
      <summary>Configuration</summary>
      <pre>${JSON.stringify(job.config, null, 2)}</pre>
    </details>
  </div>`;
}
