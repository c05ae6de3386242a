// Benchmark: a fleet log query over 3 members × 100k lines (issue 6), side by side with
// `kubectl logs` of the same pods. Each member runs PODS kwok pods whose logs are files of
// LINES/PODS timestamped lines (interleaved across members, so the merge does real work).
// Measured, RUNS times each, alternating:
// - meridian (in process): queryLogs, the module behind both the CLI and the hub API: list pods,
//   read every container over the real log API of each member (API server → kwok), merge in time
//   order, label each line;
// - meridian (hub API): GET /api/v1/logs with a real token, the whole answer read and parsed;
// - meridian (CLI): `meridian logs -l … -o json > /dev/null`, process start included;
// - kubectl: one `kubectl logs -l … --timestamps --tail=-1 --max-log-requests=PODS` per member,
//   the three in parallel, output discarded (no merge, no labels).
// Env: BENCH_RUNS (default 7), BENCH_LINES (per member, default 100000), BENCH_PODS (default 4).
// Loopback only (subnet 127.73.0, hub on 127.0.0.1:18543); the fleet is torn down on failure too.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ClusterClient, loadKubeConfig } from '../src/kube/cluster-client.ts';
import { REPO_ROOT, cachedBinaries } from '../src/toolchain/binaries.ts';
import { createLogger } from '../src/logging/logger.ts';
import { FleetView } from '../src/observe/fleet-view.ts';
import { queryLogs } from '../src/observe/logs/fleet-logs.ts';
import { API_PARAMS, parseLogQuery } from '../src/observe/logs/log-query.ts';
import {
  cli,
  fleetUp,
  joinMembers,
  kubectl,
  newFleetHome,
  serviceAccountToken,
  startHub,
  waitFor,
  type HubProcess,
} from '../test/support/harness.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 7);
const LINES = Number(process.env['BENCH_LINES'] ?? 100_000);
const PODS = Number(process.env['BENCH_PODS'] ?? 4);
const HUB_PORT = 18543;
const MEMBERS = ['eu-west', 'us-east', 'ap-south'] as const;
const NS = 'logbench';
const SELECTOR = 'app=logbench';

const fleet = newFleetHome('127.73.0');
const dataDir = mkdtempSync(join(tmpdir(), 'meridian-logs-bench-'));
let hub: HubProcess | undefined;

