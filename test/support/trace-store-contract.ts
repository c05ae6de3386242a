// The behaviour every TraceStore shares, run against each implementation: the SQLite store (its
// unit test) and the PostgreSQL store (test/trace-store-postgres.test.ts). Each describe gets a
// fresh, empty store from `open`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredSpan } from '../../src/observe/traces/span-model.ts';
import type { TraceSearch, TraceStore } from '../../src/observe/traces/trace-store.ts';

const HOUR_US = 3_600_000_000;
const NOW_MS = Date.parse('2026-01-01T12:00:00Z');
const NOW_US = NOW_MS * 1000;

const hex = (n: number, len: number): string => n.toString(16).padStart(len, '0');

/** A two-span trace: a client span in `from` calling a server span in `to`. */
function call(n: number, startUs: number, from: string, to: string, error = false): StoredSpan[] {
  const traceId = hex(n + 1, 32);
  const base = { traceId, attributes: { n }, events: [], links: [], status: 0 };
  return [
    {
      ...base,
      spanId: hex(2 * n + 1, 16),
      name: 'GET /cart',
      kind: 3,
      startUs,
      durationUs: 20_000,
      service: 'frontend',
      cluster: from,
      namespace: 'shop',
      app: 'app1',
      resource: { 'service.name': 'frontend', 'k8s.cluster.name': from },
    },
    {
      ...base,
      spanId: hex(2 * n + 2, 16),
      parentSpanId: hex(2 * n + 1, 16),
      name: 'cart',
      kind: 2,
      startUs: startUs + 1000,
      durationUs: 15_000,
      status: error ? 2 : 0,
      statusMessage: error ? 'out of stock' : undefined,
      service: 'cart',
      cluster: to,
      region: to === 'us-east' ? 'america' : 'europe',
      namespace: 'shop',
      app: 'app2',
      resource: { 'service.name': 'cart', 'k8s.cluster.name': to },
    },
  ];
}

