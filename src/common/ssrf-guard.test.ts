import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOutboundUrl, OutboundPolicy, outboundRequest } from './ssrf-guard.js';

const strict = new OutboundPolicy();
const loopbackAllowed = OutboundPolicy.parse('127.0.0.0/8, ::1');

describe('OutboundPolicy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['0.0.0.0', 'this-host'],
    ['10.2.3.4', 'private'],
    ['172.20.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local/cloud metadata'],
    ['100.100.100.200', 'shared/carrier-grade NAT'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'this-host'],
    ['::ffff:7f00:1', 'IPv4-mapped IPv6'],
    ['fe80::1', 'link-local'],
    ['fd00:ec2::254', 'private (unique local)'],
  ])('refuses %s (%s) by default', (address, why) => {
    expect(strict.refusal(address)).toBe(why);
  });

  it('accepts public addresses and what the allowlist names', () => {
    expect(strict.refusal('8.8.8.8')).toBeUndefined();
    expect(strict.refusal('2606:4700::1111')).toBeUndefined();
    expect(loopbackAllowed.refusal('127.0.0.1')).toBeUndefined();
    expect(loopbackAllowed.refusal('::1')).toBeUndefined();
    expect(loopbackAllowed.refusal('10.0.0.1')).toBe('private');
  });

  it('rejects a malformed allowlist entry', () => {
    expect(() => OutboundPolicy.parse('127.0.0.1/33')).toThrow(/not an IP address or CIDR/);
    expect(() => OutboundPolicy.parse('localhost')).toThrow(/not an IP address or CIDR/);
  });
});

describe('checkOutboundUrl', () => {
  it.each([
    'http://127.0.0.1:5433/',
    'http://localhost:6380',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/',
    'http://0.0.0.0/',
    'http://[::ffff:127.0.0.1]/',
    'http://2130706433/', // 127.0.0.1 as one number; WHATWG URL normalises it
    'http://0x7f.1/',
  ])('refuses %s', async (url) => {
    expect(await checkOutboundUrl(url, strict)).toMatch(/not an allowed destination/);
  });

  it('accepts public hosts, allowlisted ones and names that do not resolve yet', async () => {
    expect(await checkOutboundUrl('https://8.8.8.8/hook', strict)).toBeUndefined();
    expect(await checkOutboundUrl('http://localhost:1/', loopbackAllowed)).toBeUndefined();
    expect(await checkOutboundUrl('http://no-such-host.invalid/', strict)).toBeUndefined();
    expect(await checkOutboundUrl('ftp://example.com/', strict)).toBe('must be an http(s) URL');
  });
});

describe('outboundRequest', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
        return;
      }
      if (req.url === '/silent') return;
      res.end('x'.repeat(1000));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('refuses a loopback receiver, by literal and by name, before connecting', async () => {
    await expect(outboundRequest(`http://127.0.0.1:${port}/`, { timeoutMs: 2000 }, strict)).rejects.toThrow(
      /127\.0\.0\.1 is a loopback address/,
    );
    await expect(outboundRequest(`http://localhost:${port}/`, { timeoutMs: 2000 }, strict)).rejects.toThrow(
      /localhost resolves to 127\.0\.0\.1 \(loopback\)/,
    );
  });

  it('reaches an allowlisted receiver, caps the body and never follows a redirect', async () => {
    const ok = await outboundRequest(
      `http://localhost:${port}/`,
      { timeoutMs: 2000, maxResponseBytes: 10 },
      loopbackAllowed,
    );
    expect(ok).toMatchObject({ status: 200, truncated: true });
    expect(ok.body.toString()).toBe('x'.repeat(10));
    const redirect = await outboundRequest(
      `http://127.0.0.1:${port}/redirect`,
      { timeoutMs: 2000 },
      loopbackAllowed,
    );
    expect(redirect.status).toBe(302);
  });

  it('gives up after the timeout', async () => {
    await expect(
      outboundRequest(`http://127.0.0.1:${port}/silent`, { timeoutMs: 200 }, loopbackAllowed),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
  });
});
