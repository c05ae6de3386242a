// Fleet metrics against real Prometheus servers (Debian's prometheus 2.42), one per member of a
// real local fleet, plus one "union" server holding every member's series with cluster and region
// labels: every query in the corpus must answer through the hub exactly as the union answers it,
// pushed down or evaluated centrally; and metadata, partial answers, timeouts, errors and auth.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePromql } from '../src/observe/metrics/promql-build.ts';
import { app2Workload } from './support/app2.ts';
import {
  applyApplication,
  applyDocs,
  fleetUp,
  kubectl,
  joinMembers,
  newFleetHome,
  serviceAccountToken,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
  tearDownFleet,
} from './support/harness.ts';
import {
  createBlocks,
  openMetrics,
  prometheusLayout,
  startPrometheus,
  type DataShape,
  type PodSeries,
  type PrometheusProcess,
} from './support/prometheus-servers.ts';
import { remoteWrite, type WriteSeries, flappySeries } from './support/remote-write.ts';
import { metricsCorpus } from './support/metrics-corpus.ts';

const fleet: TestFleet = newFleetHome('127.70.0');
const HUB_PORT = 18043;
const MEMBER_TIMEOUT_MS = 5000;
const MAX_CENTRAL_SAMPLES = 30_000;
const { clusters: CLUSTERS, union: UNION_LISTEN } = prometheusLayout(fleet);
const BLACKHOLE_LISTEN = { host: '127.70.2.20', port: 19090 };

// Three hours ago on the minute, 600 samples every 15 s: data ends half an hour before now.
const startMs = Math.floor((Date.now() - 3 * 3600_000) / 60_000) * 60_000;
// Pods in every member: two of app2, which Meridian deploys (Application default/shop, revision
// 1), one of `cache`, a Deployment Meridian did not deploy (an app, no revision), one whose
// workload no member has (neither). Some member series carry their own app label, which the
// union holds replaced by Meridian's (or without it).
const PODS: readonly PodSeries[] = [
  { namespace: 'shop', pod: 'app2-5d8f7c9b4d-x7k2p', app: 'app2', revision: '1', own: { app: 'own' } },
  { namespace: 'shop', pod: 'app2-5d8f7c9b4d-q9w4z', app: 'app2', revision: '1' },
  { namespace: 'shop', pod: 'cache-7f6b9c8d5-m3n4b', app: 'cache' },
  { namespace: 'shop', pod: 'gone-6c9d8b7f5-h5j6k', own: { app: 'own' } },
];
const cacheDeployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'cache', namespace: 'shop' },
  spec: {
    replicas: 0,
    selector: { matchLabels: { app: 'cache' } },
    template: {
      metadata: { labels: { app: 'cache' } },
      spec: { containers: [{ name: 'cache', image: 'example/cache:1' }] },
    },
  },
};
const shape: DataShape = {
  clusters: CLUSTERS,
  startMs,
  samples: 600,
  jobs: 2,
  instances: 2,
  ownTopologyLabels: true,
  pods: PODS,
};
// Queries run 30 s past the minute: no range, lookback or subquery boundary (subquery steps sit
// on the minute) ever falls on a sample or a subquery step, where Prometheus 2 (the members)
// closes ranges at the start and Prometheus 3 (the hub's engine) opens them.
const T = startMs + 2 * 3600_000 + 30_000;
const sec = (ms: number): string => String(ms / 1000);
const CORPUS = metricsCorpus(startMs);
const INSTANT = CORPUS.instant;
const ORDERED = CORPUS.ordered;
const RANGE = CORPUS.range;

// Series that end and come back, written with their staleness markers as scraping leaves them
// (remote write): `flappy_bytes` is scraped only in even minutes of the 18 minutes from W0 (20
// minutes ago, after the backfilled blocks), and ends with a staleness marker at the first scrape
// of every odd minute. Queries over it run 1 s past the minute, off every range boundary.
const W0 = Math.floor((Date.now() - 20 * 60_000) / 120_000) * 120_000;
const flappy = (labels: Record<string, string>): WriteSeries => flappySeries(W0, labels);
/** us-east's server has external labels, which remote read adds to its series and the hub removes. */
const US_EAST_EXTERNAL = { replica: 'r1' };
/**
 * us-east's `replica_bytes` series: one holds its own `replica` label with the external label's
 * value (remote read cannot tell it from an added one), one another value, one none.
 */
