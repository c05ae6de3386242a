// Benchmark (issue 21): the whole union-equality corpus of test/metrics.test.ts replayed through
// the hub and against one Prometheus holding the union, one query at a time and with 8
// concurrent clients, in the same run. Median and p99 per side and phase.
// - Data: the test's shape (3 members of 2 jobs × 2 instances, legacy and pod series, 600
//   samples each at 15 s) plus the series that end and come back (written with staleness
//   markers), so central queries read raw samples through remote read as they do in the test.
// - Corpus: every instant, ordered, range, refused and staleness query of
//   test/support/metrics-corpus.ts; refused queries count as answers (the error is the answer).
// - Sequential: for each round, every query asked of the hub and then of the union.
//   Concurrent: 8 clients, each replaying the corpus from its own offset, first all against the
//   hub, then all against the union (so each side has the machine to itself for its phase).
// - The hub needs Cluster objects, not member API servers: the local fleet runs one member and
//   the three Clusters use its credentials (each with its own Prometheus); no app or revision is
//   resolved (no workloads), which changes no query's plan.
// Env: BENCH_ROUNDS (default 5 sequential replays), BENCH_CONCURRENT_ROUNDS (default 3 replays
// per client), BENCH_CLIENTS (default 8).
// Loopback only (subnet 127.134.0, hub on 127.0.0.1:18443); everything is stopped on failure too.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startMetricsFleet, type MetricsFleet } from './support/metrics-fleet.ts';
import { newFleetHome } from '../test/support/harness.ts';
import { metricsCorpus } from '../test/support/metrics-corpus.ts';
import { prometheusLayout, type DataShape } from '../test/support/prometheus-servers.ts';
import { remoteWrite, type WriteSeries, flappySeries } from '../test/support/remote-write.ts';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const CONCURRENT_ROUNDS = Number(process.env['BENCH_CONCURRENT_ROUNDS'] ?? 3);
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 8);
const HUB_PORT = 18443;
const fleet = newFleetHome('127.134.0');
const { clusters: CLUSTERS, union: UNION_LISTEN } = prometheusLayout(fleet);

const startMs = Math.floor((Date.now() - 3 * 3600_000) / 60_000) * 60_000;
const shape: DataShape = {
  clusters: CLUSTERS,
  startMs,
  samples: 600,
  jobs: 2,
  instances: 2,
  ownTopologyLabels: true,
  pods: [
    { namespace: 'shop', pod: 'app2-5d8f7c9b4d-x7k2p', own: { app: 'own' } },
    { namespace: 'shop', pod: 'app2-5d8f7c9b4d-q9w4z' },
    { namespace: 'shop', pod: 'cache-7f6b9c8d5-m3n4b' },
  ],
};
const T = startMs + 2 * 3600_000 + 30_000;
const W0 = Math.floor((Date.now() - 20 * 60_000) / 120_000) * 120_000;
const sec = (ms: number): string => String(ms / 1000);

/** As test/metrics.test.ts writes it: scraped in even minutes only, a staleness marker at each end. */
const flappy = (labels: Record<string, string>): WriteSeries => flappySeries(W0, labels);

interface Ask {
  readonly path: string;
  readonly params: Record<string, string>;
}

function corpus(): Ask[] {
  const c = metricsCorpus(startMs);
  const instant = (query: string): Ask => ({ path: '/api/v1/query', params: { query, time: sec(T) } });
  const range = (query: string): Ask => ({
    path: '/api/v1/query_range',
    params: { query, start: sec(T - 1800_000), end: sec(T), step: '60' },
  });
  return [
    ...c.instant.map(([q]) => instant(q)),
    ...c.ordered.map(instant),
    ...c.range.map(range),
    ...c.refused.flatMap(([q]) => [instant(q), range(q)]),
    ...c.staleness.map(([query]) => ({
      path: '/api/v1/query_range',
      params: { query, start: sec(W0 + 61_000), end: sec(W0 + 17 * 60_000 + 1_000), step: '15' },
    })),
  ];
}

let fixture: MetricsFleet | undefined;

const progress = (msg: string): void => {
  process.stderr.write(`[metrics-corpus bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};

/** How the hub answered each query text (X-Meridian-Query-Mode), for the per-mode rows. */
const modeOf = new Map<string, string>();

/** One ask, timed to the last byte of the answer; a 5xx or a transport error fails the run. */
async function timed(base: string, a: Ask, token?: string): Promise<number> {
  const started = performance.now();
  const res = await request(`${base}${a.path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: new URLSearchParams(a.params).toString(),
  });
  const body = await res.body.text();
  const ms = performance.now() - started;
  if (res.statusCode >= 500)
    throw new Error(`${base} ${a.params['query']}: ${res.statusCode} ${body.slice(0, 300)}`);
  const mode = res.headers['x-meridian-query-mode'];
  if (typeof mode === 'string') modeOf.set(`${a.path} ${a.params['query']}`, mode);
  return ms;
}

