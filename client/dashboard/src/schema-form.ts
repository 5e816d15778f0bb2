import { html } from 'htm/preact';
import type { FieldError } from './api.js';
import { deref, type OpenApiDoc, type Schema } from './openapi.js';

/**
 * A form generated from a JSON schema (the API's request schema from /docs/openapi.json): objects become
 * fieldsets, enums selects, numbers number inputs with the schema's bounds, unions a variant picker. The value
 * is a plain object holding only what the user set, so every default stays the API's. Errors are the API's
 * `details[{ field, reason }]`, shown beside the input whose dotted path matches.
 */

export type Value = Record<string, unknown>;
type Path = string[];

const typesOf = (s: Schema): string[] => (Array.isArray(s.type) ? s.type : s.type ? [s.type] : []);
const nonNull = (s: Schema) => typesOf(s).filter((t) => t !== 'null');

export function getAt(v: unknown, path: Path): unknown {
  return path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Value)[k] : undefined), v);
}

/** Sets (or, for undefined, removes) a nested value, dropping objects left empty. */
export function setAt(v: Value, path: Path, x: unknown): Value {
  const [k, ...rest] = path;
  const out = { ...v };
  if (rest.length === 0) {
    if (x === undefined) delete out[k];
    else out[k] = x;
    return out;
  }
  const child = setAt((out[k] as Value) ?? {}, rest, x);
  if (Object.keys(child).length === 0) delete out[k];
  else out[k] = child;
  return out;
}

/** Keeps only what the schema accepts, so a job's stored config can seed the form without unknown fields. */
export function prune(doc: OpenApiDoc, schema: Schema, v: unknown): unknown {
  const s = deref(doc, schema);
  const variants = s.oneOf ?? s.anyOf;
  if (variants) {
    const pick = chooseVariant(doc, variants, v);
    return pick === undefined ? v : prune(doc, variants[pick], v);
  }
  if (!s.properties || !v || typeof v !== 'object' || Array.isArray(v)) return v;
  if (s.additionalProperties) return v;
  const out: Value = {};
  for (const [k, x] of Object.entries(v as Value)) {
    if (x === undefined || x === null) continue;
    if (s.properties[k]) out[k] = prune(doc, s.properties[k], x);
  }
  return out;
}

function variantLabel(doc: OpenApiDoc, s: Schema, i: number, disc?: string): string {
  const d = deref(doc, s);
  if (disc) {
    const c = deref(doc, d.properties?.[disc]);
    if (c.const !== undefined) return String(c.const);
    if (c.enum?.length === 1) return String(c.enum[0]);
  }
  if (d.title) return d.title;
  if (s.$ref) return s.$ref.split('/').pop()!.replace(/Dto$/, '');
  if (d.properties) return Object.keys(d.properties).join(' + ');
  return nonNull(d).join(' | ') || `option ${i + 1}`;
}

/** The variant the current value fits: the discriminator's value, else the one whose properties it uses. */
function chooseVariant(doc: OpenApiDoc, variants: Schema[], v: unknown, disc?: string): number | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const keys = Object.keys(v);
  let best: number | undefined;
  let bestScore = 0;
  variants.forEach((raw, i) => {
    const s = deref(doc, raw);
    if (disc) {
      const c = deref(doc, s.properties?.[disc]);
      const tag = c.const ?? (c.enum?.length === 1 ? c.enum[0] : undefined);
      if (tag !== undefined && tag === (v as Value)[disc]) {
        best = i;
        bestScore = Infinity;
      }
    }
    const score = keys.filter((k) => s.properties?.[k]).length;
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  });
  return best;
}

interface Ctx {
  doc: OpenApiDoc;
  value: Value;
  errors: Map<string, string[]>;
  onChange: (v: Value) => void;
  /** The user's pick of a union variant per path (before any value says which). */
  variants: Map<string, number>;
  setVariant: (path: string, i: number) => void;
  /** What the user typed per path, so a half-typed number ("0.") is not rewritten from its parsed value. */
  raw: Map<string, string>;
}

