import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  createPopoClient,
  type CreateJobRequest,
  isTerminal,
  type Job,
  type MetricPoint,
  PopoApiError,
  type PopoClient,
  PopoConnectionError,
  PopoTimeoutError,
} from '../../client/sdk/index.js';
import { readRunDocument } from './load-config.js';
import { StepProgress, type ProgressPoint } from './progress.js';

/**
 * Exit codes, for CI: 0 done (a waited job succeeded), 1 the job ended failed or cancelled, 2 the request was
 * refused or the service could not be reached, or the command line / config is wrong, 3 `--timeout` passed
 * (the job goes on).
 */
export const EXIT = { ok: 0, jobFailed: 1, error: 2, timeout: 3 } as const;

interface ConnectionOptions {
  url?: string;
  key?: string;
}

const DEFAULT_URL = 'http://localhost:3000';

class UsageError extends Error {}

function connect(opts: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): PopoClient {
  const baseUrl = opts.url ?? env.POPO_URL ?? DEFAULT_URL;
  const token = opts.key ?? env.POPO_API_KEY;
  if (!token) throw new UsageError('no API key: pass --key <key> or set POPO_API_KEY');
  if (!/^https?:\/\//.test(baseUrl))
    throw new UsageError(`--url / POPO_URL: "${baseUrl}" must start with http:// or https://`);
  return createPopoClient({ baseUrl, token });
}

/** Prints what went wrong the way a person fixes it (code, message, then one field per line) → exit code. */
export function reportError(e: unknown): number {
  if (e instanceof PopoApiError) {
    process.stderr.write(`error: ${e.code} (${e.status}): ${e.message}\n`);
    for (const d of e.details) process.stderr.write(`  ${d.field}: ${d.reason}\n`);
    return EXIT.error;
  }
  if (e instanceof PopoConnectionError || e instanceof UsageError || e instanceof InvalidArgumentError) {
    process.stderr.write(`error: ${e.message}\n`);
    return EXIT.error;
  }
  if (e instanceof PopoTimeoutError) {
    process.stderr.write(`error: ${e.message}\n`);
    return EXIT.timeout;
  }
  // A bug rather than a refusal: the stack helps more than a tidy line.
  process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return EXIT.error;
}

/** Reads a run document (YAML or JSON; JSON is YAML) and applies `--set a.b=value` overrides. */
export function readJobConfig(file: string, overrides: string[] = []): Record<string, unknown> {
  try {
    return readRunDocument(file, overrides);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code ? `--config: cannot read ${file}: ${code}` : `--config: ${file}: ${(e as Error).message}`,
    );
  }
}

/**
 * The `popo train` document → a job request: what the service cannot read from this machine is swapped for a
 * reference. `data.train_file` (+ `data.test_file`, its rows marked split "test") is uploaded as a dataset and
 * named by `data.dataset_id`; a local `model.path` is refused with the way to register it. The service validates
 * everything else and names every bad field.
 */
