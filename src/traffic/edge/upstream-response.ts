// An incremental HTTP/1.1 response parser for the edge gateway's upstream connections: the status
// line and headers, then the body framed as RFC 9112 §6.3 says (no body for HEAD, 1xx, 204 and
// 304; chunked when Transfer-Encoding ends in chunked; else Content-Length; else until the
// connection closes). Strict where leniency lets one response be read as two (request
// smuggling's other half): bare LF, obs-fold, bad names, conflicting lengths and malformed chunk
// sizes are errors, and a response whose length the connection alone delimits is never reused.
// No I/O: the upstream client feeds it bytes; the unit tests feed it byte by byte.

import {
  BAD_VALUE,
  CR,
  DIGIT,
  digitsValue,
  FIELD,
  headEnd,
  includesLower,
  LF,
  lowerIs,
  TCHAR,
  TOKEN,
  trimEnd,
  trimStart,
} from './http-bytes.ts';

/** An upstream failure, with a stable code the proxy decides on. */
export class UpstreamError extends Error {
  constructor(
    readonly code: UpstreamErrorCode | string,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export type UpstreamErrorCode =
  | 'UPSTREAM_BAD_RESPONSE'
  | 'UPSTREAM_CLOSED'
  | 'UPSTREAM_CONNECT_TIMEOUT'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_ABORTED';

const bad = (why: string): UpstreamError =>
  new UpstreamError('UPSTREAM_BAD_RESPONSE', `bad upstream response: ${why}`);

export interface ResponseEvents {
  /** The final response's status and headers (flat [name, value, …], latin1); 1xx are skipped. */
  onHead(status: number, headers: string[]): void;
  onBody(chunk: Buffer): void;
  onComplete(): void;
}

/** Longest status line plus headers, and longest chunk-size line or trailer section. */
export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 4 * 1024;

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
  Done,
}

const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d{1,9})/i;
const HTTP_1 = Buffer.from('HTTP/1.', 'latin1');

/**
 * Where the status line at `start` ends (its CRLF, or `end`), or -1 unless it reads
 * `HTTP/1.[01] [1-9]\d\d`, then nothing or a space and a reason without CR or LF.
 */
function statusLineEnd(buf: Buffer, start: number, end: number): number {
  if (end - start < 12 || buf[start + 8] !== 0x20) return -1;
  for (let k = 0; k < 7; k++) if (buf[start + k] !== HTTP_1[k]) return -1;
  const minor = buf[start + 7]!;
  if (minor !== 0x30 && minor !== 0x31) return -1;
  if (buf[start + 9]! < 0x31 || buf[start + 9]! > 0x39) return -1;
  if (DIGIT[buf[start + 10]!] !== 1 || DIGIT[buf[start + 11]!] !== 1) return -1;
  let x = start + 12;
  if (x < end && buf[x] === 0x20) while (buf[x] !== CR && buf[x] !== LF) x++;
  return x === end || (buf[x] === CR && buf[x + 1] === LF) ? x : -1;
}

// A chunk size (at most 12 hex digits: far beyond any real chunk, well within 2^53), optional
// whitespace and extensions, which are ignored.
const CHUNK_SIZE = /^([0-9a-fA-F]{1,12})[ \t]*(?:;[^\0\r\n]*)?$/;

export class ResponseParser {
  /** After completion: the connection may carry another request. */
  keepAlive = false;
  /** The server's `Keep-Alive: timeout=N` of the last response, in ms, if it gave one. */
  keepAliveTimeoutMs: number | undefined;
  private state = State.Done;
  private noBody = false;
  private remaining = 0;
  /** Bytes of an unfinished head, size line or trailer section. */
  private partial: Buffer | undefined;

  constructor(private readonly ev: ResponseEvents) {}

