// The edge gateway's fast-path request-head parser: a strict, unambiguous subset of HTTP/1.1 that
// the raw-socket front (edge-fast-front.ts) answers itself; every other request is handed with its
// bytes to node:http (llhttp and its defences), which then owns that connection. Pure, so each
// rule is unit-tested.
//
// Why this subset cannot be smuggled through: an accepted request has no body, unambiguously: no
// Transfer-Encoding, and either no Content-Length or exactly one `Content-Length: 0`, so the next
// request starts right after the blank line under any reading of RFC 9112. Header lines must be
// CRLF-terminated `token ":" OWS value OWS` with no obs-fold, bare CR or LF, NUL or other
// controls, so no line can be read two ways; Host must appear exactly once. The upstream request
// is re-serialised from the parsed fields (upstreamHead), never forwarded as received bytes.
// Anything else (a body, chunked, Upgrade, Expect, HTTP/1.0, odd bytes, a head over 16 KiB) is
// not judged here at all: it falls back, and node answers it exactly as without the fast path.

/** Longest head the fast path reads before falling back (node's default `maxHeaderSize`). */
export const MAX_HEAD_BYTES = 16 * 1024;
/** More header lines than this fall back (node's own limit is higher; no client needs this many). */
const MAX_FIELDS = 100;

/** Methods the fast path forwards; others (CONNECT, TRACE, unknown tokens) fall back. */
const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

/** `METHOD SP origin-form SP HTTP/1.1`; the target is visible ASCII only. */
const REQUEST_LINE = /^([A-Z]{3,7}) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
/**
 * `token ":" value`, the value then checked by FIELD_VALUE and trimmed of OWS by `trimOws`. Kept
 * apart on purpose: one pattern with a lazy value between two `[\t ]*` runs backtracks
 * quadratically on a long run of spaces before a bad byte (420 ms for one 15 KiB line).
 */
const FIELD = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):(.*)$/s;
/** Visible ASCII, obs-text, SP and HTAB: no CR, LF, NUL or other control. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** A request the fast path serves. */
export interface FastRequestHead {
  readonly kind: 'request';
  readonly method: string;
  /** The request target as received (origin form). */
  readonly target: string;
  /** Flat [name, value, …] as received (values trimmed), like node's `rawHeaders`. */
  readonly headers: string[];
  /** The client asked to close the connection after this request (`Connection: close`). */
  readonly close: boolean;
  /** Bytes of the head, blank line included: the next request starts here. */
  readonly length: number;
}

export type FastHead =
  | FastRequestHead
  /** The head is not complete yet and nothing so far rules the fast path out. */
  | { readonly kind: 'partial' }
  /** Outside the subset: node:http gets the bytes. `reason` is for tests and debugging. */
  | { readonly kind: 'fallback'; readonly reason: string };

const PARTIAL: FastHead = { kind: 'partial' };
const fallback = (reason: string): FastHead => ({ kind: 'fallback', reason });

/**
 * Parses the request head at the start of `buf`. `scanned` is how many bytes of `buf` an earlier
 * call already saw as `partial` (they are not scanned again, so a head trickling in byte by byte
 * costs linear time).
 */
export function parseFastHead(buf: Buffer, scanned = 0): FastHead {
  const end = buf.indexOf(CRLFCRLF, Math.max(0, scanned - 3));
  if (end < 0) {
    if (buf.length > MAX_HEAD_BYTES) return fallback('head too large');
    const odd = strayByte(buf, scanned);
    return odd === undefined ? PARTIAL : fallback(odd);
  }
  const length = end + 4;
  if (length > MAX_HEAD_BYTES) return fallback('head too large');
  const text = buf.toString('latin1', 0, end);
  let lineEnd = text.indexOf('\r\n');
  const first = REQUEST_LINE.exec(lineEnd < 0 ? text : text.slice(0, lineEnd));
  if (!first) return fallback('request line');
  const method = first[1]!;
  if (!METHODS.has(method)) return fallback('method');
  const headers: string[] = [];
  let hosts = 0;
  let lengths = 0;
  let close = false;
  while (lineEnd >= 0) {
    const start = lineEnd + 2;
    lineEnd = text.indexOf('\r\n', start);
    const m = FIELD.exec(lineEnd < 0 ? text.slice(start) : text.slice(start, lineEnd));
    // Also an obs-fold line (leading SP/HTAB) and any bare CR, LF, NUL or control.
    if (!m || !FIELD_VALUE.test(m[2]!)) return fallback('header line');
    if (headers.length >= MAX_FIELDS * 2) return fallback('too many header lines');
    const name = m[1]!;
    const value = trimOws(m[2]!);
    switch (name.toLowerCase()) {
      case 'host':
        if (++hosts > 1 || value === '') return fallback('Host');
        break;
      case 'content-length':
        if (++lengths > 1 || value !== '0') return fallback('Content-Length');
        break;
      case 'transfer-encoding':
        return fallback('Transfer-Encoding');
      case 'upgrade':
        return fallback('Upgrade');
      case 'expect':
        return fallback('Expect');
      case 'connection':
        for (const token of value.toLowerCase().split(',')) {
          const t = token.trim();
          if (t === 'close') close = true;
          else if (t === 'upgrade') return fallback('Connection: upgrade');
        }
        break;
    }
    headers.push(name, value);
  }
  if (hosts !== 1) return fallback('Host');
  return { kind: 'request', method, target: first[2]!, headers, close, length };
}

/** Strips leading and trailing SP/HTAB (RFC 9110 OWS) in linear time. */
function trimOws(value: string): string {
  let from = 0;
  let to = value.length;
  while (from < to && (value.charCodeAt(from) === 0x20 || value.charCodeAt(from) === 0x09)) from++;
  while (to > from && (value.charCodeAt(to - 1) === 0x20 || value.charCodeAt(to - 1) === 0x09)) to--;
  return from === 0 && to === value.length ? value : value.slice(from, to);
}

/**
 * A reason to give up on an incomplete head early, from the bytes after `from`: a LF without its
 * CR, a CR followed by anything but LF, or a control byte. node answers these at once (400); the
 * fast path would otherwise wait for a blank line that may never come.
 */
function strayByte(buf: Buffer, from: number): string | undefined {
  // From one byte back: a CR that ended the last call's bytes is judged by what follows it.
  for (let i = Math.max(0, from - 1); i < buf.length; i++) {
    const b = buf[i]!;
    if (b >= 0x20 && b !== 0x7f) continue;
    if (b === 0x09) continue;
    if (b === 0x0a) {
      if (i === 0 || buf[i - 1] !== 0x0d) return 'bare LF';
    } else if (b === 0x0d) {
      if (i + 1 < buf.length && buf[i + 1] !== 0x0a) return 'bare CR';
    } else {
      return 'control byte';
    }
  }
  return undefined;
}
