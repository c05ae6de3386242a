// Benchmark: the edge gateway's requests per second and p99 latency under `wrk`, side by side in
// the same run with nginx and HAProxy proxying the same loopback backend (an nginx answering a
// small fixed body). By default each proxy gets one worker: nginx `worker_processes 1`, HAProxy `nbthread 1`,
// Meridian one Node.js process (one event loop). Every proxy keeps upstream connections alive,
// adds X-Forwarded-For/-Proto/-Host/-Port, and runs once with its access log on and once off.
// Besides wrk's numbers it reports each proxy's CPU time per request (user + system, all its
// processes and threads), which a busy machine disturbs much less than requests per second.
//
// Everything listens on 127.0.0.1 high ports; configs, pids and logs live in a temp dir; every
// process is stopped at the end, on failure too. Env: BENCH_ROUNDS (default 3: medians are
// reported), BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 50), BENCH_NODE_FLAGS (extra
// node flags for the Meridian process, e.g. `--max-semi-space-size=64`; with workers, pass them in
// NODE_OPTIONS), BENCH_WORKERS (default 1: nginx worker_processes, HAProxy nbthread, and for
// Meridian the hub's own `--edge-workers N` code, EdgeGatewayWorkers: N worker processes sharing
// the listener, the process that starts them standing in for the hub; the backend keeps one worker),
// BENCH_ONLY (a regular expression: measure only the targets whose name matches it),
// BENCH_VARIANT_ENV (`NAME=value …`: one more Meridian target with that environment), BENCH_KEEP
// (keep the temp dir: configs and each process's output), BENCH_FLOOR=1 (also measure the
// bench-only data-plane floor prototypes in bench/floor/: three minimal Node proxies and a Go
// ReverseProxy with GOMAXPROCS = BENCH_WORKERS, none with an access log; an experiment, see
// docs/benchmarks.md "Gateway data-plane floor"), BENCH_EDGE_FAST_FRONT=0 (Meridian with its
// fast front off, node:http taking every request: as a BENCH_VARIANT_ENV, a same-run A/B).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/free-port.ts';
import { FLOOR_PREFIX, floorProcesses } from './floor/targets.ts';
import { processCpuSeconds } from './process-cpu.ts';

const HOST = 'bench.example.test';
/** Workers per proxy: nginx worker_processes, HAProxy nbthread, Meridian edge processes (node:cluster). */
const WORKERS = Number(process.env['BENCH_WORKERS'] ?? 1);
const BODY = 'hello from the backend';
const VIA_LOGGER = "Meridian edge, access log on, through the project's pino logger";
const FLOOR = process.env['BENCH_FLOOR'] === '1';
/** BENCH_EDGE_FAST_FRONT=0: Meridian without its fast front (node:http takes every request). */
const FAST_FRONT = process.env['BENCH_EDGE_FAST_FRONT'] !== '0';

/** The Meridian side, in its own process so it has the event loop to itself (as in the hub). */
async function runEdgeChild(): Promise<void> {
  // accessLog: 'on' (the gateway's EdgeAccessLog, as in the hub), 'logger' (the project's pino
  // logger, as before EdgeAccessLog) or 'off'.
  const [port, backendPort, accessLog, logFile] = process.argv.slice(3) as [string, string, string, string];
  const { pino } = await import('pino');
  const { Registry } = await import('prom-client');
  const { createWriteStream } = await import('node:fs');
  const { createLogger } = await import('../src/logging/logger.ts');
  const { EdgeAccessLog } = await import('../src/traffic/edge/edge-access-log.ts');
  const { EdgeGateway } = await import('../src/traffic/edge/edge-gateway.ts');
  const { StaticRoutingTable } = await import('../src/traffic/routing/routing.ts');
  const table = new StaticRoutingTable([
    {
      host: HOST,
      owner: { namespace: 'bench', name: 'bench' },
      strategy: { type: 'Failover' },
      ttlSeconds: 30,
      paths: ['/'],
      clusters: [
        {
          name: 'bench',
          region: 'local',
          addresses: ['127.0.0.1'],
          port: Number(backendPort),
          healthy: true,
          drained: false,
        },
      ],
    },
  ]);
  if (WORKERS > 1) {
    // As the hub runs `--edge-workers N`: N worker processes sharing the listener (worker-pool.ts),
    // the table pushed to them, their access lines written by this process (the hub's stderr there).
    const { EdgeGatewayWorkers } = await import('../src/traffic/edge/edge-workers.ts');
    const { SwappableRoutingTable } = await import('../src/traffic/routing/routing.ts');
    const shared = new SwappableRoutingTable();
    shared.set(table);
    const gw = new EdgeGatewayWorkers({
      workers: WORKERS,
      table: shared,
      logger: createLogger('edge', createWriteStream(logFile)),
      logName: 'edge',
      accessLogDestination: createWriteStream(`${logFile}.edge`),
      registry: new Registry(),
      http: { host: '127.0.0.1', port: Number(port) },
      accessLog: accessLog === 'on',
      fastFront: FAST_FRONT,
    });
    await gw.start();
    process.once('SIGTERM', () => void gw.stop().then(() => process.exit(0)));
    return;
  }
  // Asynchronous, buffered file: EdgeAccessLog's 64 KiB chunks, or the project's logger (with its
  // secret scrubbing) on sonic-boom buffered by 4 KiB.
  const file = pino.destination({ dest: logFile, sync: false, minLength: 4096 });
  const logger = createLogger('edge', file as unknown as NodeJS.WritableStream);
  const gw = new EdgeGateway({
    table,
    logger,
    accessLogger:
      accessLog === 'on' ? new EdgeAccessLog(createWriteStream(`${logFile}.edge`), { name: 'edge' }) : logger,
    registry: new Registry(),
    http: { host: '127.0.0.1', port: Number(port) },
    accessLog: accessLog !== 'off',
    fastFront: FAST_FRONT,
  });
  await gw.start();
  process.once('SIGTERM', () => void gw.stop().then(() => process.exit(0)));
}

