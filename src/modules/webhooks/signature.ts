import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, Stripe-style: one header `Popo-Signature: t=<unix seconds>,v1=<hex>` where v1 is
 * HMAC-SHA256(project webhook secret, `${t}.${raw body}`). Signing the timestamp lets a receiver refuse replays.
 */
export const SIGNATURE_HEADER = 'popo-signature';
export const EVENT_HEADER = 'popo-event';
export const DELIVERY_HEADER = 'popo-delivery';

export function signature(secret: string, timestamp: number, body: string): string {
  if (!secret) throw new Error('webhook secret must be a non-empty string');
  if (!Number.isInteger(timestamp)) throw new Error(`timestamp must be integer seconds, got ${timestamp}`);
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export function signatureHeader(secret: string, body: string, now = Date.now()): string {
  const t = Math.floor(now / 1000);
  return `t=${t},v1=${signature(secret, t, body)}`;
}

export type VerifyResult = { ok: true; timestamp: number } | { ok: false; reason: string };

/** For receivers (and tests): checks the header against the raw body and a clock tolerance. */
export function verifySignature(
  secret: string,
  header: string | undefined,
  body: string,
  { toleranceS = 300, now = Date.now() } = {},
): VerifyResult {
  if (!header) return { ok: false, reason: `missing ${SIGNATURE_HEADER} header` };
  const parts = new Map(
    header.split(',').map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i).trim(), kv.slice(i + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1');
  if (!Number.isInteger(t) || !v1)
    return { ok: false, reason: 'malformed signature header: expected t=<seconds>,v1=<hex>' };
  if (Math.abs(now / 1000 - t) > toleranceS)
    return { ok: false, reason: `timestamp outside the ${toleranceS}s tolerance` };
  const expected = Buffer.from(signature(secret, t, body), 'hex');
  const given = Buffer.from(v1, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'signature mismatch' };
  return { ok: true, timestamp: t };
}
