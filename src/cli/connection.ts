import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const DEFAULT_URL = 'http://localhost:3000';

/** A wrong command line, config file or environment: exit 2 with the message, no stack. */
export class UsageError extends Error {}

export interface Connection {
  baseUrl: string;
  token: string;
  /** Where each part came from, for the error a person reads when the key is refused. */
  source: string;
}

interface EmbeddedCredentials {
  api_url?: string;
  api_key?: string;
}

/** `.popo/credentials.json`, written by `npm start` (embedded mode) at its first boot; undefined when absent. */
function readCredentials(file: string): EmbeddedCredentials | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const c = JSON.parse(text) as EmbeddedCredentials;
    return typeof c === 'object' && c !== null ? c : undefined;
  } catch {
    throw new UsageError(`${file}: not valid JSON (written by \`npm start\`; delete it to start over)`);
  }
}

const sameUrl = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/**
 * URL and key: `--url`/`--key`, else `$POPO_URL` (or `$POPO_API_URL`) / `$POPO_API_KEY`, else the embedded
 * service's `$POPO_DATA_DIR/credentials.json` (default `.popo/` in the working directory). The file's key is used
 * only for the file's own URL, so a key for the local service is never sent to another host.
 */
export function resolveConnection(
  opts: { url?: string; key?: string },
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Connection {
  const credentialsFile = resolve(cwd, env.POPO_DATA_DIR || '.popo', 'credentials.json');
  const explicitUrl = opts.url ?? (env.POPO_URL || env.POPO_API_URL || undefined);
  let token = opts.key ?? (env.POPO_API_KEY || undefined);
  let baseUrl = explicitUrl;
  let source = opts.key ? '--key' : token ? '$POPO_API_KEY' : '';
  if (!token) {
    const creds = readCredentials(credentialsFile);
    if (creds?.api_key && (!explicitUrl || (creds.api_url && sameUrl(creds.api_url, explicitUrl)))) {
      token = creds.api_key;
      baseUrl ??= creds.api_url;
      source = credentialsFile;
    }
  }
  baseUrl ??= DEFAULT_URL;
  if (!token)
    throw new UsageError(
      `no API key: pass --key <key>, set POPO_API_KEY, or start the local service (\`npm start\` writes ${join(
        env.POPO_DATA_DIR || '.popo',
        'credentials.json',
      )})`,
    );
  if (!/^https?:\/\//.test(baseUrl))
    throw new UsageError(`--url / POPO_URL: "${baseUrl}" must start with http:// or https://`);
  return { baseUrl, token, source };
}
