// The edge gateway's HTTP/1.1 client to one upstream address: keep-alive connections on plain
// `net.Socket`s, one request at a time on each (no pipelining), the request head written as one
// string and the response read by ResponseParser. It replaced undici's Pool here because its
// dispatch machinery and WASM parser were the larger part of the gateway's CPU time per request
// (see docs/benchmarks.md); it does only what a reverse proxy needs.
//
// A connection is reused only after a complete response to a completely sent request, with no
// stray bytes after it and no `Connection: close`; bytes arriving on an idle connection close it.
// Timeouts need no timer per request: one sweep per pool notices a busy connection that made no
// progress (no byte either way) for `timeoutMs`, and idle connections older than `idleMs`.
import type { Socket } from 'node:net';
import { dialGuardedTcp, guardHost, type GuardedHost } from '../../dial/dialer.ts';
import { errorMessage } from '../../kube/errors.ts';
import type { Readable } from 'node:stream';
import { ResponseParser, UpstreamError } from './upstream-response.ts';

export interface UpstreamRequest {
  readonly method: string;
  /** The request target (origin form), sent as is. */
  readonly path: string;
  /**
   * Flat [name, value, …] as received by node's HTTP server (no CR/LF in them), hop-by-hop
   * headers already removed. A body is framed by the Content-Length among them, else chunked.
   */
  readonly headers: readonly string[];
  /** The request body, read only once the connection is made; null for none. */
  readonly body: Readable | null;
}

/** What a request's response is handed to; exactly one of `onEnd` and `onError` ends it. */
export interface UpstreamHandler {
  /** The final response head; 1xx interim answers are skipped. */
  onHead(status: number, headers: string[]): void;
  /** A piece of the body; false: reading pauses until the call's `resume`. */
  onData(chunk: Buffer): boolean;
  onEnd(): void;
  /** `err.code`: a connect error (ECONNREFUSED, …, UPSTREAM_CONNECT_TIMEOUT) or an UpstreamError code. */
  onError(err: Error & { code?: string }): void;
}

export interface UpstreamCall {
  /** Stops the request: its connection is closed; no handler method is called after this. */
  abort(): void;
  /** Reads on after `onData` returned false. */
  resume(): void;
}

export interface UpstreamPoolOptions {
  /** Most open connections; further requests wait for one in order. */
  readonly connections: number;
  readonly connectTimeoutMs: number;
  /** Longest a busy connection may go without a byte either way (waiting for headers or in a body). */
  readonly timeoutMs: number;
  /** Idle connections are closed after this. Default 4 s (undici's default). */
  readonly idleMs?: number;
}

const NEEDS_LENGTH: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

class Call implements UpstreamCall {
  conn: Connection | undefined;
  done = false;

  constructor(
    readonly pool: UpstreamPool,
    readonly req: UpstreamRequest,
    readonly handler: UpstreamHandler,
  ) {}

  abort(): void {
    if (this.done) return;
    this.done = true;
    if (this.conn) this.conn.abandon();
    else this.pool.dequeue(this);
  }

  resume(): void {
    if (!this.done && this.conn?.call === this) this.conn.resume();
  }
}

class Connection {
  readonly socket: Socket;
  readonly parser: ResponseParser;
  call: Call | undefined;
  connected = false;
  /** Bumped on every byte in or out while busy: the timeout sweep's clock. */
  progress = 0;
  seen = 0;
  stalledTicks = 0;
  idleTicks = 0;
  /** Sweeps this connection may stay idle (the server's Keep-Alive hint may shorten it). */
  idleLimit = 0;
  private paused = false;
  private wantPause = false;
  private completed = false;
  /** The request body was written completely (or there was none). */
  private bodyDone = true;
  private body: Readable | undefined;
  private chunked = false;
  private lastError: (Error & { code?: string }) | undefined;