const progress = (msg: string): void => {
  process.stderr.write(`[logs bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};
const stamp = (ms: number, ns: number): string =>
  `${new Date(ms).toISOString().slice(0, 19)}.${String(ms % 1000).padStart(3, '0')}${String(ns).padStart(6, '0')}Z`;

/** Log files: every 100 µs one line, members and pods taking turns, so the merge interleaves all. */
function writeLogs(): void {
  const t0 = Date.now() - 3_600_000;
  const perPod = Math.ceil(LINES / PODS);
  MEMBERS.forEach((m, mi) => {
    for (let p = 0; p < PODS; p++) {
      const out: string[] = [];
      for (let i = 0; i < perPod; i++) {
        const seq = i * PODS + p;
        const at = t0 + Math.floor((seq * 3 + mi) / 10);
        out.push(
          `${stamp(at, ((seq * 3 + mi) % 10) * 100_000)} stdout F GET /api/orders/${seq} 200 ${(seq % 97) + 3}ms user=${seq % 1000} member=${m} pod=${p}\n`,
        );
      }
      writeFileSync(join(dataDir, `${m}-${p}.log`), out.join(''));
    }
  });
}

function podDocs(member: string): string {
  const docs: object[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }];
  for (let p = 0; p < PODS; p++) {
    const name = `logbench-${p}`;
    docs.push(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: NS, labels: { app: 'logbench' } },
        spec: {
          nodeName: `${member}-node-${p % 3}`,
          containers: [{ name: 'app', image: 'example/logbench:1' }],
        },
      },
      {
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'Logs',
        metadata: { name, namespace: NS },
        spec: { logs: [{ containers: ['app'], logsFile: join(dataDir, `${member}-${p}.log`) }] },
      },
    );
  }
  return docs.map((d) => stringify(d)).join('---\n');
}

/** Runs a command to completion with stdout discarded; resolves with its exit code. */
function run(cmd: string, args: readonly string[], env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    child.on('close', (code) => resolve(code ?? -1));
  });
}

function apiGet(path: string, token: string): Promise<{ status: number; lines: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `http://127.0.0.1:${HUB_PORT}${path}`,
      { headers: { authorization: `Bearer ${token}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { lines?: unknown[] };
          resolve({ status: res.statusCode ?? 0, lines: body.lines?.length ?? 0 });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const bins = cachedBinaries();
  if (!bins) throw new Error('binaries not built: run `meridian fleet build` first');
  const total = LINES * MEMBERS.length;
  progress(`writing ${MEMBERS.length} × ${LINES} log lines`);
  writeLogs();
  progress('fleet up (hub + 3 members)');
  await fleetUp(fleet, MEMBERS.length);
  hub = await startHub(fleet, 'logs-bench-hub', HUB_PORT);
  await joinMembers(fleet, MEMBERS);
  for (const m of MEMBERS) {
    const r = await kubectl(['--context', m, 'apply', '-f', '-'], fleet, podDocs(m));
    if (r.code !== 0) throw new Error(`apply in ${m}: ${r.stderr}`);
  }
  const token = await serviceAccountToken(fleet, 'logs-bench', 'meridian-viewer');

  const hubClient = new ClusterClient('hub', loadKubeConfig({ file: fleet.kubeconfig }, 'hub'));
  const log = createLogger('logs-bench');
  log.level = 'error';
  const view = new FleetView(hubClient, log);
  await view.start();
  const query = parseLogQuery({ selector: SELECTOR, namespace: NS, limit: String(total) }, API_PARAMS);
  await waitFor(
    'every line served',
    120_000,
    async () => {
      const r = await queryLogs(view, query, { names: API_PARAMS });
      return r.lines.length === total ? true : undefined;
    },
    1_000,
  );

  const times = {
    inProcess: [] as number[],
    api: [] as number[],
    cli: [] as number[],
    kubectl: [] as number[],
  };
  const load: number[] = [];
  const apiPath = `/api/v1/logs?selector=${encodeURIComponent(SELECTOR)}&namespace=${NS}&limit=${total}`;
  const cliArgs = [
    join(REPO_ROOT, 'bin', 'meridian.mjs'),
    'logs',
    '-l',
    SELECTOR,
    '-n',
    NS,
    '-o',
    'json',
    '--hub-kubeconfig',
    fleet.kubeconfig,
    '--hub-context',
    'hub',
  ];
  for (let i = 0; i < RUNS; i++) {
    load.push(loadavg()[0]!);
    let t = performance.now();
    const r = await queryLogs(view, query, { names: API_PARAMS });
    times.inProcess.push(performance.now() - t);
    if (r.lines.length !== total || r.warnings.length > 0)
      throw new Error(`query: ${r.lines.length} lines, ${JSON.stringify(r.warnings)}`);

    t = performance.now();
    const a = await apiGet(apiPath, token);
    times.api.push(performance.now() - t);
    if (a.status !== 200 || a.lines !== total) throw new Error(`api: HTTP ${a.status}, ${a.lines} lines`);

    t = performance.now();
    const code = await run(process.execPath, cliArgs, fleet.env);
    times.cli.push(performance.now() - t);
    if (code !== 0) throw new Error(`meridian logs exited ${code}`);

    t = performance.now();
    const codes = await Promise.all(
      MEMBERS.map((m) =>
        run(bins.path('kubectl'), [
          '--kubeconfig',
          fleet.kubeconfig,
          '--context',
          m,
          'logs',
          '-n',
          NS,
          '-l',
          SELECTOR,
          '--timestamps',
          '--tail=-1',
          `--max-log-requests=${PODS}`,
        ]),
      ),
    );
    times.kubectl.push(performance.now() - t);
    if (codes.some((c) => c !== 0)) throw new Error(`kubectl logs exited ${codes.join(',')}`);
    progress(
      `run ${i + 1}/${RUNS}: in-process ${times.inProcess.at(-1)!.toFixed(0)} ms, api ${times.api.at(-1)!.toFixed(0)} ms, cli ${times.cli.at(-1)!.toFixed(0)} ms, kubectl ${times.kubectl.at(-1)!.toFixed(0)} ms`,
    );
  }
  await view.stop();

  const row = (name: string, xs: number[]): string =>
    `| ${name} | ${pct(xs, 50).toFixed(0)} | ${pct(xs, 99).toFixed(0)} | ${(pct(xs, 50) / pct(times.kubectl, 50)).toFixed(2)} |`;
  const out = [
    `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}.`,
    `${MEMBERS.length} members × ${LINES} lines (${PODS} pods each), ${RUNS} runs of each, alternating; load average (1 min) during the runs: ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}.`,
    '',
    '| measure (all 300k lines) | p50 (ms) | p99 (ms) | p50 ratio to kubectl |',
    '| --- | --- | --- | --- |',
    row('meridian, in process (queryLogs: read, merge, label)', times.inProcess),
    row('meridian, hub API (GET /api/v1/logs, JSON parsed)', times.api),
    row('meridian logs CLI (-o json, process start included)', times.cli),
    row('kubectl logs ×3 in parallel (no merge, no labels)', times.kubectl),
    '',
    `p99 of ${RUNS} runs is the slowest run.`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

try {
  await main();
} finally {
  await hub?.stop('SIGKILL');
  await cli(['fleet', 'down'], fleet.env);
  rmSync(fleet.home, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
}
