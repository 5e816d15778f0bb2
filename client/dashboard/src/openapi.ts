/**
 * The served OpenAPI document (`/docs/openapi.json`), read at run time so that the submit form and the filters
 * follow the API as it is, not as it was when the dashboard was built.
 */

export interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  description?: string;
  title?: string;
  default?: unknown;
  example?: unknown;
  examples?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number | boolean;
  exclusiveMaximum?: number | boolean;
  minLength?: number;
  maxLength?: number;
  nullable?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
}

interface Parameter {
  name: string;
  in: string;
  schema?: Schema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

export interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

let doc: Promise<OpenApiDoc> | undefined;

export function openApi(): Promise<OpenApiDoc> {
  doc ??= fetch('docs/openapi.json').then(async (r) => {
    if (!r.ok) throw new Error(`could not read the API description: ${r.status}`);
    return (await r.json()) as OpenApiDoc;
  });
  return doc;
}

/** Follows `$ref`s and folds `allOf` into one schema (descriptions of the outer schema win). */
export function deref(d: OpenApiDoc, s: Schema | undefined, depth = 0): Schema {
  if (!s || depth > 32) return {};
  if (s.$ref) {
    const name = s.$ref.replace(/^#\/components\/schemas\//, '');
    const { $ref: _ref, ...rest } = s;
    return { ...deref(d, d.components?.schemas?.[name], depth + 1), ...rest };
  }
  if (s.allOf) {
    const { allOf, ...rest } = s;
    const parts = allOf.map((p) => deref(d, p, depth + 1));
    const merged: Schema = {};
    for (const p of parts) {
      Object.assign(merged, p, {
        properties: { ...merged.properties, ...p.properties },
        required: [...(merged.required ?? []), ...(p.required ?? [])],
      });
    }
    return { ...merged, ...rest };
  }
  return s;
}

export function requestBodySchema(d: OpenApiDoc, method: string, path: string): Schema | undefined {
  const op = d.paths[path]?.[method.toLowerCase()];
  const content = op?.requestBody?.content;
  const schema = content?.['application/json']?.schema ?? Object.values(content ?? {})[0]?.schema;
  return schema ? deref(d, schema) : undefined;
}

/** The allowed values of a query parameter (e.g. the job statuses for the filter). */
export function queryEnum(d: OpenApiDoc, path: string, name: string): string[] {
  const p = d.paths[path]?.get?.parameters?.find((x) => x.name === name && x.in === 'query');
  const s = deref(d, p?.schema);
  return (s.enum ?? deref(d, s.items).enum ?? []).map(String);
}
