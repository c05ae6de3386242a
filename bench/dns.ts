// Benchmark: GSLB DNS queries per second with dnsperf, side by side in the same run with Knot DNS
// (knotd) serving the equivalent static zone. Both servers run as child processes on loopback and
// are measured in alternating rounds (Knot, Meridian, Knot, ...) so a change in machine load hits
// both alike; the table reports every round and the medians.
//
// Meridian runs twice: as the hub runs it with `--dns-workers N` (worker processes sharing the port;
// N = BENCH_DNS_WORKERS, default one per core) and in-process (`--dns-workers 0`, the default).
//
// Env: BENCH_DNS_ROUNDS (default 3), BENCH_DNS_SECONDS per run (default 10), BENCH_DNS_ARGS
// dnsperf load settings, ';'-separated, each run in turn (default "-c 4 -T 1 -q 300;-c 8 -T 2 -q 500"),
// BENCH_DNS_WORKERS (default: the number of cores).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { GslbDnsServer } from '../src/traffic/dns/dns-server.ts';
import { GslbDnsWorkers } from '../src/traffic/dns/dns-workers.ts';
import { parseGeoTable } from '../src/traffic/routing/geo-table.ts';
import { defaultZoneConfig } from '../src/traffic/dns/gslb-answer.ts';
import {
  StaticRoutingTable,
  SwappableRoutingTable,
  type ClusterTarget,
  type HostRoute,
} from '../src/traffic/routing/routing.ts';
import { freePort } from '../test/support/free-port.ts';
import { processCpuSeconds } from './process-cpu.ts';

const ZONE = 'bench.example';
const TTL = 30;
const CLUSTERS: readonly ClusterTarget[] = [
  {
    name: 'eu-west',
    region: 'eu-west',
    addresses: ['192.0.2.1', '2001:db8::1'],
    port: 443,
    healthy: true,
    drained: false,
  },
  {
    name: 'us-east',
    region: 'us-east',
    addresses: ['192.0.2.2', '2001:db8::2'],
    port: 443,
    healthy: true,
    drained: false,
  },
  {
    name: 'ap-south',
    region: 'ap-south',
    addresses: ['192.0.2.3', '2001:db8::3'],
    port: 443,
    healthy: true,
    drained: false,
  },
];
const route = (host: string, strategy: HostRoute['strategy']): HostRoute => ({
  host: `${host}.${ZONE}`,
  owner: { namespace: 'bench', name: host },
  strategy,
  ttlSeconds: TTL,
  paths: ['/'],
  clusters: CLUSTERS,
});
/** 100 published hosts, like a small fleet; the queries use the first four. */
const ROUTES: readonly HostRoute[] = [
  route('failover', { type: 'Failover', order: ['us-east', 'eu-west'] }),
  route('rr', { type: 'RoundRobin' }),
  route('weighted', { type: 'Weighted', weights: { 'eu-west': 3, 'us-east': 1 } }),
  route('geo', { type: 'Geo' }),
  ...Array.from({ length: 96 }, (_, i) => route(`app${i}`, { type: 'Failover' })),
];
const GEO = 'networks:\n  - { cidr: 127.0.0.0/8, region: ap-south }\n';
/** Query mix: A for each strategy, AAAA, and one name in ten that does not exist. */
const QUERIES = [
  'failover A',
  'rr A',
  'weighted A',
  'geo A',
  'failover AAAA',
  'rr AAAA',
  'failover A',
  'weighted A',
  'geo A',
  'missing A',
].map((q) => `${q.split(' ')[0]}.${ZONE} ${q.split(' ')[1]}`);

