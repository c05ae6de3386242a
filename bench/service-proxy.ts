// Benchmark: requests per second and latency through a local-fleet Service listener (the Service
// proxy's ServiceListener, in a process of its own as in the pod runtime) against a direct
// connection to the same pod process, in the same run, in alternating rounds (direct, proxy,
// direct, …) so a change in machine load hits both alike. The pod process is a node:http server
// answering a small body. Two loads: keep-alive (C connections, one request at a time each: the
// proxy's piping cost) and a new connection per request (where the proxy's accept, backend choice
// and upstream dial are paid on every request). Everything listens on loopback.
//
// Also the CPU time per request of the listener's process and of the pod process (from /proc),
// which the machine's load moves less than latency does.
//
// Env: BENCH_ROUNDS (default 3; medians reported), BENCH_SECONDS per run (default 5),
// BENCH_CONNECTIONS (default 16), BENCH_LISTENER (module path of the listener, default the current one).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { processCpuSeconds } from './process-cpu.ts';
import type * as ListenerModule from '../src/localfleet/runtime/service-listener.ts';

const BACKEND = { host: '127.116.80.2', port: 18080 };
const PROXY = { host: '127.116.80.1', port: 18080 };
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 16);
const BODY = 'hello from the pod process';
const self = fileURLToPath(import.meta.url);

async function runBackend(): Promise<void> {
  const server = createHttpServer((_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(BODY);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(BACKEND.port, BACKEND.host, () => process.stdout.write('ready\n'));
}

async function runProxy(): Promise<void> {
  // BENCH_LISTENER: another module exporting the same classes (an A/B against a change).
  const { ConnectionBudget, ServiceListener } = (await import(
    process.env['BENCH_LISTENER'] ?? '../src/localfleet/runtime/service-listener.ts'
  )) as typeof ListenerModule;
  const l = new ServiceListener(PROXY.host, new ConnectionBudget(4096));
  await l.update([{ port: PROXY.port, protocol: 'TCP', backends: [BACKEND] }]);
  process.stdout.write('ready\n');
}

function child(role: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['--import', 'tsx', self, role], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    c.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
    c.stdout!.once('data', () => resolve(c));
  });
}

const REQUEST = `GET / HTTP/1.1\r\nHost: app2\r\n\r\n`;
const REQUEST_CLOSE = `GET / HTTP/1.1\r\nHost: app2\r\nConnection: close\r\n\r\n`;

/** Bytes of one whole response at the start of `buf`, or 0 while incomplete. */
function responseLength(buf: string): number {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return 0;
  const m = /content-length: (\d+)/i.exec(buf.slice(0, end));
  const total = end + 4 + Number(m?.[1] ?? 0);
  return buf.length >= total ? total : 0;
}

interface Run {
  readonly requests: number;
  readonly errors: number;
  readonly latenciesUs: number[];
  readonly seconds: number;
}

function keepAliveClient(target: typeof PROXY, until: number, lat: number[]): Promise<number> {
  return new Promise((resolve) => {
    let errors = 0;
    const s = connect(target);
    s.setNoDelay(true);
    let buf = '';
    let t0 = 0n;
    const send = (): void => {
      if (Date.now() >= until) {
        s.end();
        return;
      }
      t0 = process.hrtime.bigint();
      s.write(REQUEST);
    };
    s.on('connect', send);
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const n = responseLength(buf);
      if (!n) return;
      lat.push(Number(process.hrtime.bigint() - t0) / 1000);
      buf = buf.slice(n);
      send();
    });
    s.on('error', () => errors++);
    s.on('close', () => resolve(errors));
  });
}

async function newConnectionClient(target: typeof PROXY, until: number, lat: number[]): Promise<number> {
  let errors = 0;
  while (Date.now() < until) {
    const t0 = process.hrtime.bigint();
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(target);
      let buf = '';
      s.on('connect', () => s.write(REQUEST_CLOSE));
      s.on('data', (d: Buffer) => (buf += d.toString('latin1')));
      s.on('error', () => resolve(false));
      s.on('close', () => resolve(responseLength(buf) > 0));
    });
    if (ok) lat.push(Number(process.hrtime.bigint() - t0) / 1000);
    else errors++;
  }
  return errors;
}

