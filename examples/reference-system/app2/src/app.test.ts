import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createLogger, createMetrics, startTracing, type HttpService } from '@reference-system/service-kit';
import pg from 'pg';
import { pino } from 'pino';
import {
  POSTGRES_SKIP_REASON,
  findPostgresBin,
  startPostgres,
  type PostgresServer,
} from '../../test/postgres-server.ts';
import { createApp2 } from './app.ts';
import { OrderStore } from './order-store.ts';

const bin = findPostgresBin();
const quietLog = () => createLogger('app2', 'eu-west', pino.destination({ dest: '/dev/null', sync: true }));

describe('APP 2 against a real PostgreSQL', { skip: bin ? false : POSTGRES_SKIP_REASON }, () => {
  let server: PostgresServer;
  let pool: pg.Pool;
  let app: HttpService;
  let base: string;
  const spans = new InMemorySpanExporter();
  const metrics = createMetrics();

  before(async () => {
    server = await startPostgres(bin!);
    pool = new pg.Pool({ ...server, connectionTimeoutMillis: 1000 });
    pool.on('error', () => {});
    const tracing = startTracing({ serviceName: 'app2', cluster: 'eu-west', exporter: spans });
    const store = new OrderStore(pool, tracing.tracer, server);
    // Replicas in several clusters migrate at the same time: the advisory lock serialises them.
    await Promise.all([store.migrate(), store.migrate(), store.migrate()]);
    app = createApp2({
      cluster: 'eu-west',
      store,
      tracing,
      metrics,
      log: quietLog(),
      schemaReady: () => true,
    });
    base = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`;
  });

  after(async () => {
    await app?.close(1000);
    await pool?.end();
    await server?.stop();
  });

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  test('lists the seeded items and says which cluster served', async () => {
    const res = await fetch(`${base}/items`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-app2-cluster'), 'eu-west');
    const body = (await res.json()) as { items: { id: string }[]; app2Cluster: string };
    assert.deepEqual(
      body.items.map((i) => i.id),
      ['bagel', 'cappuccino', 'croissant', 'espresso'],
    );
    assert.equal(body.app2Cluster, 'eu-west');
  });

  test('stores an order in PostgreSQL and reads it back by id', async () => {
    const res = await post({ item: 'espresso', quantity: 2 });
    assert.equal(res.status, 201);
    const order = (await res.json()) as { id: number; item: string; quantity: number; storedBy: string };
    assert.ok(Number.isInteger(order.id) && order.id > 0);
    assert.equal(res.headers.get('location'), `/orders/${order.id}`);
    assert.deepEqual(
      { item: order.item, quantity: order.quantity, storedBy: order.storedBy },
      {
        item: 'espresso',
        quantity: 2,
        storedBy: 'eu-west',
      },
    );
    const row = await pool.query('SELECT item, quantity FROM orders WHERE id = $1', [order.id]);
    assert.deepEqual(row.rows, [{ item: 'espresso', quantity: 2 }]);
    const read = await fetch(`${base}/orders/${order.id}`);
    assert.equal(read.status, 200);
    assert.equal(((await read.json()) as { id: number }).id, order.id);
    assert.equal((await fetch(`${base}/orders/999999`)).status, 404);
  });

  test('a retried POST with the same idempotency key stores one order', async () => {
    const key = '0b7c6f3e-4a1d-4c5e-9f00-5d2b8e6a7c11';
    const first = (await (await post({ item: 'bagel', quantity: 1 }, { 'idempotency-key': key })).json()) as {
      id: number;
    };
    const again = (await (await post({ item: 'bagel', quantity: 1 }, { 'idempotency-key': key })).json()) as {
      id: number;
    };
    assert.equal(again.id, first.id);
    const count = await pool.query('SELECT count(*)::int AS n FROM orders WHERE request_id = $1', [key]);
    assert.equal(count.rows[0].n, 1);
  });

  test('rejects invalid orders with 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ item: 'espresso', quantity: 0 }, 'quantity'],
      [{ item: 'espresso', quantity: 1.5 }, 'quantity'],
      [{ quantity: 1 }, 'item'],
      [{ item: 'caviar', quantity: 1 }, 'item'], // well-formed, but not in the catalogue
      [[1, 2], 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(((await res.json()) as { field: string }).field, field, JSON.stringify(body));
    }
    const bad = await fetch(`${base}/orders/abc`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { field: string }).field, 'id');
  });

  test('the SQL span is a child of the server span, which continues the caller trace', async () => {
    spans.reset();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${base}/items`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    assert.equal(res.status, 200);
    const done = spans.getFinishedSpans();
    const server = done.find((s) => s.name === 'GET /items');
    const sql = done.find((s) => s.name === 'SELECT items');
    assert.ok(server && sql, done.map((s) => s.name).join(', '));
    assert.equal(server.spanContext().traceId, traceId);
    assert.equal(server.parentSpanContext?.spanId, '00f067aa0ba902b7');
    assert.equal(sql.spanContext().traceId, traceId);
    assert.equal(sql.parentSpanContext?.spanId, server.spanContext().spanId);
    assert.equal(sql.attributes['db.system.name'], 'postgresql');
    assert.equal(server.resource.attributes['k8s.cluster.name'], 'eu-west');
  });

  test('counts requests by route and code in /metrics', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /http_requests_total\{method="GET",route="\/items",code="200"\} \d+/);
    assert.match(
      text,
      /http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/orders",code="201"\}/,
    );
  });

  test('is not ready before its schema exists', async () => {
    const store = new OrderStore(pool, startTracing({ serviceName: 'app2' }).tracer, server);
    const early = createApp2({
      cluster: 'eu-west',
      store,
      tracing: startTracing({ serviceName: 'app2' }),
      metrics: createMetrics(),
      log: quietLog(),
      schemaReady: () => false,
    });
    const url = `http://127.0.0.1:${await early.listen(0, '127.0.0.1')}`;
    try {
      assert.equal((await fetch(`${url}/readyz`)).status, 503);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
    } finally {
      await early.close(100);
    }
  });

  // Last: it stops the database.
  test('turns not ready and answers 503 when the database goes away, and stays alive', async () => {
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    await server.stop();
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(((await ready.json()) as { reason: string }).reason, /^database: /);
    assert.equal((await fetch(`${base}/items`)).status, 503);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /upstream_request_errors_total\{upstream="postgres",reason="[^"]+"\} [1-9]/);
  });
});
