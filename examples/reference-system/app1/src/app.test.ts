import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo, type Server } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createLogger, createMetrics, startTracing, type HttpService } from '@reference-system/service-kit';
import { pino } from 'pino';
import { createApp1 } from './app.ts';
import { App2Client } from './app2-client.ts';

// A stand-in APP 2 endpoint on loopback, whose behaviour each test sets.
type Behaviour = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface Endpoint {
  readonly port: number;
  behaviour: Behaviour;
  readonly seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
  close(): Promise<void>;
}

const answer =
  (
    cluster: string,
    status = 200,
    json: unknown = { items: [{ id: 'espresso', name: 'Espresso', priceCents: 250 }] },
  ): Behaviour =>
  (_req, res) =>
    res
      .writeHead(status, { 'content-type': 'application/json', 'x-app2-cluster': cluster })
      .end(JSON.stringify(json));
const hang: Behaviour = () => {};
const reset: Behaviour = (req) => req.socket.destroy();

async function endpoint(behaviour: Behaviour): Promise<Endpoint> {
  const seen: Endpoint['seen'] = [];
  const ep = { behaviour, seen } as Endpoint;
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      ep.behaviour(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(ep, {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

/** A Service the way kube-proxy makes one: each new connection goes to the next endpoint. */
async function roundRobinService(
  endpoints: readonly Endpoint[],
): Promise<{ port: number; server: Server; nextIs(i: number): void }> {
  let next = 0;
  const server = createTcpServer((client) => {
    const target = endpoints[next++ % endpoints.length]!;
    const upstream = connect(target.port, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server, nextIs: (i) => (next = i) };
}

describe('APP 1 against a stand-in APP 2 behind a Service', () => {
  let a: Endpoint;
  let b: Endpoint;
  let service: Awaited<ReturnType<typeof roundRobinService>>;
  let app: HttpService;
  let base: string;
  const spans = new InMemorySpanExporter();
  const metrics = createMetrics();
  const TIMEOUT_MS = 300;

  before(async () => {
    a = await endpoint(answer('eu-west'));
    b = await endpoint(answer('us-east'));
    service = await roundRobinService([a, b]);
    const tracing = startTracing({ serviceName: 'app1', cluster: 'eu-west', exporter: spans });
    const app2 = new App2Client(new URL(`http://127.0.0.1:${service.port}`), TIMEOUT_MS, tracing, metrics);
    const log = createLogger('app1', 'eu-west', pino.destination({ dest: '/dev/null', sync: true }));
    app = createApp1({ cluster: 'eu-west', app2, tracing, metrics, log });
    base = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`;
  });

  afterEach(() => {
    a.behaviour = answer('eu-west');
    b.behaviour = answer('us-east');
    a.seen.length = 0;
    b.seen.length = 0;
    spans.reset();
  });

  after(async () => {
    await app.close(1000);
    service.server.close();
    await Promise.all([a.close(), b.close()]);
  });

  const metric = async (pattern: RegExp): Promise<number> => {
    const m = pattern.exec(await (await fetch(`${base}/metrics`)).text());
    return m ? Number(m[1]) : 0;
  };
  const postOrder = (body: unknown) =>
    fetch(`${base}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  test('answers with the clusters of APP 1 and APP 2 in headers and JSON', async () => {
    const res = await fetch(`${base}/items`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { items: unknown[]; app1Cluster: string; app2Cluster: string };
    assert.equal(res.headers.get('x-app1-cluster'), 'eu-west');
    const app2 = res.headers.get('x-app2-cluster');
    assert.ok(app2 === 'eu-west' || app2 === 'us-east', String(app2));
    assert.deepEqual([body.app1Cluster, body.app2Cluster], ['eu-west', app2]);
    assert.equal(body.items.length, 1);
  });

  test('spreads calls over the endpoints: every call is a new connection', async () => {
    const clusters = new Set<string | null>();
    for (let i = 0; i < 4; i++) clusters.add((await fetch(`${base}/items`)).headers.get('x-app2-cluster'));
    assert.deepEqual([...clusters].sort(), ['eu-west', 'us-east']);
  });

  for (const [name, failing, reason] of [
    ['answers 503', answer('eu-west', 503, { error: 'the database is unavailable' }), 'status'],
    ['drops the connection', reset, 'connect'],
    ['does not answer within the timeout', hang, 'timeout'],
  ] as const) {
    test(`retries once, on a new connection to another endpoint, when the first ${name}`, async () => {
      const errors = new RegExp(
        `upstream_request_errors_total\\{upstream="app2",reason="${reason}"\\} (\\d+)`,
      );
      const retries = /upstream_request_retries_total\{upstream="app2"\} (\d+)/;
      const [errorsBefore, retriesBefore] = [await metric(errors), await metric(retries)];
      a.behaviour = failing;
      service.nextIs(0); // the first connection reaches a, the retry's new connection b
      const started = Date.now();
      const res = await fetch(`${base}/items`);
      const took = Date.now() - started;
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-app2-cluster'), 'us-east');
      assert.deepEqual([a.seen.length, b.seen.length], [1, 1]);
      if (reason === 'timeout') assert.ok(took >= TIMEOUT_MS, `took ${took} ms`);
      assert.ok(took < TIMEOUT_MS + 1000, `took ${took} ms`);
      assert.equal(await metric(errors), errorsBefore + 1);
      assert.equal(await metric(retries), retriesBefore + 1);
    });
  }

  test('answers 504 when both attempts time out and 502 when both fail, still naming its cluster', async () => {
    a.behaviour = b.behaviour = hang;
    const timedOut = await fetch(`${base}/items`);
    assert.equal(timedOut.status, 504);
    assert.equal(timedOut.headers.get('x-app1-cluster'), 'eu-west');
    assert.equal(timedOut.headers.get('x-app2-cluster'), null);
    assert.match(((await timedOut.json()) as { error: string }).error, /within 300 ms/);
    a.behaviour = b.behaviour = answer('x', 503, { error: 'down' });
    const failed = await fetch(`${base}/items`);
    assert.equal(failed.status, 502);
    assert.equal(a.seen.length + b.seen.length, 4, 'two attempts per request, no more');
  });

  test('relays APP 2 client errors without retrying', async () => {
    a.behaviour = b.behaviour = answer('us-east', 404, { error: 'order 7 does not exist' });
    const res = await fetch(`${base}/orders/7`);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), {
      error: 'order 7 does not exist',
      app1Cluster: 'eu-west',
      app2Cluster: 'us-east',
    });
    assert.equal(a.seen.length + b.seen.length, 1);
    assert.equal([...a.seen, ...b.seen][0]!.url, '/orders/7');
  });

  test('creates an order: 201 with the stored order, a retried POST keeps its idempotency key', async () => {
    const stored = {
      id: 42,
      item: 'espresso',
      quantity: 2,
      storedBy: 'us-east',
      createdAt: '2026-01-01T00:00:00.000Z',
    };
    a.behaviour = answer('eu-west', 503, { error: 'the database is unavailable' });
    b.behaviour = answer('us-east', 201, stored);
    service.nextIs(0);
    const res = await postOrder({ item: 'espresso', quantity: 2 });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { ...stored, app1Cluster: 'eu-west', app2Cluster: 'us-east' });
    const [first, retry] = [a.seen[0]!, b.seen[0]!];
    assert.deepEqual(JSON.parse(retry.body), { item: 'espresso', quantity: 2 });
    assert.match(String(first.headers['idempotency-key']), /^[0-9a-f-]{36}$/);
    assert.equal(retry.headers['idempotency-key'], first.headers['idempotency-key']);
  });

  test('rejects invalid orders with 400 naming the field, without calling APP 2', async () => {
    const cases: [unknown, string][] = [
      [{ item: 'espresso', quantity: 0 }, 'quantity'],
      [{ item: 'espresso', quantity: '2' }, 'quantity'],
      [{ item: 'espresso' }, 'quantity'],
      [{ item: '', quantity: 1 }, 'item'],
      [{ quantity: 1 }, 'item'],
      ['espresso', 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await postOrder(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.headers.get('x-app1-cluster'), 'eu-west');
      assert.equal(((await res.json()) as { field: string }).field, field, JSON.stringify(body));
    }
    const notJson = await fetch(`${base}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    assert.equal(notJson.status, 400);
    const badId = await fetch(`${base}/orders/x1`);
    assert.equal(badId.status, 400);
    assert.equal(((await badId.json()) as { field: string }).field, 'id');
    assert.equal(a.seen.length + b.seen.length, 0);
  });

  test('propagates the trace: APP 2 gets a traceparent whose parent is the client span of the attempt', async () => {
    a.behaviour = answer('eu-west', 503, { error: 'down' });
    service.nextIs(0);
    const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    assert.equal((await fetch(`${base}/items`, { headers: { traceparent: incoming } })).status, 200);
    const done = spans.getFinishedSpans();
    const server = done.find((s) => s.name === 'GET /items')!;
    const clients = done.filter(
      (s) => s.name === 'GET' && s.parentSpanContext?.spanId === server.spanContext().spanId,
    );
    assert.equal(server.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(server.parentSpanContext?.spanId, 'b7ad6b7169203331');
    assert.equal(clients.length, 2, done.map((s) => s.name).join(', '));
    const retry = clients.find((s) => s.attributes['http.request.resend_count'] === 1)!;
    assert.equal(retry.attributes['app2.cluster'], 'us-east');
    const sent = String(b.seen[0]!.headers['traceparent']);
    assert.equal(sent, `00-0af7651916cd43dd8448eb211c80319c-${retry.spanContext().spanId}-01`);
  });

  test('serves an HTML page with the catalogue and both clusters', async () => {
    service.nextIs(1);
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(res.headers.get('x-app2-cluster'), 'us-east');
    const html = await res.text();
    assert.match(html, /APP 1 in <b>eu-west<\/b>, catalogue from APP 2 in <b>us-east<\/b>/);
    assert.match(html, /Espresso/);
  });

  test('finishes an in-flight request when closed, then refuses new ones', async () => {
    const tracing = startTracing({ serviceName: 'app1' });
    const log = createLogger('app1', 'eu-west', pino.destination({ dest: '/dev/null', sync: true }));
    const app2 = new App2Client(new URL(`http://127.0.0.1:${b.port}`), 2000, tracing, createMetrics());
    const other = createApp1({ cluster: 'eu-west', app2, tracing, metrics: createMetrics(), log });
    const url = `http://127.0.0.1:${await other.listen(0, '127.0.0.1')}`;
    b.behaviour = (req, res) => setTimeout(() => answer('us-east')(req, res, ''), 300);
    const inFlight = fetch(`${url}/items`);
    while (b.seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const closed = other.close(5000);
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-app2-cluster'), 'us-east');
    await closed;
    await assert.rejects(fetch(`${url}/healthz`));
  });
});
