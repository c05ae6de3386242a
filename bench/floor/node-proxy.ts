// EXPERIMENT — bench-only, not product code (docs/benchmarks.md, "Gateway data-plane floor"). The
// CPU floor of a Node.js data plane: the least a Node proxy can do per request, to compare with
// Meridian's edge gateway, nginx and HAProxy in the same wrk rounds (`BENCH_FLOOR=1 npm run bench
// gateway`). Enough HTTP/1.1 for wrk's keep-alive GETs and nothing more: no request bodies (501),
// no pipelining beyond answering in order, no routing, retries, timeouts, TLS, access log or
// metrics; the response is buffered whole and written back with one `socket.write` (or one
// `res.end`). Header rewriting is the gateway's own (`upstreamHead` / `downstreamHeaders`), so the
// hop-by-hop and X-Forwarded-* work is the same as in the product.
//
// Modes (front + upstream side):
//   raw-pool  `net.createServer` + a hand-written request-head parser + the gateway's UpstreamPool
//   raw-raw   the same front + a raw upstream socket client (Content-Length responses only)
//   http-raw  `node:http` server + the raw upstream client (splits front parser vs upstream side)
// Usage: node --import tsx bench/floor/node-proxy.ts MODE PORT BACKEND_PORT [WORKERS]
// With WORKERS > 1 the processes share the listener through node:cluster with SCHED_NONE (each
// accepts for itself), as the hub's `--edge-workers` do.
import cluster from 'node:cluster';
import { createServer as createHttpServer, STATUS_CODES } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { downstreamHeaders, upstreamHead, type Listener } from '../../src/traffic/edge/edge-request-head.ts';
import { UpstreamPool } from '../../src/traffic/edge/upstream-pool.ts';

type Mode = 'raw-pool' | 'raw-raw' | 'http-raw';
/** Called with the whole upstream response. */
type Done = (status: number, headers: string[], body: Buffer) => void;
type Send = (method: string, path: string, headers: string[], done: Done, fail: () => void) => void;

const HEAD_END = Buffer.from('\r\n\r\n');
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** One keep-alive upstream connection, one request at a time; Content-Length responses only. */
class RawConn {
  readonly socket: Socket;
  private pending: Buffer | undefined;
  private done: Done | undefined;
  private fail: (() => void) | undefined;

  constructor(
    private readonly idle: RawConn[],
    port: number,
  ) {
    this.socket = connect({
      host: '127.0.0.1',
      port,
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => this.read(buf as Buffer, n) },
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      const i = this.idle.indexOf(this);
      if (i >= 0) this.idle.splice(i, 1);
      const fail = this.fail;
      this.done = this.fail = undefined;
      fail?.();
    });
  }

  send(head: string, done: Done, fail: () => void): void {
    this.done = done;
    this.fail = fail;
    this.socket.write(head, 'latin1');
  }

  private read(shared: Buffer, n: number): boolean {
    // Reads land in a shared buffer: keep a copy only of what is left unanswered.
    let buf = this.pending ? Buffer.concat([this.pending, shared.subarray(0, n)]) : shared.subarray(0, n);
    this.pending = undefined;
    const end = buf.indexOf(HEAD_END);
    if (end < 0 || !this.done) {
      if (this.done) this.pending = Buffer.from(buf);
      else this.socket.destroy();
      return true;
    }
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    const status = Number(lines[0]!.slice(9, 12));
    const raw: string[] = [];
    let length = -1;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      if (name.length === 14 && name.toLowerCase() === 'content-length') length = Number(value);
      raw.push(name, value);
    }
    if (length < 0) {
      this.socket.destroy(); // not for this experiment
      return true;
    }
    const total = end + 4 + length;
    if (buf.length < total) {
      this.pending = Buffer.from(buf);
      return true;
    }
    if (buf.length > total) buf = buf.subarray(0, total);
    const done = this.done;
    this.done = this.fail = undefined;
    const body = Buffer.from(buf.subarray(end + 4, total));
    this.idle.push(this);
    done(status, downstreamHeaders(raw), body);
    return true;
  }
}

