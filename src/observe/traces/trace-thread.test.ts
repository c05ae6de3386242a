import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createLogger } from '../../logging/logger.ts';
import { OtlpHttpError, type IngestJob, type TopologyAsk } from './otlp-ingest.ts';
import { TraceThread } from './trace-thread.ts';
import { traceDatabaseFile } from './trace-service.ts';

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/** An OTLP JSON batch of `spans` spans in one resource (each its own trace). */
function batch(spans: number, resource: Record<string, string>, offset = 0): Buffer {
  const list = [];
  for (let i = 1; i <= spans; i++) {
    const n = offset + i;
    list.push({
      traceId: hex(n, 32),
      spanId: hex(n, 16),
      name: `op-${n % 10}`,
      kind: 2,
      startTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(n) * 1000n),
      endTimeUnixNano: String(1_700_000_000_100_000_000n + BigInt(n) * 1000n),
      attributes: [{ key: 'http.route', value: { stringValue: `/items/${n % 100}` } }],
    });
  }
  return Buffer.from(
    JSON.stringify({
      resourceSpans: [
        {
          resource: {
            attributes: Object.entries(resource).map(([key, v]) => ({ key, value: { stringValue: v } })),
          },
          scopeSpans: [{ scope: { name: 'test', version: '1' }, spans: list }],
        },
      ],
    }),
  );
}

const job = (body: Buffer, over: Partial<IngestJob> = {}): IngestJob => ({
  encoding: 'json',
  body,
  maxBodyBytes: 64 * 1024 ** 2,
  maxSpans: 100_000,
  ...over,
});

describe('the trace worker thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-trace-thread-'));
  const asks: TopologyAsk[] = [];
  let thread: TraceThread;

  before(() => {
    thread = new TraceThread({
      store: { kind: 'sqlite', file: traceDatabaseFile(join(dir, 'data')) },
      log: createLogger('trace-thread-test', process.stderr),
      topology: (ask) => {
        asks.push(ask);
        return {
          regions: ask.clusters.map((c) => (c === 'eu-west' ? 'europe' : null)),
          pods: ask.pods.map(([, , pod]) => (pod === 'cart-1' ? { app: 'shop', revision: '3' } : null)),
        };
      },
      maxIngests: 2,
    });
  });

  after(async () => {
    await thread.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('creates the data directory 0700 and the database 0600', () => {
    assert.equal(statSync(join(dir, 'data')).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'data', 'traces.db')).mode & 0o777, 0o600);
  });

  test('decodes and stores a batch in the worker, with the topology the hub answers', async () => {
    const r = await thread.ingest(
      job(
        batch(3, {
          'service.name': 'cart',
          'k8s.cluster.name': 'eu-west',
          'k8s.namespace.name': 'shop',
          'k8s.pod.name': 'cart-1',
        }),
      ),
    );
    assert.deepEqual(r, { received: 3, stored: 3, rejected: 0, duplicates: 0, reasons: [] });
    assert.deepEqual(asks.at(-1), { clusters: ['eu-west'], pods: [['eu-west', 'shop', 'cart-1']] });
    const spans = await thread.trace(hex(1, 32));
    assert.deepEqual(
      [spans[0]?.cluster, spans[0]?.region, spans[0]?.app, spans[0]?.revision],
      ['eu-west', 'europe', 'shop', '3'],
    );
    assert.equal((await thread.stats()).spans, 3);
  });

  test('rejects the spans of an unregistered cluster on the plain endpoint', async () => {
    const r = await thread.ingest(job(batch(2, { 'k8s.cluster.name': 'eu-wst' }, 100)));
    assert.equal(r.stored, 0);
    assert.equal(r.rejected, 2);
    assert.match(r.reasons[0]!, /"eu-wst" is not a registered Cluster/);
  });

  test('a batch over the span limit is a 413; malformed input a 400', async () => {
    await assert.rejects(thread.ingest(job(batch(5, {}, 200), { maxSpans: 4 })), (e: unknown) => {
      assert.ok(e instanceof OtlpHttpError);
      assert.equal(e.status, 413);
      assert.match(e.message, /5 spans in one request; the limit is 4/);
      return true;
    });
    await assert.rejects(thread.ingest(job(Buffer.from('{"resourceSpans": 7'))), (e: unknown) => {
      assert.ok(e instanceof OtlpHttpError);
      assert.equal(e.status, 400);
      return true;
    });
  });

  test('a full queue answers 503 with Retry-After at once instead of buffering', async () => {
    const big = (i: number) => thread.ingest(job(batch(5_000, {}, 10_000 * (i + 1))));
    const first = [big(0), big(1)];
    await assert.rejects(big(2), (e: unknown) => {
      assert.ok(e instanceof OtlpHttpError);
      assert.equal(e.status, 503);
      assert.equal(e.retryAfterS, 1);
      return true;
    });
    for (const r of await Promise.all(first)) assert.equal(r.stored, 5_000);
  });

  test('a 20,000-span batch does not hold the calling event loop for 100 ms', async () => {
    const body = batch(20_000, { 'service.name': 'flood' }, 1_000_000);
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const t0 = performance.now();
    const r = await thread.ingest(job(body));
    const took = performance.now() - t0;
    delay.disable();
    assert.equal(r.stored, 20_000);
    const maxMs = delay.max / 1e6;
    // In this thread the ingest held the loop for all of it (1.9 s of 2 s on the 2-core machine).
    // On a machine so loaded that the ingest itself takes seconds, the scheduler alone delays a
    // thread by more than 100 ms now and then: the bound is then 5 % of the ingest's time.
    const bound = Math.max(100, took * 0.05);
    assert.ok(
      maxMs < bound,
      `the event loop was held ${maxMs.toFixed(1)} ms (bound ${bound.toFixed(0)}; ingest took ${took.toFixed(0)} ms)`,
    );
  });
});
