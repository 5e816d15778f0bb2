import { html } from 'htm/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, get, type FieldError, type Job, type JobPage } from '../api.js';
import { openApi, requestBodySchema, type OpenApiDoc, type Schema } from '../openapi.js';
import { go } from '../router.js';
import { errorMap, prune, SchemaForm, type Value } from '../schema-form.js';
import { ErrorBox, jobTitle } from './common.js';

/**
 * A job's request body rebuilt from what the API returns for it: the stored config plus the columns the
 * request had (model, data, mode, …), kept to what the current schema accepts. Jobs stored before the one run
 * document kept model and data in columns only; the columns fill whatever the stored config lacks.
 */
export function bodyFromJob(doc: OpenApiDoc, schema: Schema, job: Job): Value {
  const cols: Value = {
    algorithm: job.kind === 'eval' ? undefined : job.kind,
    mode: job.kind === 'eval' ? 'eval' : undefined,
    model: job.model_builtin
      ? { builtin: job.model_builtin }
      : job.model_id
        ? { id: job.model_id }
        : undefined,
    data: job.dataset_id ? { dataset_id: job.dataset_id } : job.task ? { task: job.task } : undefined,
    priority: job.priority || undefined,
    webhook_url: job.webhook_url ?? undefined,
  };
  const merged: Value = { ...job.config };
  for (const [k, v] of Object.entries(cols)) if (v !== undefined && merged[k] === undefined) merged[k] = v;
  if (job.name) merged.name = `${job.name} (copy)`;
  return prune(doc, schema, merged) as Value;
}

export function SubmitPage({ from }: { from?: string }) {
  const [doc, setDoc] = useState<OpenApiDoc | null>(null);
  const [value, setValue] = useState<Value>({});
  const [details, setDetails] = useState<FieldError[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [recent, setRecent] = useState<Job[]>([]);
  const [variants, setVariants] = useState(new Map<string, number>());
  const [seed, setSeed] = useState(from ?? '');
  const [jsonText, setJsonText] = useState<string | null>(null);
  const raw = useMemo(() => new Map<string, string>(), []);

  useEffect(() => {
    openApi().then(setDoc, setError);
    get<JobPage>('v1/jobs?limit=50').then(
      (p) => setRecent(p.items),
      () => undefined,
    );
  }, []);
  const schema = useMemo(() => (doc ? requestBodySchema(doc, 'post', '/v1/jobs') : undefined), [doc]);

  const seedFrom = async (id: string) => {
    setSeed(id);
    if (!doc || !schema || !id) return;
    try {
      raw.clear();
      setValue(bodyFromJob(doc, schema, await get<Job>(`v1/jobs/${id}`)));
      setDetails([]);
      setVariants(new Map());
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    if (from) void seedFrom(from);
  }, [from, schema]);

  if (!doc || !schema)
    return error
      ? html`<${ErrorBox} error=${error} />`
      : html`<p class="loading">Reading the API schema…</p>`;

  const errors = errorMap(details);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setDetails([]);
    try {
      const job = await api<Job>('POST', 'v1/jobs', value);
      go(`jobs/${job.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.details.length) setDetails(err.details);
      else setError(err instanceof ApiError ? `${err.message} (${err.code})` : err);
    } finally {
      setBusy(false);
    }
  };

  return html`<form class="submit" onSubmit=${submit} data-test="submit-form">
    <div class="toolbar">
      <h1>New job</h1>
      <label
        >Start from
        <select
          name="start-from"
          value=${seed}
          onChange=${(e: Event) => void seedFrom((e.target as HTMLSelectElement).value)}
        >
          <option value="">— an empty form —</option>
          ${recent.map((j) => html`<option value=${j.id}>${jobTitle(j)} · ${j.kind} · ${j.status}</option>`)}
        </select></label
      >
      <span class="spacer"></span>
      <button
        type="button"
        onClick=${() => {
          raw.clear();
          setValue({});
          setDetails([]);
          setVariants(new Map());
        }}
      >
        Clear
      </button>
      <button class="primary" type="submit" disabled=${busy} data-test="submit">
        ${busy ? 'Submitting…' : 'Submit'}
      </button>
    </div>
    <p class="muted">
      Fields and bounds come from the API's own schema (<code>POST /v1/jobs</code> in
      <a href="docs" target="_blank">/docs</a>); empty fields take the API's defaults.
    </p>
    ${
      details.length
        ? html`<div class="error" role="alert" data-test="form-errors">
            The API refused the job:
            <ul>
              ${details.map((d) => html`<li><code>${d.field}</code>: ${d.reason}</li>`)}
            </ul>
          </div>`
        : null
    }
    <${ErrorBox} error=${error} />
    <div class="form-and-json">
      <${SchemaForm}
        doc=${doc}
        schema=${schema}
        value=${value}
        errors=${errors}
        onChange=${(v: Value) => {
          setValue(v);
          setJsonText(null);
        }}
        raw=${raw}
        variants=${variants}
        setVariant=${(p: string, i: number) => setVariants(new Map(variants).set(p, i))}
      />
      <aside class="json">
        <h3>Request body</h3>
        <textarea
          name="json"
          spellcheck="false"
          value=${jsonText ?? JSON.stringify(value, null, 2)}
          onInput=${(e: Event) => {
            const t = (e.target as HTMLTextAreaElement).value;
            setJsonText(t);
            try {
              const v = JSON.parse(t) as unknown;
              if (v && typeof v === 'object' && !Array.isArray(v)) setValue(v as Value);
            } catch {
              /* keep typing */
            }
          }}
        ></textarea>
      </aside>
    </div>
  </form>`;
}