/** Registers the shared trace store tests; `open` returns an empty store, `close` disposes of it. */
export function traceStoreContract(
  name: string,
  open: () => Promise<TraceStore>,
  close: (store: TraceStore) => Promise<void>,
): void {
  describe(`${name} trace store`, () => {
    let store: TraceStore;
    before(async () => (store = await open()));
    after(() => close(store));

    test('stores spans once (a retried batch adds nothing) and returns a whole trace', async () => {
      const spans = [
        ...call(0, NOW_US - 10_000_000, 'eu-west', 'us-east', true),
        ...call(1, NOW_US - 5_000_000, 'eu-west', 'eu-west'),
      ];
      assert.deepEqual(await store.write(spans), { stored: 4 });
      assert.deepEqual(await store.write(spans), { stored: 0 });
      const t = await store.trace(hex(1, 32));
      assert.equal(t.length, 2);
      // Equal up to absent fields (the store reads them back as undefined).
      assert.deepEqual(JSON.parse(JSON.stringify(t[1])), JSON.parse(JSON.stringify(spans[1])));
      assert.deepEqual(await store.trace(hex(99, 32)), []);
    });

    test('searches by service, cluster, namespace, time, min duration and error, newest first', async () => {
      const w = { startUs: NOW_US - HOUR_US, endUs: NOW_US, limit: 20 };
      const ids = async (q: Partial<TraceSearch>) =>
        (await store.search({ ...w, ...q })).map((t) => t.traceId);
      assert.deepEqual(await ids({}), [hex(2, 32), hex(1, 32)]);
      assert.deepEqual(await ids({ limit: 1 }), [hex(2, 32)]);
      assert.deepEqual(await ids({ cluster: 'us-east' }), [hex(1, 32)]);
      assert.deepEqual(await ids({ service: 'cart', cluster: 'eu-west' }), [hex(2, 32)]);
      assert.deepEqual(await ids({ namespace: 'other' }), []);
      assert.deepEqual(await ids({ error: true }), [hex(1, 32)]);
      assert.deepEqual(await ids({ minDurationUs: 20_000 }), [hex(2, 32), hex(1, 32)]);
      assert.deepEqual(await ids({ minDurationUs: 20_001 }), []);
      assert.deepEqual(await ids({ endUs: NOW_US - 7_000_000 }), [hex(1, 32)]);
      const [summary] = await store.search({ ...w, error: true });
      assert.deepEqual(summary, {
        traceId: hex(1, 32),
        rootService: 'frontend',
        rootName: 'GET /cart',
        startUs: NOW_US - 10_000_000,
        durationUs: 20_000,
        spanCount: 2,
        services: ['cart', 'frontend'],
        clusters: ['eu-west', 'us-east'],
        error: true,
      });
    });

    test('pairs client and server spans for the service graph', async () => {
      const calls = await store.serviceCalls({ startUs: NOW_US - HOUR_US, endUs: NOW_US });
      assert.deepEqual(
        calls
          .map((c) => [
            c.client.service,
            c.client.cluster,
            c.server.service,
            c.server.cluster,
            c.server.region,
            c.durationUs,
            c.error,
          ])
          .sort(),
        [
          ['frontend', 'eu-west', 'cart', 'eu-west', 'europe', 20_000, false],
          ['frontend', 'eu-west', 'cart', 'us-east', 'america', 20_000, true],
        ],
      );
    });

    test('retention by age deletes spans that started before the cutoff, and only those', async () => {
      await store.write([
        ...call(10, NOW_US - 30 * HOUR_US, 'eu-west', 'us-east'),
        ...call(11, NOW_US - 25 * HOUR_US, 'eu-west', 'us-east'),
      ]);
      const r = await store.enforceRetention({ maxAgeMs: 24 * 3_600_000, maxBytes: 1024 ** 3 }, NOW_MS);
      assert.equal(r.deletedByAge, 4);
      assert.equal(r.deletedBySize, 0);
      assert.deepEqual(await store.trace(hex(11, 32)), []);
      assert.equal((await store.trace(hex(1, 32))).length, 2);
      assert.equal((await store.stats()).spans, 4);
    });

    test('retention by size deletes the oldest spans until the store fits', async () => {
      const many: StoredSpan[] = [];
      for (let i = 0; i < 5000; i++)
        many.push(...call(1000 + i, NOW_US - HOUR_US + i * 1000, 'eu-west', 'us-east'));
      await store.write(many);
      const before = await store.stats();
      const maxBytes = Math.floor(before.bytes / 2);
      const r = await store.enforceRetention({ maxAgeMs: 24 * 3_600_000, maxBytes }, NOW_MS);
      assert.ok(r.bytes <= maxBytes, `${r.bytes} bytes left, limit ${maxBytes}`);
      assert.ok(r.deletedBySize > 0 && r.deletedBySize < many.length + 4, `deleted ${r.deletedBySize}`);
      // Oldest first: the newest bench trace and the two recent ones survive, the oldest is gone.
      assert.equal((await store.trace(hex(1000 + 4999 + 1, 32))).length, 2);
      assert.equal((await store.trace(hex(2, 32))).length, 2);
      assert.deepEqual(await store.trace(hex(1001, 32)), []);
      const after = await store.stats();
      assert.equal(after.spans, before.spans - r.deletedBySize);
    });
  });

  describe(`${name} trace store: calls to databases`, () => {
    let store: TraceStore;
    before(async () => (store = await open()));
    after(() => close(store));

    test('a database client span is a call to the database its attributes name', async () => {
      const traceId = hex(99, 32);
      const window = { startUs: NOW_US - 2_000_000, endUs: NOW_US - 1_000_000 };
      await store.write([
        {
          traceId,
          spanId: hex(991, 16),
          name: 'SELECT orders',
          kind: 3,
          startUs: window.startUs + 10,
          durationUs: 3_000,
          status: 2,
          service: 'app2',
          cluster: 'eu-west',
          namespace: 'shop',
          attributes: { 'db.system.name': 'postgresql', 'server.address': 'db.shop.svc.clusterset.local' },
          events: [],
          links: [],
          resource: { 'service.name': 'app2' },
        },
        {
          // A plain client span to something without spans: no database, no call.
          traceId,
          spanId: hex(992, 16),
          name: 'GET',
          kind: 3,
          startUs: window.startUs + 20,
          durationUs: 1_000,
          status: 0,
          service: 'app2',
          cluster: 'eu-west',
          namespace: 'shop',
          attributes: { 'server.address': 'example.com' },
          events: [],
          links: [],
          resource: { 'service.name': 'app2' },
        },
      ]);
      const calls = await store.serviceCalls(window);
      assert.deepEqual(
        calls.map((c) => [
          c.client.service,
          c.client.cluster,
          c.server.service,
          c.server.namespace,
          c.server.cluster,
          c.error,
        ]),
        [['app2', 'eu-west', 'db', 'shop', undefined, true]],
      );
    });
  });
}