/** The raw upstream client: an idle list of RawConns, a new one whenever none is idle. */
function rawUpstream(port: number): Send {
  const idle: RawConn[] = [];
  return (method, path, headers, done, fail) => {
    let head = `${method} ${path} HTTP/1.1\r\n`;
    for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i]!}: ${headers[i + 1]!}\r\n`;
    (idle.pop() ?? new RawConn(idle, port)).send(`${head}\r\n`, done, fail);
  };
}

/** The gateway's UpstreamPool, the response body gathered for one write. */
function poolUpstream(port: number): Send {
  const pool = new UpstreamPool('127.0.0.1', port, {
    connections: 256,
    connectTimeoutMs: 2_000,
    timeoutMs: 60_000,
  });
  return (method, path, headers, done, fail) => {
    let status = 0;
    let head: string[] = [];
    const chunks: Buffer[] = [];
    pool.request(
      { method, path, headers, body: null },
      {
        onHead: (s, h) => {
          status = s;
          head = downstreamHeaders(h);
        },
        onData: (chunk) => chunks.push(chunk) > 0,
        onEnd: () => done(status, head, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)),
        onError: fail,
      },
    );
  };
}

/** The response head and body in one buffer, for one write. */
function response(status: number, headers: readonly string[], body: Buffer, close: boolean): Buffer {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') continue;
    head += `${name}: ${headers[i + 1]!}\r\n`;
  }
  head += `Content-Length: ${body.length}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, head.length);
  return out;
}

/** A client connection on the raw front: one request at a time, in order. */
function rawFront(socket: Socket, send: Send, listener: Listener): void {
  let pending: Buffer | undefined;
  let busy = false;
  const next = (): void => {
    const buf = pending;
    if (busy || !buf) return;
    const end = buf.indexOf(HEAD_END);
    if (end < 0) return;
    pending = end + 4 < buf.length ? buf.subarray(end + 4) : undefined;
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    const [method, path, version] = lines[0]!.split(' ');
    const raw: string[] = [];
    let close = version !== 'HTTP/1.1';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      raw.push(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    const up = upstreamHead(raw, socket.remoteAddress ?? '', listener);
    for (let i = 0; i + 1 < raw.length; i += 2)
      if (raw[i]!.toLowerCase() === 'connection' && /close/i.test(raw[i + 1]!)) close = true;
    if (!method || !path || up.hasBody) {
      socket.end('HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    busy = true;
    send(
      method,
      path,
      up.headers,
      (status, headers, body) => {
        busy = false;
        if (socket.destroyed) return;
        if (close) socket.end(response(status, headers, body, true));
        else {
          socket.write(response(status, headers, body, false));
          next();
        }
      },
      () => socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
    );
  };
  socket.on('data', (chunk: Buffer) => {
    pending = pending ? Buffer.concat([pending, chunk]) : chunk;
    next();
  });
  socket.on('error', () => undefined);
}

function serve(mode: Mode, port: number, backendPort: number): void {
  const listener: Listener = { proto: 'http', port };
  if (mode === 'http-raw') {
    const send = rawUpstream(backendPort);
    createHttpServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      const up = upstreamHead(req.rawHeaders, req.socket.remoteAddress ?? '', listener);
      send(
        req.method ?? 'GET',
        req.url ?? '/',
        up.headers,
        (status, headers, body) => {
          res.writeHead(status, headers); // the upstream's Content-Length is kept: the body is whole
          res.end(body);
        },
        () => {
          res.writeHead(502);
          res.end();
        },
      );
    }).listen(port, '127.0.0.1');
    return;
  }
  const send = mode === 'raw-pool' ? poolUpstream(backendPort) : rawUpstream(backendPort);
  createNetServer({ noDelay: true }, (socket) => rawFront(socket, send, listener)).listen(port, '127.0.0.1');
}

const [mode, port, backendPort, workers] = process.argv.slice(2);
if (mode !== 'raw-pool' && mode !== 'raw-raw' && mode !== 'http-raw') {
  process.stderr.write('usage: node-proxy.ts raw-pool|raw-raw|http-raw PORT BACKEND_PORT [WORKERS]\n');
  process.exit(2);
}
const n = Number(workers ?? 1);
if (n > 1 && cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < n; i++) cluster.fork();
  process.once('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  serve(mode, Number(port), Number(backendPort));
}
