// Benchmark: the hub's traces service on a local fleet (hub + 1 member, hub API on 127.0.0.1:18343).
// - OTLP ingest: BENCH_SPANS spans (default 1,000,000) as OTLP/HTTP protobuf batches of 512 spans
//   (64 traces × 8 spans across 4 services in 2 clusters, ~8 attributes a span, the resource of
//   each service once per batch, as an SDK's BatchSpanProcessor sends them), 4 requests in flight,
//   each authenticated like any client. Reported: spans per second of wall time and per second of
//   hub CPU time (user + system of the hub process from /proc, all threads), the anchor being the
//   OpenTelemetry Collector's published ~12k spans/s per CPU.
// - Search latency over the BENCH_SPANS stored spans: by trace id, by service + cluster, by
//   min duration + error, and the service graph of the last 5 minutes; p50/p99 of client-side
//   HTTP latency (includes authentication, cached by the hub).
// Loopback only (subnet 127.75.0); the fleet is torn down on failure too.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import generated from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import { processCpuSeconds } from './process-cpu.ts';
import {
  cli,
  fleetUp,
  kubectl,
  newFleetHome,
  serviceAccountToken,
  startHub,
  waitFor,
  type HubProcess,
} from '../test/support/harness.ts';

const TOTAL = Number(process.env['BENCH_SPANS'] ?? 1_000_000);
const BATCH = 512;
const SPANS_PER_TRACE = 8;
const IN_FLIGHT = 4;
const PORT = 18343;
const BASE = `http://127.0.0.1:${PORT}`;
const fleet = newFleetHome('127.75.0');
const dataDir = mkdtempSync(join(tmpdir(), 'meridian-bench-traces-'));
let hub: HubProcess | undefined;

const Request = (
  generated as unknown as {
    opentelemetry: {
      proto: {
        collector: {
          trace: { v1: { ExportTraceServiceRequest: { encode(m: object): { finish(): Uint8Array } } } };
        };
      };
    };
  }
).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