async function load(target: typeof PROXY, mode: 'keep-alive' | 'new connection'): Promise<Run> {
  const lat: number[] = [];
  const started = Date.now();
  const until = started + SECONDS * 1000;
  const client = mode === 'keep-alive' ? keepAliveClient : newConnectionClient;
  const errors = await Promise.all(Array.from({ length: CONNECTIONS }, () => client(target, until, lat)));
  return {
    requests: lat.length,
    errors: errors.reduce((a, b) => a + b, 0),
    latenciesUs: lat,
    seconds: (Date.now() - started) / 1000,
  };
}

const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const backend = await child('backend');
  const proxyProcess = await child('proxy');
  const load1 = loadavg()[0]!;
  process.stdout.write(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}; ` +
      `${ROUNDS} rounds × ${SECONDS} s per target and load, ${CONNECTIONS} concurrent connections; ` +
      `load average at start ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}\n\n`,
  );
  const results = new Map<
    string,
    { rps: number[]; p50: number[]; p99: number[]; proxyCpu: number[]; podCpu: number[] }
  >();
  try {
    for (const mode of ['keep-alive', 'new connection'] as const) {
      for (let round = 1; round <= ROUNDS; round++) {
        for (const [name, target] of [
          ['direct', BACKEND],
          ['Service listener', PROXY],
        ] as const) {
          const cpu0 = [processCpuSeconds(proxyProcess.pid!), processCpuSeconds(backend.pid!)] as const;
          const r = await load(target, mode);
          const proxyCpuUs = ((processCpuSeconds(proxyProcess.pid!) - cpu0[0]) * 1e6) / r.requests;
          const podCpuUs = ((processCpuSeconds(backend.pid!) - cpu0[1]) * 1e6) / r.requests;
          const sorted = r.latenciesUs.sort((a, b) => a - b);
          const key = `${mode} | ${name}`;
          const acc = results.get(key) ?? { rps: [], p50: [], p99: [], proxyCpu: [], podCpu: [] };
          acc.proxyCpu.push(proxyCpuUs);
          acc.podCpu.push(podCpuUs);
          acc.rps.push(r.requests / r.seconds);
          acc.p50.push(quantile(sorted, 0.5));
          acc.p99.push(quantile(sorted, 0.99));
          results.set(key, acc);
          process.stdout.write(
            `round ${round} ${key}: ${(r.requests / r.seconds).toFixed(0)} req/s, p50 ${quantile(sorted, 0.5).toFixed(0)} µs, ` +
              `p99 ${quantile(sorted, 0.99).toFixed(0)} µs, CPU per request: listener ${proxyCpuUs.toFixed(1)} µs, ` +
              `pod ${podCpuUs.toFixed(1)} µs, errors ${r.errors}, load ${loadavg()[0]!.toFixed(2)}\n`,
          );
        }
      }
    }
  } finally {
    backend.kill('SIGTERM');
    proxyProcess.kill('SIGTERM');
  }
  process.stdout.write(
    `\n| load | target | req/s (median) | p50 µs (median) | p99 µs (median) | p99 vs direct | listener CPU µs/req | pod CPU µs/req |\n|---|---|---|---|---|---|---|---|\n`,
  );
  for (const mode of ['keep-alive', 'new connection']) {
    const direct = results.get(`${mode} | direct`)!;
    for (const name of ['direct', 'Service listener']) {
      const r = results.get(`${mode} | ${name}`)!;
      const ratio = median(r.p99) / median(direct.p99);
      process.stdout.write(
        `| ${mode} | ${name} | ${median(r.rps).toFixed(0)} | ${median(r.p50).toFixed(0)} | ${median(r.p99).toFixed(0)} | ${name === 'direct' ? '—' : `${((ratio - 1) * 100).toFixed(1)} %`} | ${median(r.proxyCpu).toFixed(1)} | ${median(r.podCpu).toFixed(1)} |\n`,
      );
    }
  }
  process.stdout.write(
    `\nload average at start ${load1.toFixed(2)}, at end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );
}

const role = process.argv[2];
if (role === 'backend') void runBackend();
else if (role === 'proxy') void runProxy();
else
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
