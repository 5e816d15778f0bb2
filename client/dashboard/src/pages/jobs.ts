import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { get, qs, type Job, type JobPage } from '../api.js';
import { ago, shortId } from '../format.js';
import { openApi, queryEnum } from '../openapi.js';
import { go, href } from '../router.js';
import { subscribe } from '../socket.js';
import { dataOf, ErrorBox, JobLink, modelOf, Progress, StatusBadge } from './common.js';

const PAGE = 20;

/** All jobs of the project, newest first: filters and cursor paging in the URL, statuses live over the socket. */
export function JobsPage({ query }: { query: URLSearchParams }) {
  const status = query.get('status') ?? '';
  const kind = query.get('kind') ?? '';
  const cursor = query.get('cursor') ?? '';
  const [page, setPage] = useState<JobPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [enums, setEnums] = useState<{ status: string[]; kind: string[] }>({ status: [], kind: [] });
  const [picked, setPicked] = useState<string[]>([]);
  const [stale, setStale] = useState(0);
  // Cursors of the pages before this one, for "previous".
  const back = (query.get('back') ?? '').split(',').filter(Boolean);

  useEffect(() => {
    openApi().then(
      (d) => setEnums({ status: queryEnum(d, '/v1/jobs', 'status'), kind: queryEnum(d, '/v1/jobs', 'kind') }),
      setError,
    );
  }, []);

  useEffect(() => {
    get<JobPage>(`v1/jobs${qs({ status, kind, cursor, limit: PAGE })}`).then((p) => {
      setPage(p);
      setError(null);
    }, setError);
  }, [status, kind, cursor, stale]);

  useEffect(
    () =>
      subscribe(
        {},
        {
          'job.status': (m) => {
            setPage((p) => {
              if (!p) return p;
              const known = p.items.some((j) => j.id === m.id);
              // A job we do not show yet (just created elsewhere): reload the first page.
              if (!known && !cursor) setStale((n) => n + 1);
              return {
                ...p,
                items: p.items.map((j) =>
                  j.id === m.id
                    ? {
                        ...j,
                        ...m,
                        progress_step: Math.max(m.progress_step, j.status === m.status ? j.progress_step : 0),
                        finished_at: ['succeeded', 'failed', 'cancelled'].includes(m.status)
                          ? (j.finished_at ?? m.updated_at)
                          : j.finished_at,
                      }
                    : j,
                ),
              };
            });
          },
          'job.metrics': (m) =>
            setPage((p) =>
              p
                ? {
                    ...p,
                    items: p.items.map((j) =>
                      j.id === m.job_id && m.step > j.progress_step ? { ...j, progress_step: m.step } : j,
                    ),
                  }
                : p,
            ),
        },
      ),
    [cursor],
  );

  const setFilter = (k: string, v: string) =>
    go('jobs', { status, kind, [k]: v || undefined, cursor: undefined, back: undefined });
  const toggle = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id]));

  return html`<div class="jobs">
    <div class="toolbar">
      <h1>Jobs</h1>
      <label
        >Status
        <select
          name="status"
          value=${status}
          onChange=${(e: Event) => setFilter('status', (e.target as HTMLSelectElement).value)}
        >
          <option value="">all</option>
          ${enums.status.map((s) => html`<option value=${s}>${s}</option>`)}
        </select></label
      >
      <label
        >Kind
        <select
          name="kind"
          value=${kind}
          onChange=${(e: Event) => setFilter('kind', (e.target as HTMLSelectElement).value)}
        >
          <option value="">all</option>
          ${enums.kind.map((s) => html`<option value=${s}>${s}</option>`)}
        </select></label
      >
      <span class="spacer"></span>
      <button
        disabled=${picked.length < 2}
        data-test="compare-picked"
        onClick=${() => go('compare', { ids: picked.join(',') })}
      >
        Compare ${picked.length || ''} selected
      </button>
      <a class="button primary" href=${href('new')}>New job</a>
    </div>
    <${ErrorBox} error=${error} />
    <table class="grid" data-test="jobs-table">
      <thead>
        <tr>
          <th></th>
          <th>Job</th>
          <th>Status</th>
          <th>Kind</th>
          <th>Model</th>
          <th>Data</th>
          <th>Progress</th>
          <th>Backend</th>
          <th>Created</th>
          <th>Finished</th>
        </tr>
      </thead>
      <tbody>
        ${page?.items.map(
          (j: Job) =>
            html`<tr data-job=${j.id} key=${j.id}>
              <td>
                <input
                  type="checkbox"
                  aria-label="select for comparison"
                  checked=${picked.includes(j.id)}
                  onChange=${() => toggle(j.id)}
                />
              </td>
              <td>
                <${JobLink} job=${j} />
                <small class="muted">${shortId(j.id)}</small>
                ${j.sweep_id ? html` <a class="tag" href=${href(`sweeps/${j.sweep_id}`)}>sweep #${j.sweep_index}</a>` : null}
              </td>
              <td><${StatusBadge} status=${j.status} stop=${j.stop_requested} /></td>
              <td>${j.kind}</td>
              <td>${modelOf(j)}</td>
              <td>${dataOf(j)}</td>
              <td><${Progress} step=${j.progress_step} total=${j.total_steps} /></td>
              <td>${j.backend ?? '—'}${j.device ? html` <small class="muted">${j.device}</small>` : null}</td>
              <td title=${j.created_at}>${ago(j.created_at)}</td>
              <td title=${j.finished_at ?? ''}>${ago(j.finished_at)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${page && page.items.length === 0 ? html`<p class="empty">No jobs${status || kind ? ' match these filters' : ' yet'}. <a href=${href('new')}>Submit one</a>.</p>` : null}
    <div class="pager">
      <button
        disabled=${!cursor}
        onClick=${() => go('jobs', { status, kind, cursor: back.at(-1) === '-' ? undefined : back.at(-1), back: back.slice(0, -1).join(',') || undefined })}
      >
        ← Newer
      </button>
      <button
        disabled=${!page?.next_cursor}
        data-test="next-page"
        onClick=${() => go('jobs', { status, kind, cursor: page!.next_cursor!, back: [...back, cursor || '-'].join(',') })}
      >
        Older →
      </button>
    </div>
  </div>`;
}
