// Real Prometheus servers (Debian's `prometheus` package) holding known series, for the fleet
// metrics tests and benchmark: one per member, plus one "union" server that holds every member's
// series with `cluster` and `region` labels, which is what the fleet API must be equal to.
// Series are written as OpenMetrics and loaded with `promtool tsdb create-blocks-from
// openmetrics`, so every run holds exactly the same samples.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor, type TestFleet } from './harness.ts';

export const SCRAPE_INTERVAL_MS = 15_000;
/**
 * Samples sit half an interval off the 15 s grid that queries use, so no sample ever falls on a
 * range boundary: Prometheus 2 (the members, from Debian) closes ranges at the start and
 * Prometheus 3 (the hub's engine) opens them, and the two must agree here.
 */
export const SAMPLE_OFFSET_MS = 7_500;

export interface DataShape {
  readonly clusters: readonly { name: string; region: string }[];
  /** First sample (ms, on the 15 s grid before the offset). */
  readonly startMs: number;
  readonly samples: number;
  /** http_requests_total series per cluster = jobs × instances × 2 methods × 2 codes. */
  readonly jobs: number;
  readonly instances: number;
  /**
   * Adds a gauge `legacy_bytes` whose series in the members already carry their own `cluster`
   * or `region` label (as a federating or relabelling member might); the union holds them with
   * Meridian's values instead, as the fleet must answer.
   */
  readonly ownTopologyLabels?: boolean;
  /**
   * Adds `pod_memory_bytes` and `pod_http_requests_total` series for these pods in every cluster
   * (`namespace`, `pod` labels); the union holds them with the `app` and `revision` Meridian
   * resolves for each pod, the members with the `own` labels if any (which Meridian replaces).
   */
  readonly pods?: readonly PodSeries[];
}

export interface PodSeries {
  readonly namespace: string;
  readonly pod: string;
  /** The app and revision the hub resolves for this pod in every cluster, if it knows the pod. */
  readonly app?: string;
  readonly revision?: string;
  /** Labels the member's own series carry besides namespace and pod. */
  readonly own?: Readonly<Record<string, string>>;
}

/** A small deterministic PRNG (mulberry32), so every run writes the same values. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BUCKETS = ['0.05', '0.1', '0.25', '0.5', '1', '+Inf'];

interface Family {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly series: { labels: Record<string, string>; values: number[] }[];
}

/** Every series of one cluster, without cluster labels (as the member itself would hold them). */
export function clusterFamilies(shape: DataShape, clusterIndex: number): Family[] {
  const rnd = random(1000 + clusterIndex);
  const requests: Family = { name: 'http_requests', type: 'counter', series: [] };
  const memory: Family = { name: 'memory_bytes', type: 'gauge', series: [] };
  const buckets: Family = { name: 'request_duration_seconds_bucket', type: 'gauge', series: [] };
  for (let j = 0; j < shape.jobs; j++) {
    for (let i = 0; i < shape.instances; i++) {
      const base = { job: `job-${j}`, instance: `i-${i}` };
      for (const method of ['GET', 'POST']) {
        for (const code of ['200', '500']) {
          const perStep = (code === '200' ? 10 : 1) * (1 + rnd() * 2) * (clusterIndex + 1);
          let v = 0;
          // One series resets halfway, so rate() and increase() meet a counter reset.
          const resetAt = j === 0 && i === 0 && method === 'GET' && code === '200' ? shape.samples >> 1 : -1;
          const values = Array.from({ length: shape.samples }, (_, k) => {
            v = k === resetAt ? 0 : v + Math.round(perStep * (0.5 + rnd()));
            return v;
          });
          requests.series.push({ labels: { ...base, method, code }, values });
        }
      }
      memory.series.push({
        labels: base,
        values: Array.from({ length: shape.samples }, (_, k) =>
          Math.round(1000 + 100 * clusterIndex + 400 * Math.sin(k / 20 + i) + 50 * rnd()),
        ),
      });
      const counts = BUCKETS.map(() => 0);
      const perBucket = BUCKETS.map(() => [] as number[]);
      for (let k = 0; k < shape.samples; k++) {
        // Observations spread over the buckets, slower clusters slower: cumulative counts.
        const observed = 5 + Math.floor(rnd() * 10);
        for (let o = 0; o < observed; o++) {
          const d = rnd() * (0.3 + 0.3 * clusterIndex);
          BUCKETS.forEach((le, b) => {
            if (le === '+Inf' || d <= Number(le)) counts[b]!++;
          });
        }
        BUCKETS.forEach((_, b) => perBucket[b]!.push(counts[b]!));
      }
      BUCKETS.forEach((le, b) => buckets.series.push({ labels: { ...base, le }, values: perBucket[b]! }));
    }
  }
  const families = [requests, memory, buckets];
  if (shape.pods) families.push(...podFamilies(shape, clusterIndex));
  if (!shape.ownTopologyLabels) return families;
  const legacy: Family = { name: 'legacy_bytes', type: 'gauge', series: [] };
  const own: Record<string, string>[] = [{ cluster: 'old-name' }, {}, { region: 'somewhere' }];
  for (const [i, o] of own.entries()) {
    legacy.series.push({
      labels: { job: 'legacy', instance: `i-${i}`, ...o },
      values: Array.from({ length: shape.samples }, () => Math.round(100 * (clusterIndex + 1) + 50 * rnd())),
    });
  }
  return [...families, legacy];
}

/** Index of the PodSeries a series belongs to, kept in a label the text writer replaces. */
const POD_INDEX = '__pod_index__';

