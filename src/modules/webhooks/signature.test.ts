import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signature, signatureHeader, verifySignature } from './signature.js';

describe('webhook signatures', () => {
  const secret = 'a-project-secret';
  const body = '{"event":"job.succeeded"}';
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);

  it('is HMAC-SHA256 over "<timestamp>.<body>", hex, in a t=…,v1=… header', () => {
    const t = Math.floor(now / 1000);
    const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
    expect(signature(secret, t, body)).toBe(expected);
    expect(signatureHeader(secret, body, now)).toBe(`t=${t},v1=${expected}`);
  });

  it('verifies a good header and refuses tampering, a wrong secret, stale timestamps and junk', () => {
    const header = signatureHeader(secret, body, now);
    expect(verifySignature(secret, header, body, { now })).toEqual({
      ok: true,
      timestamp: Math.floor(now / 1000),
    });
    expect(verifySignature(secret, header, body + ' ', { now })).toEqual({
      ok: false,
      reason: 'signature mismatch',
    });
    expect(verifySignature('other', header, body, { now })).toEqual({
      ok: false,
      reason: 'signature mismatch',
    });
    expect(verifySignature(secret, header, body, { now: now + 301_000 })).toEqual({
      ok: false,
      reason: 'timestamp outside the 300s tolerance',
    });
    expect(verifySignature(secret, undefined, body, { now })).toEqual({
      ok: false,
      reason: 'missing popo-signature header',
    });
    expect(verifySignature(secret, 'v1=abc', body, { now }).ok).toBe(false);
    expect(verifySignature(secret, header.replace(/v1=../, 'v1='), body, { now }).ok).toBe(false);
  });

  it('refuses to sign without a secret or with a fractional timestamp', () => {
    expect(() => signature('', 1, body)).toThrow(/secret/);
    expect(() => signature(secret, 1.5, body)).toThrow(/timestamp/);
  });
});
