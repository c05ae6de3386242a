// Fleet metrics over members of both Prometheus generations (issue 21): Debian's Prometheus 2.42
// and a Prometheus 3 built from the Go module proxy (the module the hub's engine is compiled from,
// go/promql/go.mod). Real servers on loopback (127.135.2.x), queried through fleetQuery in
// process with the real engine and the real version lookup; no Kubernetes is needed for this,
// so none is started. Skipped, saying how to build it, when the Prometheus 3 binary is absent.
//  - Members and union all Prometheus 3: the corpus answers as the union, with no warning; a
//    subquery at step-aligned times over scrape-aligned samples (where 2 and 3 differ) answers as
//    the union both pushed down and centrally.
//  - Members of both generations: answers say which clusters close ranges and which do not.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../src/logging/logger.ts';
import { fleetQuery, type FleetQueryContext } from '../src/observe/metrics/fleet-query.ts';
import type { MetricsMember } from '../src/observe/metrics/member-queries.ts';
import { MemberVersions } from '../src/observe/metrics/member-versions.ts';
import { loadPromqlEngine, type PromqlEngine } from '../src/observe/metrics/promql-engine.ts';
import { metricsCorpus } from './support/metrics-corpus.ts';
import {
  createBlocks,
  openMetrics,
  startPrometheus,
  type DataShape,
  type PrometheusProcess,
} from './support/prometheus-servers.ts';
import { remoteWrite, type WriteSeries } from './support/remote-write.ts';

/** Built with: GOBIN=<this dir> go install github.com/prometheus/prometheus/cmd/prometheus@v0.316.0 */
const PROMETHEUS3 = join(homedir(), '.cache', 'meridian', 'bin', 'prometheus-v0.316.0', 'prometheus');
const skip = existsSync(PROMETHEUS3)
  ? false
  : `no Prometheus 3 at ${PROMETHEUS3}: GOBIN=${join(PROMETHEUS3, '..')} go install github.com/prometheus/prometheus/cmd/prometheus@v0.316.0`;

const CLUSTERS = [
  { name: 'eu-west', region: 'eu-west', listen: '127.135.2.2:19090' },
  { name: 'us-east', region: 'us-east', listen: '127.135.2.3:19090' },
  { name: 'ap-south', region: 'ap-south', listen: '127.135.2.4:19090' },
] as const;
const UNION = '127.135.2.10:19090';
/** eu-west's Prometheus 2, for the mixed fleet. */
const EU_WEST_2 = '127.135.2.12:19090';

const startMs = Math.floor((Date.now() - 3 * 3600_000) / 60_000) * 60_000;
const shape: DataShape = { clusters: CLUSTERS, startMs, samples: 600, jobs: 2, instances: 2 };
const T = startMs + 2 * 3600_000 + 30_000;
// A counter scraped exactly on the 15 s grid over the last 20 minutes (remote write), so
// step-aligned subqueries put samples on their windows' starts: where Prometheus 2 and 3 differ.
const A0 = Math.floor((Date.now() - 20 * 60_000) / 60_000) * 60_000;
function aligned(labels: Record<string, string>, i: number): WriteSeries {
  const samples: [number, number][] = [];
  for (let k = 0; k <= 72; k++) samples.push([A0 + k * 15_000, k * (10 + i) + ((k * 7) % 5)]);
  return { labels: { __name__: 'aligned_total', job: 'grid', ...labels }, samples };
}
const TA = A0 + 15 * 60_000; // on the minute: every window start falls on a sample
const BOUNDARY = [
  ['max_over_time(sum(rate(aligned_total[1m]))[3m:20s])', 'central'],
  ['max_over_time(sum by (cluster) (rate(aligned_total[1m]))[3m:20s])', 'pushdown'],
  ['sum_over_time(aligned_total[1m])', 'pushdown'],
  ['sum(count_over_time(aligned_total[1m:15s]))', 'central'],
] as const;

let dir = '';
let engine: PromqlEngine | undefined;
const servers: PrometheusProcess[] = [];

const members = (eu: string = CLUSTERS[0].listen): MetricsMember[] =>
  CLUSTERS.map((c) => ({
    name: c.name,
    region: c.region,
    url: `http://${c.name === 'eu-west' ? eu : c.listen}`,
  }));

function context(): FleetQueryContext {
  const versions = new MemberVersions();
  return {
    engine: engine!,
    timeoutMs: 10_000,
    maxCentralSamples: 1_000_000,
    partialResponse: true,
    log: createLogger('test', new Writable({ write: (_c, _e, cb) => cb() })),
    versions: { hub: '3.16.0', facts: (m) => versions.facts(m) },
  };
}

interface Answer {
  status: number;
  mode?: string;
  data?: unknown;
  warnings?: string[];
  error?: string;
}

async function fleet(
  ms: MetricsMember[],
  query: string,
  start: number,
  end: number,
  step: number,
): Promise<Answer> {
  const a = await fleetQuery(context(), ms, { query, start, end, step }, AbortSignal.timeout(30_000));
  // The HTTP status, not the envelope's "success" / "error".
  return { ...(JSON.parse(a.body) as Omit<Answer, 'status' | 'mode'>), status: a.status, mode: a.mode };
}

