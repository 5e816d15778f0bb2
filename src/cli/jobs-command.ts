import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  checkGates,
  createPopoClient,
  type CreateJobRequest,
  isTerminal,
  type Job,
  type MetricPoint,
  PopoApiError,
  type PopoClient,
  PopoConnectionError,
  PopoTimeoutError,
  parseGate,
  type QualityGate,
} from '../../client/sdk/index.js';
import { parseRowLine } from '../learner/data/examples.js';
import { DEFAULT_URL, resolveConnection, UsageError } from './connection.js';
import { readRunDocument } from './load-config.js';
import { StepProgress, type ProgressPoint } from './progress.js';

/**
 * Exit codes, for CI: 0 done (a waited job succeeded and passed its gates), 1 the job ended failed or cancelled,
 * 2 the request was refused or the service could not be reached, or the command line / config is wrong,
 * 3 `--timeout` passed (the job goes on), 4 the job succeeded but a `--fail-below` gate did not hold.
 */
export const EXIT = { ok: 0, jobFailed: 1, error: 2, timeout: 3, gateFailed: 4 } as const;

interface ConnectionOptions {
  url?: string;
  key?: string;
}

function connect(opts: ConnectionOptions): PopoClient {
  return createPopoClient(resolveConnection(opts));
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
  const { train_file, test_file, problem_field, answer_field, ...rest } = data;
  // Rows go up in the service's shape (problem, answer): the files' own field names are this document's business.
  const fields = {
    problem: typeof problem_field === 'string' ? problem_field : undefined,
    answer: typeof answer_field === 'string' ? answer_field : undefined,
  };
  const mapped = fields.problem !== undefined || fields.answer !== undefined;
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
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      if (!mapped) {
        lines.push(split ? JSON.stringify({ ...(JSON.parse(line) as object), split }) : line);
        return;
      }
      const { row, errors } = parseRowLine(line, i + 1, fields);
      if (!row)
        throw new UsageError(
          `data.${split ? 'test' : 'train'}_file: ${path} ${errors.map((e) => `${e.field}: ${e.reason}`).join('; ')}`,
        );
      lines.push(
        JSON.stringify({
          ...row.extra,
          problem: row.problem,
          answer: row.answer,
          ...(split ? { split } : {}),
        }),
      );
    });
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

interface WaitCliOptions {
  quiet?: boolean;
  json?: boolean;
  intervalMs?: number;
  timeoutMs?: number;
  gates?: QualityGate[];
}

interface Warning {
  code: string;
  message: string;
  first_step: number | null;
  count: number;
}

/**
 * Waits with a progress bar on stderr (live metrics), prints each kind of warning the first time it happens and a
 * count of all at the end, checks the quality gates → exit code. stdout gets one line (`<id> <status> step n/N`)
 * or, with --json, one JSON document.
 */
async function waitWithProgress(client: PopoClient, id: string, opts: WaitCliOptions): Promise<number> {
  let progress: StepProgress | undefined;
  let lastPoint: MetricPoint | undefined;
  const warnings = new Map<string, Warning>();
  const say = (line: string) => (progress ? progress.log(line) : process.stderr.write(line + '\n'));
  const job = await client.jobs.waitFor(id, {
    intervalMs: opts.intervalMs,
    timeoutMs: opts.timeoutMs,
    onStatus: (j) => {
      if (opts.quiet) return;
      if (!progress && j.total_steps && !isTerminal(j.status)) {
        progress = new StepProgress(j.total_steps, `job ${id.slice(0, 8)} (${j.kind})`);
        progress.startAt(j.progress_step);
      }
      say(`status: ${j.status}`);
    },
    onMetrics: (points) => {
      lastPoint = points.at(-1) ?? lastPoint;
      for (const p of points) progress?.update(toProgressPoint(p));
    },
    onEvents: (events) => {
      for (const e of events) {
        if (e.level === 'info') continue;
        const seen = warnings.get(e.code);
        if (seen) {
          seen.count++;
          continue;
        }
        warnings.set(e.code, { code: e.code, message: e.message, first_step: e.step, count: 1 });
        // Warnings are not progress: shown even with --quiet, so a run that "succeeded" badly is visible.
        say(`${e.level}: ${e.code}${e.step === null ? '' : ` at step ${e.step}`}: ${e.message}`);
      }
    },
  });
  progress?.stop();
  return printOutcome(job, { ...opts, lastPoint, warnings: [...warnings.values()] });
}

