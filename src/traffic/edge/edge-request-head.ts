// What the edge gateway sends upstream and back: header rewriting (hop-by-hop headers out,
// X-Forwarded-* in), the request path and the route's path filter. Pure, so every rule is
// unit-tested; the proxy code only calls these.

/** Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus proxy-only ones. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

const HOP_BY_HOP_LENGTHS: ReadonlySet<number> = new Set([...HOP_BY_HOP].map((h) => h.length));

/** Where the request came in: what X-Forwarded-* describe. */
export interface Listener {
  readonly proto: 'http' | 'https';
  readonly port: number;
}

/** The request as the gateway forwards it. */
export interface UpstreamHead {
  /** The Host header, a trailing dot of its name removed ('' without one). */
  readonly host: string;
  /** How many Host headers the request had: more than one is a 400 (RFC 9112 §3.2). */
  readonly hosts: number;
  /** Flat [name, value, …] list for the upstream request. */
  readonly headers: string[];
  /** The request has a body (Content-Length above 0 or Transfer-Encoding): it cannot be replayed. */
  readonly hasBody: boolean;
}

/**
 * Builds the upstream request headers from the client's raw headers: hop-by-hop headers and the
 * ones the Connection header names are dropped (for an upgrade, Connection: Upgrade and Upgrade
 * are kept: they are the point), Expect is dropped (the gateway's server answers 100-continue
 * itself), Host is kept unchanged, the client address is appended to X-Forwarded-For and
 * X-Forwarded-Proto/-Host/-Port are replaced by what this gateway saw.
 */
export function upstreamHead(
  raw: readonly string[],
  clientAddress: string,
  listener: Listener,
  upgrade = false,
): UpstreamHead {
  const headers: string[] = [];
  let host = '';
  let hosts = 0;
  let forwardedFor: string | undefined;
  let hasBody = false;
  let upgradeTo: string | undefined;
  let named: string[] | undefined; // extra hop-by-hop headers listed in Connection
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    switch (lower) {
      case 'host':
        // `shop.example.com.` is the same name as `shop.example.com`; upstreams see the usual form.
        host = value.replace(/\.(?=(:\d*)?$)/, '');
        hosts++;
        headers.push(name, host);
        continue;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
      case 'x-forwarded-port':
      case 'expect':
        continue;
      case 'content-length':
        if (value !== '0') hasBody = true;
        headers.push(name, value);
        continue;
      case 'transfer-encoding':
        hasBody = true; // re-framed by the upstream client
        continue;
      case 'upgrade':
        upgradeTo = value;
        continue;
      case 'connection':
        for (const token of value.split(',')) {
          const t = token.trim().toLowerCase();
          if (t !== '' && t !== 'close' && t !== 'keep-alive' && t !== 'upgrade') (named ??= []).push(t);
        }
        continue;
    }
    if (!HOP_BY_HOP.has(lower)) headers.push(name, value);
  }
  const out = named ? dropNamed(headers, named) : headers;
  if (upgrade && upgradeTo !== undefined) out.push('Connection', 'Upgrade', 'Upgrade', upgradeTo);
  out.push(
    'X-Forwarded-For',
    forwardedFor === undefined || forwardedFor === '' ? clientAddress : `${forwardedFor}, ${clientAddress}`,
    'X-Forwarded-Proto',
    listener.proto,
    'X-Forwarded-Host',
    host,
    'X-Forwarded-Port',
    String(listener.port),
  );
  return { host, hosts, headers: out, hasBody };
}

function dropNamed(headers: string[], named: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!;
    // Host is never a connection option, whatever a client claims.
    if (named.includes(name.toLowerCase()) && name.toLowerCase() !== 'host') continue;
    out.push(name, headers[i + 1]!);
  }
  return out;
}

/**
 * The client's response headers from the upstream's raw ones (as latin1 strings: header bytes pass
 * through unchanged): hop-by-hop headers and those named in Connection are dropped; the gateway's
 * HTTP server frames the body and sets its own Connection/Keep-Alive.
 */
export function downstreamHeaders(raw: readonly (Buffer | string)[]): string[] {
  const out: string[] = [];
  let named: string[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    // Only a name as long as a hop-by-hop one can be one: the others (most of them, on every
    // response) skip the lower-casing and the set lookup.
    const lower = HOP_BY_HOP_LENGTHS.has(name.length) ? name.toLowerCase() : '';
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') {
        for (const token of raw[i + 1]!.toString('latin1').split(',')) {
          const t = token.trim().toLowerCase();
          if (t !== '' && t !== 'close' && t !== 'keep-alive') (named ??= []).push(t);
        }
      }
      continue;
    }
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  return named ? dropNamed(out, named) : out;
}

/** Methods RFC 9110 calls idempotent: safe to send again after a failure. */
export function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
    case 'TRACE':
      return true;
    default:
      return false;
  }
}

/** The request target, split for forwarding and for matching. */
export interface Target {
  /** What the upstream request line carries. */
  readonly pathAndQuery: string;
  /** Path without the query, for matching and the access log (queries may carry secrets). */
  readonly path: string;
}

const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;

/**
 * Parses the request target. Only the origin form (`/path?query`) is accepted: a reverse proxy
 * has no use for the absolute form of forward proxies or the asterisk form. Paths with dot
 * segments are refused too: `/api/../admin` would pass an `/api` filter here and reach `/admin`.
 */
export function parseTarget(url: string): Target | undefined {
  if (url.charCodeAt(0) !== 47 /* '/' */) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if ((path.includes('/.') || path.includes('%')) && DOT_SEGMENT.test(path)) return undefined;
  return { pathAndQuery: url, path };
}

/**
 * Whether `path` falls under one of the route's prefixes, by whole segments as Kubernetes Ingress
 * `Prefix` paths do: `/api` matches `/api` and `/api/x`, not `/apix`; `/` matches everything.
 */
export function matchesPaths(prefixes: readonly string[], path: string): boolean {
  for (const p of prefixes) {
    if (p === '/' || path === p) return true;
    if (path.startsWith(p) && (p.endsWith('/') || path.charCodeAt(p.length) === 47)) return true;
  }
  return false;
}