  /** Expects the response to a new request (`head`: the request was HEAD). */
  start(head: boolean): void {
    this.state = State.Head;
    this.noBody = head;
    this.partial = undefined;
    this.keepAlive = false;
    this.keepAliveTimeoutMs = undefined;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  /** The headers have been read: body bytes (if any) follow. */
  get headed(): boolean {
    return this.state !== State.Head && this.state !== State.Done;
  }

  /**
   * Parses what it can of `buf`; returns the bytes consumed. Bytes after the end of the response
   * are not consumed (the caller decides what they mean). Throws UpstreamError on a malformed one.
   */
  execute(buf: Buffer): number {
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case State.Head:
          i = this.head(buf, i);
          break;
        case State.Length: {
          const n = Math.min(this.remaining, buf.length - i);
          this.remaining -= n;
          const chunk = i === 0 && n === buf.length ? buf : buf.subarray(i, i + n);
          i += n;
          if (this.remaining === 0) this.state = State.Done;
          this.ev.onBody(chunk);
          if (this.state === State.Done) this.ev.onComplete();
          break;
        }
        case State.ChunkSize:
        case State.ChunkDataEnd:
          i = this.chunkLine(buf, i);
          break;
        case State.ChunkData: {
          const n = Math.min(this.remaining, buf.length - i);
          this.remaining -= n;
          const chunk = buf.subarray(i, i + n);
          i += n;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          this.ev.onBody(chunk);
          break;
        }
        case State.Trailers:
          i = this.trailers(buf, i);
          break;
        case State.UntilClose:
          this.ev.onBody(i === 0 ? buf : buf.subarray(i));
          return buf.length;
        case State.Done:
          return i;
      }
    }
    return i;
  }

  /** The connection closed: ends a body delimited by the close, or throws (response incomplete). */
  finish(): void {
    if (this.state === State.UntilClose) {
      this.state = State.Done;
      this.ev.onComplete();
      return;
    }
    if (this.state !== State.Done)
      throw new UpstreamError('UPSTREAM_CLOSED', 'upstream closed the connection before the response ended');
  }

  /** Appends to the unfinished line/section buffer; returns it. */
  private gather(buf: Buffer, from: number, to: number): Buffer {
    const piece = buf.subarray(from, to);
    this.partial = this.partial ? Buffer.concat([this.partial, piece]) : piece;
    return this.partial;
  }

  private head(buf: Buffer, i: number): number {
    let data: Buffer;
    let start: number;
    let end: number;
    if (this.partial === undefined) {
      end = headEnd(buf, i);
      if (end < 0) {
        this.gather(buf, i, buf.length);
        if (this.partial!.length > MAX_HEAD_BYTES) throw bad('headers too large');
        // Copy: the socket's buffer is not ours to keep.
        this.partial = Buffer.from(this.partial!);
        return buf.length;
      }
      data = buf;
      start = i;
    } else {
      const before = this.partial.length;
      // The terminator may straddle the two pieces: search from 3 bytes back.
      data = this.gather(buf, i, buf.length);
      end = headEnd(data, Math.max(0, before - 3));
      if (end < 0) {
        if (data.length > MAX_HEAD_BYTES) throw bad('headers too large');
        return buf.length;
      }
      start = 0;
      this.partial = undefined;
      // What of `buf` was used: the head's end is at `end + 4` in `data`.
      const used = end + 4 - before;
      this.parseHead(data, start, end);
      return i + used;
    }
    if (end - start > MAX_HEAD_BYTES) throw bad('headers too large');
    this.parseHead(data, start, end);
    return end + 4;
  }

  /**
   * The head in `buf[start, end)`, read as `text.split('\r\n')` with a status-line regex, TOKEN
   * names and trimmed values free of controls would read it, in one pass over the bytes; strings
   * are sliced only for names and values. `buf[end]` is the CR of the blank line: the scans stop
   * there without bounds checks.
   */
  private parseHead(buf: Buffer, start: number, end: number): void {
    const text = buf.toString('latin1', start, end);
    const eol = statusLineEnd(buf, start, end);
    if (eol < 0) {
      const crlf = text.indexOf('\r\n');
      throw bad(`status line ${JSON.stringify(text.slice(0, crlf < 0 ? text.length : crlf).slice(0, 80))}`);
    }
    const status = (buf[start + 9]! - 0x30) * 100 + (buf[start + 10]! - 0x30) * 10 + buf[start + 11]! - 0x30;
    const http10 = buf[start + 7] === 0x30;
    if (status < 200) {
      // 100 Continue, 103 Early Hints: interim, the final answer follows. 101 was never asked for.
      if (status === 101) throw bad('101 Switching Protocols to a request without Upgrade');
      return;
    }
    const headers: string[] = [];
    // Content-Length and its number of digits: "5" and "05" conflict, as strings they differ.
    let length = -1;
    let lengthDigits = 0;
    let chunked: boolean | undefined;
    let close = http10;
    // Each header line is [p, e): e at its CRLF, or at `end` for the last.
    for (let p = eol + 2; p < end;) {
      let colon = p;
      while (TCHAR[buf[colon]!] === 1) colon++;
      if (colon === p || buf[colon] !== 0x3a) throw this.badLine(text, p - start);
      const name = text.slice(p - start, colon - start);
      let e = colon + 1;
      while (FIELD[buf[e]!] === 1) e++;
      // Stopped at a control byte or DEL before the line's end (a bare CR or LF included).
      if (e !== end && !(buf[e] === CR && buf[e + 1] === LF)) throw bad(`value of header ${name}`);
      const a = trimStart(buf, colon + 1, e);
      const b = trimEnd(buf, a, e);
      const value = text.slice(a - start, b - start);
      headers.push(name, value);
      switch (colon - p) {
        case 10:
          if (lowerIs(buf, p, 'connection')) {
            if (includesLower(buf, a, b, 'close')) close = true;
            else if (http10 && includesLower(buf, a, b, 'keep-alive')) close = false;
          } else if (lowerIs(buf, p, 'keep-alive')) {
            const m = KEEP_ALIVE_TIMEOUT.exec(value);
            if (m) this.keepAliveTimeoutMs = Number(m[1]) * 1000;
          }
          break;
        case 14:
          if (lowerIs(buf, p, 'content-length')) {
            // Repeated values ("5, 5" or two fields) are one length if they agree.
            for (let from = a; ;) {
              let to = from;
              while (to < b && buf[to] !== 0x2c) to++;
              const u = trimStart(buf, from, to);
              const v = trimEnd(buf, u, to);
              const n = digitsValue(buf, u, v);
              if (n < 0) throw bad(`Content-Length ${JSON.stringify(value)}`);
              if (length >= 0 && (n !== length || v - u !== lengthDigits))
                throw bad('conflicting Content-Length values');
              length = n;
              lengthDigits = v - u;
              if (to === b) break;
              from = to + 1;
            }
          }
          break;
        case 17:
          if (lowerIs(buf, p, 'transfer-encoding')) {
            // The last coding decides.
            let comma = b;
            while (comma > a && buf[comma - 1] !== 0x2c) comma--;
            const u = trimStart(buf, comma, b);
            chunked = b - u === 7 && lowerIs(buf, u, 'chunked');
          }
          break;
      }
      p = e + 2;
    }
    this.ev.onHead(status, headers);
    if (this.noBody || status === 204 || status === 304) {
      this.keepAlive = !close;
      this.complete();
    } else if (chunked !== undefined) {
      // Transfer-Encoding overrides Content-Length; a message with both is suspect: not reused.
      this.keepAlive = !close && chunked && length < 0;
      this.state = chunked ? State.ChunkSize : State.UntilClose;
    } else if (length >= 0) {
      this.keepAlive = !close;
      this.remaining = length;
      if (this.remaining === 0) this.complete();
      else this.state = State.Length;
    } else {
      this.state = State.UntilClose;
    }
  }

  /** The error for the header line at `from` in `text`: no name before a colon, or a bad name. */
  private badLine(text: string, from: number): UpstreamError {
    const eol = text.indexOf('\r\n', from);
    const line = text.slice(from, eol < 0 ? text.length : eol);
    const colon = line.indexOf(':');
    if (colon <= 0) return bad(`header line ${JSON.stringify(line.slice(0, 80))}`);
    return bad(`header name ${JSON.stringify(line.slice(0, colon).slice(0, 80))}`);
  }

  private complete(): void {
    this.state = State.Done;
    this.ev.onComplete();
  }

  /** A chunk-size line (`1a;ext=v`), or the CRLF after a chunk's data. */
  private chunkLine(buf: Buffer, i: number): number {
    const lf = buf.indexOf(10, i);
    if (lf < 0) {
      const sofar = this.gather(buf, i, buf.length);
      if (sofar.length > MAX_CHUNK_LINE) throw bad('chunk size line too long');
      this.partial = Buffer.from(sofar);
      return buf.length;
    }
    const line = this.partial ? this.gather(buf, i, lf + 1) : buf.subarray(i, lf + 1);
    this.partial = undefined;
    if (line.length < 2 || line[line.length - 2] !== 13) throw bad('chunk line without CRLF');
    const text = line.toString('latin1', 0, line.length - 2);
    if (this.state === State.ChunkDataEnd) {
      if (text !== '') throw bad('chunk data longer than its size');
      this.state = State.ChunkSize;
      return lf + 1;
    }
    const m = CHUNK_SIZE.exec(text);
    if (!m) throw bad(`chunk size line ${JSON.stringify(text.slice(0, 40))}`);
    this.remaining = parseInt(m[1]!, 16);
    this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
    return lf + 1;
  }

  /** Trailer fields after the last chunk, up to the empty line; read and dropped. */
  private trailers(buf: Buffer, i: number): number {
    const data = this.partial ? this.gather(buf, i, buf.length) : buf;
    const from = this.partial ? 0 : i;
    // The section ends at the first CRLF that starts it (no trailers) or a CRLFCRLF.
    if (data.length - from >= 2 && data[from] === 13 && data[from + 1] === 10) {
      return this.endTrailers(data, from + 2, buf, i);
    }
    const end = headEnd(data, from);
    if (end < 0) {
      if (data.length - from > MAX_HEAD_BYTES) throw bad('trailers too large');
      this.partial = Buffer.from(data.subarray(from));
      return buf.length;
    }
    for (const line of data.toString('latin1', from, end).split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0 || !TOKEN.test(line.slice(0, colon)) || BAD_VALUE.test(line.slice(colon + 1)))
        throw bad(`trailer line ${JSON.stringify(line.slice(0, 80))}`);
    }
    return this.endTrailers(data, end + 4, buf, i);
  }

  /** Completes after the trailer section that ends at `endInData`; returns the position in `buf`. */
  private endTrailers(data: Buffer, endInData: number, buf: Buffer, i: number): number {
    const before = data === buf ? 0 : data.length - (buf.length - i);
    this.partial = undefined;
    this.complete();
    return data === buf ? endInData : i + (endInData - before);
  }
}
