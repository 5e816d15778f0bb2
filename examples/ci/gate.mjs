// A CI quality gate on a popo service, with the SDK (@popo/sdk):
//   node gate.mjs run.yaml --fail-below eval_after.avg_at_k=0.2 [--fail-below pass_rate=0.1] [--timeout 1800000]
// Creates the job (a re-run of the same pipeline run gets the same job back), streams its metrics into the log,
// and exits like `popo jobs create --wait --fail-below`: 0 succeeded and every gate holds, 1 the job failed or was
// cancelled, 2 refused / unreachable / bad arguments, 3 timed out, 4 a gate did not hold.
// Needs POPO_URL and POPO_API_KEY in the environment.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkGates, createPopoClient, parseGate, PopoTimeoutError } from '@popo/sdk';
import YAML from 'yaml';

const EXIT = { ok: 0, jobFailed: 1, error: 2, timeout: 3, gateFailed: 4 };

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'fail-below': { type: 'string', multiple: true, default: [] },
      timeout: { type: 'string' },
    },
  });
  const [file = 'run.yaml'] = positionals;
  const gates = values['fail-below'].map(parseGate);
  const timeoutMs = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0))
    throw new TypeError(`--timeout: "${values.timeout}" must be a positive number of milliseconds`);
  const { POPO_URL, POPO_API_KEY, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT } = process.env;
  if (!POPO_URL || !POPO_API_KEY) throw new TypeError('set POPO_URL and POPO_API_KEY');

  const popo = createPopoClient({ baseUrl: POPO_URL, token: POPO_API_KEY });
  const job = await popo.createJob(YAML.parse(readFileSync(file, 'utf8')), {
    idempotencyKey: GITHUB_RUN_ID ? `gate-${GITHUB_RUN_ID}-${GITHUB_RUN_ATTEMPT ?? 1}` : undefined,
  });
  console.log(`job ${job.id}: ${job.total_steps ?? '?'} steps`);

  let last;
  const stream = popo.streamMetrics(job.id, {
    timeoutMs,
    onStatus: (j) => console.log(`status: ${j.status}`),
    onEvent: (e) =>
      e.level !== 'info' && console.log(`${e.level}: ${e.code} at step ${e.step}: ${e.message}`),
  });
  for await (const point of stream) {
    last = point;
    const { pass_rate, reward_mean, loss } = point.values;
    console.log(`step ${point.step}: pass_rate ${pass_rate} reward ${reward_mean} loss ${loss}`);
  }
  const done = await stream.done;
  if (done.status !== 'succeeded') {
    console.error(`job ${done.id} ${done.status}: ${done.error ?? ''}`);
    return EXIT.jobFailed;
  }
  const results = checkGates(gates, done, last);
  for (const g of results)
    console.log(`gate ${g.metric} >= ${g.min}: ${g.value ?? 'not reported'} → ${g.passed ? 'pass' : 'FAIL'}`);
  return results.every((g) => g.passed) ? EXIT.ok : EXIT.gateFailed;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`error: ${err.message}`);
    for (const d of err.details ?? []) console.error(`  ${d.field}: ${d.reason}`);
    process.exit(err instanceof PopoTimeoutError ? EXIT.timeout : EXIT.error);
  },
);
