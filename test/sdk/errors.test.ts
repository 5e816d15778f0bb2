import { type AddressInfo, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createPopoClient, PopoApiError, PopoConnectionError } from '../../client/sdk/index.js';

const answer = (status: number, body: string, contentType = 'application/json') =>
  (async () => new Response(body, { status, headers: { 'content-type': contentType } })) as typeof fetch;

describe('SDK errors', () => {
  it("carries the service's code, message and field details", async () => {
    const body = {
      error: {
        code: 'validation_failed',
        message: 'popo.tau: must be a number > 0 and < 1',
        details: [{ field: 'popo.tau', reason: 'must be a number > 0 and < 1' }],
      },
    };
    const client = createPopoClient({
      baseUrl: 'http://popo.test',
      token: 't',
      fetch: answer(400, JSON.stringify(body)),
    });
    const err = await client.jobs.create({ algorithm: 'popo' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PopoApiError);
    expect(err).toMatchObject({ status: 400, code: 'validation_failed', field: 'popo.tau', method: 'POST' });
    expect((err as PopoApiError).details).toEqual(body.error.details);
    expect((err as PopoApiError).message).toBe(body.error.message);
  });

  it('a body that is not the error shape (a proxy page) still gives status and text', async () => {
    const client = createPopoClient({
      baseUrl: 'http://popo.test',
      token: 't',
      fetch: answer(502, '<html>bad gateway</html>', 'text/html'),
    });
    const err = (await client.jobs.get('x').catch((e: unknown) => e)) as PopoApiError;
    expect(err).toBeInstanceOf(PopoApiError);
    expect(err.code).toBe('http_502');
    expect(err.message).toContain('bad gateway');
    expect(err.field).toBeUndefined();
  });

  it('nothing listening is a PopoConnectionError naming the URL', async () => {
    // A port that was just free: the connection is refused.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    const client = createPopoClient({ baseUrl: `http://127.0.0.1:${port}`, token: 't' });
    const err = await client.jobs.get('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PopoConnectionError);
    expect((err as Error).message).toBe(
      `cannot reach the popo service at http://127.0.0.1:${port}: ECONNREFUSED`,
    );
  });

  it('refuses to build a client without a token', () => {
    expect(() => createPopoClient({ baseUrl: 'http://popo.test', token: '' })).toThrow(/token is required/);
  });
});