function printOutcome(
  job: Job,
  opts: WaitCliOptions & { lastPoint?: MetricPoint; warnings: Warning[] },
): number {
  const failed = job.status !== 'succeeded';
  const gates = failed ? [] : checkGates(opts.gates ?? [], job, opts.lastPoint);
  const code = failed ? EXIT.jobFailed : gates.every((g) => g.passed) ? EXIT.ok : EXIT.gateFailed;
  if (job.error) process.stderr.write(`job error: ${job.error}\n`);
  for (const w of opts.warnings)
    if (w.count > 1) process.stderr.write(`warning: ${w.code} ×${w.count} (first at step ${w.first_step})\n`);
  for (const g of gates)
    process.stderr.write(
      `gate ${g.metric} >= ${g.min}: ${g.value === undefined ? 'not reported' : g.value} → ${g.passed ? 'pass' : 'FAIL'}\n`,
    );
  if (opts.json) {
    const out = {
      exit_code: code,
      job,
      warnings: opts.warnings,
      gates,
      last_metrics: opts.lastPoint ?? null,
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } else {
    process.stdout.write(`${job.id} ${job.status} step ${job.progress_step}/${job.total_steps ?? '?'}\n`);
  }
  return code;
}

/** A job's state after a request: `running (pause requested)` until the worker acts on it. */
const stateLine = (job: Job) =>
  `${job.status}${job.stop_requested ? ` (${job.stop_requested} requested)` : ''}`;

function summary(job: Job): string {
  const lines = [
    `id        ${job.id}`,
    `name      ${job.name ?? '-'}`,
    `kind      ${job.kind}`,
    `status    ${stateLine(job)}`,
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

const collectGate = (v: string, prev: QualityGate[]) => {
  try {
    return [...prev, parseGate(v)];
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

/** The options `create --wait` and `wait` share. */
function waitOptions(cmd: Command): Command {
  return cmd
    .option(
      '--fail-below <metric=min>',
      "quality gate, repeatable: exit 4 when the finished job's metric is below min (a dotted path into the " +
        "result, e.g. eval_after.avg_at_k, else the last step's value, e.g. pass_rate); implies --wait",
      collectGate,
      [],
    )
    .option('--json', 'print one JSON document on stdout: {exit_code, job, warnings, gates, last_metrics}')
    .option('--interval <ms>', 'poll period while waiting', int('--interval'), 1000)
    .option('--timeout <ms>', 'give up waiting after this long (exit 3; the job goes on)', int('--timeout'))
    .option('--quiet', 'no progress output (warnings and gate results are still shown)');
}

const waitArgs = (opts: Record<string, unknown>): WaitCliOptions => ({
  quiet: opts.quiet as boolean | undefined,
  json: opts.json as boolean | undefined,
  intervalMs: opts.interval as number,
  timeoutMs: opts.timeout as number | undefined,
  gates: opts.failBelow as QualityGate[],
});

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

  waitOptions(remote(jobs.command('create')))
    .alias('submit')
    .description(
      'Create a job from a run document (the `popo train` file; local data files are uploaded); prints the job id',
    )
    .option('-f, --file <file>', 'run document (YAML or JSON), plus service fields such as from_checkpoint')
    .option('-c, --config <file>', 'the same as --file')
    .option('-s, --set <key=value>', 'override a field, e.g. --set popo.alpha=0', collect, [])
    .option('--idempotency-key <key>', 'repeat-safe submit: the same key returns the same job')
    .option('-w, --wait', 'wait for the job to finish with a progress bar (exit 1 unless it succeeds)')
    .action(
      action(async (opts) => {
        const file = (opts.file ?? opts.config) as string | undefined;
        if (!file) throw new UsageError('a run document is required: --file <run.yaml>');
        const client = connect(opts);
        const doc = readJobConfig(file, opts.set);
        const body = await toJobRequest(client, doc, dirname(file));
        const job = await client.jobs.create(body, { idempotencyKey: opts.idempotencyKey });
        const wait = opts.wait || opts.failBelow.length > 0;
        if (!opts.json) process.stdout.write(`${job.id}\n`);
        else if (!wait) process.stdout.write(JSON.stringify({ exit_code: EXIT.ok, job }, null, 2) + '\n');
        if (!wait) return EXIT.ok;
        return waitWithProgress(client, job.id, waitArgs(opts));
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

  waitOptions(remote(jobs.command('wait')))
    .description('Wait for a job to finish (exit 0 succeeded, 1 failed or cancelled, 4 a gate failed)')
    .argument('<id>', 'job id')
    .action(action((id: string, opts) => waitWithProgress(connect(opts), id, waitArgs(opts))));

  for (const verb of ['cancel', 'pause', 'resume', 'retry'] as const) {
    remote(jobs.command(verb))
      .description(
        `${verb[0].toUpperCase()}${verb.slice(1)} a job; prints the state it is in now (a running job stops ` +
          'at its next step: "running (pause requested)")',
      )
      .argument('<id>', 'job id')
      .option('--json', 'the whole job as JSON')
      .action(
        action(async (id: string, opts) => {
          const job = await connect(opts).jobs[verb](id);
          process.stdout.write(
            opts.json ? JSON.stringify(job, null, 2) + '\n' : `${job.id} ${stateLine(job)}\n`,
          );
          return EXIT.ok;
        }),
      );
  }

  remote(jobs.command('list'))
    .description('Jobs of the project, newest first')
    .option('--status <status>', 'only jobs in this state')
    .option('--limit <n>', 'at most this many', int('--limit'), 20)
    .option('--json', 'one JSON line per job')
    .action(
      action(async (opts) => {
        const page = await connect(opts).jobs.list({ status: opts.status, limit: opts.limit });
        if (opts.json) {
          for (const j of page.items) process.stdout.write(JSON.stringify(j) + '\n');
          return EXIT.ok;
        }
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
    .description(
      "Download a checkpoint's policy as a Hugging Face model archive (.tar.gz; a LoRA run's merged), or with " +
        '--adapter its LoRA adapters as a PEFT adapter archive',
    )
    .argument('<id>', 'job id')
    .requiredOption('-o, --out <file>', 'archive to write')
    .option('--step <step>', 'checkpoint step or "latest"', 'latest')
    .option('--adapter', 'the PEFT adapter (adapter_config.json + adapter_model.safetensors) of a LoRA run')
    .action(
      action(async (id: string, opts) => {
        const step = opts.step === 'latest' ? 'latest' : int('--step')(opts.step);
        const client = connect(opts).checkpoints;
        const get = opts.adapter ? client.downloadAdapter : client.downloadModel;
        const r = await get(id, { step, to: opts.out });
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
