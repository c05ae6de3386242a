// The edge gateway's fast front: client connections read on raw sockets, request heads parsed by
// the strict-subset parser (edge-fast-head.ts), responses framed here. node:http's server costs
// about 5 µs per request on top of this (docs/benchmarks.md, "Gateway data-plane floor"), a fifth
// of the gateway's CPU. Whatever the subset does not cover is handed over, unread bytes and all,
// to a node:http server (`fallback`), which owns the connection from then on: request bodies,
// chunked, WebSocket upgrades, HTTP/1.0, malformed or oversized heads, exactly as before.
//
// Per connection, one request at a time: pipelined requests wait in the read buffer and are
// answered in order. Timeouts as node's server: a head must be complete within `headersTimeoutMs`
// of its first byte (or of the connection's start), an idle keep-alive connection is closed after
// `keepAliveMs`; one sweep per front checks them, so there is no timer per request.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Downstream } from './edge-downstream.ts';
import { parseFastHead, type FastRequestHead } from './edge-fast-head.ts';

export interface FastFrontOptions {
  readonly headersTimeoutMs: number;
  readonly keepAliveMs: number;
  /** Answers a request the fast path accepted; `down.end` (or `destroy`) must follow. */
  readonly serve: (head: FastRequestHead, down: FastResponse, socket: Socket) => void;
  /** Takes over a connection whose next request is outside the subset (its bytes unshifted). */
  readonly fallback: (socket: Socket) => void;
}

/** Unread pipelined bytes beyond this pause reading until the current response is done. */
const MAX_BUFFERED = 64 * 1024;
const NO_BODY: ReadonlySet<number> = new Set([204, 304]);
/** A first body piece up to this size is copied behind the head and leaves in the same write. */
const JOIN_BODY_MAX = 16 * 1024;

/** Node's `Date` header value, recomputed at most once a second. */
let dateSecond = -1;
let dateValue = '';
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

type State = 'head' | 'busy' | 'idle' | 'gone';

/** One client connection on the fast front. */
class FastConnection {
  state: State = 'head';
  /** When the current state began (performance.now()): the sweep's clock. */
  since = performance.now();
  private pending: Buffer | undefined;
  /** Bytes of `pending` already seen as an incomplete head. */
  private scanned = 0;
  /** The allocation `pending` starts, with room after it for more (see `append`). */
  private room: Buffer | undefined;
  private current: FastResponse | undefined;
  private paused = false;
  private clientEnded = false;
  private serving = false;
  private again = false;

  constructor(
    readonly front: FastFront,
    readonly socket: Socket,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    // Closing (a last response went out, or a 408): whatever else the client sends is not read.
    if (this.state === 'gone') return;
    if (this.state === 'idle') {
      this.state = 'head';
      this.since = performance.now();
    }
    this.pending = this.pending ? this.append(this.pending, chunk) : chunk;
    if (this.state === 'busy') {
      if (this.pending.length > MAX_BUFFERED && !this.paused) {
        this.paused = true;
        this.socket.pause();
      }
      return;
    }
    this.next();
  };

  /**
   * The client ended its side. As node:http (`httpAllowHalfOpen` off): the connection ends now,
   * and a request in flight is abandoned (its upstream request aborted, logged 499) when it closes.
   */
  private readonly onEnd = (): void => {
    this.clientEnded = true;
    this.socket.end();
  };

  private readonly onError = (): void => {
    this.socket.destroy();
  };

  private readonly onClose = (): void => {
    this.state = 'gone';
    this.front.forget(this);
    const cur = this.current;
    this.current = undefined;
    cur?.gone();
  };

  /**
   * `pending` + `chunk`, in room grown by doubling: a head trickling in a byte per packet costs
   * linear time (a copy of everything per read, as Buffer.concat, would be quadratic).
   */
  private append(pending: Buffer, chunk: Buffer): Buffer {
    const length = pending.length + chunk.length;
    const room = this.room;
    if (
      room &&
      room.buffer === pending.buffer &&
      room.byteOffset === pending.byteOffset &&
      room.length >= length
    ) {
      chunk.copy(room, pending.length);
      return room.subarray(0, length);
    }
    const next = Buffer.allocUnsafeSlow(Math.max(length, 2 * pending.length, 4096));
    pending.copy(next, 0);
    chunk.copy(next, pending.length);
    this.room = next;
    return next.subarray(0, length);
  }