export async function toJobRequest(
  client: PopoClient,
  doc: Record<string, unknown>,
  baseDir: string,
): Promise<CreateJobRequest> {
  const model = doc.model as Record<string, unknown> | undefined;
  if (model && typeof model === 'object' && 'path' in model)
    throw new UsageError(
      'model.path: a local model directory is not visible to the service; upload it (POST /v1/models/upload, ' +
        'a tar.gz of the directory) and name it with model.id, or use model.builtin',
    );
  const data = doc.data as Record<string, unknown> | undefined;
  if (!data || typeof data !== 'object' || (!('train_file' in data) && !('test_file' in data)))
    return doc as CreateJobRequest;
  const { train_file, test_file, ...rest } = data;
  if (typeof train_file !== 'string')
    throw new UsageError(
      'data.train_file: the service needs the training rows (test_file alone is not a dataset)',
    );
  const lines: string[] = [];
  for (const [file, split] of [
    [train_file, undefined],
    [test_file, 'test'],
  ] as const) {
    if (typeof file !== 'string') continue;
    const path = resolve(baseDir, file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new UsageError(
        `data.${split ? 'test' : 'train'}_file: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
    for (const line of text.split('\n'))
      if (line.trim()) lines.push(split ? JSON.stringify({ ...(JSON.parse(line) as object), split }) : line);
  }
  const dataset = await client.datasets.upload({
    name: basename(train_file),
    jsonl: lines.join('\n') + '\n',
  });
  process.stderr.write(`uploaded ${train_file} as dataset ${dataset.id} (${dataset.row_count} rows)\n`);
  return { ...doc, data: { ...rest, dataset_id: dataset.id } } as CreateJobRequest;
}

const SHOWN = ['reward_mean', 'pass_rate', 'loss', 'tokens_per_second'] as const;

/** An API metric point → what the progress bar shows (a field the algorithm does not report stays absent). */
function toProgressPoint(p: MetricPoint): ProgressPoint {
  const out: ProgressPoint = { step: p.step };
  for (const k of SHOWN) if (typeof p.values[k] === 'number') out[k] = p.values[k];
  return out;
}

/** Waits with a progress bar on stderr; prints the final status on stdout → exit code. */
async function waitWithProgress(
  client: PopoClient,
  id: string,
  opts: { quiet?: boolean; intervalMs?: number; timeoutMs?: number },
): Promise<number> {
  let progress: StepProgress | undefined;
  const job = await client.jobs.waitFor(id, {
    intervalMs: opts.intervalMs,
    timeoutMs: opts.timeoutMs,
    onStatus: (j) => {
      if (opts.quiet) return;
      if (!progress && j.total_steps && !isTerminal(j.status)) {
        progress = new StepProgress(j.total_steps, `job ${id.slice(0, 8)} (${j.kind})`);
        progress.startAt(j.progress_step);
      }
      if (progress) progress.log(`status: ${j.status}`);
      else process.stderr.write(`status: ${j.status}\n`);
    },
    onMetrics: (points) => {
      for (const p of points) progress?.update(toProgressPoint(p));
    },
  });
  progress?.stop();
  return printOutcome(job);
}

function printOutcome(job: Job): number {
  process.stdout.write(`${job.id} ${job.status} step ${job.progress_step}/${job.total_steps ?? '?'}\n`);
  if (job.error) process.stderr.write(`job error: ${job.error}\n`);
  return job.status === 'succeeded' ? EXIT.ok : EXIT.jobFailed;
}

function summary(job: Job): string {
  const lines = [
    `id        ${job.id}`,
    `name      ${job.name ?? '-'}`,
    `kind      ${job.kind}`,
    `status    ${job.status}${job.stop_requested ? ` (${job.stop_requested} requested)` : ''}`,
    `progress  ${job.progress_step}/${job.total_steps ?? '?'} steps`,
    `model     ${job.model_builtin ?? job.model_id ?? '-'}`,
    `data      ${job.dataset_id ?? (job.task ? JSON.stringify(job.task) : '-')}`,
    `backend   ${job.backend ?? '-'}${job.device ? ` on ${job.device}` : ''}`,
    `created   ${job.created_at}`,
  ];
  if (job.finished_at) lines.push(`finished  ${job.finished_at}`);
  if (job.error) lines.push(`error     ${job.error}`);
  return lines.join('\n') + '\n';
}

const int = (name: string) => (v: string) => {
  const n = Number(v);
  // InvalidArgumentError: commander prints it as a usage error of that option (exit 1 while parsing).
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`${name}: "${v}" must be a non-negative integer`);
  return n;
};

const collect = (v: string, prev: string[]) => [...prev, v];

/** Adds the connection options every remote command takes. */
function remote(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', `service base URL (default $POPO_URL or ${DEFAULT_URL})`))
    .addOption(new Option('--key <key>', 'project API key (default $POPO_API_KEY)'));
}

/** Runs a command body, turning API / connection / usage errors into a message and exit code 2. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<number>) {
  return async (...args: A) => {
    try {
      process.exitCode = await fn(...args);
    } catch (e) {
      process.exitCode = reportError(e);
    }
  };
}

/** Registers `popo jobs …` and `popo datasets …`: the service's API from a shell or CI, through the SDK. */
export function registerJobCommands(program: Command): void {
  const jobs = program.command('jobs').description('Submit and follow training jobs on a popo service');

  remote(jobs.command('submit'))
    .description(
      'Create a job from a run document (the `popo train` file; local data files are uploaded); prints the job id',
    )
    .requiredOption(
      '-c, --config <file>',
      'run document (YAML or JSON), plus service fields such as from_checkpoint',
    )
    .option('-s, --set <key=value>', 'override a field, e.g. --set popo.alpha=0', collect, [])
    .option('--idempotency-key <key>', 'repeat-safe submit: the same key returns the same job')
    .option('-w, --wait', 'wait for the job to finish (exit 1 unless it succeeds)')
    .option('--interval <ms>', 'poll period while waiting', int('--interval'), 1000)
    .option('--timeout <ms>', 'give up waiting after this long', int('--timeout'))
    .option('--quiet', 'no progress output')
    .action(
      action(async (opts) => {
        const client = connect(opts);
        const doc = readJobConfig(opts.config, opts.set);
        const body = await toJobRequest(client, doc, dirname(opts.config));
        const job = await client.jobs.create(body, {
          idempotencyKey: opts.idempotencyKey,
        });
        process.stdout.write(`${job.id}\n`);
        if (!opts.wait) return EXIT.ok;
        return waitWithProgress(client, job.id, {
          ...opts,
          intervalMs: opts.interval,
          timeoutMs: opts.timeout,
        });
      }),
    );

  remote(jobs.command('status'))
    .description("A job's status and progress")
    .argument('<id>', 'job id')
    .option('--json', 'the whole job as JSON')
    .action(
      action(async (id: string, opts) => {
        const job = await connect(opts).jobs.get(id);
        process.stdout.write(opts.json ? JSON.stringify(job, null, 2) + '\n' : summary(job));
        return EXIT.ok;
      }),
    );

  remote(jobs.command('wait'))
    .description('Wait for a job to finish (exit 0 succeeded, 1 failed or cancelled)')
    .argument('<id>', 'job id')
    .option('--interval <ms>', 'poll period', int('--interval'), 1000)
    .option('--timeout <ms>', 'give up after this long', int('--timeout'))
    .option('--quiet', 'no progress output')
    .action(
      action((id: string, opts) =>
        waitWithProgress(connect(opts), id, { ...opts, intervalMs: opts.interval, timeoutMs: opts.timeout }),
      ),
    );

  for (const verb of ['cancel', 'pause', 'resume', 'retry'] as const) {
    remote(jobs.command(verb))
      .description(`${verb[0].toUpperCase()}${verb.slice(1)} a job; prints its new status`)
      .argument('<id>', 'job id')
      .action(
        action(async (id: string, opts) => {
          const job = await connect(opts).jobs[verb](id);
          process.stdout.write(`${job.id} ${job.status}\n`);
          return EXIT.ok;
        }),
      );
  }

  remote(jobs.command('list'))
    .description('Jobs of the project, newest first')
    .option('--status <status>', 'only jobs in this state')
    .option('--limit <n>', 'at most this many', int('--limit'), 20)
    .action(
      action(async (opts) => {
        const page = await connect(opts).jobs.list({ status: opts.status, limit: opts.limit });
        for (const j of page.items)
          process.stdout.write(
            `${j.id} ${j.kind.padEnd(4)} ${j.status.padEnd(10)} ${j.progress_step}/${j.total_steps ?? '?'} ${j.name ?? ''}\n`,
          );
        return EXIT.ok;
      }),
    );

  remote(jobs.command('metrics'))
    .description('Step metrics as JSON lines ({"step", ...values}) on stdout')
    .argument('<id>', 'job id')
    .option('--from <step>', 'first step (inclusive)', int('--from'), 1)
    .option('--limit <n>', 'at most this many steps', int('--limit'))
    .action(
      action(async (id: string, opts) => {
        const client = connect(opts);
        let from = opts.from as number;
        let left = (opts.limit as number | undefined) ?? Infinity;
        while (left > 0) {
          const page = await client.jobs.metrics(id, { fromStep: from, limit: Math.min(left, 10_000) });
          for (const p of page.items)
            process.stdout.write(JSON.stringify({ step: p.step, ...p.values }) + '\n');
          if (page.items.length === 0) break;
          left -= page.items.length;
          from = page.items.at(-1)!.step + 1;
        }
        return EXIT.ok;
      }),
    );

  remote(jobs.command('download'))
    .description("Download a checkpoint's policy as a Hugging Face model archive (.tar.gz)")
    .argument('<id>', 'job id')
    .requiredOption('-o, --out <file>', 'archive to write')
    .option('--step <step>', 'checkpoint step or "latest"', 'latest')
    .action(
      action(async (id: string, opts) => {
        const step = opts.step === 'latest' ? 'latest' : int('--step')(opts.step);
        const r = await connect(opts).checkpoints.downloadModel(id, { step, to: opts.out });
        process.stdout.write(`${r.path} step ${r.step} ${r.bytes} bytes sha256 ${r.sha256}\n`);
        return EXIT.ok;
      }),
    );

  const datasets = program.command('datasets').description('Datasets on a popo service');
  remote(datasets.command('upload'))
    .description('Upload a JSONL file (rows {problem, answer[, completion]}); prints the dataset id')
    .argument('<file>', 'JSONL file')
    .requiredOption('--name <name>', 'dataset name')
    .action(
      action(async (file: string, opts) => {
        const dataset = await connect(opts).datasets.upload({ name: opts.name, file });
        process.stdout.write(`${dataset.id}\n`);
        process.stderr.write(`${dataset.row_count} rows, sha256 ${dataset.sha256}\n`);
        return EXIT.ok;
      }),
    );
}
