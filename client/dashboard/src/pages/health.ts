import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { href } from '../router.js';

interface Dep {
  ok: boolean;
  configured: boolean;
  latency_ms?: number;
  error?: string;
}
interface Slot {
  index: number;
  device: string;
  backend: string | null;
  job: string | null;
  learner: { pid: number | null; state: string; since: string };
  last_crash: { at: string; job: string | null; error: string } | null;
}
interface Worker {
  id: string;
  host: string | null;
  device: string | null;
  backend: string | null;
  job: string | null;
  ttl_s: number;
  slots?: Slot[];
}
interface Health {
  status: string;
  database: Dep;
  redis: Dep;
  workers: Worker[];
}

const jobLink = (j: string) => html`<a href=${href(`jobs/${j}`)}>${j.slice(0, 8)}</a>`;

/** A worker's slots; a heartbeat without slot data (an older worker) is shown as one row from its own fields. */
const slotsOf = (w: Worker): Slot[] =>
  w.slots?.length
    ? w.slots
    : [
        {
          index: 0,
          device: w.device ?? '—',
          backend: w.backend,
          job: w.job,
          learner: { pid: null, state: '—', since: '' },
          last_crash: null,
        },
      ];

const dep = (name: string, d: Dep) =>
  html`<div class="card dep ${d.ok ? 'ok' : d.configured ? 'bad' : 'off'}">
    <h3>${name}</h3>
    <p>
      ${d.ok ? `ok · ${d.latency_ms ?? '?'} ms` : d.configured ? `down: ${d.error ?? ''}` : 'not configured (embedded mode)'}
    </p>
  </div>`;

/**
 * /v1/health, refreshed every 5 s: dependencies and the live worker slots with their device, backend, learner
 * process (state, pid), job and last crash.
 */
export function HealthPage() {
  const [h, setH] = useState<Health | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    const load = () =>
      fetch('v1/health')
        .then(async (r) => {
          // 503 still carries the report.
          const body = (await r.json()) as Health;
          if (alive) {
            setH(body);
            setError(null);
          }
        })
        .catch((e: Error) => alive && setError(e.message));
    void load();
    const t = setInterval(load, 5000);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, []);
  return html`<div class="health">
    <div class="toolbar">
      <h1>Health</h1>
      ${h ? html`<span class="badge ${h.status === 'ok' ? 's-succeeded' : 's-failed'}" data-health=${h.status}>${h.status}</span>` : null}
    </div>
    ${error ? html`<p class="error">${error}</p>` : null}
    ${
      h
        ? html`<div class="cards">${dep('Postgres', h.database)}${dep('Redis', h.redis)}</div>
            <h2>Worker slots</h2>
            ${h.workers.length === 0 ? html`<p class="muted">No live workers.</p>` : null}
            <table class="grid" data-test="workers">
              <thead>
                <tr>
                  <th>Worker</th>
                  <th>Host</th>
                  <th>Slot</th>
                  <th>Backend</th>
                  <th>Learner</th>
                  <th>Current job</th>
                  <th>Last crash</th>
                  <th>Heartbeat TTL</th>
                </tr>
              </thead>
              <tbody>
                ${h.workers.flatMap((w) =>
                  slotsOf(w).map(
                    (s) =>
                      html`<tr data-slot=${`${w.id}/${s.index}`}>
                        <td><code>${w.id}</code></td>
                        <td>${w.host ?? '—'}</td>
                        <td>${s.device}</td>
                        <td>${s.backend ?? w.backend ?? '—'}</td>
                        <td data-learner-state=${s.learner.state}>
                          ${s.learner.state}${s.learner.pid ? html` <span class="muted">pid ${s.learner.pid}</span>` : null}
                        </td>
                        <td>${s.job ? jobLink(s.job) : html`<span class="muted">idle</span>`}</td>
                        <td>
                          ${
                            s.last_crash
                              ? html`<span class="error" title=${s.last_crash.error}
                                  >${new Date(s.last_crash.at).toLocaleString()}${s.last_crash.job ? html` · ${jobLink(s.last_crash.job)}` : null}:
                                  ${s.last_crash.error.slice(0, 120)}</span
                                >`
                              : html`<span class="muted">none</span>`
                          }
                        </td>
                        <td>${w.ttl_s} s</td>
                      </tr>`,
                  ),
                )}
              </tbody>
            </table>`
        : null
    }
  </div>`;
}
