import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, request } from '../api.js';

/** Sign in with a project API key; on the machine running `npm start`, the embedded key is offered. */
export function SignIn({ onSignedIn }: { onSignedIn: (key: string) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [local, setLocal] = useState<string | null>(null);

  useEffect(() => {
    fetch('v1/embedded/credentials')
      .then((r) => (r.ok ? (r.json() as Promise<{ api_key: string }>) : null))
      .then((c) => c && setLocal(c.api_key))
      .catch(() => undefined);
  }, []);

  const tryKey = async (k: string) => {
    setError(null);
    try {
      await request('GET', 'v1/me', undefined, k.trim());
      onSignedIn(k.trim());
    } catch (e) {
      setError(e instanceof ApiError ? `${e.message} (${e.code})` : String(e));
    }
  };

  return html`<div class="signin">
    <h1>popo</h1>
    <p>Positive-Only Policy Optimization, as a service. Sign in with a project API key.</p>
    ${
      local
        ? html`<div class="card local">
            <p>This dashboard runs on your machine in embedded mode: its project key is available.</p>
            <button class="primary" data-test="use-local-key" onClick=${() => tryKey(local)}>
              Use the local key
            </button>
          </div>`
        : null
    }
    <form
      onSubmit=${(e: Event) => {
        e.preventDefault();
        void tryKey(key);
      }}
    >
      <label
        >API key
        <input
          name="api_key"
          type="password"
          autocomplete="off"
          placeholder="popo_…"
          value=${key}
          onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)}
      /></label>
      <button class="primary" type="submit" disabled=${!key.trim()}>Sign in</button>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    </form>
    <p class="hint">
      Keys are created with the admin key (<code>POST /v1/projects/:id/keys</code>) or written to
      <code>.popo/credentials.json</code> by <code>npm start</code>.
    </p>
  </div>`;
}