const key = (p: Path) => p.join('.');

function FieldErrors({ ctx, path }: { ctx: Ctx; path: Path }) {
  const list = ctx.errors.get(key(path));
  return list
    ? html`<span class="field-error" role="alert" data-error-for=${key(path)}>${list.join('; ')}</span>`
    : null;
}

function bounds(s: Schema): string {
  const parts: string[] = [];
  const lo = typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum : s.minimum;
  const hi = typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum : s.maximum;
  const loX = s.exclusiveMinimum === true || typeof s.exclusiveMinimum === 'number';
  const hiX = s.exclusiveMaximum === true || typeof s.exclusiveMaximum === 'number';
  if (lo !== undefined && hi !== undefined) parts.push(`${loX ? '(' : '['}${lo}, ${hi}${hiX ? ')' : ']'}`);
  else if (lo !== undefined) parts.push(`${loX ? '>' : '≥'} ${lo}`);
  else if (hi !== undefined) parts.push(`${hiX ? '<' : '≤'} ${hi}`);
  if (s.default !== undefined) parts.push(`default ${JSON.stringify(s.default)}`);
  return parts.join(', ');
}

/** The text an input shows: what was typed while it still parses to the value, else the value itself. */
function shown(ctx: Ctx, name: string, v: unknown, json = false): string {
  const text = v === undefined ? '' : json || typeof v === 'object' ? JSON.stringify(v) : String(v);
  const raw = ctx.raw.get(name);
  if (raw === undefined) return text;
  const t = raw.trim();
  const parsesTo =
    t === '' ? v === undefined : json ? safeJson(t) === JSON.stringify(v) : Number(t) === v || t === v;
  return parsesTo ? raw : text;
}

function safeJson(t: string): string | undefined {
  try {
    return JSON.stringify(JSON.parse(t));
  } catch {
    return JSON.stringify(t);
  }
}

function typed(ctx: Ctx, name: string, e: Event): string {
  const raw = (e.target as HTMLInputElement).value;
  ctx.raw.set(name, raw);
  return raw;
}

