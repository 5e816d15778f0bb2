import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';

/**
 * Outbound HTTP to user-supplied URLs (webhooks, HTTP graders) without server-side request forgery: the host is
 * resolved and every address in loopback, private, link-local (cloud metadata), multicast and reserved ranges is
 * refused unless an explicit allowlist permits it. The check runs inside the socket's own DNS lookup, so the
 * address that is checked is the address that is connected to (a DNS answer that changes after a URL was
 * accepted cannot slip through), and redirects are never followed. Pure Node; no Nest.
 */

type Family = 'ipv4' | 'ipv6';

/** Ranges no user URL may reach by default, with the name used in error messages. First match wins. */
const FORBIDDEN: readonly [string, number, Family, string][] = [
  ['0.0.0.0', 8, 'ipv4', 'this-host'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared/carrier-grade NAT'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local/cloud metadata'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'reserved'],
  ['192.0.2.0', 24, 'ipv4', 'reserved'],
  ['192.88.99.0', 24, 'ipv4', 'reserved'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'reserved'],
  ['198.51.100.0', 24, 'ipv4', 'reserved'],
  ['203.0.113.0', 24, 'ipv4', 'reserved'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['::', 128, 'ipv6', 'this-host'],
  // IPv4-mapped/compatible, NAT64, 6to4 and Teredo embed an IPv4 address that could be any of the above.
  ['::', 96, 'ipv6', 'IPv4-compatible IPv6'],
  ['::ffff:0:0', 96, 'ipv6', 'IPv4-mapped IPv6'],
  ['64:ff9b::', 96, 'ipv6', 'NAT64'],
  ['64:ff9b:1::', 48, 'ipv6', 'NAT64'],
  ['100::', 64, 'ipv6', 'reserved'],
  ['2001::', 32, 'ipv6', 'Teredo'],
  ['2001:db8::', 32, 'ipv6', 'reserved'],
  ['2002::', 16, 'ipv6', '6to4'],
  ['fc00::', 7, 'ipv6', 'private (unique local)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['fec0::', 10, 'ipv6', 'site-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

const FORBIDDEN_LISTS = FORBIDDEN.map(([net, prefix, family, name]) => {
  const list = new BlockList();
  list.addSubnet(net, prefix, family);
  return { list, family, name };
});

const familyOf = (address: string): Family | undefined =>
  (({ 4: 'ipv4', 6: 'ipv6' }) as const)[isIP(address) as 4 | 6];

/** Addresses exempt from the ranges above (development, tests, an internal receiver you trust). */
export class OutboundPolicy {
  private readonly allow = new BlockList();
  readonly allowlist: readonly string[];

  /** `allow`: CIDRs or single addresses ("127.0.0.1/32", "::1", "10.1.0.0/16"). Throws on a malformed entry. */
  constructor(allow: readonly string[] = []) {
    this.allowlist = allow;
    for (const entry of allow) {
      const [net, bits, ...rest] = entry
        .trim()
        .replace(/^\[|\](?=\/|$)/g, '')
        .split('/');
      const family = familyOf(net);
      const max = family === 'ipv4' ? 32 : 128;
      const prefix = bits === undefined ? max : Number(bits);
      if (!family || rest.length || !Number.isInteger(prefix) || prefix < 0 || prefix > max)
        throw new Error(`"${entry}" is not an IP address or CIDR range`);
      this.allow.addSubnet(net, prefix, family);
    }
  }

  /** Parses a comma-separated list (the environment's form). */
  static parse(spec: string | undefined): OutboundPolicy {
    return new OutboundPolicy((spec ?? '').split(',').filter((s) => s.trim() !== ''));
  }

  /** Why `address` may not be reached (e.g. "loopback"), or undefined when it may. */
  refusal(address: string): string | undefined {
    const family = familyOf(address);
    if (!family) return 'not an IP address';
    if (this.allow.check(address, family)) return undefined;
    return FORBIDDEN_LISTS.find((r) => r.family === family && r.list.check(address, family))?.name;
  }
}

export class OutboundRefusedError extends Error {
  readonly code = 'ERR_OUTBOUND_REFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRefusedError';
  }
}

const refusedMessage = (host: string, address: string, why: string) =>
  host === address
    ? `${address} is a ${why} address, which is not an allowed destination`
    : `${host} resolves to ${address} (${why}), which is not an allowed destination`;

/** The URL's host without IPv6 brackets. */
const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * Checks a URL when it is submitted: http(s) only, and a host that is not (and does not resolve to) a forbidden
 * address. Returns the reason it is refused, or undefined. A host that does not resolve now is accepted, since
 * delivery checks again at connect time; a host that resolves to any forbidden address is refused.
 */
export async function checkOutboundUrl(raw: string, policy: OutboundPolicy): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http(s) URL';
  const host = hostOf(url);
  if (isIP(host)) {
    const why = policy.refusal(host);
    return why ? refusedMessage(host, host, why) : undefined;
  }
  let addresses: LookupAddress[];
  try {
    addresses = await new Promise((resolve, reject) =>
      dnsLookup(host, { all: true }, (err, found) => (err ? reject(err) : resolve(found))),
    );
  } catch {
    return undefined;
  }
  for (const { address } of addresses) {
    const why = policy.refusal(address);
    if (why) return refusedMessage(host, address, why);
  }
  return undefined;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for net/http that refuses forbidden addresses: the socket connects only to what this returns, so
 * the check and the connection see the same DNS answer.
 */
export function guardedLookup(policy: OutboundPolicy) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      for (const { address } of addresses) {
        const why = policy.refusal(address);
        if (why) return callback(new OutboundRefusedError(refusedMessage(hostname, address, why)), '');
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      callback(null, first.address, first.family);
    });
  };
}

