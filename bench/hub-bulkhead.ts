// Benchmark (issue 16): does load on the hub's data and telemetry paths delay its leader lease?
// One test fleet (hub + 1 member, 127.112.0.x), one hub process at a time, each phase 30 s:
//   idle; junk DNS (random 12-byte UDP packets) at 10× the rate of real queries; OTLP batches of
//   20,000 spans (4 writers in a loop); PromQL queries at the complexity limit (4 in a loop).
// The DNS phase runs twice, with the DNS in the hub process (`--dns-workers 0`) and in one worker
// process (the default), same run. Reported per phase: the gaps between the Lease's renewals
// (the hub renews every 2 s; a gap over the lease duration, 10 s, loses leadership), the hub's
// event-loop delay (prom-client's nodejs_eventloop_lag_max/p99 over the phase), and what the
// load got done (real DNS answers per second, spans stored, queries answered).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { rmSync } from 'node:fs';
import { decode, encode } from 'dns-packet';
import { processesMentioning } from '../src/localfleet/processes.ts';
import { freePort } from '../test/support/free-port.ts';
import {
  cli,
  fleetUp,
  joinMembers,
  metricsToken,
  newFleetHome,
  serviceAccountToken,
  startHub,
  type HubProcess,
  type TestFleet,
} from '../test/support/harness.ts';

const PHASE_MS = Number(process.env['BENCH_PHASE_MS'] ?? 30_000);
const DNS_ADDRESS = '127.112.0.1';
const fleet: TestFleet = newFleetHome('127.112.0');

interface Phase {
  readonly name: string;
  readonly gaps: number[];
  readonly lagMaxMs: number;
  readonly lagP99Ms: number;
  readonly done: string;
}

function post(port: number, path: string, token: string, body: Buffer, type: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        headers: { authorization: `Bearer ${token}`, 'content-type': type, 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.setTimeout(60_000, () => req.destroy());
    req.end(body);
  });
}

function get(port: number, path: string, token: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let t = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (t += d));
        res.on('end', () => resolve(t));
      },
    );
    req.on('error', () => resolve(''));
    req.end();
  });
}

/** Lease renewTime of every update seen while `f` runs. */
async function watchLease<T>(f: () => Promise<T>): Promise<{ gaps: number[]; value: T }> {
  const w = spawn(
    'kubectl',
    [
      '--kubeconfig',
      fleet.kubeconfig,
      '--context',
      'hub',
      'get',
      'lease',
      'meridian-hub',
      '-n',
      'meridian-system',
      '-w',
      '-o',
      'jsonpath={.spec.renewTime}{"\\n"}',
    ],
    { env: { ...process.env, ...fleet.env }, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const times: number[] = [];
  let buf = '';
  w.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) if (l.trim()) times.push(Date.parse(l.trim()));
  });
  try {
    const value = await f();
    const gaps = times.slice(2).map((t, i) => t - times[i + 1]!);
    return { gaps, value };
  } finally {
    w.kill();
  }
}

async function eventLoopLag(port: number, token: string): Promise<{ max: number; p99: number }> {
  const text = await get(port, '/metrics', token);
  const read = (name: string): number => {
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) * 1000 : NaN;
  };
  return {
    max: read('meridian_hub_nodejs_eventloop_lag_max_seconds'),
    p99: read('meridian_hub_nodejs_eventloop_lag_p99_seconds'),
  };
}

/** Real queries at `qps` and junk at 10× that, for the phase; real answers per second. */
async function dnsLoad(port: number, qps: number): Promise<string> {
  const junk = createSocket('udp4');
  const real = createSocket('udp4');
  let answered = 0;
  real.on('message', (m) => {
    try {
      if (decode(m).type === 'response') answered++;
    } catch {
      /* not ours */
    }
  });
  await new Promise<void>((r) => real.bind(0, '127.0.0.1', r));
  const end = Date.now() + PHASE_MS;
  let sent = 0;
  let id = 0;
  while (Date.now() < end) {
    // Every 10 ms: qps/100 real queries and 10× as many junk packets.
    for (let i = 0; i < qps / 100; i++) {
      real.send(
        encode({ type: 'query', id: id++ & 0xffff, questions: [{ type: 'A', name: 'www.bench.local' }] }),
        port,
        DNS_ADDRESS,
      );
      sent++;
    }
    for (let i = 0; i < qps / 10; i++) junk.send(randomBytes(12), port, DNS_ADDRESS);
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 500));
  junk.close();
  real.close();
  return `${Math.round(answered / (PHASE_MS / 1000))} real answers/s of ${Math.round(sent / (PHASE_MS / 1000))} asked, junk at 10×`;
}

