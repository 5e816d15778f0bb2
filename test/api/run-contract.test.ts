import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, parseRun } from '../../src/learner/trainer/config.js';
import { localRunSchema } from '../../src/learner/trainer/run-spec.js';
import { jobRequestSchema, SERVICE_ONLY_FIELDS } from '../../src/modules/jobs/job-request-schema.js';

/**
 * The run contract: `popo train -c run.yaml` and POST /v1/jobs accept exactly the same fields with the same
 * bounds, defaults and choices, apart from the documented swaps of local paths for ids and the fields only a
 * service job has. Checked against the committed openapi.json (what the SDK and clients see) and against the
 * field table of docs/run-contract.md (UPDATE_DOCS=1 rewrites it).
 */

type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; allOf?: Schema[] };

/** Leaf path → its rule (type, bounds, enum, default, format): everything but the prose. */
function leaves(schema: Schema, prefix = ''): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  if (schema.type === 'object' && schema.properties) {
    for (const [k, v] of Object.entries(schema.properties))
      for (const [p, r] of leaves(v, prefix ? `${prefix}.${k}` : k)) out.set(p, r);
    return out;
  }
  const { description: _d, example: _e, ...rule } = schema;
  out.set(prefix, rule);
  return out;
}

const CLI_ONLY = [
  'model.path',
  'data.train_file',
  'data.test_file',
  'data.problem_field',
  'data.answer_field',
];
const API_ONLY = ['model.id', 'data.dataset_id'];
const serviceOnly = (path: string) => SERVICE_ONLY_FIELDS.some((f) => path === f || path.startsWith(`${f}.`));

const openapi = () =>
  JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8')) as {
    components: { schemas: Record<string, Schema> };
  };
const cliSchema = () => z.toJSONSchema(localRunSchema, { target: 'openapi-3.0', io: 'input' }) as Schema;

describe('the run contract', () => {
  it('the CLI document and the committed OpenAPI JobRequest have the same fields, bounds, choices and defaults', () => {
    const cli = leaves(cliSchema());
    const api = leaves(openapi().components.schemas.JobRequest);
    const shared = (m: Map<string, unknown>, only: string[]) =>
      Object.fromEntries([...m].filter(([p]) => !only.includes(p) && !serviceOnly(p)));
    expect(shared(api, API_ONLY)).toEqual(shared(cli, CLI_ONLY));
    // The swaps and the service fields are all there is to the difference.
    for (const p of CLI_ONLY) expect(cli.has(p), p).toBe(true);
    for (const p of API_ONLY) expect(api.has(p), p).toBe(true);
    expect([...api.keys()].filter(serviceOnly).length).toBeGreaterThanOrEqual(SERVICE_ONLY_FIELDS.length);
    expect(cli.size).toBeGreaterThan(50);
  });

  it('both refuse every out-of-bounds number at the same field, with the same reason', () => {
    let checked = 0;
    for (const [path, rule] of leaves(cliSchema())) {
      if (typeof rule.maximum !== 'number' || rule.maximum > 1e9) continue;
      const value = rule.maximum + 1;
      const doc: Record<string, unknown> = {};
      let node = doc;
      const keys = path.split('.');
      for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
      node[keys.at(-1)!] = value;
      const reasons = [localRunSchema, jobRequestSchema].map((schema) => {
        try {
          parseRun(schema, doc);
        } catch (e) {
          if (e instanceof ConfigError) return e.issues.find((i) => i.field === path)?.reason;
          throw e;
        }
        return undefined;
      });
      expect(reasons[0], `${path}=${value}`).toMatch(/^must be /);
      expect(reasons[1], path).toBe(reasons[0]);
      checked++;
    }
    expect(checked).toBeGreaterThan(25);
  });

  it('docs/run-contract.md lists every field with its rule (UPDATE_DOCS=1 regenerates the table)', () => {
    const file = new URL('../../docs/run-contract.md', import.meta.url);
    const text = readFileSync(file, 'utf8');
    const [start, end] = ['<!-- fields:begin -->', '<!-- fields:end -->'];
    const table = fieldTable(cliSchema(), openapi().components.schemas.JobRequest);
    const [from, to] = [text.indexOf(start) + start.length, text.indexOf(end)];
    const current = text.slice(from, to);
    if (process.env.UPDATE_DOCS) {
      writeFileSync(file, `${text.slice(0, from)}\n${table}\n${text.slice(to)}`);
      return;
    }
    expect(text).toContain(start);
    // Compared cell by cell, so prettier's column padding does not matter.
    const cells = (t: string) =>
      t
        .trim()
        .split('\n')
        .filter((l) => !/^\|[\s|:-]+\|$/.test(l))
        .map((l) => l.split(/(?<!\\)\|/).map((c) => c.trim()));
    expect(cells(current)).toEqual(cells(table));
  });
});

function ruleText(r: Record<string, unknown>): string {
  const parts: string[] = [];
  if (Array.isArray(r.enum)) parts.push(r.enum.map((v) => `\`${v}\``).join(' \\| '));
  else if (r.type) parts.push(String(r.type === 'array' ? 'list' : r.type));
  const lo = r.minimum !== undefined ? `${r.exclusiveMinimum ? '>' : '≥'} ${r.minimum}` : '';
  const hi = r.maximum !== undefined ? `${r.exclusiveMaximum ? '<' : '≤'} ${r.maximum}` : '';
  if (lo || hi) parts.push([lo, hi].filter(Boolean).join(', '));
  if (r.format) parts.push(String(r.format));
  return parts.join(' ');
}

function fieldTable(cli: Schema, api: Schema): string {
  const docs = new Map<string, string>();
  const collect = (s: Schema, prefix = '') => {
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (v.type === 'object' && v.properties) collect(v, p);
      else docs.set(p, String(v.description ?? ''));
    }
  };
  collect(cli);
  collect(api);
  const rules = new Map([...leaves(cli), ...leaves(api)]);
  const where = (p: string) =>
    CLI_ONLY.includes(p) ? 'CLI' : API_ONLY.includes(p) || serviceOnly(p) ? 'API' : 'both';
  const rows = [...rules].map(([p, r]) => {
    const def = r.default === undefined ? '' : `\`${JSON.stringify(r.default)}\``;
    return `| \`${p}\` | ${where(p)} | ${ruleText(r)} | ${def} | ${(docs.get(p) ?? '').replace(/\|/g, '\\|')} |`;
  });
  return ['| field | in | type and bounds | default | meaning |', '|---|---|---|---|---|', ...rows].join(
    '\n',
  );
}