/** Knot's static equivalent: what Meridian answers when every cluster is healthy. */
function knotZone(): string {
  const lines = [
    `$ORIGIN ${ZONE}.`,
    '$TTL 3600',
    '@ SOA ns1 hostmaster 1 3600 600 604800 30',
    '@ NS ns1',
    'ns1 A 127.0.0.1',
    `failover ${TTL} A 192.0.2.2`,
    `failover ${TTL} AAAA 2001:db8::2`,
    ...CLUSTERS.flatMap((c) => c.addresses.map((a) => `rr ${TTL} ${a.includes(':') ? 'AAAA' : 'A'} ${a}`)),
    `weighted ${TTL} A 192.0.2.1`,
    `geo ${TTL} A 192.0.2.3`,
    ...Array.from({ length: 96 }, (_, i) => `app${i} ${TTL} A 192.0.2.1`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Child mode: `dns.ts serve WORKERS` runs the Meridian GSLB DNS as the hub would with
 * `--dns-workers WORKERS` (0: in this process) and prints its port.
 */
async function serve(workers: number): Promise<void> {
  const geo = parseGeoTable(GEO);
  const table = new SwappableRoutingTable();
  table.set(new StaticRoutingTable(ROUTES));
  const options = {
    host: '127.0.0.1',
    port: 0,
    table,
    zone: defaultZoneConfig([ZONE], { nameserverAddresses: ['127.0.0.1'] }),
    geo: () => geo,
    registry: new Registry(), // as in the hub: metrics are part of the cost
  };
  const server = workers > 0 ? new GslbDnsWorkers({ ...options, workers }) : new GslbDnsServer(options);
  const { udpPort } = await server.start();
  process.stdout.write(`${udpPort}\n`);
  process.once('SIGTERM', () => void server.stop().then(() => process.exit(0)));
}

function dig(port: number, name: string): string {
  return spawnSync('dig', [`@127.0.0.1`, '-p', String(port), name, 'A', '+short', '+time=1', '+tries=1'], {
    encoding: 'utf8',
  }).stdout;
}

async function waitAnswering(port: number, what: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (dig(port, `failover.${ZONE}`).trim() === '192.0.2.2') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer on port ${port} within 15 s`);
}

interface Run {
  readonly qps: number;
  readonly avgLatencyMs: number;
  readonly lostPct: number;
  readonly cpuPct: number;
}

function dnsperf(port: number, pid: number, queryFile: string, seconds: number, extra: string[]): Run {
  const cpu0 = processCpuSeconds(pid);
  const t0 = performance.now();
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-l', String(seconds), ...extra];
  const r = spawnSync('dnsperf', args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const wall = (performance.now() - t0) / 1000;
  const cpu = processCpuSeconds(pid) - cpu0;
  const num = (re: RegExp): number => {
    const m = re.exec(r.stdout);
    if (!m) throw new Error(`dnsperf output without ${re}:\n${r.stdout}\n${r.stderr}`);
    return Number(m[1]);
  };
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    lostPct: num(/Queries lost:\s+\d+ \(([\d.]+)%\)/),
    cpuPct: (100 * cpu) / wall,
  };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  for (const tool of ['dnsperf', 'knotd', 'dig'])
    if (spawnSync('which', [tool]).status !== 0)
      throw new Error(`${tool} is not installed (Debian: dnsperf, knot, dnsutils)`);
  const rounds = Number(process.env['BENCH_DNS_ROUNDS'] ?? 3);
  const seconds = Number(process.env['BENCH_DNS_SECONDS'] ?? 10);
  const workers = Number(process.env['BENCH_DNS_WORKERS'] ?? availableParallelism());
  // One dnsperf thread leaves a core to the server under test; two threads load the machine fully.
  const configs = (process.env['BENCH_DNS_ARGS'] ?? '-c 4 -T 1 -q 300;-c 8 -T 2 -q 500')
    .split(';')
    .map((c) => c.trim())
    .filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-dns-'));
  const children: ChildProcess[] = [];
  try {
    const queryFile = join(dir, 'queries.txt');
    writeFileSync(queryFile, `${QUERIES.join('\n')}\n`);

    const knotPort = await freePort();
    writeFileSync(join(dir, `${ZONE}.zone`), knotZone());
    writeFileSync(
      join(dir, 'knot.conf'),
      [
        'server:',
        `    rundir: "${dir}"`,
        `    listen: 127.0.0.1@${knotPort}`,
        'database:',
        `    storage: "${dir}"`,
        'log:',
        '  - target: stderr',
        '    any: warning',
        'zone:',
        `  - domain: ${ZONE}`,
        `    file: "${join(dir, `${ZONE}.zone`)}"`,
        `    storage: "${dir}"`,
        '    journal-content: none',
        '    zonefile-sync: -1',
        '',
      ].join('\n'),
    );
    const knot = spawn('knotd', ['-c', join(dir, 'knot.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(knot);
    await waitAnswering(knotPort, 'knotd', knot);

    const startMeridian = async (n: number): Promise<{ child: ChildProcess; port: number }> => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(import.meta.url), 'serve', String(n)],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
          env: { ...process.env, MERIDIAN_LOG_LEVEL: 'warn' },
        },
      );
      children.push(child);
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
        child.once('exit', (code) => reject(new Error(`meridian GSLB exited with ${code}`)));
      });
      await waitAnswering(port, 'meridian GSLB', child);
      return { child, port };
    };
    const pooled = await startMeridian(workers);
    const inProcess = await startMeridian(0);

    const knotVersion = spawnSync('knotd', ['--version'], { encoding: 'utf8' }).stdout.trim();
    const perfHelp = spawnSync('dnsperf', ['-h'], { encoding: 'utf8' });
    const perfVersion = /Version ([\d.]+)/.exec(perfHelp.stdout + perfHelp.stderr)?.[1] ?? '?';
    const load = (): string =>
      loadavg()
        .map((l) => l.toFixed(1))
        .join(' ');
    console.log(
      `machine: ${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}, ` +
        `Knot ${knotVersion.replace(/^.*version /, '')}, dnsperf ${perfVersion}; ` +
        `${rounds} alternating rounds of ${seconds} s; Meridian with ${workers} DNS workers and in-process; ` +
        `load average before: ${load()}`,
    );
    for (const config of configs) {
      const args = config.split(/\s+/);
      const results: Record<'knot' | 'pooled' | 'inProcess', Run[]> = { knot: [], pooled: [], inProcess: [] };
      for (let i = 0; i < rounds; i++) {
        results.knot.push(dnsperf(knotPort, knot.pid!, queryFile, seconds, args));
        results.pooled.push(dnsperf(pooled.port, pooled.child.pid!, queryFile, seconds, args));
        results.inProcess.push(dnsperf(inProcess.port, inProcess.child.pid!, queryFile, seconds, args));
        console.log(`  round ${i + 1} done, load average ${load()}`);
      }
      const qps = (runs: readonly Run[]): number => median(runs.map((r) => r.qps));
      const row = (name: string, runs: readonly Run[]): string =>
        `| ${name} | ${runs.map((r) => r.qps.toFixed(0)).join(' / ')} | ${qps(runs).toFixed(0)} | ` +
        `${median(runs.map((r) => r.avgLatencyMs)).toFixed(2)} | ${median(runs.map((r) => r.lostPct)).toFixed(2)} | ` +
        `${median(runs.map((r) => r.cpuPct)).toFixed(0)} | ` +
        `${median(runs.map((r) => (r.cpuPct * 1e4) / r.qps)).toFixed(1)} |`;
      console.log(`\n\`dnsperf ${args.join(' ')} -l ${seconds}\`\n`);
      console.log(
        '| server | qps per round | median qps | avg latency (ms) | lost (%) | server CPU (% of a core) | CPU µs / query |',
      );
      console.log('| --- | --- | --- | --- | --- | --- | --- |');
      console.log(row(`Meridian GSLB, ${workers} DNS workers`, results.pooled));
      console.log(row('Meridian GSLB, in-process', results.inProcess));
      console.log(row('Knot DNS', results.knot));
      const ratio = (runs: readonly Run[]): string => (qps(runs) / qps(results.knot)).toFixed(2);
      console.log(
        `\nratio Meridian / Knot (median qps, goal ≥ 0.5): ${workers} workers ${ratio(results.pooled)}, ` +
          `in-process ${ratio(results.inProcess)}`,
      );
    }
    console.log(`\nload average after: ${load()}`);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'serve') await serve(Number(process.argv[3] ?? 0));
else await main();