interface Target {
  readonly name: string;
  readonly port: number;
  /** The proxy's (or backend's) main process; its child processes are counted too. */
  readonly pid: number;
}

interface Result {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time (user + system) of the target's processes per request, in microseconds. */
  readonly cpuUs: number;
  readonly errors: string;
}

function nginxConfig(dir: string, name: string, server: string, extraHttp = '', workers = WORKERS): string {
  const file = join(dir, `${name}.conf`);
  writeFileSync(
    file,
    `worker_processes ${workers};
${process.getuid?.() === 0 ? 'user root;' : ''}
daemon off;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}-error.log warn;
events { worker_connections 4096; }
http {
  client_body_temp_path ${dir}/${name}-body;
  proxy_temp_path ${dir}/${name}-proxy;
  fastcgi_temp_path ${dir}/${name}-fastcgi;
  uwsgi_temp_path ${dir}/${name}-uwsgi;
  scgi_temp_path ${dir}/${name}-scgi;
  keepalive_requests 1000000;
  ${extraHttp}
  ${server}
}
`,
  );
  return file;
}

function nginxProxyConfig(
  dir: string,
  name: string,
  port: number,
  backendPort: number,
  log: boolean,
): string {
  return nginxConfig(
    dir,
    name,
    `server {
    listen 127.0.0.1:${port};
    ${log ? `access_log ${dir}/${name}-access.log combined buffer=4k;` : 'access_log off;'}
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Port $server_port;
    }
  }`,
    `upstream be { server 127.0.0.1:${backendPort}; keepalive 64; }`,
  );
}

function haproxyConfig(dir: string, name: string, port: number, backendPort: number, log: boolean): string {
  const file = join(dir, `${name}.cfg`);
  writeFileSync(
    file,
    `global
  nbthread ${WORKERS}
  maxconn 4096
  pidfile ${dir}/${name}.pid
${log ? '  log stdout format raw local0 info\n' : ''}
defaults
  mode http
  ${log ? 'log global\n  option httplog' : 'no log'}
  option http-keep-alive
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s

frontend fe
  bind 127.0.0.1:${port}
  option forwardfor
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request set-header X-Forwarded-Port %[dst_port]
  default_backend be

backend be
  http-reuse always
  server s1 127.0.0.1:${backendPort} maxconn 1024
`,
  );
  return file;
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = new Socket();
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.connect(port, '127.0.0.1');
  });

/** Starts a long-running process with its output in a file; waits until `port` accepts. */
async function startProcess(
  procs: ChildProcess[],
  dir: string,
  name: string,
  cmd: string,
  args: readonly string[],
  port: number,
  env: Record<string, string> = {},
): Promise<number> {
  const out = openSync(join(dir, `${name}.out`), 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', out, out], env: { ...process.env, ...env } });
  procs.push(child);
  const deadline = Date.now() + 20_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null)
      throw new Error(`${name} exited with ${child.exitCode}; see ${dir}/${name}.out`);
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port} in 20 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return child.pid!;
}