function Scalar({
  ctx,
  path,
  schema,
  required,
}: {
  ctx: Ctx;
  path: Path;
  schema: Schema;
  required: boolean;
}) {
  const name = key(path);
  const v = getAt(ctx.value, path);
  const set = (x: unknown) => ctx.onChange(setAt(ctx.value, path, x));
  const types = nonNull(schema);
  const hint = bounds(schema);
  let input;
  if (schema.enum || schema.const !== undefined) {
    const options = schema.enum ?? [schema.const];
    input = html`<select
      name=${name}
      value=${v === undefined ? '' : JSON.stringify(v)}
      onChange=${(e: Event) => {
        const raw = (e.target as HTMLSelectElement).value;
        set(raw === '' ? undefined : JSON.parse(raw));
      }}
    >
      <option value="">
        ${required ? '— choose —' : schema.default !== undefined ? `default (${String(schema.default)})` : '—'}
      </option>
      ${options.filter((o) => o !== null).map((o) => html`<option value=${JSON.stringify(o)}>${String(o)}</option>`)}
    </select>`;
  } else if (types[0] === 'boolean') {
    input = html`<select
      name=${name}
      value=${v === undefined ? '' : String(v)}
      onChange=${(e: Event) => {
        const raw = (e.target as HTMLSelectElement).value;
        set(raw === '' ? undefined : raw === 'true');
      }}
    >
      <option value="">${schema.default !== undefined ? `default (${String(schema.default)})` : '—'}</option>
      <option value="true">true</option>
      <option value="false">false</option>
    </select>`;
  } else if (types[0] === 'integer' || types[0] === 'number') {
    const min = typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum : schema.minimum;
    const max = typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum : schema.maximum;
    input = html`<input
      name=${name}
      inputmode="decimal"
      value=${shown(ctx, name, v)}
      placeholder=${schema.default !== undefined ? String(schema.default) : ''}
      data-min=${min}
      data-max=${max}
      onInput=${(e: Event) => {
        const raw = typed(ctx, name, e).trim();
        // Not a number: sent as typed, so the API's own message explains what it wants.
        set(raw === '' ? undefined : Number.isFinite(Number(raw)) ? Number(raw) : raw);
      }}
    />`;
  } else if (types[0] === 'array' || types[0] === 'object' || types.length === 0) {
    input = html`<textarea
      name=${name}
      rows="2"
      placeholder="JSON"
      value=${shown(ctx, name, v, true)}
      onInput=${(e: Event) => {
        const raw = typed(ctx, name, e).trim();
        if (raw === '') return set(undefined);
        try {
          set(JSON.parse(raw));
        } catch {
          set(raw);
        }
      }}
    ></textarea>`;
  } else {
    input = html`<input
      name=${name}
      value=${shown(ctx, name, v)}
      placeholder=${schema.format ?? (schema.default !== undefined ? String(schema.default) : '')}
      maxlength=${schema.maxLength}
      onInput=${(e: Event) => {
        const raw = typed(ctx, name, e);
        set(raw === '' ? undefined : raw);
      }}
    />`;
  }
  return html`<div class="field ${ctx.errors.has(name) ? 'has-error' : ''}" data-field=${name}>
    <label
      ><span class="fname">${path.at(-1)}${required ? html`<b class="req">*</b>` : null}</span>${input}</label
    >
    <${FieldErrors} ctx=${ctx} path=${path} />
    ${schema.description || hint ? html`<small class="doc">${schema.description ?? ''}${schema.description && hint ? ' · ' : ''}${hint}</small>` : null}
  </div>`;
}

