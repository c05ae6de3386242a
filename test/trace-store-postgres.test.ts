// The PostgreSQL trace store against a real PostgreSQL (Debian's, started here on 127.0.0.1):
// the same contract tests as the SQLite store, plus what only a shared database needs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresTraceStore } from '../src/observe/traces/postgres-trace-store.ts';
import type { TraceStore } from '../src/observe/traces/trace-store.ts';
import { TraceThread } from '../src/observe/traces/trace-thread.ts';
import { createLogger } from '../src/logging/logger.ts';
import { startPostgres, type PostgresServer } from './support/postgres-server.ts';
import { traceStoreContract } from './support/trace-store-contract.ts';

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

traceStoreContract(
  'PostgreSQL',
  async () => new PostgresTraceStore(await server.createDatabase()),
  (store: TraceStore) => store.close(),
);

describe('PostgreSQL trace store: shared database', () => {
  const span = (spanId: string) => ({
    traceId: 'ab'.repeat(16),
    spanId,
    name: 'GET /',
    kind: 2,
    startUs: Date.now() * 1000,
    durationUs: 1000,
    status: 0,
    service: 'frontend',
    attributes: {},
    events: [],
    links: [],
    resource: { 'service.name': 'frontend' },
  });

  test('two replicas writing the same spans at once store each span once', async () => {
    const url = await server.createDatabase();
    const a = new PostgresTraceStore(url);
    const b = new PostgresTraceStore(url);
    try {
      const batch = Array.from({ length: 200 }, (_, i) => span(i.toString(16).padStart(16, '0')));
      const [ra, rb] = await Promise.all([a.write(batch), b.write([...batch].reverse())]);
      assert.equal(ra.stored + rb.stored, 200);
      assert.equal((await b.trace('ab'.repeat(16))).length, 200);
      assert.equal((await a.stats()).spans, 200);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('an error names the database without its password', async () => {
    const url = server.url('no_such_database');
    const store = new PostgresTraceStore(url);
    try {
      await assert.rejects(store.stats(), (e: Error) => {
        assert.match(e.message, /no_such_database/);
        assert.doesNotMatch(e.message, /test-password-not-secret/);
        return true;
      });
    } finally {
      await store.close();
    }
  });
});

describe('PostgreSQL trace store: in the trace worker thread', () => {
  test('an OTLP batch decoded in the worker is stored in PostgreSQL and read back by another replica', async () => {
    const url = await server.createDatabase();
    const thread = new TraceThread({
      store: { kind: 'postgres', url },
      log: createLogger('trace-store-postgres-test', process.stderr),
      topology: (ask) => ({ regions: ask.clusters.map(() => null), pods: ask.pods.map(() => null) }),
    });
    const other = new PostgresTraceStore(url);
    try {
      const traceId = 'cd'.repeat(16);
      const body = Buffer.from(
        JSON.stringify({
          resourceSpans: [
            {
              resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cart' } }] },
              scopeSpans: [
                {
                  spans: [1, 2].map((n) => ({
                    traceId,
                    spanId: n.toString(16).padStart(16, '0'),
                    name: `op-${n}`,
                    kind: 2,
                    startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n + BigInt(n)),
                    endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n + 1_000_000n),
                  })),
                },
              ],
            },
          ],
        }),
      );
      const r = await thread.ingest({ encoding: 'json', body, maxBodyBytes: 1024 ** 2, maxSpans: 100 });
      assert.deepEqual(r, { received: 2, stored: 2, rejected: 0, duplicates: 0, reasons: [] });
      const again = await thread.ingest({ encoding: 'json', body, maxBodyBytes: 1024 ** 2, maxSpans: 100 });
      assert.equal(again.duplicates, 2);
      assert.deepEqual(
        (await other.trace(traceId)).map((s) => [s.service, s.name]),
        [
          ['cart', 'op-1'],
          ['cart', 'op-2'],
        ],
      );
    } finally {
      await thread.close();
      await other.close();
    }
  });
});
