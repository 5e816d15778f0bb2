/** The REST side: same origin as the page, bearer key from the sign-in. */

export interface FieldError {
  field: string;
  reason: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldError[] = [],
  ) {
    super(message);
  }
}

const KEY_STORAGE = 'popo.api_key';

export const auth = {
  get key(): string | null {
    return localStorage.getItem(KEY_STORAGE);
  },
  set(key: string | null): void {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  },
};

async function errorOf(res: Response): Promise<ApiError> {
  let body: { error?: { code?: string; message?: string; details?: FieldError[] } } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    /* not JSON: fall back to the status line */
  }
  const e = body.error ?? {};
  return new ApiError(
    res.status,
    e.code ?? `http_${res.status}`,
    e.message ?? res.statusText,
    e.details ?? [],
  );
}

export async function request(
  method: string,
  path: string,
  body?: unknown,
  key = auth.key,
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, body);
  return (await res.json()) as T;
}

export const get = <T>(path: string) => api<T>('GET', path);

/** Query string from the defined entries only. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/**
 * Downloads an authenticated file: an <a href> cannot carry the bearer header, so the body is fetched and
 * handed to the browser as a blob (fine for the checkpoint sizes of CPU runs; see docs/dashboard.md).
 */
export async function download(path: string, fallbackName: string): Promise<void> {
  const res = await request('GET', path);
  const disposition = res.headers.get('content-disposition') ?? '';
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// --- the resources, as the API returns them (only the fields the pages read) ---

export interface Job {
  id: string;
  project_id: string;
  kind: string;
  status: string;
  name: string | null;
  config: Record<string, unknown>;
  model_builtin: string | null;
  model_id: string | null;
  dataset_id: string | null;
  task: Record<string, unknown> | null;
  priority: number;
  attempts: number;
  error: string | null;
  stop_requested: string | null;
  progress_step: number;
  total_steps: number | null;
  backend: string | null;
  device: string | null;
  worker_id: string | null;
  sweep_id: string | null;
  sweep_index: number | null;
  from_checkpoint_id: string | null;
  webhook_url: string | null;
  result: Record<string, unknown> | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  [more: string]: unknown;
}

export interface JobPage {
  items: Job[];
  next_cursor: string | null;
}

export interface MetricPoint {
  step: number;
  values: Record<string, number | string>;
}

export interface JobEvent {
  id: number;
  job_id: string;
  level: 'info' | 'warning' | 'error';
  code: string;
  message: string;
  step: number | null;
  data: Record<string, unknown> | null;
  created_at: string;
}

export interface Checkpoint {
  id: string;
  job_id: string;
  step: number;
  sha256: string;
  size_bytes: number;
  created_at: string;
}

export const ACTIVE = new Set(['queued', 'running', 'paused', 'cancelling']);
export const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