  constructor(
    private readonly pool: UpstreamPool,
    host: GuardedHost,
    port: number,
    connectTimeoutMs: number,
  ) {
    this.parser = new ResponseParser({
      onHead: (status, headers) => this.call?.handler.onHead(status, headers),
      onBody: (chunk) => {
        // A copy: the chunk lies in the shared read buffer, which the next read overwrites.
        if (this.call && !this.call.handler.onData(Buffer.from(chunk))) this.wantPause = true;
      },
      onComplete: () => (this.completed = true),
    });
    // Reads land in one buffer shared by every connection (`onread`): no allocation and no
    // stream machinery per read. Each read is parsed to the end before the next one.
    const s = dialGuardedTcp({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array) => {
          this.read(buf as Buffer, n);
          return true; // `read` pauses the socket itself when the consumer is full
        },
      },
    });
    this.socket = s;
    s.setTimeout(connectTimeoutMs, () => {
      if (this.connected) return;
      this.lastError = new UpstreamError('UPSTREAM_CONNECT_TIMEOUT', `connect to ${host}:${port} timed out`);
      s.destroy();
    });
    s.once('connect', () => {
      this.connected = true;
      s.setTimeout(0);
      if (this.call) this.send();
    });
    s.on('drain', () => this.body?.resume());
    s.on('error', (err: Error & { code?: string }) => (this.lastError ??= err));
    s.on('close', () => this.closed());
  }

  /** Takes `call` (the connection is idle or just opened). */
  assign(call: Call): void {
    call.conn = this;
    this.call = call;
    this.idleTicks = 0;
    this.stalledTicks = 0;
    if (this.connected) this.send();
  }

  private send(): void {
    const call = this.call!;
    const { method, path, headers, body } = call.req;
    this.parser.start(method === 'HEAD');
    this.completed = false;
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let hasLength = false;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i]!;
      if (name.length === 14 && name.toLowerCase() === 'content-length') hasLength = true;
      head += `${name}: ${headers[i + 1]!}\r\n`;
    }
    this.chunked = body !== null && !hasLength;
    if (this.chunked) head += 'Transfer-Encoding: chunked\r\n';
    else if (body === null && !hasLength && NEEDS_LENGTH.has(method)) head += 'Content-Length: 0\r\n';
    this.progress++;
    this.socket.write(`${head}\r\n`, 'latin1');
    if (body === null) {
      this.bodyDone = true;
      return;
    }
    this.bodyDone = false;
    this.body = body;
    body.on('data', this.onBodyData);
    body.once('end', this.onBodyEnd);
  }

  private readonly onBodyData = (chunk: Buffer): void => {
    this.progress++;
    const s = this.socket;
    let ok: boolean;
    if (this.chunked) {
      s.cork();
      s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
      s.uncork();
    } else {
      ok = s.write(chunk);
    }
    if (!ok) this.body?.pause();
  };

  private readonly onBodyEnd = (): void => {
    if (this.chunked) this.socket.write('0\r\n\r\n', 'latin1');
    this.bodyDone = true;
    this.detachBody();
  };

  private detachBody(): void {
    if (!this.body) return;
    this.body.off('data', this.onBodyData);
    this.body.off('end', this.onBodyEnd);
    this.body = undefined;
  }

  private read(shared: Buffer, n: number): void {
    const call = this.call;
    if (!call) {
      // Bytes nobody asked for (after a complete response): never read this connection again.
      this.socket.destroy();
      return;
    }
    this.progress++;
    const buf = shared.subarray(0, n);
    let used: number;
    try {
      used = this.parser.execute(buf);
    } catch (err) {
      this.fail(err as UpstreamError);
      return;
    }
    if (this.call !== call) return; // aborted by a handler
    if (this.completed) this.finish(used === buf.length);
    else if (this.wantPause && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  resume(): void {
    this.wantPause = false;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** The response is complete: the connection goes back to the pool if it can carry another. */
  private finish(clean: boolean): void {
    const call = this.call!;
    this.call = undefined;
    call.done = true;
    const hint = this.parser.keepAliveTimeoutMs;
    // A server that closes idle connections after N s: stop reusing this one a second before.
    const reusable = clean && this.parser.keepAlive && this.bodyDone && (hint === undefined || hint > 1_000);
    if (reusable) this.idleLimit = this.pool.idleTicksFor(hint);
    this.detachBody();
    this.wantPause = false;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    if (reusable) this.pool.release(this);
    else this.socket.destroy();
    call.handler.onEnd();
  }

  private fail(err: Error & { code?: string }): void {
    const call = this.call;
    this.call = undefined;
    this.detachBody();
    this.socket.destroy();
    if (call && !call.done) {
      call.done = true;
      call.handler.onError(err);
    }
  }

  /** The call gave up (its client left): this connection is mid-exchange, so it is closed. */
  abandon(): void {
    this.call = undefined;
    this.detachBody();
    this.socket.destroy();
  }

  /** Called by the pool's sweep for a busy connection; true when it timed out. */
  stalled(ticks: number): boolean {
    if (this.progress !== this.seen || this.paused || !this.connected) {
      this.seen = this.progress;
      this.stalledTicks = 0;
      return false;
    }
    return ++this.stalledTicks >= ticks;
  }

  timeOut(): void {
    this.fail(
      new UpstreamError(
        'UPSTREAM_TIMEOUT',
        this.parser.headed ? 'upstream body timed out' : 'upstream response headers timed out',
      ),
    );
  }

  private closed(): void {
    this.pool.removed(this);
    if (!this.call) return;
    if (!this.connected || (this.lastError as UpstreamError | undefined)?.code === 'UPSTREAM_ABORTED') {
      this.fail(this.lastError ?? new UpstreamError('UPSTREAM_CLOSED', 'upstream connection closed'));
      return;
    }
    try {
      this.parser.finish(); // a body delimited by the close ends here
    } catch (err) {
      const e = err as UpstreamError;
      if (this.lastError) e.message += ` (${this.lastError.message})`;
      this.fail(e);
      return;
    }
    if (this.completed) this.finish(false);
  }
}

export class UpstreamPool {
  private readonly idle: Connection[] = [];
  private readonly busy = new Set<Connection>();
  private readonly queue: Call[] = [];
  private open = 0;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly tickMs: number;
  private closing = false;
  /** The host once the dial guard allowed it, or why it did not (checked once, not per connection). */
  private readonly target: { host: GuardedHost } | { refused: string };

  constructor(
    host: string,
    private readonly port: number,
    private readonly opts: UpstreamPoolOptions,
  ) {
    this.tickMs = Math.min(1_000, Math.max(10, Math.floor(opts.timeoutMs / 8)));
    try {
      this.target = { host: guardHost(host) };
    } catch (e) {
      this.target = { refused: errorMessage(e) };
    }
  }

  /** Open connections (busy and idle). */
  get size(): number {
    return this.open;
  }

  request(req: UpstreamRequest, handler: UpstreamHandler): UpstreamCall {
    const call = new Call(this, req, handler);
    if ('refused' in this.target) {
      // A connect error like any other: nothing was sent, the next cluster may be tried.
      const refused = new UpstreamError('NonLoopbackDial', this.target.refused);
      call.done = true;
      queueMicrotask(() => handler.onError(refused));
      return call;
    }
    if (this.closing) {
      call.done = true;
      queueMicrotask(() => handler.onError(new UpstreamError('UPSTREAM_ABORTED', 'upstream pool closed')));
      return call;
    }
    this.sweepTimer ??= setInterval(() => this.sweep(), this.tickMs).unref();
    const conn = this.idle.pop();
    if (conn) {
      this.busy.add(conn);
      conn.assign(call);
    } else if (this.open < this.opts.connections) {
      this.openFor(call);
    } else {
      this.queue.push(call);
    }
    return call;
  }

  private openFor(call: Call): void {
    if ('refused' in this.target) return; // request() answers those calls
    this.open++;
    const conn = new Connection(this, this.target.host, this.port, this.opts.connectTimeoutMs);
    this.busy.add(conn);
    conn.assign(call);
  }

  dequeue(call: Call): void {
    const i = this.queue.indexOf(call);
    if (i >= 0) this.queue.splice(i, 1);
  }

  release(conn: Connection): void {
    this.busy.delete(conn);
    const next = this.queue.shift();
    if (next) {
      this.busy.add(conn);
      conn.assign(next);
    } else {
      this.idle.push(conn);
    }
  }

  /** A connection closed: it leaves the pool, and a waiting request may open a new one. */
  removed(conn: Connection): void {
    if (!this.busy.delete(conn)) {
      const i = this.idle.indexOf(conn);
      if (i < 0) return;
      this.idle.splice(i, 1);
    }
    this.open--;
    const next = this.closing ? undefined : this.queue.shift();
    if (next) this.openFor(next);
  }

  /** Sweeps an idle connection is kept: `idleMs`, or less when the server's hint is shorter. */
  idleTicksFor(hintMs: number | undefined): number {
    const idleMs = this.opts.idleMs ?? 4_000;
    const ms = hintMs === undefined ? idleMs : Math.min(idleMs, hintMs - 1_000);
    return Math.max(1, Math.floor(ms / this.tickMs));
  }

  private sweep(): void {
    const ticks = Math.max(1, Math.ceil(this.opts.timeoutMs / this.tickMs));
    for (const conn of this.busy) if (conn.stalled(ticks)) conn.timeOut();
    for (const conn of [...this.idle]) if (++conn.idleTicks >= conn.idleLimit) conn.socket.destroy();
    // Nothing left to watch: stop until the next request re-arms it (pools are never evicted).
    if (this.busy.size === 0 && this.idle.length === 0 && this.queue.length === 0) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  /** Closes every connection; requests in flight or waiting fail with UPSTREAM_ABORTED. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const aborted = new UpstreamError('UPSTREAM_ABORTED', 'upstream pool closed');
    for (const call of this.queue.splice(0)) {
      call.done = true;
      call.handler.onError(aborted);
    }
    const all = [...this.busy, ...this.idle];
    await Promise.all(
      all.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.socket.destroyed) resolve();
            else {
              c.socket.once('close', () => resolve());
              c.socket.destroy(aborted);
            }
          }),
      ),
    );
  }
}