function Union({ ctx, path, schema, required }: { ctx: Ctx; path: Path; schema: Schema; required: boolean }) {
  const variants = (schema.oneOf ?? schema.anyOf)!.filter(
    (v) => nonNull(deref(ctx.doc, v)).length || deref(ctx.doc, v).properties || deref(ctx.doc, v).enum,
  );
  if (variants.length === 1)
    return html`<${Field}
      ctx=${ctx}
      path=${path}
      schema=${{ ...deref(ctx.doc, variants[0]), description: schema.description ?? deref(ctx.doc, variants[0]).description }}
      required=${required}
    />`;
  const disc = schema.discriminator?.propertyName;
  const v = getAt(ctx.value, path);
  const chosen = ctx.variants.get(key(path)) ?? chooseVariant(ctx.doc, variants, v, disc) ?? 0;
  return html`<fieldset class="union" data-field=${key(path)}>
    <legend>
      ${path.at(-1) ?? 'body'}${required ? html`<b class="req">*</b>` : null}
      <select
        name=${`${key(path)}#variant`}
        value=${String(chosen)}
        onChange=${(e: Event) => {
          ctx.setVariant(key(path), Number((e.target as HTMLSelectElement).value));
          ctx.onChange(setAt(ctx.value, path, undefined));
        }}
      >
        ${variants.map((s, i) => html`<option value=${String(i)}>${variantLabel(ctx.doc, s, i, disc)}</option>`)}
      </select>
    </legend>
    ${schema.description ? html`<small class="doc">${schema.description}</small>` : null}
    <${FieldErrors} ctx=${ctx} path=${path} />
    <${Field}
      ctx=${ctx}
      path=${path}
      schema=${deref(ctx.doc, variants[chosen])}
      required=${true}
      inline=${true}
    />
  </fieldset>`;
}

function ObjectFields({
  ctx,
  path,
  schema,
  required,
  inline,
}: {
  ctx: Ctx;
  path: Path;
  schema: Schema;
  required: boolean;
  inline?: boolean;
}) {
  const req = new Set(schema.required ?? []);
  const entries = Object.entries(schema.properties ?? {}).map(([k, s]) => [k, deref(ctx.doc, s)] as const);
  const isObj = (s: Schema) => !!(s.properties || s.oneOf || s.anyOf);
  // Required first, then plain fields, then sections; schema order within each.
  const order = (k: string, s: Schema) => (req.has(k) ? 0 : isObj(s) ? 2 : 1);
  const sorted = [...entries].sort((a, b) => order(a[0], a[1]) - order(b[0], b[1]));
  const body = html`${schema.description && path.length ? html`<small class="doc">${schema.description}</small>` : null}
    <${FieldErrors} ctx=${ctx} path=${path} />
    <div class="fields">
      ${sorted.filter(([, s]) => !isObj(s)).map(([k, s]) => html`<${Field} key=${k} ctx=${ctx} path=${[...path, k]} schema=${s} required=${req.has(k)} />`)}
    </div>
    ${sorted.filter(([, s]) => isObj(s)).map(([k, s]) => html`<${Field} key=${k} ctx=${ctx} path=${[...path, k]} schema=${s} required=${req.has(k)} />`)}`;
  if (inline || path.length === 0) return body;
  const name = key(path);
  const touched =
    getAt(ctx.value, path) !== undefined ||
    [...ctx.errors.keys()].some((e) => e === name || e.startsWith(`${name}.`));
  return html`<details class="section" open=${required || touched} data-field=${name}>
    <summary>${path.at(-1)}${required ? html`<b class="req">*</b>` : null}</summary>
    ${body}
  </details>`;
}

export function Field({
  ctx,
  path,
  schema,
  required,
  inline,
}: {
  ctx: Ctx;
  path: Path;
  schema: Schema;
  required: boolean;
  inline?: boolean;
}) {
  const s = deref(ctx.doc, schema);
  const variants = s.oneOf ?? s.anyOf;
  if (variants) {
    // `T | null` is just an optional T.
    const real = variants.filter(
      (v) => !(typesOf(deref(ctx.doc, v)).length === 1 && typesOf(deref(ctx.doc, v))[0] === 'null'),
    );
    if (real.length === 1)
      return html`<${Field}
        ctx=${ctx}
        path=${path}
        schema=${{ ...deref(ctx.doc, real[0]), description: s.description ?? deref(ctx.doc, real[0]).description }}
        required=${required}
        inline=${inline}
      />`;
    return html`<${Union}
      ctx=${ctx}
      path=${path}
      schema=${{ ...s, oneOf: real, anyOf: undefined }}
      required=${required}
    />`;
  }
  if (s.properties)
    return html`<${ObjectFields}
      ctx=${ctx}
      path=${path}
      schema=${s}
      required=${required}
      inline=${inline}
    />`;
  return html`<${Scalar} ctx=${ctx} path=${path} schema=${s} required=${required} />`;
}

/** Every path the form shows an input or section for (errors on other paths are listed above the form). */
export function knownPaths(
  doc: OpenApiDoc,
  schema: Schema,
  path: Path = [],
  out = new Set<string>(),
): Set<string> {
  const s = deref(doc, schema);
  if (path.length) out.add(key(path));
  for (const v of s.oneOf ?? s.anyOf ?? []) knownPaths(doc, v, path, out);
  for (const [k, p] of Object.entries(s.properties ?? {})) knownPaths(doc, p, [...path, k], out);
  return out;
}

export function errorMap(details: FieldError[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const d of details) m.set(d.field, [...(m.get(d.field) ?? []), d.reason]);
  return m;
}

export function SchemaForm(props: Ctx & { schema: Schema }) {
  return html`<div class="schema-form">
    <${Field} ctx=${props} path=${[]} schema=${props.schema} required=${true} />
  </div>`;
}
