import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript';
import prettier from 'prettier';

/** The committed spec and the file generated from it, relative to this module (works from src and from dist). */
export const SPEC_PATH = fileURLToPath(new URL('../../openapi.json', import.meta.url));
export const SCHEMA_PATH = fileURLToPath(new URL('./generated/schema.d.ts', import.meta.url));

/**
 * The SDK's types as text, exactly as `npm run sdk:generate` writes them. One function for the script and the
 * staleness test, so they can never disagree about options.
 */
export async function generateSchemaTypes(spec: OpenAPI3): Promise<string> {
  // defaultNonNullable off: by default a field with a `default` becomes required, but our request DTOs give
  // defaults to optional hyperparameters (`popo.tau` defaults to 0.995, it is not required).
  // silent: the spec comes from our own controllers; redocly lint warnings belong to `npm run openapi`.
  const ast = await openapiTS(spec, { silent: true, defaultNonNullable: false });
  const text = COMMENT_HEADER + astToString(ast);
  // Formatted with the repo's prettier config so `npm run format` leaves the committed file unchanged.
  const options = await prettier.resolveConfig(SCHEMA_PATH);
  return prettier.format(text, { ...options, filepath: SCHEMA_PATH });
}

export function readSpec(path = SPEC_PATH): OpenAPI3 {
  return JSON.parse(readFileSync(path, 'utf8')) as OpenAPI3;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_PATH, await generateSchemaTypes(readSpec()));
  console.log(`wrote ${SCHEMA_PATH}`);
}