  /** Parses and serves the buffered requests, one at a time (loops instead of recursing). */
  private next(): void {
    if (this.serving) {
      this.again = true;
      return;
    }
    this.serving = true;
    do {
      this.again = false;
      this.step();
    } while (this.again && this.state !== 'busy' && this.state !== 'gone');
    this.serving = false;
  }

  private step(): void {
    const buf = this.pending;
    if (!buf) return;
    const head = parseFastHead(buf, this.scanned);
    switch (head.kind) {
      case 'partial':
        this.scanned = buf.length;
        return;
      case 'fallback':
        this.handOff();
        return;
      case 'request': {
        this.pending = head.length < buf.length ? buf.subarray(head.length) : undefined;
        this.scanned = 0;
        this.state = 'busy';
        const res = new FastResponse(this, head.method, head.close || this.front.closing);
        this.current = res;
        this.front.opts.serve(head, res, this.socket);
      }
    }
  }

  /** The current response is written (not necessarily flushed): on to the next request. */
  responded(res: FastResponse, close: boolean): void {
    if (this.current !== res) return;
    this.current = undefined;
    if (close || this.clientEnded) {
      this.state = 'gone';
      this.socket.end();
      return;
    }
    this.since = performance.now();
    this.state = this.pending ? 'head' : 'idle';
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    if (this.pending) this.next();
  }

  /**
   * Gives the connection to node:http with every byte not yet answered: from the start of the
   * request the fast path declined. Nothing of that request was acted on.
   */
  private handOff(): void {
    const s = this.socket;
    const rest = this.pending!;
    this.pending = undefined;
    this.state = 'gone';
    this.front.forget(this);
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('error', this.onError);
    s.off('close', this.onClose);
    s.pause();
    s.unshift(rest);
    this.front.opts.fallback(s);
    // node's server reads on once its handlers are in place (as `httpolyglot` and http2's
    // allowHTTP1 hand connections over).
    process.nextTick(() => s.resume());
  }

  /** Closes an idle connection, or one that has not sent a byte of its next request. */
  closeIfIdle(): boolean {
    if (this.state === 'idle' || (this.state === 'head' && this.pending === undefined)) {
      this.state = 'gone';
      this.socket.destroy();
      return true;
    }
    return false;
  }

  /** The sweep: a head that took too long gets node's 408; an idle keep-alive ends. */
  sweep(now: number): void {
    const age = now - this.since;
    const { headersTimeoutMs, keepAliveMs } = this.front.opts;
    // 0 turns a timeout off, as it does for node:http's server.
    if (this.state === 'head' && headersTimeoutMs > 0 && age >= headersTimeoutMs) {
      this.state = 'gone';
      this.socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
    } else if (this.state === 'idle' && keepAliveMs > 0 && age >= keepAliveMs) {
      this.state = 'gone';
      this.socket.destroy();
    }
  }
}

/**
 * One response on the fast front. Framing as node:http's: the upstream's Content-Length is passed
 * on, otherwise the body is chunked; no body for HEAD, 1xx, 204 and 304; Connection and Keep-Alive
 * are this connection's own. The head is held back and leaves with the first body bytes.
 */
export class FastResponse implements Downstream {
  readonly body = null;
  headersSent = false;
  statusCode = 0;
  private head: string | undefined;
  private chunked = false;
  private noBody: boolean;
  private ended = false;
  private finished = false;
  private closeCb: ((finished: boolean) => void) | undefined;

  constructor(
    private readonly conn: FastConnection,
    readonly method: string,
    private close: boolean,
  ) {
    this.noBody = method === 'HEAD';
  }

  bodyBroken(): boolean {
    return false;
  }

  closeAfter(): void {
    this.close = true;
  }

