// Benchmark: `meridian fleet up` (hub + 3 members, cached binaries) against kwokctl creating the
// same four clusters from the same binaries, side by side in one run: wall time to usable
// clusters and resident memory per cluster. Also: how long a member outage takes to show as
// Ready=False on the hub.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { fleetIdleCpu, processMemMiB } from './process-cpu.ts';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { cacheRoot, ensureBinaries, type BinaryPaths } from '../src/toolchain/binaries.ts';
import { COMPONENT_ORDER } from '../src/localfleet/components.ts';
import { processesMentioning } from '../src/localfleet/processes.ts';
import { cli, newFleetHome, readPidFile, waitFor, kubectl } from '../test/support/harness.ts';

const KWOKCTL = { pkg: 'sigs.k8s.io/kwok/cmd/kwokctl', version: 'v0.8.0' };
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);

// RSS counts the binaries' code pages in every process that maps them; PSS splits shared pages
// among the processes sharing them, so the PSS sum is what the fleet really costs.
const rssMiB = (pid: number): number => processMemMiB(pid, 'Rss');
const pssMiB = (pid: number): number => processMemMiB(pid, 'Pss');

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function kwokctlPath(): string {
  const dir = join(cacheRoot(), 'peers');
  const bin = join(dir, 'kwokctl');
  if (!existsSync(bin)) {
    const r = spawnSync('go', ['install', `${KWOKCTL.pkg}@${KWOKCTL.version}`], {
      env: { ...process.env, GOBIN: dir },
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error('could not build kwokctl');
  }
  return bin;
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => {
      if (code !== 0) process.stderr.write(`${cmd} ${args.join(' ')} failed: ${err.slice(-800)}\n`);
      resolve(code ?? 1);
    });
  });
}

interface Mem {
  readonly rssPerCluster: number;
  readonly pssPerCluster: number;
}

function perCluster(pidsByCluster: number[][]): Mem {
  const avg = (f: (pid: number) => number): number =>
    pidsByCluster.map((pids) => pids.reduce((s, p) => s + f(p), 0)).reduce((a, b) => a + b, 0) /
    pidsByCluster.length;
  return { rssPerCluster: avg(rssMiB), pssPerCluster: avg(pssMiB) };
}

const IDLE_WINDOW_S = Number(process.env['BENCH_IDLE_WINDOW_S'] ?? 60);

async function meridianRun(
  i: number,
): Promise<Mem & { seconds: number; hubRss: number; outageMs: number; idlePercent: number; load: number }> {
  const fleet = newFleetHome(`127.80.${i * 2}`);
  const t0 = performance.now();
  const up = await cli(['fleet', 'up', '--members', '3', '--subnet', fleet.subnet], fleet.env, 600_000);
  const seconds = (performance.now() - t0) / 1000;
  if (up.code !== 0) throw new Error(up.stderr);
  await new Promise((r) => setTimeout(r, 5_000)); // let memory settle after start-up
  const clusters = ['hub', 'eu-west', 'us-east', 'ap-south'];
  const mem = perCluster(
    clusters.map((c) => COMPONENT_ORDER.map((name) => readPidFile(join(fleet.dir, c, `${name}.pid`)))),
  );
  const hubRss = rssMiB(readPidFile(join(fleet.dir, 'meridian-hub.pid')));
  // At rest: every process of the fleet (control planes, hub, ingress stand-in, pod runtime), with
  // the reference system deployed, over a full minute after start-up has settled.
  await new Promise((r) => setTimeout(r, 20_000));
  const load = loadavg()[0]!;
  const idlePercent = (await fleetIdleCpu(fleet.dir, IDLE_WINDOW_S)).totalPercent;
  // Outage: kill a member's API server, time until the hub's Cluster says Ready=False.
  process.kill(readPidFile(join(fleet.dir, 'us-east', 'kube-apiserver.pid')), 'SIGKILL');
  const killed = performance.now();
  await waitFor(
    'Ready=False',
    30_000,
    async () => {
      const r = await kubectl(
        [
          '--context',
          'hub',
          'get',
          'cluster',
          'us-east',
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ],
        fleet,
      );
      return r.stdout === 'False' ? true : undefined;
    },
    100,
  );
  const outageMs = performance.now() - killed;
  await cli(['fleet', 'down'], fleet.env);
  rmSync(fleet.home, { recursive: true, force: true });
  return { seconds, ...mem, hubRss, outageMs, idlePercent, load };
}

