import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import createClient, { type Client } from 'openapi-fetch';
import { PopoApiError, PopoConnectionError } from './errors.js';
import type { paths } from './generated/schema.js';
import type {
  Checkpoint,
  CreateJobRequest,
  Dataset,
  EventsQuery,
  Job,
  JobEvent,
  JobPage,
  ListJobsQuery,
  Metrics,
  MetricsQuery,
} from './types.js';
import { type MetricStream, streamMetrics, type StreamOptions } from './stream.js';
import { waitForJob, type WaitOptions } from './wait.js';

export interface PopoClientOptions {
  /** e.g. `http://localhost:3000` (no `/v1`). */
  baseUrl: string;
  /** A project API key (`popo_...`). */
  token: string;
  /** Replaces the global fetch (tests, proxies, retries). */
  fetch?: typeof globalThis.fetch;
}

/** Where a dataset comes from: JSONL text in memory, or a file streamed from disk (never read whole). */
export type DatasetSource = { name: string; jsonl: string } | { name: string; file: string };

export interface DownloadOptions {
  /** A step number or `latest` (default). */
  step?: number | 'latest';
  /** File to write; written to `<to>.part` first and renamed, so a cut download never looks complete. */
  to: string;
}

export interface DownloadResult {
  path: string;
  step: number;
  bytes: number;
  sha256: string;
}

type ApiResult<T> = { data?: T; error?: unknown; response: Response };

export type PopoClient = ReturnType<typeof createPopoClient>;

/**
 * A typed client of the popo HTTP API. Every helper resolves to the response body on 2xx and throws
 * `PopoApiError` otherwise (`PopoConnectionError` when nothing answered). `raw` is the underlying openapi-fetch
 * client, typed from `openapi.json`, for routes without a helper here.
 */
