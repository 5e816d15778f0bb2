import { html } from 'htm/preact';
import type { Job } from '../api.js';
import { href } from '../router.js';

export const StatusBadge = ({ status, stop }: { status: string; stop?: string | null }) =>
  html`<span class="badge s-${status}" data-status=${status}
    >${status}${stop && status === 'running' ? ` (${stop} requested)` : ''}</span
  >`;

export function Progress({ step, total }: { step: number; total: number | null }) {
  const pct = total ? Math.min(100, (100 * step) / total) : 0;
  return html`<span class="progress" title="${step} / ${total ?? '?'}">
    <span class="bar"><span style="width:${pct}%"></span></span>
    <span class="pn">${step}/${total ?? '?'}</span>
  </span>`;
}

export const modelOf = (j: Job) =>
  j.model_builtin ??
  (j.model_id ? `model ${j.model_id.slice(0, 8)}` : j.from_checkpoint_id ? 'from checkpoint' : '—');

export function dataOf(j: Job) {
  if (j.dataset_id) return `dataset ${j.dataset_id.slice(0, 8)}`;
  const t = j.task as { name?: string; difficulty?: number } | null;
  if (t?.name) return `task ${t.name}${t.difficulty !== undefined ? `:${t.difficulty}` : ''}`;
  const spec = j.config as { data?: { task?: { name?: string } } };
  return spec.data?.task?.name ? `task ${spec.data.task.name}` : '—';
}

export const jobTitle = (j: Pick<Job, 'id' | 'name'>) => j.name || j.id.slice(0, 8);

export const JobLink = ({ job }: { job: Pick<Job, 'id' | 'name'> }) =>
  html`<a href=${href(`jobs/${job.id}`)}>${jobTitle(job)}</a>`;

export const ErrorBox = ({ error }: { error: unknown }) =>
  error
    ? html`<p class="error" role="alert">${error instanceof Error ? error.message : String(error)}</p>`
    : null;