export interface OutboundRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The whole exchange, connect to last body byte. */
  timeoutMs: number;
  /** Response bytes kept; the rest is discarded (the status is still reported). Default 64 KiB. */
  maxResponseBytes?: number;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** True when the response body was longer than maxResponseBytes. */
  truncated: boolean;
}

/**
 * One HTTP(S) request to a user-supplied URL under `policy`. Redirects are returned, never followed (a 3xx is
 * the caller's to treat as a failure). Rejects with OutboundRefusedError for a forbidden destination and with a
 * TimeoutError (AbortSignal's) past `timeoutMs`.
 */
export async function outboundRequest(
  raw: string,
  req: OutboundRequest,
  policy: OutboundPolicy,
): Promise<OutboundResponse> {
  const url = new URL(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new OutboundRefusedError(`${url.protocol} URLs are not allowed`);
  // An IP literal never goes through lookup, so it is checked here.
  const host = hostOf(url);
  if (isIP(host)) {
    const why = policy.refusal(host);
    if (why) throw new OutboundRefusedError(refusedMessage(host, host, why));
  }
  const maxBytes = req.maxResponseBytes ?? 64 * 1024;
  const options: RequestOptions = {
    method: req.method ?? 'GET',
    headers: req.headers,
    lookup: guardedLookup(policy) as RequestOptions['lookup'],
    signal: AbortSignal.timeout(req.timeoutMs),
    // No connection reuse: a pooled socket would skip the lookup on a later request.
    agent: false,
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<OutboundResponse>((resolve, reject) => {
    const r = send(url, options, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      const done = (truncated: boolean) =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          truncated,
        });
      res.on('data', (chunk: Buffer) => {
        const room = maxBytes - kept;
        chunks.push(chunk.subarray(0, room));
        kept += Math.min(room, chunk.length);
        if (chunk.length > room) {
          // Enough kept; a receiver that streams forever must not hold the caller until the timeout.
          res.destroy();
          done(true);
        }
      });
      res.on('end', () => done(false));
      res.on('error', reject);
    });
    r.on('error', (e: Error) => {
      if (e.name !== 'AbortError') return reject(e);
      const timeout = new Error(`no answer within ${req.timeoutMs} ms`);
      timeout.name = 'TimeoutError';
      reject(timeout);
    });
    r.end(req.body);
  });
}