export function createPopoClient(options: PopoClientOptions) {
  if (!options.baseUrl) throw new TypeError('createPopoClient: baseUrl is required');
  if (!options.token) throw new TypeError('createPopoClient: token is required (a project API key)');
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const baseFetch = options.fetch ?? globalThis.fetch;
  const raw: Client<paths> = createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${options.token}` },
    fetch: async (request: Request) => {
      try {
        return await baseFetch(request);
      } catch (cause) {
        throw new PopoConnectionError(baseUrl, { cause });
      }
    },
  });

  async function ok<T>(call: Promise<ApiResult<T>>, method: string): Promise<T> {
    const { data, error, response } = await call;
    if (!response.ok) throw PopoApiError.fromResponse(response, error, method);
    return data as T;
  }

  const path = (id: string) => ({ path: { id } });

  const jobs = {
    /** Creates a job; with `idempotencyKey`, repeating the call returns the first job instead of a new one. */
    create(body: CreateJobRequest, opts: { idempotencyKey?: string } = {}): Promise<Job> {
      const header =
        opts.idempotencyKey === undefined ? undefined : { 'Idempotency-Key': opts.idempotencyKey };
      return ok(raw.POST('/v1/jobs', { body, params: { header } }), 'POST');
    },
    get: (id: string): Promise<Job> => ok(raw.GET('/v1/jobs/{id}', { params: path(id) }), 'GET'),
    list: (query: ListJobsQuery = {}): Promise<JobPage> =>
      ok(raw.GET('/v1/jobs', { params: { query } }), 'GET'),
    /** Every job matching `query`, newest first, following `next_cursor`. */
    async *iterate(query: Omit<ListJobsQuery, 'cursor'> = {}): AsyncGenerator<Job> {
      let cursor: string | undefined;
      do {
        const page = await jobs.list({ ...query, cursor });
        yield* page.items;
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
    },
    cancel: (id: string): Promise<Job> => ok(raw.POST('/v1/jobs/{id}/cancel', { params: path(id) }), 'POST'),
    pause: (id: string): Promise<Job> => ok(raw.POST('/v1/jobs/{id}/pause', { params: path(id) }), 'POST'),
    resume: (id: string): Promise<Job> => ok(raw.POST('/v1/jobs/{id}/resume', { params: path(id) }), 'POST'),
    retry: (id: string): Promise<Job> => ok(raw.POST('/v1/jobs/{id}/retry', { params: path(id) }), 'POST'),
    events: (id: string, query: EventsQuery = {}): Promise<JobEvent[]> =>
      ok(raw.GET('/v1/jobs/{id}/events', { params: { path: { id }, query } }), 'GET'),
    /** Raw steps from `fromStep` (inclusive), or a thinned view with `every` / `points`. */
    metrics: (id: string, query: MetricsQuery = {}): Promise<Metrics> =>
      ok(raw.GET('/v1/jobs/{id}/metrics', { params: { path: { id }, query } }), 'GET'),
    /** Polls until the job reaches `until` (default: a terminal state); see `WaitOptions`. */
    waitFor: (id: string, opts: WaitOptions = {}): Promise<Job> =>
      waitForJob({ get: jobs.get, metrics: jobs.metrics, events: jobs.events }, id, opts),
  };

  const datasets = {
    /** Uploads JSONL rows `{problem, answer[, completion]}`; every line is validated by the service. */
    async upload(source: DatasetSource): Promise<Dataset> {
      let body: string | WebReadableStream;
      if ('file' in source) {
        // Checked here so a typo is a clear error, not a half-sent request body.
        const info = await stat(source.file).catch(() => undefined);
        if (!info?.isFile())
          throw new TypeError(`datasets.upload: file ${source.file} does not exist or is not a file`);
        body = Readable.toWeb(createReadStream(source.file));
      } else {
        body = source.jsonl;
      }
      return ok(
        raw.POST('/v1/datasets', {
          params: { query: { name: source.name } },
          body: body as unknown as string,
          bodySerializer: (b: unknown) => b as BodyInit,
          headers: { 'Content-Type': 'application/x-ndjson' },
          // Required by undici for a streamed request body.
          duplex: 'half',
        }),
        'POST',
      );
    },
    get: (id: string) => ok(raw.GET('/v1/datasets/{id}', { params: path(id) }), 'GET'),
    list: (query: NonNullable<paths['/v1/datasets']['get']['parameters']['query']> = {}) =>
      ok(raw.GET('/v1/datasets', { params: { query } }), 'GET'),
    delete: (id: string): Promise<void> =>
      ok(raw.DELETE('/v1/datasets/{id}', { params: path(id) }), 'DELETE'),
  };

  async function download(
    route:
      | '/v1/jobs/{id}/checkpoints/{step}/download'
      | '/v1/jobs/{id}/checkpoints/{step}/model'
      | '/v1/jobs/{id}/checkpoints/{step}/adapter',
    jobId: string,
    opts: DownloadOptions,
  ): Promise<DownloadResult> {
    const { data, error, response } = await raw.GET(route, {
      params: { path: { id: jobId, step: String(opts.step ?? 'latest') } },
      parseAs: 'stream',
    });
    if (!response.ok || !data) throw PopoApiError.fromResponse(response, error, 'GET');
    const hash = createHash('sha256');
    let bytes = 0;
    const part = `${opts.to}.part`;
    await mkdir(dirname(opts.to), { recursive: true });
    try {
      await pipeline(
        Readable.fromWeb(data as WebReadableStream),
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            bytes += chunk.length;
            done(null, chunk);
          },
        }),
        createWriteStream(part),
      );
      const sha256 = hash.digest('hex');
      const expected = response.headers.get('x-checkpoint-sha256');
      if (expected && expected !== sha256)
        throw new Error(
          `checkpoint download: sha256 ${sha256} does not match X-Checkpoint-Sha256 ${expected}`,
        );
      await rename(part, opts.to);
      return { path: opts.to, step: Number(response.headers.get('x-checkpoint-step')), bytes, sha256 };
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
  }

  const checkpoints = {
    list: (jobId: string): Promise<Checkpoint[]> =>
      ok(raw.GET('/v1/jobs/{id}/checkpoints', { params: path(jobId) }), 'GET'),
    /** The trainer's checkpoint blob (safetensors: θ, ξ, predictor, optimizer), verified against its sha256. */
    download: (jobId: string, opts: DownloadOptions) =>
      download('/v1/jobs/{id}/checkpoints/{step}/download', jobId, opts),
    /** The policy θ as a Hugging Face model directory (a LoRA run's merged), packed as `.tar.gz`. */
    downloadModel: (jobId: string, opts: DownloadOptions) =>
      download('/v1/jobs/{id}/checkpoints/{step}/model', jobId, opts),
    /** A LoRA run's adapters as a PEFT adapter directory, packed as `.tar.gz`. */
    downloadAdapter: (jobId: string, opts: DownloadOptions) =>
      download('/v1/jobs/{id}/checkpoints/{step}/adapter', jobId, opts),
  };

  /** A job's metrics live over socket.io, until it ends (see `MetricStream`). */
  const stream = (jobId: string, opts?: StreamOptions): MetricStream =>
    streamMetrics({ baseUrl, token: options.token, metrics: jobs.metrics }, jobId, opts);

  return {
    baseUrl,
    raw,
    jobs,
    datasets,
    checkpoints,
    // The short names a script reaches for first; the same functions as datasets.upload, jobs.create, jobs.waitFor.
    uploadDataset: datasets.upload,
    createJob: jobs.create,
    waitForJob: jobs.waitFor,
    streamMetrics: stream,
  };
}
