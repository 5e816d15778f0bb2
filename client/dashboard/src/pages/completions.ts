import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, qs, type Job } from '../api.js';
import { num } from '../format.js';
import { ErrorBox } from './common.js';

interface Sample {
  step: number;
  prompt_index: number;
  sample_index: number;
  prompt: string;
  answer: string;
  completion: string;
  reward: number;
  positive: boolean;
  weight: number | null;
}
interface Page {
  steps: number[];
  items: Sample[];
}

const groupBy = <K, T>(xs: T[], key: (x: T) => K) => {
  const m = new Map<K, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
};

const Text = ({ s }: { s: string }) => html`<code class="completion">${s === '' ? '∅ (empty)' : s}</code>`;

function SampleRow({ x }: { x: Sample }) {
  return html`<tr class=${x.positive ? 'pos' : 'neg'}>
    <td>${x.sample_index}</td>
    <td><${Text} s=${x.completion} /></td>
    <td>${x.positive ? '✓' : '✗'}</td>
    <td>${num(x.reward)}</td>
    <td>${x.weight === null ? '—' : num(x.weight)}</td>
  </tr>`;
}

/**
 * The completions the learner stored for a step (the first prompts, all G samples each: text, reward, verdict,
 * POPO's weight w), and one prompt followed across every step that sampled it. Follows the latest step while
 * the job runs unless a step is picked.
 */
export function Completions({ job, tick }: { job: Job; tick: number }) {
  const [page, setPage] = useState<Page | null>(null);
  const [step, setStep] = useState<number | null>(null); // null: the latest
  const [follow, setFollow] = useState<string | null>(null);
  const [history, setHistory] = useState<Sample[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const last = useRef(0);

  useEffect(() => {
    // Live refresh at most every 1.5 s while following the latest step.
    if (step === null && Date.now() - last.current < 1500 && page) return;
    last.current = Date.now();
    get<Page>(`v1/jobs/${job.id}/completions${qs({ step: step ?? undefined })}`).then(setPage, setError);
  }, [job.id, step, step === null ? tick : 0]);

  useEffect(() => {
    if (follow === null) return setHistory(null);
    get<Page>(`v1/jobs/${job.id}/completions${qs({ prompt: follow, limit: 1000 })}`).then(
      (p) => setHistory(p.items),
      setError,
    );
  }, [job.id, follow, follow === null ? 0 : tick]);

  if (job.kind === 'sft' || job.kind === 'eval') return null;
  const shown = page?.items[0]?.step;
  return html`<section class="panel completions" data-test="completions">
    <div class="toolbar">
      <h2>Completions</h2>
      <label
        >Step
        <select
          name="completions-step"
          value=${step === null ? '' : String(step)}
          onChange=${(e: Event) => {
            const v = (e.target as HTMLSelectElement).value;
            setStep(v === '' ? null : Number(v));
          }}
        >
          <option value="">latest${shown !== undefined && step === null ? ` (${shown})` : ''}</option>
          ${[...(page?.steps ?? [])].reverse().map((s) => html`<option value=${String(s)}>${s}</option>`)}
        </select></label
      >
      <small class="muted"
        >the first prompts of each step, all G samples; w is POPO's weight on the positive set</small
      >
    </div>
    <${ErrorBox} error=${error} />
    ${page && page.items.length === 0 ? html`<p class="muted">No completions stored yet.</p>` : null}
    <div class="groups">
      ${[...groupBy(page?.items ?? [], (x) => x.prompt_index)].map(
        ([gi, xs]) =>
          html`<div class="group" data-group=${gi} data-step=${xs[0].step}>
            <div class="prompt">
              <span class="muted">prompt</span> <${Text} s=${xs[0].prompt} />
              <span class="muted">answer</span> <${Text} s=${xs[0].answer} />
              <span class="muted">${xs.filter((x) => x.positive).length}/${xs.length} correct</span>
              <button class="link" data-test="follow-prompt" onClick=${() => setFollow(xs[0].prompt)}>
                follow across steps
              </button>
            </div>
            <table class="grid small">
              <thead>
                <tr>
                  <th>#</th>
                  <th>completion</th>
                  <th></th>
                  <th>reward</th>
                  <th>w</th>
                </tr>
              </thead>
              <tbody>
                ${xs.map((x) => html`<${SampleRow} x=${x} />`)}
              </tbody>
            </table>
          </div>`,
      )}
    </div>
    ${
      follow !== null
        ? html`<div class="history" data-test="prompt-history">
            <div class="toolbar">
              <h3>Prompt <${Text} s=${follow} /> across steps</h3>
              <button class="link" onClick=${() => setFollow(null)}>close</button>
            </div>
            <table class="grid small">
              <thead>
                <tr>
                  <th>step</th>
                  <th>samples (✓ correct, w)</th>
                  <th>correct</th>
                </tr>
              </thead>
              <tbody>
                ${[...groupBy(history ?? [], (x) => `${x.step}:${x.prompt_index}`)].map(
                  ([k, xs]) =>
                    html`<tr key=${k} data-step=${xs[0].step}>
                      <td>${xs[0].step}</td>
                      <td>
                        ${xs.map((x) => html`<span class="chip ${x.positive ? 'pos' : 'neg'}" title=${`reward ${x.reward}`}>${x.completion || '∅'}${x.weight ? html` <small>w ${num(x.weight)}</small>` : null}</span> `)}
                      </td>
                      <td>${xs.filter((x) => x.positive).length}/${xs.length}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`
        : null
    }
  </section>`;
}
