import { useEffect, useRef, useState } from 'preact/hooks';
import { get, qs, type Checkpoint, type Job, type JobEvent, type MetricPoint } from '../api.js';
import { SeriesStore } from '../metrics.js';
import { subscribe } from '../socket.js';

interface MetricsPage {
  items: MetricPoint[];
  total_steps: number;
  last_step: number | null;
}

const MAX_RAW = 10_000;

/** A job's whole recorded history: raw steps while it fits one page, else at most 3000 bucket means. */
export async function loadMetrics(jobId: string, into: SeriesStore): Promise<void> {
  let page = await get<MetricsPage>(`v1/jobs/${jobId}/metrics${qs({ fromStep: 0, limit: MAX_RAW })}`);
  if (page.total_steps > page.items.length)
    page = await get<MetricsPage>(`v1/jobs/${jobId}/metrics?points=3000`);
  for (const p of page.items) into.add(p.step, p.values);
}

/** Held-out evaluations come as `eval` events; their numeric data (pass_at_k, avg_at_k, …) become series. */
export function addEval(into: SeriesStore, e: Pick<JobEvent, 'code' | 'step' | 'data'>): void {
  if (e.code !== 'eval' || !e.data) return;
  const step = typeof e.data.step === 'number' ? e.data.step : (e.step ?? 0);
  const { step: _s, n: _n, k: _k, examples: _e, ...rest } = e.data;
  into.add(step, rest);
}

export const evalLabel = (name: string, k: unknown) =>
  typeof k === 'number' ? name.replace(/_at_k$/, `@${k}`) : name.replace(/_at_k$/, '@k');

/** Re-renders at most once per frame however many socket messages arrive. */
function useFrameTick(): [number, () => void] {
  const [tick, setTick] = useState(0);
  const pending = useRef(false);
  return [
    tick,
    () => {
      if (pending.current) return;
      pending.current = true;
      requestAnimationFrame(() => {
        pending.current = false;
        setTick((t) => t + 1);
      });
    },
  ];
}

export interface JobLive {
  job: Job | null;
  error: unknown;
  metrics: SeriesStore;
  evals: SeriesStore;
  evalK: unknown;
  events: JobEvent[];
  checkpoints: Checkpoint[];
  tick: number;
  setJob: (j: Job) => void;
}

/**
 * A POST's answer, a GET and the socket's pushes race: the answer to a cancel (`cancelling`) can land after the push
 * of the `cancelled` that followed it. The row with the later `updated_at` wins; progress never goes back.
 */
export function newerJob(cur: Job | null, next: Job): Job {
  if (!cur) return next;
  if (Date.parse(next.updated_at) < Date.parse(cur.updated_at)) return cur;
  return { ...next, progress_step: Math.max(cur.progress_step, next.progress_step) };
}

/** The job, its metrics, evals, events and checkpoints: loaded once, then kept current over the socket. */
export function useJobLive(id: string): JobLive {
  const [job, setJobState] = useState<Job | null>(null);
  const setJob = (next: Job) => setJobState((cur) => newerJob(cur, next));
  const [error, setError] = useState<unknown>(null);
  const metrics = useRef(new SeriesStore());
  const evals = useRef(new SeriesStore());
  const [evalK, setEvalK] = useState<unknown>(undefined);
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [checkpoints, setCheckpoints] = useState<Checkpoint[]>([]);
  const [tick, bump] = useFrameTick();
  const lastEventId = useRef(0);

  useEffect(() => {
    metrics.current = new SeriesStore();
    evals.current = new SeriesStore();
    lastEventId.current = 0;
    setJobState(null);
    setEvents([]);
    setCheckpoints([]);
    let alive = true;

    const addEvents = (list: JobEvent[]) => {
      const fresh = list.filter((e) => e.id > lastEventId.current);
      if (!fresh.length) return;
      lastEventId.current = Math.max(...fresh.map((e) => e.id));
      for (const e of fresh) {
        addEval(evals.current, e);
        if (e.code === 'eval' && e.data?.k !== undefined) setEvalK(e.data.k);
      }
      setEvents((old) => [...old, ...fresh]);
      bump();
    };
    // API-made events (cancel and pause notes) are not pushed; a status change is the cue to read them.
    const pollEvents = () =>
      get<JobEvent[]>(`v1/jobs/${id}/events${qs({ after: lastEventId.current, limit: 1000 })}`).then(
        (l) => alive && addEvents(l),
        () => undefined,
      );

    get<Job>(`v1/jobs/${id}`).then((j) => alive && setJob(j), setError);
    loadMetrics(id, metrics.current).then(() => bump(), setError);
    void pollEvents();
    get<Checkpoint[]>(`v1/jobs/${id}/checkpoints`).then(
      (c) => alive && setCheckpoints(c),
      () => undefined,
    );

    const off = subscribe(
      { job_id: id },
      {
        'job.status': (m) => {
          setJobState((j) => (j ? newerJob(j, { ...j, ...m }) : j));
          void pollEvents();
          // Terminal: fetch the row for finished_at and result.
          if (['succeeded', 'failed', 'cancelled', 'paused'].includes(m.status))
            get<Job>(`v1/jobs/${id}`).then(
              (j) => alive && setJob(j),
              () => undefined,
            );
        },
        'job.metrics': (m) => {
          metrics.current.add(m.step, m.values);
          setJobState((j) => (j && m.step > j.progress_step ? { ...j, progress_step: m.step } : j));
          bump();
        },
        'job.event': (e) => addEvents([e as JobEvent]),
        'job.checkpoint': (c) =>
          setCheckpoints((l) =>
            l.some((x) => x.id === c.id)
              ? l
              : [
                  ...l,
                  {
                    id: c.id,
                    job_id: c.job_id,
                    step: c.step,
                    sha256: c.sha256,
                    size_bytes: c.size_bytes,
                    created_at: c.created_at,
                  },
                ],
          ),
      },
    );
    return () => {
      alive = false;
      off();
    };
  }, [id]);

  return {
    job,
    error,
    metrics: metrics.current,
    evals: evals.current,
    evalK,
    events,
    checkpoints,
    tick,
    setJob,
  };
}