const progress = (msg: string): void => {
  process.stderr.write(`[traces bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};
const str = (key: string, v: string) => ({ key, value: { stringValue: v } });
const int = (key: string, v: number) => ({ key, value: { intValue: v } });

const SERVICES = [
  { name: 'frontend', cluster: 'eu-west' },
  { name: 'cart', cluster: 'eu-west' },
  { name: 'cart', cluster: 'us-east' },
  { name: 'db', cluster: 'us-east' },
] as const;

function resource(s: (typeof SERVICES)[number]) {
  return {
    attributes: [
      str('service.name', s.name),
      str('service.version', '1.4.2'),
      str('k8s.cluster.name', s.cluster),
      str('k8s.namespace.name', 'shop'),
      str('k8s.pod.name', `${s.name}-7f9c6d5b8-x2k4q`),
      str('telemetry.sdk.language', 'nodejs'),
      str('telemetry.sdk.name', 'opentelemetry'),
      str('telemetry.sdk.version', '2.7.1'),
    ],
  };
}

const id = (n: number, bytes: number): Buffer => {
  const b = Buffer.alloc(bytes);
  b.writeUInt32BE(n >>> 0, bytes - 4);
  b.writeUInt32BE(Math.floor(n / 2 ** 32) + 1, bytes - 8);
  return b;
};

/** One batch: 64 traces of 8 spans (frontend → cart eu/us → db), trace k starting at startMs(k). */
function batch(first: number, startMs: (k: number) => number): Uint8Array {
  const perService: object[][] = SERVICES.map(() => []);
  for (let k = first; k < first + BATCH / SPANS_PER_TRACE; k++) {
    const t0 = BigInt(Math.round(startMs(k) * 1000)) * 1000n;
    const traceId = id(k, 16);
    const remote = k % 3 === 0; // a third of checkouts go to the cart in the other cluster
    const cart = remote ? 2 : 1;
    const failed = k % 50 === 0;
    const span = (
      n: number,
      parent: number | undefined,
      name: string,
      kind: number,
      startUs: number,
      durUs: number,
    ) => ({
      traceId,
      spanId: id(k * SPANS_PER_TRACE + n, 8),
      parentSpanId: parent === undefined ? undefined : id(k * SPANS_PER_TRACE + parent, 8),
      name,
      kind,
      startTimeUnixNano: (t0 + BigInt(startUs) * 1000n).toString(),
      endTimeUnixNano: (t0 + BigInt(startUs + durUs) * 1000n).toString(),
      attributes: [
        str('http.request.method', kind === 3 ? 'POST' : 'GET'),
        str('http.route', name),
        int('http.response.status_code', failed && n >= 2 ? 500 : 200),
        str('url.scheme', 'http'),
        str('server.address', `${name.split(' ')[0]}.shop.svc.cluster.local`),
        int('server.port', 8080),
        str('user_agent.original', 'Mozilla/5.0 (X11; Linux x86_64)'),
        str('network.protocol.version', '1.1'),
      ],
      status: failed && n >= 2 ? { code: 2, message: 'upstream failed' } : { code: 0 },
    });
    const slow = k % 100 === 0 ? 900_000 : 0;
    perService[0]!.push(
      span(0, undefined, 'GET /checkout', 2, 0, 40_000 + slow),
      span(1, 0, 'POST cart', 3, 1_000, 30_000 + slow),
      span(2, 0, 'render', 1, 32_000, 5_000),
    );
    perService[cart]!.push(
      span(3, 1, 'POST /cart', 2, 2_000, 27_000 + slow),
      span(4, 3, 'SELECT cart', 3, 3_000, 20_000 + slow),
      span(5, 3, 'price', 1, 24_000, 2_000),
    );
    perService[3]!.push(
      span(6, 4, 'SELECT cart', 2, 4_000, 18_000 + slow),
      span(7, 6, 'read pages', 1, 5_000, 10_000),
    );
  }
  return Request.encode({
    resourceSpans: SERVICES.map((s, i) => ({
      resource: resource(s),
      scopeSpans: [
        { scope: { name: '@opentelemetry/instrumentation-http', version: '0.216.0' }, spans: perService[i] },
      ],
    })),
  }).finish();
}

async function main(): Promise<string[]> {
  const load0 = loadavg();
  progress('fleet up (hub + 1 member)');
  await fleetUp(fleet, 1);
  const applied = await kubectl(
    ['--context', 'hub', 'apply', '-f', '-'],
    fleet,
    stringify({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'bench-traces' },
      rules: [{ apiGroups: ['observe.meridian.dev'], resources: ['traces'], verbs: ['create', 'get'] }],
    }),
  );
  if (applied.code !== 0) throw new Error(`ClusterRole bench-traces: ${applied.stderr}`);
  const token = await serviceAccountToken(fleet, 'bench-traces', 'bench-traces');
  hub = await startHub(fleet, 'traces-bench', PORT, ['--data-dir', dataDir, '--trace-max-bytes', '8Gi']);
  const pid = hub.child.pid!;
  const auth = { Authorization: `Bearer ${token}` };
  await waitFor('traces API', 60_000, async () =>
    (await fetch(`${BASE}/api/v1/traces`, { headers: auth })).ok ? true : undefined,
  );

  // Traces spread over the last 50 minutes, so a 1 h search window holds all of them.
  const traces = TOTAL / SPANS_PER_TRACE;
  const begin = Date.now() - 50 * 60_000;
  const startMs = (k: number): number => begin + (k / traces) * 50 * 60_000;
  const batches = Math.ceil(TOTAL / BATCH);
  progress(`encoding ${batches} batches of ${BATCH} spans`);
  const bodies: Uint8Array[] = [];
  for (let b = 0; b < batches; b++) bodies.push(batch((b * BATCH) / SPANS_PER_TRACE, startMs));
  const bytes = bodies.reduce((n, b) => n + b.length, 0);

  // One request first, so the hub's authentication cache is warm before 4 arrive at once.
  const warm = await fetch(`${BASE}/v1/traces`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/x-protobuf' },
    body: batch(traces, startMs),
  });
  if (warm.status !== 200) throw new Error(`warm-up batch: ${warm.status} ${await warm.text()}`);
  progress(`ingesting ${TOTAL} spans`);
  const cpu0 = processCpuSeconds(pid);
  const t0 = performance.now();
  let next = 0;
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const r = await fetch(`${BASE}/v1/traces`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/x-protobuf' },
          body,
        });
        const answer = Buffer.from(await r.arrayBuffer());
        if (r.status !== 200 || answer.length > 0)
          failures.push(`${r.status} ${answer.toString().slice(0, 200)}`);
      }
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = processCpuSeconds(pid) - cpu0;
  if (failures.length > bodies.length / 100)
    throw new Error(`${failures.length} batches failed, e.g. ${failures[0]}`);
  progress(`ingested in ${wallS.toFixed(1)} s, hub CPU ${cpuS.toFixed(1)} s`);

  const time = async (path: string, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const p = path.replace('{id}', () => id(Math.floor(Math.random() * traces), 16).toString('hex'));
      const s = performance.now();
      const r = await fetch(`${BASE}${p}`, { headers: auth });
      const body = await r.text();
      out.push(performance.now() - s);
      if (r.status !== 200) throw new Error(`${p}: ${r.status} ${body.slice(0, 200)}`);
    }
    return out;
  };
  const f = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms`;
  progress('query latency');
  const byId = await time('/api/v1/traces/{id}', 300);
  const byService = await time('/api/v1/traces?service=cart&cluster=us-east&limit=20', 100);
  const oldest = new Date(begin + 60_000).toISOString();
  const byServiceOld = await time(`/api/v1/traces?service=cart&cluster=us-east&end=${oldest}&limit=20`, 100);
  const slowFailed = await time('/api/v1/traces?minDuration=500ms&error=true&limit=20', 100);
  const graph = await time(
    '/api/v1/traces/graph?start=' + new Date(Date.now() - 5 * 60_000).toISOString(),
    10,
  );
  const size = (f: string): number => (existsSync(f) ? statSync(f).size : 0);
  const dbBytes = size(join(dataDir, 'traces.db'));
  const walBytes = size(join(dataDir, 'traces.db-wal'));
  const load1 = loadavg();
  return [
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')}`,
    `payload: OTLP/HTTP protobuf, ${batches} batches of ${BATCH} spans, ${(bytes / batches / 1024).toFixed(1)} KiB a batch (${(bytes / TOTAL).toFixed(0)} bytes a span), ${IN_FLIGHT} in flight, no compression`,
    `failed batches: ${failures.length}${failures.length ? ` (e.g. ${failures[0]})` : ''}`,
    `ingest: ${TOTAL} spans in ${wallS.toFixed(1)} s wall = ${Math.round(TOTAL / wallS)} spans/s; hub CPU ${cpuS.toFixed(1)} s = ${Math.round(TOTAL / cpuS)} spans/s per core (anchor: Collector ~12,000)`,
    `store: ${(dbBytes / 2 ** 20).toFixed(0)} MiB SQLite file (+ ${(walBytes / 2 ** 20).toFixed(0)} MiB WAL) for ${TOTAL} spans (${(dbBytes / TOTAL).toFixed(0)} bytes a span)`,
    `by trace id (8 spans, random among ${traces}): ${f(byId)}`,
    `search service=cart&cluster=us-east, last hour, limit 20 (newest first): ${f(byService)}`,
    `search service=cart&cluster=us-east ending at the oldest minute, limit 20: ${f(byServiceOld)}`,
    `search minDuration=500ms&error=true, last hour, limit 20: ${f(slowFailed)}`,
    `service graph of the last 5 minutes (~${Math.round(TOTAL / 10)} spans): ${f(graph)}`,
  ];
}

let stopping = false;
async function cleanup(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await hub?.stop().catch(() => hub?.child.kill('SIGKILL'));
  const down = await cli(['fleet', 'down'], fleet.env).catch((e: unknown) => ({
    code: -1,
    stderr: String(e),
  }));
  if (down.code !== 0) progress(`fleet down failed: ${down.stderr}`);
  rmSync(fleet.home, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => void cleanup().finally(() => process.exit(130)));

let lines: string[] = [];
try {
  lines = await main();
} catch (e) {
  progress(`failed; hub log tail:\n${hub?.logs().split('\n').slice(-30).join('\n') ?? ''}`);
  throw e;
} finally {
  await cleanup();
}
process.stdout.write(`${lines.join('\n')}\n`);