const REPLICA_SERIES: readonly Record<string, string>[] = [
  { instance: 'i-1', replica: 'r1' },
  { instance: 'i-2', replica: 'r2' },
  { instance: 'i-3' },
];
const replicaSeries = (labels: Record<string, string>): WriteSeries => ({
  labels: { __name__: 'replica_bytes', ...labels },
  samples: Array.from({ length: 72 }, (_, i) => [W0 + i * 15_000, 1000 + i] as const),
});

let hub: HubProcess;
let token: string;
let dir: string;
const proms = new Map<string, PrometheusProcess>();
let blackhole: Server | undefined;
const sockets = new Set<Socket>();

interface PromAnswer {
  status: 'success' | 'error';
  data?: { resultType: string; result: unknown } | unknown[];
  warnings?: string[];
  errorType?: string;
  error?: string;
}

interface Got {
  readonly status: number;
  readonly mode: string | null;
  readonly body: PromAnswer;
}

async function call(
  base: string,
  path: string,
  params: Record<string, string | string[]>,
  method: 'GET' | 'POST',
  auth?: string,
): Promise<Got> {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) form.append(k, x);
  const url = method === 'GET' ? `${base}${path}?${form.toString()}` : `${base}${path}`;
  const res = await fetch(url, {
    method,
    headers: {
      ...(auth ? { authorization: `Bearer ${auth}` } : {}),
      ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: method === 'POST' ? form.toString() : undefined,
    signal: AbortSignal.timeout(60_000),
  });
  return {
    status: res.status,
    mode: res.headers.get('x-meridian-query-mode'),
    body: (await res.json()) as PromAnswer,
  };
}

const fleetApi = (
  path: string,
  params: Record<string, string | string[]>,
  method: 'GET' | 'POST' = 'GET',
  auth = token,
) => call(`http://127.0.0.1:${HUB_PORT}`, path, params, method, auth);
const unionApi = (path: string, params: Record<string, string | string[]>) =>
  call(`http://${UNION_LISTEN}`, path, params, 'GET');

