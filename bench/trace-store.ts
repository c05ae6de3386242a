// Benchmark: ingest into each TraceStore directly (no HTTP, no OTLP decoding, no worker thread):
// the embedded SQLite store and the PostgreSQL store (a PostgreSQL started here on 127.0.0.1 with
// Debian's binaries and their default settings: fsync and synchronous_commit on).
// Each store gets BENCH_BATCHES batches (default 200) of BENCH_BATCH spans (default 500), one at
// a time, for at most BENCH_SECONDS (default 60) each. Spans as bench/traces.ts makes them: traces
// of 8 spans across 4 services in 2 clusters, 8 attributes a span, 4 resources of 8 attributes.
// Reported: spans per second of wall time, p50/p99 batch latency, the store's bytes.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { PostgresTraceStore } from '../src/observe/traces/postgres-trace-store.ts';
import type { StoredSpan } from '../src/observe/traces/span-model.ts';
import { SqliteTraceStore } from '../src/observe/traces/sqlite-trace-store.ts';
import type { TraceStore } from '../src/observe/traces/trace-store.ts';
import { startPostgres } from '../test/support/postgres-server.ts';

const BATCHES = Number(process.env['BENCH_BATCHES'] ?? 200);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 500);
const MAX_MS = Number(process.env['BENCH_SECONDS'] ?? 60) * 1000;
const SPANS_PER_TRACE = 8;

const SERVICES = [
  { name: 'frontend', cluster: 'eu-west' },
  { name: 'cart', cluster: 'eu-west' },
  { name: 'cart', cluster: 'us-east' },
  { name: 'db', cluster: 'us-east' },
] as const;
const RESOURCES = SERVICES.map((s) => ({
  'service.name': s.name,
  'service.version': '1.4.2',
  'k8s.cluster.name': s.cluster,
  'k8s.namespace.name': 'shop',
  'k8s.pod.name': `${s.name}-7f9c6d5b8-x2k4q`,
  'telemetry.sdk.language': 'nodejs',
  'telemetry.sdk.name': 'opentelemetry',
  'telemetry.sdk.version': '2.7.1',
}));

const hex = (n: number, len: number): string => n.toString(16).padStart(len, '0');
const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};

/** Batch `b`: BATCH spans, SPANS_PER_TRACE a trace, spread over the four services. */
function batch(b: number, nowUs: number): StoredSpan[] {
  const spans: StoredSpan[] = [];
  for (let i = 0; i < BATCH; i++) {
    const n = b * BATCH + i;
    const trace = Math.floor(n / SPANS_PER_TRACE);
    const inTrace = n % SPANS_PER_TRACE;
    const svc = inTrace % SERVICES.length;
    const failed = trace % 50 === 0 && inTrace >= 2;
    spans.push({
      traceId: hex(trace + 1, 32),
      spanId: hex(n + 1, 16),
      parentSpanId: inTrace === 0 ? undefined : hex(trace * SPANS_PER_TRACE + 1, 16),
      name: inTrace === 0 ? 'GET /checkout' : `POST ${SERVICES[svc]!.name}`,
      kind: inTrace === 0 ? 2 : inTrace % 2 ? 3 : 2,
      startUs: nowUs - 3_600_000_000 + n * 100 + inTrace * 1000,
      durationUs: 30_000 - inTrace * 1000,
      status: failed ? 2 : 0,
      statusMessage: failed ? 'upstream failed' : undefined,
      service: SERVICES[svc]!.name,
      cluster: SERVICES[svc]!.cluster,
      namespace: 'shop',
      pod: `${SERVICES[svc]!.name}-7f9c6d5b8-x2k4q`,
      attributes: {
        'http.request.method': inTrace % 2 ? 'POST' : 'GET',
        'http.route': '/checkout',
        'http.response.status_code': failed ? 500 : 200,
        'url.scheme': 'http',
        'server.address': `${SERVICES[svc]!.name}.shop.svc.cluster.local`,
        'server.port': 8080,
        'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64)',
        'network.protocol.version': '1.1',
      },
      events: [],
      links: [],
      resource: RESOURCES[svc]!,
    });
  }
  return spans;
}

async function measure(name: string, store: TraceStore): Promise<void> {
  const nowUs = Date.now() * 1000;
  await store.write(batch(BATCHES + 1, nowUs)); // Warm-up (schema, statements, connections).
  const latencies: number[] = [];
  let spans = 0;
  const t0 = performance.now();
  for (let b = 0; b < BATCHES && performance.now() - t0 < MAX_MS; b++) {
    const spansOf = batch(b, nowUs);
    const s = performance.now();
    const r = await store.write(spansOf);
    latencies.push(performance.now() - s);
    spans += r.stored;
  }
  const wallS = (performance.now() - t0) / 1000;
  const stats = await store.stats();
  process.stdout.write(
    `| ${name} | ${latencies.length} × ${BATCH} | ${Math.round(spans / wallS).toLocaleString('en')} spans/s ` +
      `(${spans.toLocaleString('en')} in ${wallS.toFixed(1)} s) | p50 ${pct(latencies, 50).toFixed(1)} ms, ` +
      `p99 ${pct(latencies, 99).toFixed(1)} ms | ${(stats.bytes / 1024 ** 2).toFixed(1)} MiB ` +
      `(${Math.round(stats.bytes / Math.max(1, stats.spans))} B a span) |\n`,
  );
}

process.stdout.write(
  `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 1024 ** 3)} GiB, ` +
    `Node ${process.version}; load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n\n` +
    '| store | batches | ingest | batch latency | bytes (store measure) |\n| --- | --- | --- | --- | --- |\n',
);
const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-trace-store-'));
try {
  const sqlite = new SqliteTraceStore(join(dir, 'traces.db'));
  try {
    await measure('SQLite', sqlite);
  } finally {
    await sqlite.close();
  }
  const server = await startPostgres();
  try {
    const pg = new PostgresTraceStore(await server.createDatabase());
    try {
      await measure('PostgreSQL', pg);
    } finally {
      await pg.close();
    }
  } finally {
    await server.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  `\nload average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n`,
);