async function kwokctlRun(bins: BinaryPaths): Promise<Mem & { seconds: number }> {
  const kwokctl = kwokctlPath();
  const work = mkdtempSync(join(tmpdir(), 'kwokctl-bench-'));
  const env = { KWOK_WORKDIR: work, PATH: `${bins.dir}:${process.env['PATH']}` };
  const names = ['k-hub', 'k-eu-west', 'k-us-east', 'k-ap-south'];
  const t0 = performance.now();
  // kwokctl creates clusters one at a time: parallel invocations sharing a work directory wait
  // on each other (seen here), so this is how a kwokctl user brings up a fleet.
  const codes: number[] = [];
  for (const n of names) {
    codes.push(
      await run(
        kwokctl,
        [
          'create',
          'cluster',
          '--name',
          n,
          '--runtime',
          'binary',
          '--wait',
          '120s',
          '--etcd-binary',
          bins.path('etcd'),
          '--kube-apiserver-binary',
          bins.path('kube-apiserver'),
          '--kube-controller-manager-binary',
          bins.path('kube-controller-manager'),
          '--kube-scheduler-binary',
          bins.path('kube-scheduler'),
          '--kwok-controller-binary',
          bins.path('kwok'),
        ],
        env,
      ),
    );
  }
  if (codes.some((c) => c !== 0)) throw new Error('kwokctl create failed');
  // Same shape as Meridian's fleet: three Ready nodes in each member.
  await Promise.all(
    names.slice(1).map((n) => run(kwokctl, ['scale', 'node', '--replicas', '3', '--name', n], env)),
  );
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 5_000));
  const mem = perCluster(names.map((n) => processesMentioning(join(work, 'clusters', n) + '/')));
  for (const n of names) await run(kwokctl, ['delete', 'cluster', '--name', n], env);
  rmSync(work, { recursive: true, force: true });
  return { seconds, ...mem };
}

const bins = await ensureBinaries(() => undefined);
const m: Awaited<ReturnType<typeof meridianRun>>[] = [];
const k: Awaited<ReturnType<typeof kwokctlRun>>[] = [];
for (let i = 0; i < RUNS; i++) {
  // Alternate so neither tool always runs on a warmer machine.
  m.push(await meridianRun(i));
  k.push(await kwokctlRun(bins));
}
const ms = median(m.map((r) => r.seconds));
const ks = median(k.map((r) => r.seconds));
const mr = median(m.map((r) => r.rssPerCluster));
const kr = median(k.map((r) => r.rssPerCluster));
const mp = median(m.map((r) => r.pssPerCluster));
const kp = median(k.map((r) => r.pssPerCluster));
const lines = [
  `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; ${RUNS} runs each, medians`,
  '',
  '| measure | meridian fleet up | kwokctl (same binaries) | ratio meridian/kwokctl |',
  '|---|---|---|---|',
  `| wall time, hub + 3 members (s) | ${ms.toFixed(1)} | ${ks.toFixed(1)} | ${(ms / ks).toFixed(2)} |`,
  `| memory per cluster, PSS (MiB) | ${mp.toFixed(0)} | ${kp.toFixed(0)} | ${(mp / kp).toFixed(2)} |`,
  `| memory per cluster, RSS (MiB; counts shared binary pages once per process) | ${mr.toFixed(0)} | ${kr.toFixed(0)} | ${(mr / kr).toFixed(2)} |`,
  `| hub process RSS (MiB) | ${median(m.map((r) => r.hubRss)).toFixed(0)} | — | — |`,
  `| whole fleet at rest, CPU over ${IDLE_WINDOW_S} s (% of one core; load avg before: ${m.map((r) => r.load.toFixed(2)).join(', ')}) | ${median(m.map((r) => r.idlePercent)).toFixed(1)} | — | — |`,
  `| member outage → Ready=False on the hub (s) | ${(median(m.map((r) => r.outageMs)) / 1000).toFixed(1)} | — | — |`,
  '',
  'meridian wall time includes certificates, kubeconfigs, registering the members, starting the hub',
  "process and waiting until every Cluster is Ready; kwokctl's includes creating the clusters with",
  '--wait and scaling 3 nodes into each member.',
];
process.stdout.write(`${lines.join('\n')}\n`);