type Labels = Record<string, string>;
const key = (m: Labels): string =>
  JSON.stringify(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/**
 * Values agree to 1e-12 relative: a sum's last bit depends on the order series come out of
 * storage, which differs between a member's blocks and the union's (and between Prometheus 2
 * and 3), as it would between two Prometheus servers holding the same samples.
 */
function sameValue(a: string, b: string): boolean {
  if (a === b) return true;
  const x = Number(a);
  const y = Number(b);
  if (Number.isNaN(x) && Number.isNaN(y)) return true;
  return Math.abs(x - y) <= 1e-12 * Math.max(Math.abs(x), Math.abs(y), 1e-300);
}

/** Why two results differ, or undefined when they are the same. */
function difference(fed: PromAnswer, union: PromAnswer, ordered: boolean): string | undefined {
  if (fed.status !== 'success') return `fleet failed: ${fed.errorType}: ${fed.error}`;
  if (union.status !== 'success') return `union failed: ${union.error}`;
  const f = fed.data as { resultType: string; result: unknown };
  const u = union.data as { resultType: string; result: unknown };
  if (f.resultType !== u.resultType) return `resultType ${f.resultType} != ${u.resultType}`;
  if (f.resultType === 'scalar' || f.resultType === 'string') {
    const [ft, fv] = f.result as [number, string];
    const [ut, uv] = u.result as [number, string];
    return ft === ut && sameValue(fv, uv)
      ? undefined
      : `${JSON.stringify(f.result)} != ${JSON.stringify(u.result)}`;
  }
  type S = { metric: Labels; value?: [number, string]; values?: [number, string][] };
  const fs = f.result as S[];
  const us = u.result as S[];
  if (fs.length !== us.length)
    return `${fs.length} series != ${us.length}: ${JSON.stringify(fs.map((s) => s.metric))} vs ${JSON.stringify(us.map((s) => s.metric))}`;
  const sortS = (xs: S[]) =>
    ordered ? xs : [...xs].sort((a, b) => (key(a.metric) < key(b.metric) ? -1 : 1));
  const fss = sortS(fs);
  const uss = sortS(us);
  for (let i = 0; i < fss.length; i++) {
    const a = fss[i]!;
    const b = uss[i]!;
    if (key(a.metric) !== key(b.metric)) return `series ${i}: ${key(a.metric)} != ${key(b.metric)}`;
    const ap = a.values ?? [a.value!];
    const bp = b.values ?? [b.value!];
    if (ap.length !== bp.length) return `${key(a.metric)}: ${ap.length} points != ${bp.length}`;
    for (let k = 0; k < ap.length; k++) {
      if (ap[k]![0] !== bp[k]![0] || !sameValue(ap[k]![1], bp[k]![1]))
        return `${key(a.metric)} point ${k}: ${JSON.stringify(ap[k])} != ${JSON.stringify(bp[k])}`;
    }
  }
  return undefined;
}

/** The warning of an answer whose ranges the hub's engine (Prometheus 3) evaluated over Prometheus 2 samples. */
const LEFT_OPEN =
  /^the hub's engine \(Prometheus 3\.\d+\.\d+\) evaluated ranges of this query with left-open ranges, while (ap-south|eu-west|us-east) 2\.42\.\S+(, (ap-south|eu-west|us-east) 2\.42\.\S+)* close them/;

async function blackholeServer(): Promise<Server> {
  const s = createServer((sock) => {
    // Accept and say nothing, like a Prometheus stuck on a huge query.
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((r) => s.listen(BLACKHOLE_LISTEN.port, BLACKHOLE_LISTEN.host, r));
  return s;
}

async function setPrometheusURL(cluster: string, url: string): Promise<void> {
  const r = await kubectl(
    [
      '--context',
      'hub',
      'patch',
      'cluster',
      cluster,
      '--type',
      'merge',
      '-p',
      JSON.stringify({ spec: { observability: { prometheusURL: url } } }),
    ],
    fleet,
  );
  assert.equal(r.code, 0, r.stderr);
}

describe('fleet metrics (Prometheus HTTP API over three members)', { timeout: 900_000 }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-metrics-test-'));
    await ensurePromql();
    CLUSTERS.forEach((c, i) => createBlocks(dir, c.name, openMetrics(shape, [i], false)));
    createBlocks(dir, 'union', openMetrics(shape, [0, 1, 2], true));
    const started = await Promise.all([
      ...CLUSTERS.map((c) =>
        startPrometheus(dir, c.name, c.listen, c.name === 'us-east' ? US_EAST_EXTERNAL : {}),
      ),
      startPrometheus(dir, 'union', UNION_LISTEN),
    ]);
    CLUSTERS.forEach((c, i) => proms.set(c.name, started[i]!));
    proms.set('union', started[3]!);
    for (const [i, c] of CLUSTERS.entries()) await remoteWrite(c.listen, [flappy({ instance: `i-${i}` })]);
    await remoteWrite(
      UNION_LISTEN,
      CLUSTERS.map((c, i) => flappy({ instance: `i-${i}`, cluster: c.name, region: c.region })),
    );
    const usEast = CLUSTERS.find((c) => c.name === 'us-east')!;
    await remoteWrite(usEast.listen, REPLICA_SERIES.map(replicaSeries));
    await remoteWrite(
      UNION_LISTEN,
      REPLICA_SERIES.map((l) => replicaSeries({ ...l, cluster: usEast.name, region: usEast.region })),
    );
    await fleetUp(fleet, CLUSTERS.length);
    hub = await startHub(fleet, 'metrics-hub', HUB_PORT, [
      '--metrics-member-timeout',
      `${MEMBER_TIMEOUT_MS}ms`,
      '--metrics-max-central-samples',
      String(MAX_CENTRAL_SAMPLES),
    ]);
    await joinMembers(
      fleet,
      CLUSTERS.map((c) => c.name),
      { prometheusUrl: (m) => `http://${CLUSTERS.find((c) => c.name === m)!.listen}` },
    );
    token = await serviceAccountToken(fleet, 'metrics-viewer', 'meridian-viewer');
    // The workloads of PODS: app2 deployed by Meridian (revision 1), cache applied directly.
    // The namespace first: kubectl apply creating it while the deploy service does fails with
    // AlreadyExists.
    for (const c of CLUSTERS) {
      await applyDocs(fleet, c.name, [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
        cacheDeployment,
      ]);
    }
    const [, app2Deployment, app2Service] = app2Workload(0);
    await applyApplication(fleet, 'shop', {
      destinationNamespace: 'shop',
      placement: { clusters: CLUSTERS.map((c) => c.name) },
      source: { manifests: [app2Deployment, app2Service] },
    });
    await waitFor('the hub to see all three members and load its engine', 120_000, async () => {
      const r = await fleetApi('/api/v1/label/cluster/values', {});
      const v = r.body.data as string[] | undefined;
      return r.status === 200 && v?.length === 3 ? true : undefined;
    });
    // The hub's pod resolver is the topology's: wait until it shows both workloads everywhere.
    await waitFor('app2 (revision 1) and cache in every member', 180_000, async () => {
      const r = await fleetApi('/api/v1/topology', {});
      type Apps = { clusters?: { name: string; apps: { app: string; revision?: string }[] }[] };
      const t = r.body as unknown as Apps;
      const ready = CLUSTERS.every((c) => {
        const apps = t.clusters?.find((x) => x.name === c.name)?.apps ?? [];
        return (
          apps.some((a) => a.app === 'app2' && a.revision === '1') && apps.some((a) => a.app === 'cache')
        );
      });
      return ready ? true : undefined;
    });
  });

  after(async () => {
    if (hub) writeFileSync(join(tmpdir(), 'meridian-metrics-test-hub.log'), hub.logs());
    await hub?.stop('SIGKILL');
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => (blackhole ? blackhole.close(() => r()) : r()));
    await Promise.all([...proms.values()].map((p) => p.stop()));
    await tearDownFleet(fleet);
    rmSync(dir, { recursive: true, force: true });
  });

  test('every instant query in the corpus answers as one Prometheus holding every cluster', async () => {
    const wrong: string[] = [];
    for (const [q, mode] of INSTANT) {
      const [fed, union] = await Promise.all([
        fleetApi('/api/v1/query', { query: q, time: sec(T) }),
        unionApi('/api/v1/query', { query: q, time: sec(T) }),
      ]);
      if (fed.mode !== mode && !['1 + 1', 'time()'].includes(q))
        wrong.push(`${q}: answered by ${fed.mode}, expected ${mode}`);
      const d = difference(fed.body, union.body, false);
      if (d) wrong.push(`${q} (${fed.mode}): ${d}`);
      // The members are Prometheus 2: where the hub's engine reads raw samples its answer says
      // that its ranges are left-open (the corpus keeps samples off range boundaries).
      const unexpected = (fed.body.warnings ?? []).filter(
        (w) => fed.mode !== 'central' || !LEFT_OPEN.test(w),
      );
      if (unexpected.length) wrong.push(`${q}: unexpected warnings ${unexpected.join('; ')}`);
    }
    for (const q of ORDERED) {
      const [fed, union] = await Promise.all([
        fleetApi('/api/v1/query', { query: q, time: sec(T) }),
        unionApi('/api/v1/query', { query: q, time: sec(T) }),
      ]);
      const d = difference(fed.body, union.body, true);
      if (d) wrong.push(`${q} (ordered): ${d}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('range queries, POSTed as Grafana sends them, answer as the union does', async () => {
    const wrong: string[] = [];
    for (const q of RANGE) {
      const params = { query: q, start: sec(T - 1800_000), end: sec(T), step: '60' };
      const [fed, union] = await Promise.all([
        fleetApi('/api/v1/query_range', params, 'POST'),
        unionApi('/api/v1/query_range', params),
      ]);
      const d = difference(fed.body, union.body, true);
      if (d) wrong.push(`${q} (${fed.mode}): ${d}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('series that end and come back: absent, *_over_time and subqueries answer as the union does', async () => {
    const range = { start: sec(W0 + 61_000), end: sec(W0 + 17 * 60_000 + 1_000), step: '15' };
    const queries = CORPUS.staleness;
    const wrong: string[] = [];
    for (const [q, mode] of queries) {
      const [fed, union] = await Promise.all([
        fleetApi('/api/v1/query_range', { query: q, ...range }, 'POST'),
        unionApi('/api/v1/query_range', { query: q, ...range }),
      ]);
      if (fed.mode !== mode) wrong.push(`${q}: answered by ${fed.mode}, expected ${mode}`);
      const d = difference(fed.body, union.body, false);
      if (d) wrong.push(`${q} (${fed.mode}): ${d}`);
      // The union itself shows the flapping: absent() fires in every odd minute.
      if (q === 'absent(flappy_bytes)') {
        const points = ((union.body.data as { result: { values: unknown[] }[] }).result[0]?.values ?? [])
          .length;
        if (points < 25) wrong.push(`the union's absent(flappy_bytes) fired at ${points} steps only`);
      }
    }
    // Instant queries in an odd minute (ended) and an even one (back).
    for (const t of [W0 + 3 * 60_000 + 31_000, W0 + 4 * 60_000 + 31_000]) {
      for (const q of [
        'absent(flappy_bytes)',
        'label_replace(flappy_bytes, "x", "y", "", "")',
        'sum(flappy_bytes)',
      ]) {
        const [fed, union] = await Promise.all([
          fleetApi('/api/v1/query', { query: q, time: sec(t) }),
          unionApi('/api/v1/query', { query: q, time: sec(t) }),
        ]);
        const d = difference(fed.body, union.body, false);
        if (d) wrong.push(`${q} at W0+${(t - W0) / 1000}s (${fed.mode}): ${d}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test('series, label names and label values answer as the union does', async () => {
    const range = { start: sec(startMs), end: sec(T) };
    const cases: [string, Record<string, string | string[]>][] = [
      ['/api/v1/series', { 'match[]': 'memory_bytes', ...range }],
      [
        '/api/v1/series',
        {
          'match[]': ['http_requests_total{cluster="us-east",code="500"}', 'memory_bytes{region="ap-south"}'],
          ...range,
        },
      ],
      ['/api/v1/labels', range],
      ['/api/v1/labels', { 'match[]': 'memory_bytes', ...range }],
      ['/api/v1/label/cluster/values', range],
      ['/api/v1/label/region/values', { 'match[]': '{cluster=~"eu-west|ap-south"}', ...range }],
      ['/api/v1/label/job/values', range],
      ['/api/v1/label/__name__/values', { 'match[]': '{cluster="eu-west"}', ...range }],
      ['/api/v1/label/le/values', { 'match[]': 'request_duration_seconds_bucket', ...range }],
      ['/api/v1/series', { 'match[]': 'pod_memory_bytes', ...range }],
      ['/api/v1/series', { 'match[]': '{app="app2"}', ...range }],
      ['/api/v1/labels', { 'match[]': 'pod_memory_bytes', ...range }],
      ['/api/v1/labels', { 'match[]': '{app="cache"}', ...range }],
      ['/api/v1/labels', { 'match[]': 'memory_bytes', ...range }],
      ['/api/v1/label/app/values', range],
      ['/api/v1/label/revision/values', range],
      ['/api/v1/label/app/values', { 'match[]': '{cluster="eu-west", revision="1"}', ...range }],
      ['/api/v1/label/pod/values', { 'match[]': '{app="cache"}', ...range }],
    ];
    const wrong: string[] = [];
    for (const [path, params] of cases) {
      const [fed, union] = await Promise.all([fleetApi(path, params), unionApi(path, params)]);
      const norm = (d: unknown): string[] =>
        (d as unknown[]).map((x) => (typeof x === 'string' ? x : key(x as Labels))).sort();
      if (fed.status !== 200) wrong.push(`${path} ${JSON.stringify(params)}: ${JSON.stringify(fed.body)}`);
      else if (JSON.stringify(norm(fed.body.data)) !== JSON.stringify(norm(union.body.data)))
        wrong.push(
          `${path} ${JSON.stringify(params)}: ${JSON.stringify(fed.body.data)} != ${JSON.stringify(union.body.data)}`,
        );
    }
    assert.deepEqual(wrong, []);
    const post = await fleetApi('/api/v1/series', { 'match[]': 'memory_bytes{cluster="eu-west"}' }, 'POST');
    assert.equal((post.body.data as unknown[]).length, 4);
  });

  test('buildinfo tells Grafana which Prometheus engine answers', async () => {
    const r = await fleetApi('/api/v1/status/buildinfo', {});
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'success');
    assert.match((r.body.data as unknown as { version: string }).version, /^3\.\d+\.\d+$/);
  });

  test('bad queries get the errors Prometheus gives, and a too-costly central query a clear 422', async () => {
    const cases: [string, Record<string, string>][] = [
      ['/api/v1/query', { query: 'sum(rate(x[5m])' }],
      ['/api/v1/query', { query: 'foo{', time: sec(T) }],
      ['/api/v1/query', { query: 'up', time: 'yesterday' }],
      ['/api/v1/query_range', { query: 'up', start: sec(T), end: sec(T - 60_000), step: '15' }],
      ['/api/v1/query_range', { query: 'up', start: sec(T - 60_000), end: sec(T), step: '0' }],
      ['/api/v1/query_range', { query: 'up', start: sec(T - 86_400_000), end: sec(T), step: '1' }],
      ['/api/v1/query_range', { query: 'memory_bytes[5m]', start: sec(T - 60_000), end: sec(T), step: '15' }],
      ['/api/v1/series', {}],
      ['/api/v1/series', { 'match[]': 'up{' }],
    ];
    for (const [path, params] of cases) {
      const [fed, union] = await Promise.all([fleetApi(path, params), unionApi(path, params)]);
      assert.equal(fed.status, 400, `${path} ${JSON.stringify(params)}: ${JSON.stringify(fed.body)}`);
      assert.equal(fed.body.errorType, 'bad_data');
      assert.equal(union.status, 400);
      assert.equal(fed.body.error, union.body.error, `${path} ${JSON.stringify(params)}`);
    }
    const badName = await fleetApi('/api/v1/label/not-a-label/values', {});
    assert.equal(badName.status, 400);
    const costly = await fleetApi('/api/v1/query', {
      // A subquery stays in the hub, so this needs 2 h of every raw sample.
      query: 'max_over_time(sum(count_over_time({__name__=~".+"}[2h]))[1m:1m])',
      time: sec(T),
    });
    assert.equal(costly.status, 422, JSON.stringify(costly.body));
    assert.equal(costly.body.errorType, 'execution');
    assert.match(costly.body.error ?? '', /more than 30000 samples/);
  });

  test("a query any member refuses fails whole with the union's status, errorType and message", async () => {
    // [query, how the hub answers it]: refused by every member, by one member only (the others'
    // series would make a plausible partial answer), by members running a central query's
    // partitionable part, and by the hub's own engine.
    const cases = CORPUS.refused;
    const wrong: string[] = [];
    for (const [q, mode] of cases) {
      for (const [path, params] of [
        ['/api/v1/query', { query: q, time: sec(T) }],
        ['/api/v1/query_range', { query: q, start: sec(T - 600_000), end: sec(T), step: '60' }],
      ] as const) {
        const [fed, union] = await Promise.all([fleetApi(path, params, 'POST'), unionApi(path, params)]);
        const seen = `${path} ${q} (${fed.mode}): ${fed.status} ${JSON.stringify(fed.body)}`;
        if (union.status !== 422) wrong.push(`${path} ${q}: the union answered ${union.status}`);
        if ((fed.mode ?? 'planner') !== mode) wrong.push(`${seen}: expected ${mode}`);
        if (fed.status !== union.status || fed.body.errorType !== union.body.errorType)
          wrong.push(`${seen} != ${union.status} ${union.body.errorType}`);
        if (fed.body.error !== union.body.error) wrong.push(`${seen}: message != ${union.body.error}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test("a series' own label named like its member's external label survives the raw-sample path", async () => {
    const t = W0 + 10 * 60_000 + 1_000;
    const wrong: string[] = [];
    for (const q of [
      'label_replace(replica_bytes, "cluster", "all", "", "")',
      'label_replace(replica_bytes{replica="r1"}, "cluster", "all", "", "")',
      'label_replace(replica_bytes{replica=""}, "cluster", "all", "", "")',
    ]) {
      const [fed, union] = await Promise.all([
        fleetApi('/api/v1/query', { query: q, time: sec(t) }),
        unionApi('/api/v1/query', { query: q, time: sec(t) }),
      ]);
      if (fed.mode !== 'central') wrong.push(`${q}: answered by ${fed.mode}, expected central`);
      const d = difference(fed.body, union.body, false);
      if (d) wrong.push(`${q}: ${d}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('a central query takes only the names its Prometheus 2 members take, refused with their texts', async () => {
    const cases: [string, 'pushdown' | 'central'][] = [
      ['{"memory_bytes"}', 'pushdown'],
      ['sum({"memory_bytes"})', 'central'],
      ['sum by ("job") (memory_bytes)', 'central'],
      ['memory_bytes / on ("instance") group_left sum by (instance) (memory_bytes)', 'central'],
      ['label_replace(sum by (job) (memory_bytes), "1bad", "x", "", "")', 'central'],
      ['label_replace(sum by (job) (memory_bytes), "a.b", "x", "", "")', 'central'],
      ['label_join(sum by (job) (memory_bytes), "a.b", ",", "job")', 'central'],
      ['count_values("a.b", sum by (job) (memory_bytes))', 'central'],
    ];
    const wrong: string[] = [];
    for (const [q, mode] of cases) {
      const params = { query: q, time: sec(T) };
      const [fed, union] = await Promise.all([
        fleetApi('/api/v1/query', params),
        unionApi('/api/v1/query', params),
      ]);
      const seen = `${q}: ${fed.status} ${JSON.stringify(fed.body)}`;
      if (union.status === 200) wrong.push(`${q}: the union answered 200`);
      if (fed.mode !== mode && fed.mode !== null) wrong.push(`${seen}: expected ${mode}`);
      if (fed.status !== union.status || fed.body.errorType !== union.body.errorType)
        wrong.push(`${seen} != ${union.status} ${union.body.errorType}`);
      if (fed.body.error !== union.body.error) wrong.push(`${seen}: message != ${union.body.error}`);
    }
    assert.deepEqual(wrong, []);
  });

  test("answers say where the hub's Prometheus 3 engine read the Prometheus 2 members' samples with its own ranges", async () => {
    const cases: [string, 'pushdown' | 'central', boolean][] = [
      ['rate(http_requests_total[5m])', 'pushdown', false],
      ['max_over_time(rate(http_requests_total[5m])[30m:1m])', 'pushdown', false],
      // The members compute rate(…) per cluster; the hub only adds up their points.
      ['sum(rate(http_requests_total[5m]))', 'central', false],
      // A subquery and absent() stay in the hub, over raw samples.
      ['max_over_time(sum(rate(http_requests_total[1m]))[3m:20s])', 'central', true],
      ['absent(memory_bytes{job="nope"})', 'central', true],
    ];
    for (const [q, mode, warned] of cases) {
      const r = await fleetApi('/api/v1/query', { query: q, time: sec(T) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.mode, mode, q);
      const w = (r.body.warnings ?? []).filter((x) => LEFT_OPEN.test(x));
      assert.equal(w.length, warned ? 1 : 0, `${q}: ${JSON.stringify(r.body.warnings)}`);
    }
  });

  test('partial_response is read as Thanos reads it', async () => {
    const bad = await fleetApi('/api/v1/query', {
      query: 'memory_bytes',
      time: sec(T),
      partial_response: 'maybe',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errorType, 'bad_data');
    const fine = await fleetApi('/api/v1/query', {
      query: 'memory_bytes',
      time: sec(T),
      partial_response: 'false',
    });
    assert.equal(fine.status, 200, JSON.stringify(fine.body));
  });

  test('requires a token, and RBAC on metrics.observe.meridian.dev', async () => {
    const anonymous = await fetch(`http://127.0.0.1:${HUB_PORT}/api/v1/query?query=up`);
    assert.equal(anonymous.status, 401);
    const nobody = await serviceAccountToken(fleet, 'metrics-nobody', undefined);
    const denied = await fleetApi('/api/v1/query', { query: 'up' }, 'GET', nobody);
    assert.equal(denied.status, 403);
  });

  test('a cluster that never answers delays the answer only by its timeout, and is named in a warning', async () => {
    blackhole = await blackholeServer();
    await setPrometheusURL('us-east', `http://${BLACKHOLE_LISTEN.host}:${BLACKHOLE_LISTEN.port}`);
    try {
      await waitFor('the hub to ask the frozen endpoint', 30_000, async () => {
        const r = await fleetApi('/api/v1/query', { query: 'sum by (cluster) (memory_bytes)', time: sec(T) });
        return r.body.warnings?.some((w) => w.includes('us-east')) ? true : undefined;
      });
      for (const q of ['sum by (cluster) (memory_bytes)', 'sum(memory_bytes)']) {
        const started = performance.now();
        const r = await fleetApi('/api/v1/query', { query: q, time: sec(T) });
        const took = performance.now() - started;
        assert.equal(r.status, 200);
        assert.ok(took >= MEMBER_TIMEOUT_MS - 100, `${q}: answered in ${took} ms, before the timeout`);
        assert.ok(
          took < MEMBER_TIMEOUT_MS + 3000,
          `${q}: took ${took} ms, well beyond the ${MEMBER_TIMEOUT_MS} ms timeout`,
        );
        assert.match(
          r.body.warnings?.join('\n') ?? '',
          /cluster "us-east" did not answer \(no answer within 5 s\)/,
        );
        const without = q.replace('memory_bytes', 'memory_bytes{cluster!="us-east"}');
        const union = await unionApi('/api/v1/query', { query: without, time: sec(T) });
        assert.equal(difference(r.body, union.body, false), undefined, q);
      }
    } finally {
      await setPrometheusURL('us-east', `http://${CLUSTERS[1].listen}`);
      await waitFor('the hub to ask us-east at its own Prometheus again', 30_000, async () => {
        const r = await fleetApi('/api/v1/query', { query: 'memory_bytes', time: sec(T) });
        return r.status === 200 && !r.body.warnings?.length ? true : undefined;
      });
    }
  });

  test('a cluster whose Prometheus is down is left out with a warning; the answer still succeeds', async () => {
    await proms.get('eu-west')!.stop();
    try {
      for (const q of [
        'memory_bytes',
        'sum(memory_bytes)',
        'sum by (cluster) (rate(http_requests_total[5m]))',
      ]) {
        const r = await fleetApi('/api/v1/query', { query: q, time: sec(T) });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.match(r.body.warnings?.join('\n') ?? '', /cluster "eu-west" did not answer/);
        const without = q.replace(/(memory_bytes|http_requests_total)/, '$1{cluster!="eu-west"}');
        const union = await unionApi('/api/v1/query', { query: without, time: sec(T) });
        assert.equal(difference(r.body, union.body, false), undefined, q);
      }
      // Without partial answers the same queries fail, as Thanos' partial_response=false does.
      for (const [path, params] of [
        ['/api/v1/query', { query: 'memory_bytes', time: sec(T) }],
        ['/api/v1/query', { query: 'sum(memory_bytes)', time: sec(T) }],
        ['/api/v1/query_range', { query: 'memory_bytes', start: sec(T - 600_000), end: sec(T), step: '60' }],
        ['/api/v1/series', { 'match[]': 'memory_bytes' }],
        ['/api/v1/labels', {}],
      ] as const) {
        const strict = await fleetApi(path, { ...params, partial_response: 'false' });
        assert.equal(strict.status, 503, `${path}: ${JSON.stringify(strict.body)}`);
        assert.equal(strict.body.errorType, 'unavailable');
        assert.match(strict.body.error ?? '', /partial response disabled .*cluster "eu-west"/);
      }
      const only = await fleetApi('/api/v1/query', {
        query: 'memory_bytes{cluster="eu-west"}',
        time: sec(T),
      });
      assert.equal(only.status, 503);
      assert.equal(only.body.errorType, 'unavailable');
      assert.match(only.body.error ?? '', /eu-west/);
    } finally {
      proms.set('eu-west', await startPrometheus(dir, 'eu-west', CLUSTERS[0].listen));
    }
  });
});
