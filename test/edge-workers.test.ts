// The edge gateway in worker processes (`meridian hub --edge-workers N`), as the hub runs it, in
// front of real loopback HTTP servers standing in for two clusters' ingresses (127.87.1.1–2): two
// workers share the hub's HTTP and TLS listeners, route by Host, both take requests, follow a
// table change at once, terminate TLS with the route's certificate, tunnel WebSockets, are summed
// in the hub's metrics, write whole access lines through the hub, are restarted after a crash or a
// hang, let in-flight requests finish on stop, and die with the hub.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { WebSocket, WebSocketServer } from 'ws';
import { createLogger } from '../src/logging/logger.ts';
import type { LineDestination } from '../src/logging/line-writer.ts';
import { EdgeGatewayWorkers } from '../src/traffic/edge/edge-workers.ts';
import {
  StaticRoutingTable,
  SwappableRoutingTable,
  type ClusterTarget,
  type HostRoute,
} from '../src/traffic/routing/routing.ts';
import { httpsGet, selfSignedCertificate } from './support/certificates.ts';
import { waitFor } from './support/harness.ts';
import * as workers from './support/workers.ts';

/** A cluster's ingress: answers with its name (after `delay` ms for /slow), echoes WebSocket messages. */
function backend(name: string, address: string) {
  const server = http.createServer((req, res) => {
    req.resume();
    res.setHeader('X-Cluster', name);
    if (req.url === '/slow') {
      self.slowRequests++;
      setTimeout(() => res.end(`${name} slow\n`), 1_000);
    } else res.end(`${name}\n`);
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m: Buffer) => ws.send(`${name}:${m.toString()}`)));
  const self = {
    name,
    address,
    port: 0,
    /** /slow requests received (each answered a second later). */
    slowRequests: 0,
    async open(): Promise<void> {
      await new Promise<void>((resolve) => server.listen(0, address, () => resolve()));
      this.port = (server.address() as AddressInfo).port;
    },
    async close(): Promise<void> {
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return self;
}

/** Collects JSON lines written to it (the hub's log and the access lines the workers hand over). */
function lineSink(): LineDestination & { lines: Record<string, unknown>[]; raw: string } {
  const sink = {
    lines: [] as Record<string, unknown>[],
    raw: '',
    write(chunk: string, callback?: (err?: Error | null) => void): boolean {
      sink.raw += chunk;
      // Every chunk is whole lines: a line cut in two would fail to parse here.
      for (const l of chunk.split('\n')) if (l) sink.lines.push(JSON.parse(l) as Record<string, unknown>);
      callback?.();
      return true;
    },
  };
  return sink;
}

const a = backend('a', '127.87.1.1');
const b = backend('b', '127.87.1.2');
const table = new SwappableRoutingTable();
const registry = new Registry();
const access = lineSink();
const hubLog = lineSink();
let pki: { ca: string; cert: string; key: string };
let edge: EdgeGatewayWorkers;
let httpPort = 0;
let httpsPort = 0;

function target(be: ReturnType<typeof backend>, drained = false): ClusterTarget {
  return { name: be.name, region: 'r1', addresses: [be.address], port: be.port, healthy: true, drained };
}

function route(host: string, order: string[], clusters: ClusterTarget[], tls = false): HostRoute {
  return {
    host,
    owner: { namespace: 'default', name: host.split('.')[0]! },
    strategy: { type: 'Failover', order },
    ttlSeconds: 30,
    paths: ['/'],
    clusters,
    ...(tls ? { tls: { certPem: pki.cert, keyPem: pki.key } } : {}),
  };
}

function publish(drainA = false): void {
  const clusters = [target(a, drainA), target(b)];
  table.set(
    new StaticRoutingTable([
      route('shop.example.test', ['a', 'b'], clusters, true),
      route('api.example.test', ['b', 'a'], clusters),
    ]),
  );
}

/** One GET on a new connection (so the kernel hands it to whichever worker accepts first). */
function get(host: string, path = '/'): Promise<{ status: number; body: string; cluster?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: httpPort, path, headers: { Host: host }, agent: false },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, cluster: res.headers['x-cluster'] as string }),
        );
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer for ${host}${path} in 10 s`)));
    req.end();
  });
}

/** `n` GETs, 16 at a time; which cluster served each. */
async function many(host: string, n: number): Promise<string[]> {
  const served: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        next++;
        const r = await get(host);
        served.push(r.status === 200 ? r.body.trim() : `HTTP ${r.status}`);
      }
    }),
  );
  return served;
}

const requestsTotal = async (): Promise<number> => {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'meridian_edge_requests_total');
  return (m?.values ?? []).reduce((n, v) => n + v.value, 0);
};

const synced = (): Promise<void> => workers.syncedWithin5s(edge);

describe('edge gateway in two worker processes', () => {
  before(async () => {
    pki = await selfSignedCertificate('shop.example.test');
    await Promise.all([a.open(), b.open()]);
    publish();
    edge = new EdgeGatewayWorkers({
      workers: 2,
      table,
      registry,
      logger: createLogger('edge-workers-test', hubLog as unknown as NodeJS.WritableStream),
      logName: 'edge-workers-test',
      accessLogDestination: access,
      http: { host: '127.0.0.1', port: 0 },
      https: { host: '127.0.0.1', port: 0 },
      connectTimeoutMs: 1_000,
      shutdownGraceMs: 5_000,
      restartDelayMs: 100,
      heartbeatIntervalMs: 200,
      heartbeatTimeoutMs: 2_000,
    });
    const addrs = await edge.start();
    httpPort = addrs.http.port;
    httpsPort = addrs.https!.port;
    assert.equal(edge.pids().length, 2);
  });

  after(async () => {
    await edge.stop();
    await Promise.all([a.close(), b.close()]);
  });

  test("requests are routed by Host to the right cluster's listener, by more than one worker", async () => {
    assert.deepEqual(await get('shop.example.test'), { status: 200, body: 'a\n', cluster: 'a' });
    assert.deepEqual(await get('API.example.test.'), { status: 200, body: 'b\n', cluster: 'b' });
    assert.equal((await get('nope.example.test')).status, 404);
    const served = await many('shop.example.test', 400);
    assert.deepEqual(new Set(served), new Set(['a']));
    await workers.assertEveryWorkerServed(edge);
    // The access lines came through the hub, whole, and name the worker that served each.
    const pids = await waitFor('access lines from both workers', 5_000, () => {
      const p = new Set(access.lines.filter((l) => l['host'] === 'shop.example.test').map((l) => l['pid']));
      return p.size === 2 ? p : undefined;
    });
    assert.deepEqual(new Set(edge.pids()), pids);
    assert.ok(access.lines.every((l) => l['msg'] === 'edge request' && l['name'] === 'edge-workers-test'));
  });

  test('a table change (a drained cluster) reaches every worker at once', async (t) => {
    await workers.assertChangeReachesEveryWorker(
      t,
      edge,
      () => publish(true),
      async () => assert.deepEqual(new Set(await many('shop.example.test', 200)), new Set(['b'])),
      () => publish(),
    );
    assert.deepEqual(new Set(await many('shop.example.test', 50)), new Set(['a']));
  });

  test("TLS is terminated with the route's certificate, chosen by SNI", async () => {
    const reply = await httpsGet(httpsPort, 'shop.example.test', pki.ca);
    assert.deepEqual(reply, { status: 200, body: 'a\n' });
    // No certificate for a host without one: the handshake fails.
    await assert.rejects(
      new Promise((resolve, reject) =>
        https
          .get({ host: '127.0.0.1', port: httpsPort, servername: 'api.example.test', ca: pki.ca }, resolve)
          .on('error', reject),
      ),
    );
  });

  test('a WebSocket upgrade is tunnelled through a worker', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/chat`, { headers: { Host: 'api.example.test' } });
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const echo = new Promise<string>((resolve) => ws.once('message', (m: Buffer) => resolve(m.toString())));
      ws.send('hello');
      assert.equal(await echo, 'b:hello');
    } finally {
      ws.close();
    }
  });

  test("the hub's metrics sum every worker's requests", async () => {
    const perWorker = await edge.answeredPerWorker();
    const text = await registry.metrics();
    const shop =
      /meridian_edge_requests_total\{host="shop\.example\.test",cluster="a",code="200"\} (\d+)/.exec(text);
    assert.ok(shop && Number(shop[1]) >= 450, `${shop?.[0]} counts the requests sent to a\n${text}`);
    assert.equal(await requestsTotal(), perWorker[0]! + perWorker[1]!);
    const count =
      /meridian_edge_request_duration_seconds_count\{host="shop\.example\.test",cluster="a"\} (\d+)/.exec(
        text,
      );
    assert.equal(count?.[1], shop?.[1], 'the histogram is summed too');
  });

  test('a crashed worker is restarted, serves the current table, and its counts are kept', async () => {
    const before = await requestsTotal();
    const [victim, survivor] = edge.pids();
    process.kill(victim!, 'SIGKILL');
    const pids = await workers.replacementOf(edge, victim!);
    assert.ok(pids.includes(survivor!));
    publish(true);
    await synced();
    try {
      assert.deepEqual(new Set(await many('shop.example.test', 200)), new Set(['b']));
      await workers.assertEveryWorkerServed(edge);
    } finally {
      publish();
      await synced();
    }
    const afterKill = await requestsTotal();
    assert.ok(afterKill >= before + 200, `counter went from ${before} to ${afterKill}: it never goes back`);
  });

  test('a worker whose event loop is stuck is killed and replaced', async () => {
    const [stuck, other] = edge.pids();
    const t0 = Date.now();
    edge.block(0, 60_000);
    const pids = await workers.replacementOf(edge, stuck!);
    const took = Date.now() - t0;
    assert.ok(pids.includes(other!));
    assert.ok(!workers.alive(stuck!), 'the stuck worker was killed');
    assert.ok(took >= 2_000, `not killed before the heartbeat timeout (${took} ms)`);
    assert.ok(
      hubLog.lines.some((l) => String(l['msg']).includes('stopped answering its heartbeat')),
      'the hub says why',
    );
    assert.deepEqual(new Set(await many('api.example.test', 100)), new Set(['b']));
  });

  test('stop lets in-flight requests finish, then every worker exits', async () => {
    const pids = edge.pids();
    const slow = get('shop.example.test', '/slow');
    await waitFor('the slow request in flight', 5_000, () => (a.slowRequests === 1 ? true : undefined));
    await edge.stop();
    assert.deepEqual(await slow, { status: 200, body: 'a slow\n', cluster: 'a' });
    assert.ok(!pids.some(workers.alive), 'every worker exited');
    // The last access lines were handed over before the workers exited.
    assert.ok(access.lines.some((l) => l['path'] === '/slow' && l['status'] === 200));
  });
});

test('edge workers exit when the hub process dies (kill -9)', async () => {
  // A stand-in hub: starts two workers, prints their PIDs, then is killed without any cleanup.
  const script = `
    import { createLogger } from './src/logging/logger.ts';
    import { EdgeGatewayWorkers } from './src/traffic/edge/edge-workers.ts';
    import { SwappableRoutingTable } from './src/traffic/routing/routing.ts';
    const edge = new EdgeGatewayWorkers({ workers: 2, table: new SwappableRoutingTable(),
      logger: createLogger('stand-in-hub'), http: { host: '127.0.0.1', port: 0 } });
    await edge.start();
    console.log(JSON.stringify(edge.pids()));
  `;
  await workers.assertWorkersDieWithHub(script);
});