function podFamilies(shape: DataShape, clusterIndex: number): Family[] {
  const rnd = random(2000 + clusterIndex);
  const memory: Family = { name: 'pod_memory_bytes', type: 'gauge', series: [] };
  const requests: Family = { name: 'pod_http_requests', type: 'counter', series: [] };
  for (const [i, p] of (shape.pods ?? []).entries()) {
    const base = { namespace: p.namespace, pod: p.pod, ...p.own, [POD_INDEX]: String(i) };
    memory.series.push({
      labels: base,
      values: Array.from({ length: shape.samples }, (_, k) =>
        Math.round(2000 + 100 * i + 300 * Math.sin(k / 15 + i + clusterIndex) + 40 * rnd()),
      ),
    });
    for (const code of ['200', '500']) {
      let v = 0;
      const perStep = (code === '200' ? 8 : 1) * (1 + i + clusterIndex);
      requests.series.push({
        labels: { ...base, code },
        values: Array.from({ length: shape.samples }, () => (v += Math.round(perStep * (0.5 + rnd())))),
      });
    }
  }
  return [memory, requests];
}

/** A series' labels as a member holds them, or with Meridian's labels as the union does. */
function seriesLabels(
  shape: DataShape,
  labels: Record<string, string>,
  cluster: { name: string; region: string },
  stamp: boolean,
): Record<string, string> {
  const { [POD_INDEX]: podIndex, ...own } = labels;
  if (!stamp) return own;
  const out: Record<string, string> = { ...own, cluster: cluster.name, region: cluster.region };
  if (podIndex === undefined) return out;
  const p = shape.pods![Number(podIndex)]!;
  delete out['app'];
  delete out['revision'];
  return { ...out, ...(p.app ? { app: p.app } : {}), ...(p.revision ? { revision: p.revision } : {}) };
}

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
}

/** OpenMetrics text for some clusters; with `stamp`, each series carries cluster and region. */
export function openMetrics(shape: DataShape, clusterIndexes: readonly number[], stamp: boolean): string {
  const perCluster = clusterIndexes.map((c) => ({ c, families: clusterFamilies(shape, c) }));
  const out: string[] = [];
  const familyCount = perCluster[0]?.families.length ?? 0;
  for (let f = 0; f < familyCount; f++) {
    const fam = perCluster[0]!.families[f]!;
    out.push(`# TYPE ${fam.name} ${fam.type}`);
    const sampleName = fam.type === 'counter' ? `${fam.name}_total` : fam.name;
    for (const { c, families } of perCluster) {
      const cl = shape.clusters[c]!;
      for (const s of families[f]!.series) {
        const lt = labelText(seriesLabels(shape, s.labels, cl, stamp));
        s.values.forEach((v, k) => {
          const t = (shape.startMs + k * SCRAPE_INTERVAL_MS + SAMPLE_OFFSET_MS) / 1000;
          out.push(`${sampleName}{${lt}} ${v} ${t.toFixed(3)}`);
        });
      }
    }
  }
  out.push('# EOF', '');
  return out.join('\n');
}

/** Writes TSDB blocks for the OpenMetrics text into `dataDir`. */
export function createBlocks(dir: string, name: string, text: string): string {
  const dataDir = join(dir, name, 'data');
  mkdirSync(dataDir, { recursive: true });
  const file = join(dir, name, 'series.om');
  writeFileSync(file, text);
  const r = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', file, dataDir], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`promtool create-blocks-from ${name}: ${r.stderr || r.error?.message}`);
  return dataDir;
}

export interface PrometheusProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts Prometheus on its data dir with no scrape targets, and waits until it is ready. */
/**
 * `externalLabels`: the server's global external_labels, which its query API leaves off series
 * and its remote-read API adds to them (as members of a Thanos setup have).
 */
export async function startPrometheus(
  dir: string,
  name: string,
  listen: string,
  externalLabels: Readonly<Record<string, string>> = {},
  /** The binary: Debian's `prometheus` (2.42) on PATH unless given (a Prometheus 3 build). */
  binary = 'prometheus',
): Promise<PrometheusProcess> {
  const config = join(dir, name, 'prometheus.yml');
  const external = Object.entries(externalLabels)
    .map(([k, v]) => `\n    ${k}: ${JSON.stringify(v)}`)
    .join('');
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1h${external ? `\n  external_labels:${external}` : ''}\nscrape_configs: []\n`,
  );
  const child = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, name, 'data')}`,
      `--web.listen-address=${listen}`,
      '--storage.tsdb.retention.time=30d',
      '--log.level=warn',
      // Series that end and come back (staleness markers) are written by test/support/remote-write.ts.
      '--web.enable-remote-write-receiver',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://${listen}`;
  await waitFor(`prometheus ${name} ready on ${listen}`, 60_000, async () => {
    if (child.exitCode !== null) throw new Error(`prometheus ${name} exited: ${err}`);
    const r = await fetch(`${url}/-/ready`);
    return r.ok ? true : undefined;
  });
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The three members' Prometheus servers and the union server of a test fleet (subnet `127.x.y`):
 * loopback addresses in its `127.x.2.z` range, on a port clear of a packaged Prometheus.
 */
type PrometheusMember = { readonly name: string; readonly region: string; readonly listen: string };

export function prometheusLayout(fleet: TestFleet): {
  clusters: readonly [PrometheusMember, PrometheusMember, PrometheusMember];
  union: string;
} {
  const [a, b] = fleet.subnet.split('.');
  const at = (host: number): string => `${a}.${b}.2.${host}:19090`;
  return {
    clusters: [
      { name: 'eu-west', region: 'eu-west', listen: at(2) },
      { name: 'us-east', region: 'us-east', listen: at(3) },
      { name: 'ap-south', region: 'ap-south', listen: at(4) },
    ],
    union: at(10),
  };
}
