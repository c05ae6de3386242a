// The edge gateway against real loopback HTTP servers that stand in for each cluster's ingress
// (127.86.1.1–3; 127.86.1.4 has no listener): routing, headers, connection reuse, streaming,
// WebSocket, TLS, balancing, retries, outlier ejection, an outage under a steady stream of
// requests, draining and graceful stop. Everything listens on loopback and is closed at the end.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as x509 from '@peculiar/x509';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { createLogger } from '../src/logging/logger.ts';
import { EdgeAccessLog } from '../src/traffic/edge/edge-access-log.ts';
import { EdgeGateway } from '../src/traffic/edge/edge-gateway.ts';
import {
  StaticRoutingTable,
  SwappableRoutingTable,
  hostKey,
  type ClusterTarget,
  type HostRoute,
} from '../src/traffic/routing/routing.ts';
import { waitFor } from './support/harness.ts';
import { jsonLineSink } from './support/log-sink.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

// ---- stand-ins for the clusters' ingresses -------------------------------------------------

class Backend {
  readonly server: http.Server;
  readonly wss: WebSocketServer;
  port = 0;
  /** TCP connections accepted so far. */
  connections = 0;
  /** Status to answer for a host (as if that host's application were broken in this cluster). */
  readonly failFor = new Map<string, number>();
  /** Requests to /held wait here until released. */
  readonly held: http.ServerResponse[] = [];
  /** Delay before answering plain requests, so that some are in flight when the listener dies. */
  delayMs = 0;
  /** Ends the current /stream response. */
  streamGo: (() => void) | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly name: string,
    readonly address: string,
  ) {
    this.server = http.createServer((req, res) => this.answer(req, res));
    this.server.on('connection', (s: Socket) => {
      this.connections++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.wss = new WebSocketServer({ server: this.server });
    this.wss.on('connection', (ws, req) => {
      ws.on('message', (m: Buffer) =>
        ws.send(`${name}:${m.toString()}:${String(req.headers['x-forwarded-for'])}`),
      );
    });
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.setHeader('X-Cluster', this.name);
    const forced = this.failFor.get(hostKey(req.headers.host ?? ''));
    if (forced !== undefined) {
      res.writeHead(forced, { 'Content-Type': 'text/plain' });
      res.end(`${this.name} is failing\n`);
      return;
    }
    switch (req.url) {
      case '/headers':
        // The gateway must drop X-Internal: the Connection header names it as hop-by-hop.
        res.setHeader('Connection', 'keep-alive, X-Internal');
        res.setHeader('X-Internal', 'secret');
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(req.headers));
        return;
      case '/echo':
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        req.pipe(res);
        return;
      case '/stream':
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('first\n');
        this.streamGo = () => res.end('second\n');
        return;
      case '/held':
        this.held.push(res);
        return;
      case '/hang':
        return; // never answers
      default:
        req.resume();
        if (this.delayMs > 0) setTimeout(() => res.end(`${this.name}\n`), this.delayMs);
        else res.end(`${this.name}\n`);
    }
  }

  releaseHeld(): void {
    for (const res of this.held.splice(0)) res.end(`${this.name} held\n`);
  }

  async open(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.address, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** The listener goes down as in a crash: no more connects, every open connection dropped. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

// ---- a CA and a certificate for shop.example.test ------------------------------------------

async function mintCertificate(host: string): Promise<{ ca: string; cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const gen = async () =>
    (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const caKeys = await gen();
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=edge-gateway-test-ca',
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const keys = await gen();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: `CN=${host}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: host }]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  const key = x509.PemConverter.encode(
    await webcrypto.subtle.exportKey('pkcs8', keys.privateKey),
    'PRIVATE KEY',
  );
  return { ca: ca.toString('pem'), cert: cert.toString('pem'), key };
}

// ---- clients ---------------------------------------------------------------------------------

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

interface SendOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly tls?: { readonly servername: string; readonly ca: string };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
let tlsAgent: https.Agent;

// ---- the fixture -----------------------------------------------------------------------------

const a = new Backend('a', '127.86.1.1');
const b = new Backend('b', '127.86.1.2');
const c = new Backend('c', '127.86.1.3');
const NOWHERE = '127.86.1.4'; // no listener: connections are refused

const logLines: Record<string, unknown>[] = [];
let accessLog: EdgeAccessLog;
const table = new SwappableRoutingTable();
const state = new Map<string, { healthy: boolean; drained: boolean }>();
let gw: EdgeGateway;
let httpPort = 0;
let httpsPort = 0;
let pki: { ca: string; cert: string; key: string };

function target(backend: Backend, name = backend.name): ClusterTarget {
  const s = state.get(name) ?? { healthy: true, drained: false };
  return { name, region: 'r1', addresses: [backend.address], port: backend.port, ...s };
}

function route(host: string, clusters: ClusterTarget[], extra: Partial<HostRoute> = {}): HostRoute {
  return {
    host,
    owner: { namespace: 'default', name: host.split('.')[0]! },
    strategy: { type: 'Failover', order: clusters.map((x) => x.name) },
    ttlSeconds: 30,
    paths: ['/'],
    clusters,
    ...extra,
  };
}

/** Publishes the routing table from the current cluster states (as the controller would). */
function publish(): void {
  const nowhere: ClusterTarget = { ...target(a, 'd'), addresses: [NOWHERE] };
  table.set(
    new StaticRoutingTable([
      route('shop.example.test', [target(a), target(b), target(c)], {
        tls: { certPem: pki.cert, keyPem: pki.key },
      }),
      route('api.example.test', [target(a), target(b), target(c)], {
        strategy: { type: 'RoundRobin' },
        paths: ['/api', '/v2/'],
      }),
      route('order.example.test', [target(a), target(b), target(c)], {
        strategy: { type: 'Failover', order: ['c', 'b'] },
      }),
      route('flaky.example.test', [target(a), target(b)]),
      route('refused.example.test', [nowhere, target(b)]),
      route('dual.example.test', [{ ...target(b, 'dual'), addresses: [NOWHERE, b.address] }]),
      route('slow.example.test', [target(a)]),
      route('dead.example.test', [nowhere]),
    ]),
  );
}

function setState(name: string, s: { healthy: boolean; drained: boolean }): void {
  state.set(name, s);
  publish();
}

function send(host: string, path = '/', opts: SendOptions = {}, port = httpPort): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const common = {
      host: '127.0.0.1',
      path,
      method: opts.method ?? 'GET',
      headers: { Host: host, ...opts.headers },
    };
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    };
    const req = opts.tls
      ? https.request(
          { ...common, port: httpsPort, servername: opts.tls.servername, ca: opts.tls.ca, agent: tlsAgent },
          onResponse,
        )
      : http.request({ ...common, port, agent }, onResponse);
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer for ${host}${path} in 10 s`)));
    req.end(opts.body);
  });
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await gw.registry.getMetricsAsJSON()).find((x) => x.name === name);
  let sum = 0;
  for (const v of m?.values ?? []) {
    if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  }
  return sum;
}

