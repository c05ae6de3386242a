// Benchmark: fleet metrics query latency through the hub over 3 members' Prometheus servers,
// against the same query on one Prometheus holding the union of their series (with cluster and
// region labels). Goal: p50 and p99 within 1.5× of the union server.
// - Data: per member 550 series (http_requests_total 200, memory_bytes 50, histogram buckets
//   300), 480 samples each (2 h at 15 s): 264k samples per member, 792k in the union.
// - Queries: pushed down (partitionable by cluster) and evaluated centrally by the hub's
//   WebAssembly PromQL engine, instant and 1 h range at 60 s steps.
// - Each round asks the fleet and the union one after the other, so both see the same load.
// The hub needs Cluster objects, not member API servers, for this: the local fleet runs one
// member and the three Clusters use its credentials (each with its own Prometheus).
// Env: BENCH_SAMPLES (default 100 per query and side), BENCH_WARMUP (default 10).
// Loopback only (subnet 127.71.0, hub on 127.0.0.1:18143); everything is stopped on failure too.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMetricsFleet, type MetricsFleet } from './support/metrics-fleet.ts';
import { newFleetHome } from '../test/support/harness.ts';
import { prometheusLayout, type DataShape } from '../test/support/prometheus-servers.ts';

const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 100);
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 10);
const HUB_PORT = 18143;
const fleet = newFleetHome('127.71.0');
const { clusters: CLUSTERS, union: UNION_LISTEN } = prometheusLayout(fleet);

const startMs = Math.floor((Date.now() - 2.5 * 3600_000) / 60_000) * 60_000;
const shape: DataShape = { clusters: CLUSTERS, startMs, samples: 480, jobs: 5, instances: 10 };
const T = startMs + 110 * 60_000 + 30_000;
const sec = (ms: number): string => String(ms / 1000);
const instant = { time: sec(T) };
const range = { start: sec(T - 3600_000), end: sec(T), step: '60' };

const QUERIES: readonly { name: string; path: string; params: Record<string, string> }[] = [
  { name: 'sum by (cluster, job) (rate(http_requests_total[5m]))', path: '/api/v1/query', params: instant },
  { name: 'rate(http_requests_total{code="500"}[5m])', path: '/api/v1/query', params: instant },
  {
    name: 'sum by (cluster, job) (rate(http_requests_total[5m])) [1h range]',
    path: '/api/v1/query_range',
    params: range,
  },
  { name: 'sum(rate(http_requests_total[5m]))', path: '/api/v1/query', params: instant },
  {
    name: 'histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))',
    path: '/api/v1/query',
    params: instant,
  },
  { name: 'topk(5, memory_bytes)', path: '/api/v1/query', params: instant },
  { name: 'sum(rate(http_requests_total[5m])) [1h range]', path: '/api/v1/query_range', params: range },
];

let fixture: MetricsFleet | undefined;

const progress = (msg: string): void => {
  process.stderr.write(`[metrics bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};

async function timed(
  url: string,
  params: Record<string, string>,
  token?: string,
): Promise<{ ms: number; mode: string }> {
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: new URLSearchParams(params).toString(),
  });
  const body = (await res.json()) as { status: string; error?: string; warnings?: string[] };
  const ms = performance.now() - started;
  if (res.status !== 200 || body.status !== 'success')
    throw new Error(`${url}: ${res.status} ${body.error ?? ''}`);
  if (body.warnings?.length) throw new Error(`${url}: partial answer: ${body.warnings.join('; ')}`);
  return { ms, mode: res.headers.get('x-meridian-query-mode') ?? 'union' };
}

async function setUp(): Promise<string> {
  fixture = await startMetricsFleet({
    name: 'metrics',
    fleet,
    hubPort: HUB_PORT,
    shape,
    progress,
  });
  return fixture.token;
}

async function main(): Promise<void> {
  const token = await setUp();
  const loadBefore = loadavg();
  const rows: string[] = [];
  const results: unknown[] = [];
  for (const q of QUERIES) {
    const query = q.name.replace(/ \[1h range\]$/, '');
    const params = { query, ...q.params };
    const fleetMs: number[] = [];
    const unionMs: number[] = [];
    // The three members asked directly and at once (no hub): what fan-out alone costs here.
    const membersMs: number[] = [];
    let mode = '';
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      const f = await timed(`http://127.0.0.1:${HUB_PORT}${q.path}`, params, token);
      const u = await timed(`http://${UNION_LISTEN}${q.path}`, params);
      const m0 = performance.now();
      await Promise.all(CLUSTERS.map((c) => timed(`http://${c.listen}${q.path}`, params)));
      const m = performance.now() - m0;
      mode = f.mode;
      if (i >= WARMUP) {
        fleetMs.push(f.ms);
        unionMs.push(u.ms);
        membersMs.push(m);
      }
    }
    const r = {
      query: q.name,
      mode,
      union: { p50: pct(unionMs, 50), p99: pct(unionMs, 99) },
      fleet: { p50: pct(fleetMs, 50), p99: pct(fleetMs, 99) },
      members: { p50: pct(membersMs, 50), p99: pct(membersMs, 99) },
    };
    results.push(r);
    const f1 = (x: number): string => x.toFixed(1);
    const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
    rows.push(
      `| \`${q.name}\` | ${mode} | ${f1(r.union.p50)} / ${f1(r.union.p99)} | ${f1(r.fleet.p50)} / ${f1(r.fleet.p99)} | ${ratio(r.fleet.p50, r.union.p50)} / ${ratio(r.fleet.p99, r.union.p99)} | ${f1(r.members.p50)} / ${f1(r.members.p99)} |`,
    );
    progress(rows[rows.length - 1]!);
  }
  const loadAfter = loadavg();
  const out = [
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`,
    `samples: ${SAMPLES} per query and side after ${WARMUP} warm-up rounds, fleet and union asked alternately`,
    '',
    '| query | fleet answered by | union p50 / p99 ms | fleet p50 / p99 ms | ratio p50 / p99 | 3 members at once, direct, p50 / p99 ms |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  process.stdout.write(out);
  writeFileSync(
    join(tmpdir(), 'meridian-metrics-bench.json'),
    JSON.stringify({ loadBefore, loadAfter, results }, null, 2),
  );
}

try {
  await main();
} finally {
  await fixture?.stop();
}
