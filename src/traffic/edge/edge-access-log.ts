// The edge gateway's access log: one JSON line per request, formatted from a fixed template
// instead of through the process logger (pino with its redacting formatter cost about 13 µs per
// request, a third of the gateway's CPU), encoded straight into the buffer of large asynchronous
// chunks (see BufferedLineWriter). Lines read like the project logger's (`level`, `time`, `pid`,
// `name`, the record's fields, `msg`), so pino tools and the log tests read them unchanged, and
// string fields are scrubbed the same way.
import { scrubSecrets } from '../../logging/logger.ts';
import {
  BufferedLineWriter,
  type LineDestination,
  type LineWriterOptions,
} from '../../logging/line-writer.ts';
import type { AccessRecord } from './edge-runtime.ts';

/** The message of every access log line (what log queries and tests select on). */
export const ACCESS_MESSAGE = 'edge request';
/** pino's number for `info`. */
const INFO = 30;

const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/** Distinct strings remembered per field before the memo starts over. */
const MEMO_ENTRIES = 1024;
/** Longer strings (rare, mostly unique paths) are not remembered, which bounds the memo's memory. */
const MEMO_MAX_CHARS = 128;

/**
 * The UTF-8 of `before` + the scrubbed string as JSON + `after`, remembered per string: hosts,
 * methods, clusters, clients and most paths repeat from request to request, and scrubbing,
 * escaping and encoding them cost more than the rest of the line. Scrubbing is a pure function of
 * the string, so a remembered text is exactly the one computed afresh.
 */
function memoField(before: string, after: string): (s: string) => Buffer {
  const memo = new Map<string, Buffer>();
  return (s) => {
    if (s.length > MEMO_MAX_CHARS) return Buffer.from(before + JSON.stringify(scrubSecrets(s)) + after);
    let text = memo.get(s);
    if (text === undefined) {
      text = Buffer.from(before + JSON.stringify(scrubSecrets(s)) + after);
      if (memo.size >= MEMO_ENTRIES) memo.clear();
      memo.set(s, text);
    }
    return text;
  };
}

// Each field's text carries the JSON around it (its key, and the next field's key), so that a line
// is a dozen copies into the chunk's buffer.
const host = memoField('"host":', ',"method":');
const method = memoField('', ',"path":');
const path = memoField('', ',"status":');
const cluster = memoField(',"cluster":', ',"attempts":');
const client = memoField(',"client":', `,"msg":"${ACCESS_MESSAGE}"}\n`);
const MS = Buffer.from(',"ms":');
const BYTES = Buffer.from(',"bytes":');

function put(buf: Buffer, at: number, bytes: Uint8Array): number {
  buf.set(bytes, at);
  return at + bytes.length;
}

/** A number's text is ASCII: copied a character at a time, cheaper than a call into Buffer. */
function putAscii(buf: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) buf[at + i] = text.charCodeAt(i);
  return at + text.length;
}

/**
 * Writes one access log line (with its newline) as UTF-8 into `buf` from `at`: `prefix` (the
 * UTF-8 of `linePrefix`), then `"host":…,"method":…,"path":…,"status":…,"cluster":…,
 * "attempts":…,"ms":…,"bytes":…,"client":…,"msg":"edge request"}`. Returns where the line ends,
 * or -1 (writing nothing) when it does not fit. Every string field passes the project logger's
 * secret scrubbing; the field names are fixed and none is one the logger would redact whole. The
 * line is the UTF-8 of the string its pieces make: each piece is JSON text, which has no lone
 * surrogate that could pair with one in the next piece.
 */
export function encodeAccessLine(prefix: Uint8Array, rec: AccessRecord, buf: Buffer, at: number): number {
  const h = host(rec.host);
  const m = method(rec.method);
  const p = path(rec.path);
  const c = cluster(rec.cluster);
  const cl = client(rec.client);
  const status = num(rec.status);
  const attempts = num(rec.attempts);
  const ms = num(rec.ms);
  const sent = num(rec.bytes);
  const size =
    prefix.length +
    h.length +
    m.length +
    p.length +
    status.length +
    c.length +
    attempts.length +
    MS.length +
    ms.length +
    BYTES.length +
    sent.length +
    cl.length;
  if (at + size > buf.length) return -1;
  let o = put(buf, at, prefix);
  o = put(buf, o, h);
  o = put(buf, o, m);
  o = put(buf, o, p);
  o = putAscii(buf, o, status);
  o = put(buf, o, c);
  o = putAscii(buf, o, attempts);
  o = put(buf, o, MS);
  o = putAscii(buf, o, ms);
  o = put(buf, o, BYTES);
  o = putAscii(buf, o, sent);
  return put(buf, o, cl);
}

/** The fields every line starts with, in pino's order for the project logger. */
export function linePrefix(timeMs: number, pid: number, name: string): string {
  return `{"level":${INFO},"time":"${new Date(timeMs).toISOString()}","pid":${pid},"name":${JSON.stringify(name)},`;
}

export interface EdgeAccessLogOptions extends LineWriterOptions {
  /** The `name` field, as the process logger's. Default `edge-gateway`. */
  readonly name?: string;
}

/** Access log lines to a destination stream, buffered (see BufferedLineWriter). */
export class EdgeAccessLog {
  private readonly out: BufferedLineWriter<AccessRecord>;
  private readonly name: string;
  private prefixMs = -1;
  private prefix: Uint8Array = new Uint8Array(0);
  private readonly encode = (rec: AccessRecord, buf: Buffer, at: number): number => {
    // The time prefix changes at most once a millisecond; thousands of lines share it.
    const now = Date.now();
    if (now !== this.prefixMs) {
      this.prefixMs = now;
      this.prefix = Buffer.from(linePrefix(now, process.pid, this.name));
    }
    return encodeAccessLine(this.prefix, rec, buf, at);
  };

  constructor(dest: LineDestination, opts: EdgeAccessLogOptions = {}) {
    this.out = new BufferedLineWriter(dest, this.encode, opts);
    this.name = opts.name ?? 'edge-gateway';
  }

  /** Lines dropped because the destination fell behind. */
  get dropped(): number {
    return this.out.dropped;
  }

  write(rec: AccessRecord): void {
    this.out.write(rec);
  }

  /** Hands on every buffered line; resolves when the destination has taken them. */
  flush(): Promise<void> {
    return this.out.flush();
  }

  /** Flushes and stops the flush timer (the destination stays open). */
  close(): Promise<void> {
    return this.out.close();
  }
}
