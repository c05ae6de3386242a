// The edge gateway's raw-socket fast front, spoken to byte by byte over real sockets: pipelined
// requests answered in order, a connection handed to node:http mid-way (a chunked body after a
// fast GET), request smuggling answered exactly as a plain node:http server answers it, slow heads
// timed out, HEAD/204/304/close-delimited framing, a client leaving mid-request, and access log
// lines and metrics alike on both fronts. Stand-in clusters on loopback; everything is closed at
// the end.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../src/logging/logger.ts';
import { EdgeAccessLog } from '../src/traffic/edge/edge-access-log.ts';
import { EdgeGateway } from '../src/traffic/edge/edge-gateway.ts';
import { StaticRoutingTable, type ClusterTarget, type HostRoute } from '../src/traffic/routing/routing.ts';
import { selfSignedCertificate } from './support/certificates.ts';
import { waitFor } from './support/harness.ts';
import { jsonLineSink } from './support/log-sink.ts';

const SHOP = 'shop.example.test';
const RAW = 'raw.example.test';

// ---- stand-ins: a node:http cluster ingress and a raw one that answers close-delimited --------

/** Requests the backend saw, as `METHOD url`. */
const seen: string[] = [];
/** Set when a request the backend was holding lost its client (the gateway aborted it). */
let heldAborted = false;
const backend = http.createServer((req, res) => {
  const url = req.url ?? '';
  seen.push(`${req.method} ${url}`);
  if (url.startsWith('/order/')) {
    const ms = Number(new URL(url, 'http://x').searchParams.get('ms') ?? 0);
    req.resume();
    res.setHeader('Content-Length', Buffer.byteLength(url));
    setTimeout(() => res.end(url), ms);
  } else if (url === '/echo') {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    req.pipe(res);
  } else if (url === '/status/204') {
    res.writeHead(204, { 'X-Kind': 'no content' });
    res.end();
  } else if (url === '/status/304') {
    res.writeHead(304, { ETag: '"v1"' });
    res.end();
  } else if (url === '/headers') {
    res.end(JSON.stringify(req.headers));
  } else if (url === '/held') {
    res.on('close', () => (heldAborted = !res.writableEnded));
  } else {
    req.resume();
    res.end('ok');
  }
});
const rawBackend: Server = createServer((s) => {
  s.once('data', () =>
    s.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nuntil close'),
  );
  s.on('error', () => s.destroy());
});
/** A plain node:http server: the reference for what node answers to hostile bytes. */
const reference = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('ok'));
});

async function listen(s: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => s.listen(0, host, resolve));
  return (s.address() as AddressInfo).port;
}

function route(host: string, port: number): HostRoute {
  const cluster: ClusterTarget = {
    name: 'a',
    region: 'r1',
    addresses: ['127.0.0.1'],
    port,
    healthy: true,
    drained: false,
  };
  return {
    host,
    owner: { namespace: 'default', name: host.split('.')[0]! },
    strategy: { type: 'Failover', order: ['a'] },
    ttlSeconds: 30,
    paths: ['/'],
    clusters: [cluster],
  };
}

// ---- raw clients ------------------------------------------------------------------------------

interface Session {
  readonly socket: Socket;
  /** Everything received so far (latin1). */
  text(): string;
  /** Resolves with everything received once the gateway closes the connection. */
  readonly closed: Promise<string>;
}

function session(port: number, tls?: { servername: string; ca: string }): Session {
  const socket = tls
    ? tlsConnect({ host: '127.0.0.1', port, servername: tls.servername, ca: tls.ca })
    : connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  const text = (): string => Buffer.concat(chunks).toString('latin1');
  const closed = new Promise<string>((resolve) => {
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text()));
  });
  return { socket, text, closed };
}

/** Sends `bytes` on a new connection and resolves with everything received until it closed. */
async function exchange(port: number, bytes: string): Promise<string> {
  const s = session(port);
  s.socket.write(bytes, 'latin1');
  const t = setTimeout(() => s.socket.destroy(), 5_000);
  const out = await s.closed;
  clearTimeout(t);
  return out;
}

interface RawReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Splits a byte stream into responses, framed strictly (HTTP/1.1): one per request method given;
 * `rest` is what is left after them (must be '' when the framing was right).
 */