  writeHead(status: number, headers: readonly string[]): void {
    if (this.headersSent) throw new Error('fast front: response head written twice');
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    const noBody = this.noBody || status < 200 || NO_BODY.has(status);
    let length = false;
    let date = false;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i]!;
      const lower = name.length === 14 || name.length === 4 ? name.toLowerCase() : '';
      if (lower === 'content-length') {
        // A 204 has no length to announce; a HEAD or 304 answer keeps the one the body would have.
        if (status === 204 || status < 200) continue;
        length = true;
      } else if (lower === 'date') {
        date = true;
      }
      head += `${name}: ${headers[i + 1]!}\r\n`;
    }
    this.noBody = noBody;
    this.chunked = !noBody && !length;
    if (this.chunked) head += 'Transfer-Encoding: chunked\r\n';
    if (!date) head += `Date: ${httpDate()}\r\n`;
    head += this.close ? 'Connection: close\r\n\r\n' : `${this.conn.front.keepAliveLines}\r\n`;
    this.head = head;
    this.headersSent = true;
    this.statusCode = status;
  }

  write(chunk: Buffer): boolean {
    const s = this.conn.socket;
    if (this.noBody || chunk.length === 0 || this.ended) return true;
    const head = this.head;
    if (head === undefined && !this.chunked) return s.write(chunk);
    if (head !== undefined && !this.chunked && chunk.length <= JOIN_BODY_MAX) {
      // The usual small answer: head and body in one buffer, one plain write. Corking them
      // instead goes through the stream's writev path, measurably dearer per response.
      this.head = undefined;
      const joined = Buffer.allocUnsafe(head.length + chunk.length);
      joined.write(head, 0, 'latin1'); // latin1: one byte per character, so length is bytes
      chunk.copy(joined, head.length);
      return s.write(joined);
    }
    s.cork();
    if (head !== undefined) {
      this.head = undefined;
      s.write(head, 'latin1');
    }
    let ok: boolean;
    if (this.chunked) {
      s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
    } else {
      ok = s.write(chunk);
    }
    s.uncork();
    return ok;
  }

  onDrain(cb: () => void): void {
    this.conn.socket.once('drain', cb);
  }

  end(body?: string): void {
    if (this.ended) return;
    this.ended = true;
    const s = this.conn.socket;
    let tail = this.head ?? '';
    this.head = undefined;
    if (body !== undefined && !this.noBody) {
      tail += this.chunked ? `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n` : body;
    }
    if (this.chunked) tail += '0\r\n\r\n';
    if (tail !== '') s.write(tail, 'latin1');
    // The request is finished once its last byte left for the client (as node's 'finish'): a
    // graceful stop waits for that and the access log times it. A write the kernel took at once
    // leaves nothing buffered (the usual case); otherwise an empty write's callback marks it.
    if (s.writableLength === 0 && !s.destroyed) this.flushed(true);
    else s.write('', 'latin1', (err) => this.flushed(!err));
    this.conn.responded(this, this.close);
  }

  destroy(): void {
    this.conn.socket.destroy();
  }

  onClose(cb: (finished: boolean) => void): void {
    this.closeCb = cb;
  }

  private flushed(ok: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.closeCb?.(ok);
  }

  /** The connection closed before this response was complete. */
  gone(): void {
    this.flushed(false);
  }
}

/** The fast front of one listener: its connections, their sweep and graceful stop. */
export class FastFront {
  /** Set by a graceful stop: every response from now on closes its connection. */
  closing = false;
  private readonly conns = new Set<FastConnection>();
  private readonly sweeper: NodeJS.Timeout;

  /** The response head's keep-alive lines, as node:http's: no `Keep-Alive` without a timeout. */
  readonly keepAliveLines: string;

  constructor(readonly opts: FastFrontOptions) {
    const ms = opts.keepAliveMs;
    this.keepAliveLines =
      ms > 0
        ? `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(ms / 1000)}\r\n`
        : 'Connection: keep-alive\r\n';
    // A quarter of the shortest timeout in use, within [50 ms, 1 s].
    const timeouts = [opts.headersTimeoutMs, opts.keepAliveMs].filter((ms) => ms > 0);
    const tick = Math.max(50, Math.min(1_000, Math.floor(Math.min(...timeouts) / 4)));
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const c of this.conns) c.sweep(now);
    }, tick).unref();
  }

  accept(socket: Socket): void {
    socket.setNoDelay(true);
    this.conns.add(new FastConnection(this, socket));
  }

  forget(conn: FastConnection): void {
    this.conns.delete(conn);
  }

  /** Starts a graceful stop: idle connections close now, busy ones after their response. */
  closeIdle(): void {
    this.closing = true;
    for (const c of this.conns) if (c.closeIfIdle()) this.conns.delete(c);
  }

  /** Ends the stop: every connection still open is cut, and the sweep stops. */
  destroyAll(): void {
    clearInterval(this.sweeper);
    for (const c of this.conns) c.socket.destroy();
    this.conns.clear();
  }
}