async function setUp(): Promise<string> {
  fixture = await startMetricsFleet({
    name: 'metrics-corpus',
    fleet,
    hubPort: HUB_PORT,
    shape,
    progress,
    afterPrometheus: async () => {
      for (const [i, c] of CLUSTERS.entries()) await remoteWrite(c.listen, [flappy({ instance: `i-${i}` })]);
      await remoteWrite(
        UNION_LISTEN,
        CLUSTERS.map((c, i) => flappy({ instance: `i-${i}`, cluster: c.name, region: c.region })),
      );
    },
  });
  return fixture.token;
}

async function main(): Promise<void> {
  const token = await setUp();
  const asks = corpus();
  const hubBase = `http://127.0.0.1:${HUB_PORT}`;
  const unionBase = `http://${UNION_LISTEN}`;
  progress(`corpus: ${asks.length} queries; warm-up replay`);
  for (const a of asks) {
    await timed(hubBase, a, token);
    await timed(unionBase, a);
  }
  const load: Record<string, number[]> = { before: loadavg() };
  const seq = { hub: [] as number[], union: [] as number[] };
  // Sequential answers by how the hub answered the query: [hub ms, union ms].
  const byMode = new Map<string, { hub: number[]; union: number[] }>();
  let t0 = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    for (const a of asks) {
      const h = await timed(hubBase, a, token);
      const u = await timed(unionBase, a);
      seq.hub.push(h);
      seq.union.push(u);
      const mode = modeOf.get(`${a.path} ${a.params['query']}`) ?? 'none';
      const m = byMode.get(mode) ?? { hub: [], union: [] };
      m.hub.push(h);
      m.union.push(u);
      byMode.set(mode, m);
    }
  }
  const seqS = (performance.now() - t0) / 1000;
  load['afterSequential'] = loadavg();
  progress(`sequential: ${ROUNDS} replays in ${seqS.toFixed(1)} s`);
  const concurrent = async (base: string, tok?: string): Promise<{ ms: number[]; s: number }> => {
    const ms: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const offset = Math.floor((c * asks.length) / CLIENTS);
        for (let i = 0; i < CONCURRENT_ROUNDS * asks.length; i++)
          ms.push(await timed(base, asks[(offset + i) % asks.length]!, tok));
      }),
    );
    return { ms, s: (performance.now() - started) / 1000 };
  };
  t0 = performance.now();
  const conHub = await concurrent(hubBase, token);
  load['afterConcurrentHub'] = loadavg();
  const conUnion = await concurrent(unionBase);
  load['afterConcurrentUnion'] = loadavg();
  progress(`concurrent: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const f1 = (x: number): string => x.toFixed(1);
  const row = (phase: string, h: number[], u: number[], hs?: number, us?: number): string =>
    `| ${phase} | ${h.length} | ${f1(pct(u, 50))} / ${f1(pct(u, 99))} | ${f1(pct(h, 50))} / ${f1(pct(h, 99))} | ` +
    `${(pct(h, 50) / pct(u, 50)).toFixed(2)}× / ${(pct(h, 99) / pct(u, 99)).toFixed(2)}× |` +
    (hs !== undefined && us !== undefined
      ? ` ${(h.length / hs).toFixed(0)} / ${(u.length / us).toFixed(0)} |`
      : ' — |');
  const la = (l: number[] | undefined): string => (l ?? []).map((x) => x.toFixed(2)).join(' ');
  const out = [
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
    `load average: before ${la(load['before'])}; after sequential ${la(load['afterSequential'])}; ` +
      `after concurrent hub ${la(load['afterConcurrentHub'])}; after concurrent union ${la(load['afterConcurrentUnion'])}`,
    `corpus: ${asks.length} queries; sequential ${ROUNDS} replays (hub and union alternately); ` +
      `concurrent ${CLIENTS} clients × ${CONCURRENT_ROUNDS} replays per side`,
    '',
    '| phase | answers per side | union p50 / p99 ms | hub p50 / p99 ms | ratio p50 / p99 | throughput hub / union (answers/s) |',
    '| --- | --- | --- | --- | --- | --- |',
    row('one query at a time', seq.hub, seq.union),
    ...[...byMode]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([mode, m]) => row(`… of which ${mode}`, m.hub, m.union)),
    row(`${CLIENTS} concurrent clients`, conHub.ms, conUnion.ms, conHub.s, conUnion.s),
    '',
  ].join('\n');
  process.stdout.write(out);
  writeFileSync(
    join(tmpdir(), 'meridian-metrics-corpus-bench.json'),
    JSON.stringify({ load, seq, conHub, conUnion }, null, 2),
  );
}

try {
  await main();
} finally {
  await fixture?.stop();
}
