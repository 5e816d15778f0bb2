import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, auth, get } from './api.js';
import { href, useRoute } from './router.js';
import { closeSocket, onSocketState } from './socket.js';
import { SignIn } from './pages/signin.js';
import { JobsPage } from './pages/jobs.js';
import { JobPage } from './pages/job.js';
import { SubmitPage } from './pages/submit.js';
import { ComparePage } from './pages/compare.js';
import { SweepPage } from './pages/sweep.js';
import { HealthPage } from './pages/health.js';
import './style.css';

interface Me {
  project: { id: string; name: string };
}

function SocketBadge() {
  const [s, setS] = useState<{ state: string; reason?: string }>({ state: 'connecting' });
  useEffect(() => onSocketState((state, reason) => setS({ state, reason })), []);
  return html`<span class="live ${s.state}" title=${s.reason ?? 'socket.io'} data-socket=${s.state}>
    ${s.state === 'live' ? '● live' : s.state === 'offline' ? '● offline' : '● connecting'}
  </span>`;
}

function App() {
  const route = useRoute();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [key, setKey] = useState(auth.key);

  useEffect(() => {
    if (!key) return setMe(null);
    get<Me>('v1/me').then(setMe, (e: unknown) => {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        auth.set(null);
        setKey(null);
      }
      setMe(null);
    });
  }, [key]);

  const signOut = () => {
    auth.set(null);
    closeSocket();
    setKey(null);
  };

  if (route.path[0] === 'health') {
    // Health needs no key.
    return html`<${Layout} me=${me} signOut=${signOut}><${HealthPage} /></${Layout}>`;
  }
  if (!key || me === null)
    return html`<${SignIn}
      onSignedIn=${(k: string) => {
        auth.set(k);
        setKey(k);
      }}
    />`;
  if (me === undefined) return html`<p class="loading">Loading…</p>`;

  const [page, id] = route.path;
  let body;
  if (page === 'jobs' && id) body = html`<${JobPage} id=${id} />`;
  else if (page === 'new') body = html`<${SubmitPage} from=${route.query.get('from') ?? undefined} />`;
  else if (page === 'compare')
    body = html`<${ComparePage}
      ids=${(route.query.get('ids') ?? '').split(',').filter(Boolean)}
      metric=${route.query.get('metric') ?? undefined}
    />`;
  else if (page === 'sweeps' && id) body = html`<${SweepPage} id=${id} />`;
  else body = html`<${JobsPage} query=${route.query} />`;
  return html`<${Layout} me=${me} signOut=${signOut}>${body}</${Layout}>`;
}

function Layout({ me, signOut, children }: { me?: Me | null; signOut: () => void; children: unknown }) {
  return html`<header>
      <a class="brand" href=${href('jobs')}>popo</a>
      <nav>
        <a href=${href('jobs')}>Jobs</a>
        <a href=${href('new')}>New job</a>
        <a href=${href('compare')}>Compare</a>
        <a href=${href('health')}>Health</a>
        <a href="docs" target="_blank" rel="noopener">API docs</a>
      </nav>
      <span class="spacer"></span>
      ${
        me
          ? html`<${SocketBadge} /><span class="project">project <b>${me.project.name}</b></span>
              <button class="link" onClick=${signOut}>Sign out</button>`
          : null
      }
    </header>
    <main>${children}</main>`;
}

render(html`<${App} />`, document.getElementById('app')!);