function replies(text: string, methods: readonly string[]): { replies: RawReply[]; rest: string } {
  const out: RawReply[] = [];
  let at = 0;
  for (const method of methods) {
    const end = text.indexOf('\r\n\r\n', at);
    assert.ok(
      end >= 0,
      `response ${out.length + 1} has no complete head in ${JSON.stringify(text.slice(at))}`,
    );
    const [statusLine, ...lines] = text.slice(at, end).split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine!)?.[1]);
    assert.ok(status > 0, `bad status line ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const colon = l.indexOf(':');
      const name = l.slice(0, colon).toLowerCase();
      assert.equal(headers[name], undefined, `${name} twice in response ${out.length + 1}`);
      headers[name] = l.slice(colon + 1).trim();
    }
    at = end + 4;
    let body = '';
    if (method === 'HEAD' || status === 204 || status === 304 || status < 200) {
      // no body
    } else if (headers['transfer-encoding'] === 'chunked') {
      assert.equal(headers['content-length'], undefined, 'chunked and a length');
      for (;;) {
        const lineEnd = text.indexOf('\r\n', at);
        const size = parseInt(text.slice(at, lineEnd), 16);
        assert.ok(Number.isFinite(size), `bad chunk size at ${JSON.stringify(text.slice(at, at + 20))}`);
        at = lineEnd + 2;
        if (size === 0) {
          assert.equal(text.slice(at, at + 2), '\r\n', 'no trailers expected');
          at += 2;
          break;
        }
        body += text.slice(at, at + size);
        assert.equal(text.slice(at + size, at + size + 2), '\r\n', 'chunk data not followed by CRLF');
        at += size + 2;
      }
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = text.slice(at, at + n);
      assert.equal(body.length, n, 'body shorter than its Content-Length');
      at += n;
    } else {
      body = text.slice(at);
      at = text.length;
    }
    out.push({ status, headers, body });
  }
  return { replies: out, rest: text.slice(at) };
}

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: ${SHOP}\r\n${extra}\r\n`;

// ---- the fixture -----------------------------------------------------------------------------

const logLines: Record<string, unknown>[] = [];
let accessLog: EdgeAccessLog;
let gw: EdgeGateway;
let httpPort = 0;
let httpsPort = 0;
let referencePort = 0;
let cert: { cert: string; key: string };

async function accessLines(path: string): Promise<Record<string, unknown>[]> {
  await accessLog.flush();
  await new Promise((r) => setImmediate(r));
  return logLines.filter((l) => l['msg'] === 'edge request' && l['path'] === path);
}

describe('edge gateway fast front', () => {
  before(async () => {
    cert = await selfSignedCertificate(SHOP);
    const backendPort = await listen(backend);
    const rawPort = await listen(rawBackend);
    referencePort = await listen(reference);
    const sink = jsonLineSink(logLines);
    gw = new EdgeGateway({
      table: new StaticRoutingTable([
        { ...route(SHOP, backendPort), tls: { certPem: cert.cert, keyPem: cert.key } },
        route(RAW, rawPort),
      ]),
      logger: createLogger('edge-fast-front-test', sink),
      accessLogger: (accessLog = new EdgeAccessLog(sink, { flushIntervalMs: 600_000 })),
      http: { host: '127.0.0.1', port: 0 },
      https: { host: '127.0.0.1', port: 0 },
      connectTimeoutMs: 1_000,
      upstreamTimeoutMs: 3_000,
      clientHeadersTimeoutMs: 400,
      clientKeepAliveMs: 1_000,
      shutdownGraceMs: 2_000,
    });
    const addrs = await gw.start();
    httpPort = addrs.http!.port;
    httpsPort = addrs.https!.port;
  });

  after(async () => {
    await gw.stop();
    for (const s of [backend, reference]) s.closeAllConnections();
    await Promise.all(
      [backend, rawBackend, reference].map((s) => new Promise<void>((r) => s.close(() => r()))),
    );
  });

  it('answers pipelined requests on one connection in order, a slow first one included', async () => {
    const out = await exchange(
      httpPort,
      get('/order/1?ms=150') +
        get('/order/2') +
        `HEAD /order/3 HTTP/1.1\r\nHost: ${SHOP}\r\n\r\n` +
        'GET / HTTP/1.1\r\nHost: unknown.example.test\r\n\r\n' +
        get('/order/5', 'Connection: close\r\n'),
    );
    const r = replies(out, ['GET', 'GET', 'HEAD', 'GET', 'GET']);
    assert.deepEqual(
      r.replies.map((x) => [x.status, x.body]),
      [
        [200, '/order/1?ms=150'],
        [200, '/order/2'],
        [200, ''],
        [404, 'no route for this host\n'],
        [200, '/order/5'],
      ],
    );
    assert.equal(r.rest, '', 'nothing after the last response');
    assert.equal(r.replies[0]!.headers['connection'], 'keep-alive');
    assert.equal(r.replies[4]!.headers['connection'], 'close', 'the client asked to close');
  });

  it('hands the connection to node:http for a chunked body after a fast GET, over HTTP and TLS', async () => {
    const chunked =
      `POST /echo HTTP/1.1\r\nHost: ${SHOP}\r\nTransfer-Encoding: chunked\r\n\r\n` +
      '6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n';
    // All in one write: the fast front answers the GET, then hands over the bytes from the POST on.
    const out = await exchange(
      httpPort,
      get('/order/a') + chunked + get('/order/b', 'Connection: close\r\n'),
    );
    const r = replies(out, ['GET', 'POST', 'GET']);
    assert.deepEqual(
      r.replies.map((x) => [x.status, x.body]),
      [
        [200, '/order/a'],
        [200, 'hello world'],
        [200, '/order/b'],
      ],
    );
    assert.equal(r.rest, '');
    // Over TLS, in separate writes, each after the previous answer.
    const s = session(httpsPort, { servername: SHOP, ca: cert.cert });
    s.socket.write(get('/headers'));
    await waitFor('the first TLS answer', 5_000, () => (s.text().endsWith('}') ? true : undefined));
    s.socket.write(chunked);
    await waitFor('the echo', 5_000, () => (s.text().includes('world') ? true : undefined));
    s.socket.write(get('/order/tls-b', 'Connection: close\r\n'));
    const t = replies(await s.closed, ['GET', 'POST', 'GET']);
    assert.deepEqual(
      t.replies.slice(1).map((x) => x.body),
      ['hello world', '/order/tls-b'],
    );
    const forwarded = JSON.parse(t.replies[0]!.body) as Record<string, string>;
    assert.equal(forwarded['x-forwarded-proto'], 'https');
    assert.equal(forwarded['x-forwarded-port'], String(httpsPort));
    assert.equal(forwarded['x-forwarded-for'], '127.0.0.1');
    const lines = await accessLines('/echo');
    assert.equal(lines.length, 2, 'both POSTs logged');
  });

  it('answers request smuggling attempts exactly as a plain node:http server does', async () => {
    const smuggled = `GET /smuggled HTTP/1.1\r\nHost: ${SHOP}\r\n\r\n`;
    const attacks = [
      // CL.TE: a front that trusts Content-Length forwards "0\r\n\r\n" plus the smuggled request.
      `POST /echo HTTP/1.1\r\nHost: ${SHOP}\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      `POST /echo HTTP/1.1\r\nHost: ${SHOP}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      // Two lengths.
      `POST /echo HTTP/1.1\r\nHost: ${SHOP}\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n${smuggled}`,
      // Obfuscated Transfer-Encoding.
      `POST /echo HTTP/1.1\r\nHost: ${SHOP}\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      `POST /echo HTTP/1.1\r\nHost: ${SHOP}\r\nTransfer-Encoding: chunked\r\n x\r\n\r\n0\r\n\r\n${smuggled}`,
      `GET /order/x HTTP/1.1\r\nHost: ${SHOP}\r\nTransfer-Encoding: xchunked\r\nContent-Length: 0\r\n\r\n${smuggled}`,
      // A bare LF as line end before a body.
      `POST /echo HTTP/1.1\r\nHost: ${SHOP}\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    ];
    const statuses = (text: string): string[] =>
      [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]!);
    for (const attack of attacks) {
      const [ours, node] = await Promise.all([exchange(httpPort, attack), exchange(referencePort, attack)]);
      assert.deepEqual(statuses(ours), statuses(node), `answers to ${JSON.stringify(attack)}`);
      assert.ok(statuses(node).length > 0, 'node answered');
    }
    assert.deepEqual(
      seen.filter((s) => s.includes('/smuggled')),
      [],
      'no smuggled request reached the cluster',
    );
  });

  it('times out slow request heads with 408 (fast path and after a hand-over) and idle keep-alives', async () => {
    const trickle = async (first: string, line: string): Promise<{ text: string; ms: number }> => {
      const s = session(httpPort);
      const started = performance.now();
      s.socket.write(first);
      // One header line every 100 ms, forever: the deadline counts from the first byte.
      const t = setInterval(() => s.socket.write(line), 100);
      const killer = setTimeout(() => s.socket.destroy(), 5_000);
      const text = await s.closed;
      clearInterval(t);
      clearTimeout(killer);
      return { text, ms: performance.now() - started };
    };
    const fast = await trickle(`GET /order/slow HTTP/1.1\r\nHost: ${SHOP}\r\n`, 'X-A: b\r\n');
    assert.match(fast.text, /^HTTP\/1\.1 408 /);
    assert.ok(fast.ms < 2_000, `fast path: closed after ${Math.round(fast.ms)} ms`);
    // After a request with a body node:http owns the connection: its own headersTimeout applies.
    const slow = await trickle(
      `GET /order/body HTTP/1.1\r\nHost: ${SHOP}\r\nContent-Length: 2\r\n\r\nhiGET /order/slow HTTP/1.1\r\n`,
      'X-A: b\r\n',
    );
    assert.match(slow.text, /^HTTP\/1\.1 200 [^]*\/order\/bodyHTTP\/1\.1 408 /);
    assert.ok(slow.ms < 2_000, `node:http: closed after ${Math.round(slow.ms)} ms`);
    assert.deepEqual(
      seen.filter((x) => x.includes('/order/slow')),
      [],
    );
    // A connection that never sends a byte, and an idle keep-alive after one answer.
    const silent = session(httpPort);
    assert.match(await silent.closed, /^HTTP\/1\.1 408 /);
    const idle = session(httpPort);
    idle.socket.write(get('/order/idle'));
    const started = performance.now();
    const text = await idle.closed;
    assert.equal(replies(text, ['GET']).replies[0]!.body, '/order/idle');
    assert.equal(replies(text, ['GET']).replies[0]!.headers['keep-alive'], 'timeout=1');
    assert.ok(performance.now() - started < 2_000, 'idle connection closed after the keep-alive time');
  });

  it('reads requests that arrive a byte at a time, pipelined', async () => {
    const bytes =
      get('/order/bytes-1', 'X-Pad: ' + 'p'.repeat(300) + '\r\n') +
      get('/order/bytes-2', 'Connection: close\r\n');
    const s = session(httpPort);
    s.socket.setNoDelay(true);
    for (const byte of bytes) {
      s.socket.write(byte);
      // One read per byte on the gateway's side, not one read of everything.
      await new Promise((r) => setImmediate(r));
    }
    const r = replies(await s.closed, ['GET', 'GET']);
    assert.deepEqual(
      r.replies.map((x) => x.body),
      ['/order/bytes-1', '/order/bytes-2'],
    );
    assert.equal(r.rest, '');
  });

  it('frames HEAD, 204, 304 and close-delimited answers so the next response parses', async () => {
    const out = await exchange(
      httpPort,
      `HEAD /order/h HTTP/1.1\r\nHost: ${SHOP}\r\n\r\n` +
        // node answers this HEAD without a length: the gateway must not frame a body either.
        `HEAD /headers HTTP/1.1\r\nHost: ${SHOP}\r\n\r\n` +
        get('/status/204') +
        get('/status/304', 'If-None-Match: "v1"\r\n') +
        `GET / HTTP/1.1\r\nHost: ${RAW}\r\n\r\n` +
        get('/order/last', 'Connection: close\r\n'),
    );
    const r = replies(out, ['HEAD', 'HEAD', 'GET', 'GET', 'GET', 'GET']);
    assert.deepEqual(
      r.replies.map((x) => [x.status, x.body]),
      [
        [200, ''],
        [200, ''],
        [204, ''],
        [304, ''],
        [200, 'until close'],
        [200, '/order/last'],
      ],
    );
    assert.equal(r.rest, '', 'no stray body bytes between responses');
    const [head, bare, noContent, notModified, raw] = r.replies;
    assert.equal(bare!.headers['transfer-encoding'], undefined);
    assert.equal(head!.headers['content-length'], '8', 'HEAD keeps the length a GET would have');
    assert.equal(noContent!.headers['content-length'], undefined);
    assert.equal(noContent!.headers['transfer-encoding'], undefined);
    assert.equal(noContent!.headers['x-kind'], 'no content');
    assert.equal(notModified!.headers['etag'], '"v1"');
    assert.equal(raw!.headers['transfer-encoding'], 'chunked', 'a close-delimited body is re-chunked');
  });

  it('aborts the upstream request when the client leaves, and logs it as 499', async () => {
    const s = session(httpPort);
    s.socket.write(get('/held'));
    await waitFor('the request reached the cluster', 5_000, () =>
      seen.includes('GET /held') ? true : undefined,
    );
    s.socket.destroy();
    await waitFor('the upstream request was aborted', 5_000, () => (heldAborted ? true : undefined));
    const lines = await waitFor('the access log line', 5_000, async () => {
      const l = await accessLines('/held');
      return l.length > 0 ? l : undefined;
    });
    assert.equal(lines[0]!['status'], 499);
  });

  it('writes the same access log line and metrics for both fronts', async () => {
    const count = async (): Promise<number> =>
      (
        (await gw.registry.getMetricsAsJSON()).find((m) => m.name === 'meridian_edge_requests_total')
          ?.values ?? []
      )
        .filter((v) => v.labels['host'] === SHOP && String(v.labels['code']) === '200')
        .reduce((s, v) => s + v.value, 0);
    const before = await count();
    // Same path, one request without a body (fast front), one with (node:http).
    await exchange(httpPort, get('/order/same', 'Connection: close\r\n'));
    await exchange(
      httpPort,
      `GET /order/same HTTP/1.1\r\nHost: ${SHOP}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`,
    );
    const lines = await accessLines('/order/same');
    assert.equal(lines.length, 2);
    const strip = (l: Record<string, unknown>): Record<string, unknown> => ({ ...l, time: 0, ms: 0 });
    assert.deepEqual(strip(lines[0]!), strip(lines[1]!));
    assert.deepEqual(Object.keys(lines[0]!), Object.keys(lines[1]!));
    assert.equal((await count()) - before, 2);
  });
});

