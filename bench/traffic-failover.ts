// Benchmark: global traffic failover on a local fleet (hub + 2 members, ingress emulator).
// A GlobalIngress (Failover: us-east first, health check every 1 s, unhealthy after 2 failures)
// is served through the hub's GSLB DNS and edge gateway; then us-east's ingress goes down,
// repeatedly. Measured per outage:
// - DNS: time until `dig` no longer names us-east (bound: interval × unhealthyThreshold + timeout);
// - gateway: time until the gateway stops trying us-east at all (its retries to us-east stop), and
//   the requests a steady client stream lost meanwhile (goal: none) and their latency.
import { execFileSync } from 'node:child_process';
import { Agent } from 'node:http';
import { cpus, totalmem } from 'node:os';
import { rmSync } from 'node:fs';
import { stringify } from 'yaml';
import type { IngressEmulator } from '../src/localfleet/ingress-emulator.ts';
import {
  cli,
  fleetUp,
  getWithHost,
  joinMembers,
  kubectl,
  localIngressEmulator,
  memberIngressAddress,
  metricsToken,
  newFleetHome,
  startHub,
  waitFor,
} from '../test/support/harness.ts';

const OUTAGES = Number(process.env['BENCH_SAMPLES'] ?? 5);
const MEMBERS = ['eu-west', 'us-east'];
const HOST = 'shop.bench.test';
const [HUB_PORT, DNS_PORT, EDGE_PORT] = [17990, 17991, 17992];

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};
const dig = (): string[] =>
  execFileSync('dig', ['@127.0.0.1', '-p', String(DNS_PORT), HOST, 'A', '+short', '+time=1', '+tries=1'], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);

let token = '';
async function retriesTo(cluster: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${HUB_PORT}/metrics`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!res.ok) throw new Error(`/metrics: HTTP ${res.status}`);
  const text = await res.text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('meridian_edge_retries_total{') && line.includes(`cluster="${cluster}"`))
      n += Number(line.split(' ').at(-1));
  }
  return n;
}

const fleet = newFleetHome('127.97.0');
let emulator: IngressEmulator | undefined;
let hub: Awaited<ReturnType<typeof startHub>> | undefined;
try {
  await fleetUp(fleet, MEMBERS.length);
  emulator = localIngressEmulator(fleet, MEMBERS);
  await emulator.start();
  hub = await startHub(fleet, 'bench-traffic', HUB_PORT, [
    '--dns-listen',
    `127.0.0.1:${DNS_PORT}`,
    '--dns-zone',
    'bench.test',
    '--edge-listen',
    `127.0.0.1:${EDGE_PORT}`,
  ]);
  await joinMembers(fleet, MEMBERS, { withIngress: true });
  token = await metricsToken(fleet);
  const web = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'x' }] },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
    },
  ];
  for (const m of MEMBERS)
    await kubectl(['--context', m, 'apply', '-f', '-'], fleet, web.map((d) => stringify(d)).join('---\n'));
  await kubectl(
    ['--context', 'hub', 'apply', '-f', '-'],
    fleet,
    stringify({
      apiVersion: 'meridian.dev/v1alpha1',
      kind: 'GlobalIngress',
      metadata: { name: 'shop', namespace: 'default' },
      spec: {
        hosts: [HOST],
        destinationNamespace: 'shop',
        placement: { clusters: MEMBERS },
        rules: [{ path: '/', service: 'web', port: 80 }],
        strategy: { type: 'Failover', order: ['us-east', 'eu-west'] },
        healthCheck: { intervalSeconds: 1, timeoutSeconds: 1, healthyThreshold: 2, unhealthyThreshold: 2 },
        dns: { ttlSeconds: 5 },
      },
    }),
  );
  const usEast = memberIngressAddress(fleet, 'us-east');
  await waitFor('DNS names us-east', 60_000, async () => (dig()[0] === usEast ? true : undefined));

  const dnsMs: number[] = [];
  const gwMs: number[] = [];
  const latencies: number[] = [];
  let failed = 0;
  let served = 0;
  let retried = 0;
  for (let i = 0; i < OUTAGES; i++) {
    // A steady client: one keep-alive connection, a request every 10 ms.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let running = true;
    const stream = (async () => {
      while (running) {
        const t = performance.now();
        try {
          const r = await getWithHost(`http://127.0.0.1:${EDGE_PORT}/`, HOST, agent);
          if (r.status === 200) served++;
          else failed++;
        } catch {
          failed++;
        }
        latencies.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await new Promise((r) => setTimeout(r, 1_000));
    const retriesBefore = await retriesTo('us-east');
    const t0 = performance.now();
    await emulator.down('us-east');
    let dnsAt: number | undefined;
    let lastRetryAt = t0;
    let lastRetries = retriesBefore;
    // Until DNS has switched and the gateway has made no attempt on us-east for 3 s.
    while (performance.now() - t0 < 30_000) {
      if (dnsAt === undefined && !dig().includes(usEast)) dnsAt = performance.now();
      const r = await retriesTo('us-east');
      if (r !== lastRetries) {
        lastRetries = r;
        lastRetryAt = performance.now();
      }
      if (dnsAt !== undefined && performance.now() - lastRetryAt > 3_000) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    running = false;
    await stream;
    agent.destroy();
    retried += lastRetries - retriesBefore;
    dnsMs.push((dnsAt ?? NaN) - t0);
    gwMs.push(lastRetryAt - t0);
    await emulator.up('us-east');
    await waitFor('DNS names us-east again', 30_000, async () => (dig()[0] === usEast ? true : undefined));
  }
  const f = (x: number): string => x.toFixed(0);
  process.stdout.write(
    [
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
      `${OUTAGES} outages of us-east's ingress; health check every 1 s, unhealthy after 2 failures (bound ≈ 2–3 s)`,
      '',
      '| measure | p50 | max |',
      '|---|---|---|',
      `| DNS: outage → answer without us-east (ms) | ${f(pct(dnsMs, 50))} | ${f(Math.max(...dnsMs))} |`,
      `| gateway: outage → last attempt on us-east (ms) | ${f(pct(gwMs, 50))} | ${f(Math.max(...gwMs))} |`,
      '',
      `requests the gateway retried away from us-east: ${retried}`,
      `client stream through the gateway: ${served} requests served, ${failed} failed; latency p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(0)} ms`,
      '',
    ].join('\n'),
  );
} finally {
  await hub?.stop('SIGKILL');
  await emulator?.stop();
  await cli(['fleet', 'down'], fleet.env);
  rmSync(fleet.home, { recursive: true, force: true });
}