function parseDuration(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

function wrk(t: Target, seconds: number, connections: number): Result {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-H', `Host: ${HOST}`];
  const before = processCpuSeconds(t.pid);
  const r = spawnSync('wrk', [...args, `http://127.0.0.1:${t.port}/`], {
    encoding: 'utf8',
    timeout: (seconds + 30) * 1000,
  });
  const cpuS = processCpuSeconds(t.pid) - before;
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)\s*$/m.exec(r.stdout);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(r.stdout);
  const count = /(\d+) requests in/.exec(r.stdout);
  if (!rps || !p50 || !p99 || !count) throw new Error(`cannot parse wrk output:\n${r.stdout}`);
  const errors = [/Socket errors:.*/.exec(r.stdout)?.[0], /Non-2xx or 3xx responses:.*/.exec(r.stdout)?.[0]]
    .filter(Boolean)
    .join('; ');
  return {
    rps: Number(rps[1]),
    p50Ms: parseDuration(p50[1]!, p50[2]!),
    p99Ms: parseDuration(p99[1]!, p99[2]!),
    cpuUs: (cpuS * 1e6) / Number(count[1]),
    errors,
  };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
  const seconds = Number(process.env['BENCH_SECONDS'] ?? 10);
  const connections = Number(process.env['BENCH_CONNECTIONS'] ?? 50);
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-gateway-'));
  const procs: ChildProcess[] = [];
  const stopAll = (): void => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  };
  process.once('SIGINT', () => {
    stopAll();
    process.exit(130);
  });
  try {
    const backendPort = await freePort();
    const backend = await startProcess(
      procs,
      dir,
      'backend',
      'nginx',
      [
        '-p',
        dir,
        '-c',
        nginxConfig(
          dir,
          'backend',
          `server { listen 127.0.0.1:${backendPort}; access_log off;
    location / { default_type text/plain; return 200 "${BODY}\\n"; } }`,
          '',
          1, // the backend keeps one worker whatever the proxies get
        ),
      ],
      backendPort,
    );
    const targets: Target[] = [{ name: 'backend direct (baseline)', port: backendPort, pid: backend }];
    const self = fileURLToPath(import.meta.url);
    const flags = (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
    const startMeridian = async (
      log: 'on' | 'off' | 'logger',
      name: string,
      env: Record<string, string> = {},
      file = `meridian-${log}`,
    ): Promise<void> => {
      const port = await freePort();
      const args = [...flags, '--import', 'tsx', self, 'edge-child', String(port), String(backendPort), log];
      const logFile = join(dir, `${file}-access.log`);
      const pid = await startProcess(procs, dir, file, process.execPath, [...args, logFile], port, env);
      targets.push({ name, port, pid });
    };
    for (const log of ['on', 'off'] as const) {
      await startMeridian(log, `Meridian edge, access log ${log}`);
      const n = await freePort();
      const nginxArgs = [
        '-p',
        dir,
        '-c',
        nginxProxyConfig(dir, `nginx-${log}`, n, backendPort, log === 'on'),
      ];
      targets.push({
        name: `nginx, access log ${log}`,
        port: n,
        pid: await startProcess(procs, dir, `nginx-${log}`, 'nginx', nginxArgs, n),
      });
      const h = await freePort();
      const haproxyArgs = ['-db', '-f', haproxyConfig(dir, `haproxy-${log}`, h, backendPort, log === 'on')];
      targets.push({
        name: `HAProxy, access log ${log}`,
        port: h,
        pid: await startProcess(procs, dir, `haproxy-${log}`, 'haproxy', haproxyArgs, h),
      });
    }
    // BENCH_VARIANT_ENV ("NAME=value …"): one more Meridian (log on) with that environment, measured
    // in the same rounds as the others (an A/B without a second run's different background).
    const variant = process.env['BENCH_VARIANT_ENV'];
    if (variant) {
      const env = Object.fromEntries(
        variant
          .split(' ')
          .filter(Boolean)
          .map((kv) => {
            const eq = kv.indexOf('=');
            if (eq < 1) throw new Error(`BENCH_VARIANT_ENV: ${JSON.stringify(kv)} is not NAME=value`);
            return [kv.slice(0, eq), kv.slice(eq + 1)];
          }),
      );
      await startMeridian('on', `Meridian edge (${variant}), access log on`, env, 'meridian-variant');
    }
    // (Edge workers always write the access log through EdgeAccessLog.) Left out in floor runs,
    // to keep their rounds short.
    if (WORKERS === 1 && !FLOOR) await startMeridian('logger', VIA_LOGGER);
    if (FLOOR) {
      // Bench-only prototypes (bench/floor/), each with BENCH_WORKERS workers or Go threads.
      const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
      for (const f of floorProcesses(dir, backendPort, WORKERS, ports)) {
        const pid = await startProcess(procs, dir, f.file, f.cmd, f.args, f.port, f.env);
        targets.push({ name: f.name, port: f.port, pid });
      }
    }

    // BENCH_ONLY (a regular expression) measures only the targets whose name it matches.
    const only = process.env['BENCH_ONLY'];
    if (only) targets.splice(0, targets.length, ...targets.filter((t) => new RegExp(only).test(t.name)));
    // Sanity and warm-up (the JIT, the connection pools) before anything is measured.
    for (const t of targets) {
      const check = spawnSync(
        'wrk',
        ['-t1', '-c4', '-d2s', '-H', `Host: ${HOST}`, `http://127.0.0.1:${t.port}/`],
        {
          encoding: 'utf8',
        },
      );
      if (check.status !== 0 || /Non-2xx|Socket errors/.test(check.stdout))
        throw new Error(`${t.name} does not answer cleanly:\n${check.stdout}${check.stderr}`);
    }
    const loadBefore = loadavg()[0]!;
    // Rounds go through every target in turn, so a burst of background load hits them alike.
    const results = new Map<string, Result[]>(targets.map((t) => [t.name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const t of targets) {
        const r = wrk(t, seconds, connections);
        results.get(t.name)!.push(r);
        process.stderr.write(
          `round ${round}/${rounds} ${t.name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, ` +
            `p99 ${r.p99Ms.toFixed(2)} ms, ` +
            `${r.cpuUs.toFixed(1)} µs CPU/request, load ${loadavg()[0]!.toFixed(2)}${r.errors ? ` (${r.errors})` : ''}\n`,
        );
      }
    }
    report(targets, results, { rounds, seconds, connections, loadBefore, loadAfter: loadavg()[0]! });
  } finally {
    stopAll();
    await new Promise((r) => setTimeout(r, 500));
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    if (process.env['BENCH_KEEP']) process.stderr.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

function report(
  targets: readonly Target[],
  results: ReadonlyMap<string, readonly Result[]>,
  run: { rounds: number; seconds: number; connections: number; loadBefore: number; loadAfter: number },
): void {
  const med = new Map(
    targets.map((t) => {
      const rs = results.get(t.name)!;
      const m = {
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50Ms)),
        p99: median(rs.map((r) => r.p99Ms)),
      };
      return [t.name, { ...m, cpu: median(rs.map((r) => r.cpuUs)) }] as const;
    }),
  );
  const versions = [
    `node ${process.version}`,
    spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim().replace('nginx version: ', ''),
    spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout.split(' - ')[0]!.trim(),
    spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout.split(' [')[0]!.trim(),
  ];
  const out = [
    `wrk -t1 -c${run.connections} -d${run.seconds}s --latency; ${run.rounds} round(s), medians; ` +
      `${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores; ${versions.join(', ')}; ` +
      `load average ${run.loadBefore.toFixed(2)} before, ${run.loadAfter.toFixed(2)} after`,
    '',
    '| target | requests/s | p50 (ms) | p99 (ms) | proxy CPU per request (µs) |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const t of targets) {
    const m = med.get(t.name)!;
    out.push(
      `| ${t.name} | ${m.rps.toFixed(0)} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${m.cpu.toFixed(1)} |`,
    );
  }
  out.push(
    '',
    '| Meridian / peer | requests/s (goal ≥ 0.5) | p99 (goal ≤ 2) | CPU per request |',
    '| --- | ---: | ---: | ---: |',
  );
  // The floor prototypes have no access log: compared with the peers' log off (like for like) and
  // on (the setting the goal is about).
  const floors = targets.filter((t) => t.name.startsWith(FLOOR_PREFIX)).map((t) => t.name);
  for (const [mine, log] of [
    ['Meridian edge, access log on', 'on'],
    ['Meridian edge, access log off', 'off'],
    [VIA_LOGGER, 'on'],
    ...floors.flatMap((f) => [[f, 'off'] as const, [f, 'on'] as const]),
  ] as const) {
    const m = med.get(mine);
    if (!m) continue;
    for (const peer of ['nginx', 'HAProxy']) {
      const p = med.get(`${peer}, access log ${log}`);
      if (!p) continue;
      const label =
        mine === VIA_LOGGER
          ? `Meridian (access log via pino) / ${peer}, log on`
          : mine.startsWith(FLOOR_PREFIX)
            ? `${mine} / ${peer}, access log ${log}`
            : `Meridian / ${peer}, access log ${log}`;
      out.push(
        `| ${label} | ${(m.rps / p.rps).toFixed(2)} | ${(m.p99 / p.p99).toFixed(2)} | ${(m.cpu / p.cpu).toFixed(2)} |`,
      );
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

if (process.argv[2] === 'edge-child') await runEdgeChild();
else await main();
