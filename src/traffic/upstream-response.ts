// An incremental HTTP/1.1 response parser for the edge gateway's upstream connections: the status
// line and headers, then the body framed as RFC 9112 §6.3 says (no body for HEAD, 1xx, 204 and
// 304; chunked when Transfer-Encoding ends in chunked; else Content-Length; else until the
// connection closes). Strict where leniency lets one response be read as two (request
// smuggling's other half): bare LF, obs-fold, bad names, conflicting lengths and malformed chunk
// sizes are errors, and a response whose length the connection alone delimits is never reused.
// No I/O: the upstream client feeds it bytes; the unit tests feed it byte by byte.

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

const HEAD_END = Buffer.from('\r\n\r\n');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\r\n]*)?$/;
// Field values: visible ASCII, obs-text, space and tab; no CR, LF, NUL or other controls.
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const BAD_VALUE = /[\0-\x08\x0a-\x1f\x7f]/;
const DIGITS = /^\d{1,15}$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d{1,9})/i;
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
      end = buf.indexOf(HEAD_END, i);
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
      end = data.indexOf(HEAD_END, Math.max(0, before - 3));
      if (end < 0) {
        if (data.length > MAX_HEAD_BYTES) throw bad('headers too large');
        return buf.length;
      }
      start = 0;
      this.partial = undefined;
      // What of `buf` was used: the head's end is at `end + 4` in `data`.
      const used = end + 4 - before;
      this.parseHead(data.toString('latin1', start, end));
      return i + used;
    }
    if (end - start > MAX_HEAD_BYTES) throw bad('headers too large');
    this.parseHead(data.toString('latin1', start, end));
    return end + 4;
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    const m = STATUS_LINE.exec(lines[0]!);
    if (!m) throw bad(`status line ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    const status = Number(m[2]);
    const http10 = m[1] === '0';
    if (status < 200) {
      // 100 Continue, 103 Early Hints: interim, the final answer follows. 101 was never asked for.
      if (status === 101) throw bad('101 Switching Protocols to a request without Upgrade');
      return;
    }
    const headers: string[] = [];
    let length: string | undefined;
    let chunked: boolean | undefined;
    let close = http10;
    for (let k = 1; k < lines.length; k++) {
      const line = lines[k]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw bad(`header line ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon);
      if (!TOKEN.test(name)) throw bad(`header name ${JSON.stringify(name.slice(0, 80))}`);
      const value = line.slice(colon + 1).trim();
      if (BAD_VALUE.test(value)) throw bad(`value of header ${name}`);
      headers.push(name, value);
      switch (name.length) {
        case 10: {
          const lower = name.toLowerCase();
          if (lower === 'connection') {
            const v = value.toLowerCase();
            if (v.includes('close')) close = true;
            else if (http10 && v.includes('keep-alive')) close = false;
          } else if (lower === 'keep-alive') {
            const m = KEEP_ALIVE_TIMEOUT.exec(value);
            if (m) this.keepAliveTimeoutMs = Number(m[1]) * 1000;
          }
          break;
        }
        case 14:
          if (name.toLowerCase() === 'content-length') {
            // Repeated values ("5, 5" or two fields) are one length if they agree.
            for (const v of value.split(',')) {
              const t = v.trim();
              if (!DIGITS.test(t)) throw bad(`Content-Length ${JSON.stringify(value)}`);
              if (length !== undefined && length !== t) throw bad('conflicting Content-Length values');
              length = t;
            }
          }
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            const last = value
              .slice(value.lastIndexOf(',') + 1)
              .trim()
              .toLowerCase();
            chunked = last === 'chunked';
          }
          break;
      }
    }
    this.ev.onHead(status, headers);
    if (this.noBody || status === 204 || status === 304) {
      this.keepAlive = !close;
      this.complete();
    } else if (chunked !== undefined) {
      // Transfer-Encoding overrides Content-Length; a message with both is suspect: not reused.
      this.keepAlive = !close && chunked && length === undefined;
      this.state = chunked ? State.ChunkSize : State.UntilClose;
    } else if (length !== undefined) {
      this.keepAlive = !close;
      this.remaining = Number(length);
      if (this.remaining === 0) this.complete();
      else this.state = State.Length;
    } else {
      this.state = State.UntilClose;
    }
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
    const end = data.indexOf(HEAD_END, from);
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