function otlpBatch(spans: number, seed: number): Buffer {
  const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
  const list = [];
  for (let i = 1; i <= spans; i++) {
    const n = seed * 1_000_000 + i;
    list.push({
      traceId: hex(n, 32),
      spanId: hex(n, 16),
      name: 'GET /x',
      kind: 2,
      startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
      endTimeUnixNano: String(BigInt(Date.now() + 5) * 1_000_000n),
      attributes: [{ key: 'http.route', value: { stringValue: `/items/${i % 100}` } }],
    });
  }
  return Buffer.from(
    JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] },
          scopeSpans: [{ scope: { name: 'bench' }, spans: list }],
        },
      ],
    }),
  );
}

async function otlpLoad(port: number, token: string): Promise<string> {
  const end = Date.now() + PHASE_MS;
  const codes = new Map<number, number>();
  let seed = 1;
  await Promise.all(
    [0, 1, 2, 3].map(async () => {
      while (Date.now() < end) {
        const code = await post(port, '/v1/traces', token, otlpBatch(20_000, seed++), 'application/json');
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }),
  );
  return `OTLP answers ${JSON.stringify(Object.fromEntries(codes))} (20,000 spans each, 4 writers)`;
}

async function promqlLoad(port: number, token: string): Promise<string> {
  const query = Array(64).fill('sum(rate(x[5m]))').join(' / ');
  const end = Date.now() + PHASE_MS;
  const codes = new Map<number, number>();
  let i = 0;
  await Promise.all(
    [0, 1, 2, 3].map(async () => {
      while (Date.now() < end) {
        // A different query each time, so no plan comes from the cache.
        const form = Buffer.from(new URLSearchParams({ query: `${query} + ${i++}` }).toString());
        const code = await post(port, '/api/v1/query', token, form, 'application/x-www-form-urlencoded');
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }),
  );
  return `PromQL answers ${JSON.stringify(Object.fromEntries(codes))} (64 operators, 4 clients)`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function phase(
  name: string,
  hubPort: number,
  metrics: string,
  load: () => Promise<string>,
): Promise<Phase> {
  await eventLoopLag(hubPort, metrics); // resets prom-client's lag histogram
  const { gaps, value } = await watchLease(load);
  const lag = await eventLoopLag(hubPort, metrics);
  return { name, gaps, lagMaxMs: lag.max, lagP99Ms: lag.p99, done: value };
}

async function withHub<T>(dnsWorkers: string, dnsPort: number, f: (h: HubProcess) => Promise<T>): Promise<T> {
  const port = await freePort();
  const hub = await startHub(
    fleet,
    `bench-hub-${dnsWorkers}`,
    port,
    ['--dns-listen', `${DNS_ADDRESS}:${dnsPort}`, '--dns-zone', 'bench.local', '--dns-workers', dnsWorkers],
    180_000,
  );
  try {
    // Leadership first (the lease is only renewed by a leader).
    await sleep(12_000);
    return await f(hub);
  } finally {
    await hub.stop();
  }
}

const fmt = (p: Phase): string => {
  const g = [...p.gaps].sort((a, b) => a - b);
  const max = g.at(-1) ?? NaN;
  const mean = g.reduce((s, x) => s + x, 0) / (g.length || 1);
  return `| ${p.name} | ${g.length} | ${mean.toFixed(0)} | ${max.toFixed(0)} | ${p.lagP99Ms.toFixed(1)} | ${p.lagMaxMs.toFixed(1)} | ${p.done} |`;
};

const phases: Phase[] = [];
try {
  process.stdout.write(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; load at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  await fleetUp(fleet, 1);
  await joinMembers(fleet, ['eu-west']);
  const metrics = await metricsToken(fleet);
  const writer = await serviceAccountToken(fleet, 'bench-writer', 'meridian-telemetry-writer');
  const viewer = await serviceAccountToken(fleet, 'bench-viewer', 'meridian-viewer');
  const dnsPort = await freePort();
  await withHub('0', dnsPort, async (h) => {
    phases.push(
      await phase('DNS junk, --dns-workers 0 (in the hub)', h.port, metrics, () => dnsLoad(dnsPort, 2000)),
    );
  });
  await withHub('1', dnsPort, async (h) => {
    phases.push(await phase('idle', h.port, metrics, () => sleep(PHASE_MS).then(() => '')));
    phases.push(await phase('DNS junk, 1 worker (default)', h.port, metrics, () => dnsLoad(dnsPort, 2000)));
    phases.push(await phase('OTLP ingest', h.port, metrics, () => otlpLoad(h.port, writer)));
    phases.push(await phase('PromQL at the limit', h.port, metrics, () => promqlLoad(h.port, viewer)));
  });
} finally {
  process.stdout.write(
    '\n| phase | renewals | mean gap ms | max gap ms | hub loop lag p99 ms | hub loop lag max ms | load done |\n|---|---|---|---|---|---|---|\n',
  );
  for (const p of phases) process.stdout.write(fmt(p) + '\n');
  process.stdout.write(
    `load at end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  await cli(['fleet', 'down'], fleet.env);
  const left = processesMentioning(fleet.dir + '/');
  if (left.length) process.stderr.write(`left running: ${left.join(', ')}\n`);
  rmSync(fleet.home, { recursive: true, force: true });
}