describe('edge gateway fast front without a keep-alive timeout', () => {
  it('reads clientKeepAliveMs 0 as node:http does: no Keep-Alive header, idle connections stay', async () => {
    const backendPort = await listen(backend);
    const noTimeout = new EdgeGateway({
      table: new StaticRoutingTable([route(SHOP, backendPort)]),
      logger: createLogger('edge-fast-front-test', jsonLineSink([])),
      http: { host: '127.0.0.1', port: 0 },
      clientKeepAliveMs: 0,
      shutdownGraceMs: 500,
    });
    try {
      const port = (await noTimeout.start()).http!.port;
      const s = session(port);
      s.socket.write(get('/order/no-timeout-1'));
      await waitFor('the first answer', 5_000, () =>
        s.text().endsWith('/order/no-timeout-1') ? true : undefined,
      );
      // Well past the sweep's tick: a connection read as "0 ms keep-alive" would be closed by now.
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(s.socket.destroyed, false, 'the idle connection is still open');
      s.socket.write(get('/order/no-timeout-2', 'Connection: close\r\n'));
      const r = replies(await s.closed, ['GET', 'GET']);
      assert.deepEqual(
        r.replies.map((x) => [x.status, x.body, x.headers['connection'], x.headers['keep-alive']]),
        [
          [200, '/order/no-timeout-1', 'keep-alive', undefined],
          [200, '/order/no-timeout-2', 'close', undefined],
        ],
      );
    } finally {
      await noTimeout.stop();
      backend.closeAllConnections();
      await new Promise<void>((r) => backend.close(() => r()));
    }
  });
});
