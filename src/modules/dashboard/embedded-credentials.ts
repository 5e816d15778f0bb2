import { type DynamicModule, Global, Module } from '@nestjs/common';

/** Present only in embedded mode (`npm start` with its own Postgres): where the first boot wrote the key. */
export const EMBEDDED_CREDENTIALS = Symbol('EMBEDDED_CREDENTIALS');

export interface EmbeddedCredentials {
  /** `$POPO_DATA_DIR/credentials.json`: `{ api_url, project_id, api_key }`. */
  file: string;
}

@Global()
@Module({})
export class EmbeddedCredentialsModule {
  static forRoot(creds: EmbeddedCredentials): DynamicModule {
    return {
      module: EmbeddedCredentialsModule,
      providers: [{ provide: EMBEDDED_CREDENTIALS, useValue: creds }],
      exports: [EMBEDDED_CREDENTIALS],
    };
  }
}

const LOOPBACK_ADDRESS = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;
const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i;

/**
 * The key is handed out only to a browser on this machine talking to this machine by a loopback name: the
 * peer address alone would let a page that rebinds its DNS name to 127.0.0.1 read it, so the Host (and the
 * Origin, when the browser sends one) must be loopback names too.
 */
export function isLoopbackRequest(req: {
  socket: { remoteAddress?: string };
  headers: Record<string, string | string[] | undefined>;
}): boolean {
  if (!LOOPBACK_ADDRESS.test(req.socket.remoteAddress ?? '')) return false;
  const host = req.headers.host;
  if (typeof host !== 'string' || !LOOPBACK_HOST.test(host)) return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (typeof origin !== 'string') return false;
  try {
    return LOOPBACK_HOST.test(new URL(origin).host);
  } catch {
    return false;
  }
}