/** Access log lines for a host, oldest first (after handing on what the access log buffers). */
async function accessLines(host: string): Promise<Record<string, unknown>[]> {
  await accessLog.flush();
  await new Promise((r) => setImmediate(r));
  return logLines.filter((l) => l['msg'] === 'edge request' && l['host'] === host);
}

describe('edge gateway', () => {
  before(async () => {
    pki = await mintCertificate('shop.example.test');
    tlsAgent = new https.Agent({ keepAlive: true });
    await Promise.all([a.open(), b.open(), c.open()]);
    publish();
    const sink = jsonLineSink(logLines);
    gw = new EdgeGateway({
      table,
      logger: createLogger('edge-gateway-test', sink),
      // A flush interval far beyond the test: lines arrive only through flushes (see accessLines).
      accessLogger: (accessLog = new EdgeAccessLog(sink, { flushIntervalMs: 600_000 })),
      http: { host: '127.0.0.1', port: 0 },
      https: { host: '127.0.0.1', port: 0 },
      connectTimeoutMs: 1_000,
      upstreamTimeoutMs: 1_500,
      // Base ejection left at 30 s: recovery must come from the health check, not the clock.
      outlier: { consecutiveFailures: 3 },
      shutdownGraceMs: 5_000,
    });
    const addrs = await gw.start();
    httpPort = addrs.http!.port;
    httpsPort = addrs.https!.port;
  });

  after(async () => {
    await gw.stop();
    agent.destroy();
    tlsAgent.destroy();
    for (const x of [a, b, c]) {
      x.releaseHeld();
      for (const ws of x.wss.clients) ws.terminate();
      x.wss.close();
      if (x.server.listening) await x.close();
    }
  });

  it('routes by host and path prefix, and answers 404 for unknown hosts and paths', async () => {
    const shop = await send('shop.example.test', '/anything?q=1');
    assert.equal(shop.status, 200);
    assert.equal(shop.body, 'a\n', 'Failover: the first cluster in order');
    assert.equal(
      (await send('SHOP.example.test.:80')).body,
      'a\n',
      'host matched case-insensitively, port ignored',
    );
    assert.equal((await send('api.example.test', '/api/orders')).status, 200);
    assert.equal((await send('api.example.test', '/v2/x')).status, 200);
    for (const path of ['/apix', '/v2', '/other']) {
      const r = await send('api.example.test', path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body, 'no route for this path\n');
    }
    const unknown = await send('unknown.example.test');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body, 'no route for this host\n');
    assert.equal((await send('shop.example.test', '/a/../admin')).status, 400, 'dot segments are refused');
    assert.ok((await metric('meridian_edge_requests_total', { host: '(none)', code: '404' })) >= 1);
    assert.equal(
      await metric('meridian_edge_requests_total', { host: 'unknown.example.test' }),
      0,
      'an unknown host mints no series',
    );
  });

  it('forwards Host unchanged, sets X-Forwarded-*, and drops hop-by-hop headers both ways', async () => {
    const r = await send('shop.example.test', '/headers', {
      headers: {
        'X-Forwarded-For': '10.0.0.1',
        'X-Forwarded-Proto': 'https',
        Connection: 'keep-alive, X-Secret',
        'X-Secret': 'hop',
        'X-Kept': 'end-to-end',
      },
    });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as Record<string, string>;
    assert.equal(seen['host'], 'shop.example.test');
    assert.equal(seen['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'shop.example.test');
    assert.equal(seen['x-forwarded-port'], String(httpPort));
    assert.equal(seen['x-kept'], 'end-to-end');
    assert.equal(seen['x-secret'], undefined, 'named in Connection: hop-by-hop');
    assert.equal(r.headers['x-internal'], undefined, 'named in the upstream Connection: hop-by-hop');
    assert.equal(r.headers['x-cluster'], 'a');
  });

  it('reuses keep-alive connections to the upstream', async () => {
    await send('shop.example.test');
    const before = a.connections;
    for (let i = 0; i < 40; i++) assert.equal((await send('shop.example.test')).body, 'a\n');
    await Promise.all(Array.from({ length: 8 }, () => send('shop.example.test')));
    // 40 sequential requests on one pooled connection, 8 concurrent ones on at most 8.
    assert.ok(a.connections - before <= 8, `opened ${a.connections - before} connections for 48 requests`);
  });

  it('streams a multi-MB request body to the cluster and the answer back while it is sent', async () => {
    const payload = randomBytes(8 * 1024 * 1024);
    const half = payload.length / 2;
    let received = 0;
    const hash = createHash('sha256');
    const done = new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: httpPort,
          path: '/echo',
          method: 'POST',
          agent,
          headers: { Host: 'shop.example.test', 'Content-Length': String(payload.length) },
        },
        (res) => {
          res.on('data', (d: Buffer) => {
            received += d.length;
            hash.update(d);
          });
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.write(payload.subarray(0, half));
      // Only once echoed bytes are back does the rest go: a gateway that buffered either body
      // would never get there.
      waitFor('echoed bytes before the request body ended', 10_000, () =>
        received > 0 ? true : undefined,
      ).then(() => req.end(payload.subarray(half)), reject);
    });
    assert.equal(await done, 200);
    assert.equal(received, payload.length);
    assert.equal(hash.digest('hex'), createHash('sha256').update(payload).digest('hex'));
  });

  it('streams a response in chunks: the first arrives before the upstream has finished', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port: httpPort, path: '/stream', agent, headers: { Host: 'shop.example.test' } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString();
            // The upstream ends only after the client has seen its first chunk.
            if (text === 'first\n') a.streamGo?.();
          });
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.setTimeout(5_000, () =>
        req.destroy(new Error('first chunk never arrived: the response was buffered')),
      );
    });
    assert.equal(body, 'first\nsecond\n');
  });

  it('proxies a WebSocket upgrade end to end, over HTTP and over TLS', async () => {
    const talk = (ws: WebSocket): Promise<string> =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          ws.terminate();
          reject(new Error('no WebSocket echo in 5 s'));
        }, 5_000);
        ws.once('error', reject);
        ws.once('open', () => ws.send('ping'));
        ws.once('message', (m: Buffer) => {
          clearTimeout(t);
          resolve(m.toString());
          ws.close();
        });
      });
    const plain = new WebSocket(`ws://127.0.0.1:${httpPort}/ws`, { headers: { Host: 'shop.example.test' } });
    assert.equal(await talk(plain), 'a:ping:127.0.0.1', 'echoed by cluster a, with X-Forwarded-For');
    // ws hands TLS options such as the server name through to tls.connect.
    const tlsOptions: ClientOptions & { servername: string } = {
      headers: { Host: 'shop.example.test' },
      servername: 'shop.example.test',
      ca: pki.ca,
    };
    const secure = new WebSocket(`wss://127.0.0.1:${httpsPort}/ws`, tlsOptions);
    assert.equal(await talk(secure), 'a:ping:127.0.0.1');
    const refused = new WebSocket(`ws://127.0.0.1:${httpPort}/ws`, {
      headers: { Host: 'unknown.example.test' },
    });
    const status = await new Promise<number>((resolve) => {
      refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      refused.once('error', () => resolve(-1));
    });
    assert.equal(status, 404);
    await waitFor('the tunnels logged with their cluster', 5_000, async () =>
      (await accessLines('shop.example.test')).filter(
        (l) => l['path'] === '/ws' && l['status'] === 101 && l['cluster'] === 'a',
      ).length >= 2
        ? true
        : undefined,
    );
  });

  it('terminates TLS with the certificate of the route the SNI names', async () => {
    const tls = { servername: 'shop.example.test', ca: pki.ca };
    const r = await send('shop.example.test', '/headers', { tls });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as Record<string, string>;
    assert.equal(seen['x-forwarded-proto'], 'https');
    assert.equal(seen['x-forwarded-port'], String(httpsPort));
    // No route for the name, or a route without a certificate: the handshake fails.
    await assert.rejects(
      send('other.example.test', '/', { tls: { servername: 'other.example.test', ca: pki.ca } }),
    );
    await assert.rejects(
      send('api.example.test', '/api', { tls: { servername: 'api.example.test', ca: pki.ca } }),
    );
    // The certificate was picked for shop; another Host on that connection is refused.
    const misdirected = await send('api.example.test', '/api', { tls });
    assert.equal(misdirected.status, 421);
  });

  it('follows the Failover order and spreads RoundRobin requests evenly', async () => {
    for (let i = 0; i < 5; i++)
      assert.equal((await send('order.example.test')).body, 'c\n', 'strategy.order first');
    const counts = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const r = await send('api.example.test', '/api');
      counts.set(r.body.trim(), (counts.get(r.body.trim()) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries([...counts].sort()), { a: 10, b: 10, c: 10 });
  });

  it('retries idempotent requests past a 503, passes it on for others, and ejects the failing cluster', async () => {
    const ejectionsBefore = await metric('meridian_edge_ejections_total', { cluster: 'a' });
    a.failFor.set('flaky.example.test', 503);
    try {
      // A POST may have had effects: its 503 is passed on, not retried.
      const post = await send('flaky.example.test', '/', { method: 'POST', body: 'order=1' });
      assert.equal(post.status, 503);
      assert.equal(post.headers['x-cluster'], 'a');
      // GETs move on to b; the third consecutive failure ejects a.
      for (let i = 0; i < 2; i++) {
        const r = await send('flaky.example.test');
        assert.equal(r.status, 200);
        assert.equal(r.body, 'b\n');
      }
      assert.equal(
        await metric('meridian_edge_retries_total', { host: 'flaky.example.test', cluster: 'a' }),
        2,
      );
      assert.equal(await metric('meridian_edge_ejections_total', { cluster: 'a' }), ejectionsBefore + 1);
      const retried = (await accessLines('flaky.example.test')).at(-1)!;
      assert.deepEqual(
        [retried['status'], retried['cluster'], retried['attempts'], retried['method'], retried['path']],
        [200, 'b', 2, 'GET', '/'],
      );
      // Ejected: straight to b, even for a POST.
      assert.equal((await send('flaky.example.test')).body, 'b\n');
      assert.equal((await accessLines('flaky.example.test')).at(-1)!['attempts'], 1);
      assert.equal((await send('flaky.example.test', '/', { method: 'POST', body: 'order=2' })).body, 'b\n');
      assert.equal(
        await metric('meridian_edge_retries_total', { host: 'flaky.example.test', cluster: 'a' }),
        2,
      );
    } finally {
      a.failFor.delete('flaky.example.test');
    }
  });

  it('retries any request, its body included, when a connection is refused', async () => {
    const r = await send('refused.example.test', '/echo', { method: 'POST', body: 'hello body' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-cluster'], 'b');
    assert.equal(r.body, 'hello body', 'the body was not consumed by the refused attempt');
    const line = (await accessLines('refused.example.test')).at(-1)!;
    assert.deepEqual([line['cluster'], line['attempts']], ['b', 2]);
    // Within a cluster, the next ingress address is tried first.
    const dual = await send('dual.example.test');
    assert.equal(dual.body, 'b\n');
    const dualLine = (await accessLines('dual.example.test')).at(-1)!;
    assert.deepEqual([dualLine['cluster'], dualLine['attempts']], ['dual', 2]);
  });

  it('answers 502 when no cluster can be reached and 504 when the last one does not answer in time', async () => {
    const dead = await send('dead.example.test');
    assert.equal(dead.status, 502);
    assert.match(dead.body, /bad gateway/);
    const t0 = Date.now();
    const slow = await send('slow.example.test', '/hang');
    assert.equal(slow.status, 504);
    assert.equal(slow.body, 'gateway timeout\n');
    assert.ok(Date.now() - t0 >= 1_400, 'waited for the upstream timeout');
  });

  it('lets a request in flight to a cluster finish after the cluster is drained', async () => {
    const inflight = send('shop.example.test', '/held');
    await waitFor('the request reached a', 5_000, () => (a.held.length > 0 ? true : undefined));
    setState('a', { healthy: true, drained: true });
    try {
      assert.equal((await send('shop.example.test')).body, 'b\n', 'no new requests to a drained cluster');
      a.releaseHeld();
      const r = await inflight;
      assert.equal(r.status, 200);
      assert.equal(r.body, 'a held\n');
    } finally {
      setState('a', { healthy: true, drained: false });
    }
  });

  it('serves a steady stream of GETs with zero failures while a cluster listener goes down and back', async () => {
    const seen: { cluster: string; at: number }[] = [];
    const failures: string[] = [];
    let running = true;
    const worker = async (): Promise<void> => {
      while (running) {
        try {
          const r = await send('shop.example.test', '/');
          if (r.status === 200) seen.push({ cluster: r.body.trim(), at: Date.now() });
          else failures.push(`${r.status} ${r.body.trim()}`);
        } catch (e) {
          failures.push(e instanceof Error ? e.message : String(e));
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const countFrom = (cluster: string, since: number) =>
      seen.filter((s) => s.cluster === cluster && s.at >= since).length;
    // Slow enough answers that requests are in flight (reset, then retried) when the listener dies.
    a.delayMs = 20;
    const workers = Array.from({ length: 4 }, worker);
    const ejectionsBefore = await metric('meridian_edge_ejections_total', { cluster: 'a' });
    try {
      const t0 = Date.now();
      await waitFor('traffic on a', 10_000, () => (countFrom('a', t0) >= 50 ? true : undefined));

      const down = Date.now();
      await a.close();
      await waitFor('traffic moved to b', 10_000, () => (countFrom('b', down) >= 100 ? true : undefined));
      assert.equal(
        await metric('meridian_edge_ejections_total', { cluster: 'a' }),
        ejectionsBefore + 1,
        'a was ejected after 3 consecutive failures',
      );
      assert.ok(
        (await metric('meridian_edge_retries_total', { host: 'shop.example.test', cluster: 'a' })) >= 1,
      );

      // The health check notices (unhealthy), the listener comes back, the check passes again.
      setState('a', { healthy: false, drained: false });
      const unhealthy = Date.now();
      await waitFor('requests while a is unhealthy', 10_000, () =>
        countFrom('b', unhealthy) >= 20 ? true : undefined,
      );
      await a.open();
      setState('a', { healthy: true, drained: false });
      const back = Date.now();
      await waitFor('traffic back on a', 10_000, () => (countFrom('a', back) >= 50 ? true : undefined));
    } finally {
      running = false;
      await Promise.all(workers);
      a.delayMs = 0;
    }
    assert.deepEqual(failures, [], 'no request failed during the outage');
    assert.ok(seen.length >= 200, `only ${seen.length} requests were served`);
    assert.ok(
      (await accessLines('shop.example.test')).some(
        (l) => l['cluster'] === 'b' && (l['attempts'] as number) >= 2,
      ),
      'the access log names the cluster that answered after a retry',
    );
  });

  it('stops gracefully: no new connections, requests in flight finish, no access log line is lost', async () => {
    const written: string[] = [];
    const sink = new PassThrough().on('data', (d: Buffer) => written.push(d.toString()));
    const second = new EdgeGateway({
      table,
      logger: createLogger('edge-gateway-test-2', new PassThrough().resume()),
      accessLogger: new EdgeAccessLog(sink, { name: 'second', flushIntervalMs: 600_000 }),
      http: { host: '127.0.0.1', port: 0 },
      shutdownGraceMs: 5_000,
    });
    const port = (await second.start()).http!.port;
    const inflight = send('shop.example.test', '/held', {}, port);
    await waitFor('the request reached a', 5_000, () => (a.held.length > 0 ? true : undefined));
    const stopped = second.stop();
    await waitFor(
      'the listener is closed',
      5_000,
      () =>
        new Promise<true | undefined>((resolve) => {
          const s = connect(port, '127.0.0.1');
          s.once('connect', () => {
            s.destroy();
            resolve(undefined);
          });
          s.once('error', () => resolve(true));
        }),
    );
    a.releaseHeld();
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'a held\n');
    assert.equal(r.headers['connection'], 'close', 'the connection is not kept for more requests');
    await stopped;
    await new Promise((resolve) => setImmediate(resolve));
    const held = written
      .join('')
      .split('\n')
      .filter((l) => l.includes('"path":"/held"'));
    assert.equal(held.length, 1, 'stop flushed the buffered access log line');
    assert.equal((JSON.parse(held[0]!) as Record<string, unknown>)['cluster'], 'a');
  });
});