async function union(query: string, start: number, end: number, step: number): Promise<Answer> {
  const params: Record<string, string> =
    step === 0
      ? { query, time: String(end / 1000) }
      : { query, start: String(start / 1000), end: String(end / 1000), step: String(step / 1000) };
  const res = await fetch(`http://${UNION}/api/v1/${step === 0 ? 'query' : 'query_range'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return { ...((await res.json()) as Omit<Answer, 'status'>), status: res.status };
}

type Series = { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] };
/** The answer's series in a canonical order, values as numbers (1e-12 relative, as metrics.test.ts). */
function canonical(d: unknown): string {
  const data = d as { resultType: string; result: Series[] | [number, string] };
  if (!Array.isArray(data.result) || !data.result.every((s) => typeof s === 'object'))
    return JSON.stringify(data);
  const round = (v: string) => (Number.isFinite(Number(v)) ? Number(Number(v).toPrecision(12)) : v);
  return JSON.stringify(
    (data.result as Series[])
      .map((s) => ({
        m: Object.entries(s.metric).sort(([a], [b]) => (a < b ? -1 : 1)),
        v: (s.values ?? [s.value!]).map(([t, v]) => [t, round(v)]),
      }))
      .sort((a, b) => (JSON.stringify(a.m) < JSON.stringify(b.m) ? -1 : 1)),
  );
}

describe('fleet metrics over Prometheus 2 and 3 members', { skip, timeout: 600_000 }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-metrics-generations-'));
    CLUSTERS.forEach((c, i) => createBlocks(dir, c.name, openMetrics(shape, [i], false)));
    createBlocks(dir, 'eu-west-2', openMetrics(shape, [0], false));
    createBlocks(dir, 'union', openMetrics(shape, [0, 1, 2], true));
    servers.push(
      ...(await Promise.all([
        ...CLUSTERS.map((c) => startPrometheus(dir, c.name, c.listen, {}, PROMETHEUS3)),
        startPrometheus(dir, 'union', UNION, {}, PROMETHEUS3),
        startPrometheus(dir, 'eu-west-2', EU_WEST_2),
      ])),
    );
    for (const [i, c] of CLUSTERS.entries())
      await remoteWrite(c.listen, [aligned({ instance: `i-${i}` }, i)]);
    await remoteWrite(EU_WEST_2, [aligned({ instance: 'i-0' }, 0)]);
    await remoteWrite(
      UNION,
      CLUSTERS.map((c, i) => aligned({ instance: `i-${i}`, cluster: c.name, region: c.region }, i)),
    );
    engine = await loadPromqlEngine();
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('Prometheus 3 members answer the corpus as a Prometheus 3 union, without a warning', async () => {
    const c = metricsCorpus(startMs);
    const wrong: string[] = [];
    // The pod and legacy series are not in this data: their queries answer empty on both sides.
    const asks: [string, number, number, number][] = [
      ...c.instant.map(([q]) => [q, T, T, 0] as [string, number, number, number]),
      ...c.range.map((q) => [q, T - 1800_000, T, 60_000] as [string, number, number, number]),
      ...BOUNDARY.map(([q]) => [q, TA - 600_000, TA, 60_000] as [string, number, number, number]),
      ...BOUNDARY.map(([q]) => [q, TA, TA, 0] as [string, number, number, number]),
    ];
    for (const [q, s, e, step] of asks) {
      const [f, u] = await Promise.all([fleet(members(), q, s, e, step), union(q, s, e, step)]);
      if (f.status !== u.status)
        wrong.push(`${q}: ${f.status} ${f.error ?? ''} != ${u.status} ${u.error ?? ''}`);
      else if (canonical(f.data) !== canonical(u.data)) wrong.push(`${q} (${f.mode}) differs from the union`);
      if (f.warnings?.length) wrong.push(`${q}: warnings ${f.warnings.join('; ')}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('a fleet of both generations says which clusters close ranges, on every path', async () => {
    const mixed = members(EU_WEST_2);
    for (const [q, mode] of BOUNDARY) {
      const a = await fleet(mixed, q, TA - 600_000, TA, 60_000);
      assert.equal(a.status, 200, a.error);
      assert.equal(a.mode, mode, q);
      const w = (a.warnings ?? []).join('\n');
      assert.match(
        w,
        /closed ranges: eu-west 2\.42\.\S+; left-open: us-east 3\.16\.\S+, ap-south 3\.16\.\S+/,
        q,
      );
    }
    // The boundary is real: the same subquery differs between the Prometheus 2 member's own answer
    // and the Prometheus 3 one's over the same samples.
    const q = 'max_over_time(rate(aligned_total[1m])[3m:20s])';
    const [two, three] = await Promise.all(
      [EU_WEST_2, CLUSTERS[0].listen].map(async (listen) => {
        const r = await fetch(
          `http://${listen}/api/v1/query?query=${encodeURIComponent(q)}&time=${TA / 1000}`,
        );
        return canonical(((await r.json()) as { data: unknown }).data);
      }),
    );
    assert.notEqual(two, three, 'Prometheus 2 and 3 should differ on a window that starts on a sample');
  });
});
