import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { href } from '../router.js';

interface Dep {
  ok: boolean;
  configured: boolean;
  latency_ms?: number;
  error?: string;
}
interface Health {
  status: string;
  database: Dep;
  redis: Dep;
  workers: {
    id: string;
    host: string | null;
    device: string | null;
    backend: string | null;
    job: string | null;
    ttl_s: number;
  }[];
}

const dep = (name: string, d: Dep) =>
  html`<div class="card dep ${d.ok ? 'ok' : d.configured ? 'bad' : 'off'}">
    <h3>${name}</h3>
    <p>
      ${d.ok ? `ok · ${d.latency_ms ?? '?'} ms` : d.configured ? `down: ${d.error ?? ''}` : 'not configured (embedded mode)'}
    </p>
  </div>`;

/** /v1/health, refreshed every 5 s: dependencies and the live worker slots with their device, backend and job. */
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
            ${h.workers.length === 0 ? html`<p class="muted">No live workers${h.redis.configured ? '' : ' reported (worker heartbeats are listed when Redis is configured)'}.</p>` : null}
            <table class="grid" data-test="workers">
              <thead>
                <tr>
                  <th>Worker</th>
                  <th>Host</th>
                  <th>Device</th>
                  <th>Backend</th>
                  <th>Current job</th>
                  <th>Heartbeat TTL</th>
                </tr>
              </thead>
              <tbody>
                ${h.workers.map(
                  (w) =>
                    html`<tr>
                      <td><code>${w.id}</code></td>
                      <td>${w.host ?? '—'}</td>
                      <td>${w.device ?? '—'}</td>
                      <td>${w.backend ?? '—'}</td>
                      <td>
                        ${w.job ? w.job.split(',').map((j) => html`<a href=${href(`jobs/${j}`)}>${j.slice(0, 8)}</a> `) : html`<span class="muted">idle</span>`}
                      </td>
                      <td>${w.ttl_s} s</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
        : null
    }
  </div>`;
}
