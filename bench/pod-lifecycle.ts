// Benchmark: the local pod runtime on a real fleet (one member, no hub process; the pod runtime
// with its Services, cluster DNS and member Prometheus, as `fleet up` runs it with the hub).
//
// Per run (BENCH_RUNS, default 20), a fresh pod of a small Node.js HTTP program (the tests' echo
// server) beside an anchor pod behind one Service:
//   start: pod created → phase Running (written by the runtime) → its process answering on the
//          pod's loopback address → Ready (readiness probe, period 1 s) → its EndpointSlice
//          endpoint ready → a new connection through the Service listener reaches it;
//   death: SIGKILL of the process → pod Ready=False → its endpoint gone or not ready in the slice →
//          new connections through the Service listener no longer go to it (the start of the last
//          of 4 parallel pollers' requests not answered by the anchor; 0 when none was).
//          restartPolicy Never, so a restarted process cannot answer in between and blur the end.
// Then memory: PSS and RSS of each running pod process (BENCH_PODS, default 5, pods at rest), of
// the member Prometheus (after scraping them for the whole run) and of the runtime process.
// Times are seen from this process: pod and slice changes through watches (informers), the
// process and the Service through new TCP connections polled every 5 ms (back to back on the
// death path).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../src/kube/cluster-client.ts';
import { Informer } from '../src/kube/informer.ts';
import { POD_RUNTIME } from '../src/localfleet/fleet.ts';
import { isAlive, processesMentioning, readPid } from '../src/localfleet/processes.ts';
import { readPodAddressFile } from '../src/localfleet/runtime/pod-address-file.ts';
import type { PodObject } from '../src/localfleet/runtime/pod-object.ts';
import { serviceLoopbackPrefix } from '../src/localfleet/runtime/loopback-ranges.ts';
import { clusterDnsAddress } from '../src/localfleet/runtime/service-address-plan.ts';
import type { EndpointSliceObject } from '../src/localfleet/runtime/service-backends.ts';
import { cli, fleetUp, newFleetHome, waitFor } from '../test/support/harness.ts';
import { processMemMiB } from './process-cpu.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 20);
const MEM_PODS = Number(process.env['BENCH_PODS'] ?? 5);
const POLLERS = 4;
const fleet = newFleetHome('127.114.0');
const MEMBER = 'eu-west';
const NS = 'bench';
const PORT = 8080;
const DNS = clusterDnsAddress(serviceLoopbackPrefix(fleet.subnet, 1));

const pod = (name: string, extra: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: NS,
    labels: { app: 'bench-echo' },
    annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(PORT), ...extra },
  },
  spec: {
    restartPolicy: 'Never',
    terminationGracePeriodSeconds: 1,
    containers: [
      {
        name: 'echo',
        image: 'meridian.local/test-echo:1',
        ports: [{ name: 'http', containerPort: PORT }],
        env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
        readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1 },
      },
    ],
  },
});

/** GET / on a new connection; the answering pod's name, or undefined when it fails. */
function whoAnswers(host: string, timeoutMs = 1_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host, port: PORT, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(body) as { pod?: string }).pod : undefined);
        } catch {
          resolve(undefined);
        }
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pid of the pod process of `name` (its environment names the pod). */
function podPid(name: string): number | undefined {
  for (const pid of processesMentioning('echo-server.mjs')) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (env.includes(`POD_NAME=${name}`) && env.some((e) => e.startsWith('MERIDIAN_POD_ADDRESS=')))
        return pid;
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

const comm = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
};

async function main(): Promise<void> {
  writeFileSync(
    join(fleet.home, 'local-images.yaml'),
    'images:\n  meridian.local/test-echo:\n    entrypoint: [node, test/fixtures/local-images/echo-server.mjs]\n',
  );
  let runtime: ChildProcess | undefined;
  const client = (): ClusterClient =>
    new ClusterClient(MEMBER, loadKubeConfig({ file: fleet.kubeconfig }, MEMBER));
  const informers: { stop(): Promise<void> }[] = [];
  try {
    const t0 = Date.now();
    await fleetUp(fleet, 1);
    process.stdout.write(`fleet up (1 member, no hub) in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    // `fleet up --no-hub` runs no member Prometheus (nowhere to register it); this bench measures it too.
    const pid = readPid({ dir: fleet.dir, name: POD_RUNTIME });
    if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGTERM');
    await waitFor("the fleet's runtime gone", 20_000, () =>
      pid === undefined || !isAlive(pid) ? true : undefined,
    );
    runtime = spawn(
      process.execPath,
      [
        join(import.meta.dirname, '..', 'bin', 'meridian.mjs'),
        'fleet',
        'pod-runtime',
        '--kubeconfig',
        fleet.kubeconfig,
      ],
      { env: { ...process.env, ...fleet.env }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let runtimeErr = '';
    runtime.stderr!.on('data', (d: Buffer) => (runtimeErr = (runtimeErr + d.toString()).slice(-4000)));
    const c = client();
    await c.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await c.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'bench-echo', namespace: NS },
      spec: { selector: { app: 'bench-echo' }, ports: [{ name: 'http', port: PORT, targetPort: 'http' }] },
    });
    const pods = new Informer<PodObject & KubeObject>(c, 'v1', 'Pod', { namespace: NS });
    const slices = new Informer<EndpointSliceObject & KubeObject>(c, 'discovery.k8s.io/v1', 'EndpointSlice', {
      namespace: NS,
    });
    informers.push(pods, slices);
    // name → first time each state was seen
    const seen = new Map<string, Map<string, number>>();
    const mark = (name: string, what: string): void => {
      const m = seen.get(name) ?? new Map<string, number>();
      if (!m.has(what)) m.set(what, performance.now());
      seen.set(name, m);
    };
    const readyOf = (p: PodObject): string | undefined =>
      p.status?.conditions?.find((x) => x.type === 'Ready')?.status;
    pods.on((event, p) => {
      const name = p.metadata.name;
      if (event === 'delete') return mark(name, 'deleted');
      if (p.status?.phase === 'Running') mark(name, 'running');
      if (readyOf(p) === 'True') mark(name, 'ready');
      if (readyOf(p) === 'False' && seen.get(name)?.has('ready')) mark(name, 'notReady');
    });
    const ipOf = (name: string): string | undefined => pods.get(name, NS)?.status?.podIP;
    slices.on(() => {
      const state = new Map<string, boolean>();
      for (const s of slices.list())
        for (const e of s.endpoints ?? [])
          for (const a of e.addresses ?? [])
            state.set(a, e.conditions?.ready === true || state.get(a) === true);
      for (const p of pods.list()) {
        const ip = p.status?.podIP;
        if (!ip) continue;
        const name = p.metadata.name;
        if (state.get(ip)) mark(name, 'sliceReady');
        else if (seen.get(name)?.has('sliceReady')) mark(name, 'sliceGone');
      }
    });
    pods.start();
    slices.start();
    await c.apply(pod('anchor'));
    await waitFor('the anchor Ready', 120_000, () => (seen.get('anchor')?.has('ready') ? true : undefined));
    const resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`${DNS}:53`]);
    const service = await waitFor(
      'the Service answering',
      60_000,
      async () => {
        const [addr] = await resolver.resolve4(`bench-echo.${NS}.svc.cluster.local`).catch(() => []);
        return addr && (await whoAnswers(addr)) === 'anchor' ? addr : undefined;
      },
      200,
    );
    process.stdout.write(
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}; ${RUNS} runs; Service ${service}; load average at start ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}\n\n`,
    );

    const rows: Record<string, number>[] = [];
    for (let i = 1; i <= RUNS; i++) {
      const name = `run-${i}`;
      const created = performance.now();
      await c.apply(pod(name));
      const loopback = await waitFor(
        `${name} in the pod map`,
        60_000,
        () => readPodAddressFile(fleet.dir)?.pods.find((r) => r.pod === name)?.loopback,
        5,
      );
      await waitFor(
        `${name} answering`,
        60_000,
        async () => ((await whoAnswers(loopback, 200)) === name ? true : undefined),
        5,
      );
      const answering = performance.now();
      await waitFor(
        `${name} through the Service`,
        60_000,
        async () => ((await whoAnswers(service, 500)) === name ? true : undefined),
        5,
      );
      const inService = performance.now();
      await waitFor(
        `${name} ready in the slice`,
        30_000,
        () => (seen.get(name)?.has('sliceReady') ? true : undefined),
        5,
      );
      const target = await waitFor(`${name}'s process`, 10_000, () => podPid(name), 20);
      // The death path.
      const killed = performance.now();
      process.kill(target, 'SIGKILL');
      // POLLERS loops of new connections through the Service: round robin sends every other one to
      // the dead pod while it is a backend, so the last that did not reach the anchor started
      // just before the listener dropped it (within a request's duration / POLLERS).
      let lastMiss = killed;
      let anchorsAfter = 0;
      const poll = async (): Promise<void> => {
        while (anchorsAfter < 30 || performance.now() - lastMiss < 500) {
          const at = performance.now();
          const who = await whoAnswers(service, 500);
          if (who === 'anchor') anchorsAfter++;
          else if (at > lastMiss) {
            lastMiss = at;
            anchorsAfter = 0;
          }
          if (performance.now() - killed > 60_000)
            throw new Error(`${name} still reached through the Service`);
        }
      };
      await Promise.all(Array.from({ length: POLLERS }, poll));
      await waitFor(
        `${name} NotReady and out of the slice`,
        30_000,
        () => (seen.get(name)?.has('notReady') && seen.get(name)?.has('sliceGone') ? true : undefined),
        5,
      );
      const s = seen.get(name)!;
      const row = {
        'created → Running': s.get('running')! - created,
        'Running → answering': answering - s.get('running')!,
        'answering → Ready': s.get('ready')! - answering,
        'Ready → endpoint ready': s.get('sliceReady')! - s.get('ready')!,
        'created → through the Service': inService - created,
        'kill → NotReady': s.get('notReady')! - killed,
        'kill → endpoint out of the slice': s.get('sliceGone')! - killed,
        'kill → out of the Service listener': lastMiss - killed,
      };
      rows.push(row);
      process.stdout.write(
        `run ${i} (${ipOf(name)} → ${loopback}): ${Object.entries(row)
          .map(([k, v]) => `${k} ${v.toFixed(0)}`)
          .join(', ')} ms; load ${loadavg()[0]!.toFixed(2)}\n`,
      );
      await c.delete('v1', 'Pod', name, NS);
      await waitFor(`${name} deleted`, 60_000, () => (seen.get(name)?.has('deleted') ? true : undefined), 20);
    }
    process.stdout.write('\n| interval | p50 ms | p99 ms | min ms | max ms |\n|---|---|---|---|---|\n');
    for (const k of Object.keys(rows[0] ?? {})) {
      const xs = rows.map((r) => r[k]!);
      process.stdout.write(
        `| ${k} | ${quantile(xs, 0.5).toFixed(0)} | ${quantile(xs, 0.99).toFixed(0)} | ${Math.min(...xs).toFixed(0)} | ${Math.max(...xs).toFixed(0)} |\n`,
      );
    }
    process.stdout.write(
      `\nload average after the runs ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}\n`,
    );

    // Memory: pods at rest, scraped by the member Prometheus for a while.
    for (let i = 1; i < MEM_PODS; i++) await c.apply(pod(`mem-${i}`));
    const names = ['anchor', ...Array.from({ length: MEM_PODS - 1 }, (_, i) => `mem-${i + 1}`)];
    await waitFor('the memory pods Ready', 120_000, () =>
      names.every((n) => seen.get(n)?.has('ready')) ? true : undefined,
    );
    await sleep(20_000); // a couple of scrapes and GCs
    const podPids = names.map((n) => podPid(n)).filter((p): p is number => p !== undefined);
    const proms = processesMentioning(fleet.dir).filter((p) => comm(p) === 'prometheus');
    const mem = (pids: number[], f: 'Pss' | 'Rss'): string =>
      pids.map((p) => processMemMiB(p, f).toFixed(1)).join(' / ');
    process.stdout.write(
      `\nmemory (MiB), ${podPids.length} pod processes: PSS ${mem(podPids, 'Pss')}; RSS ${mem(podPids, 'Rss')}\n` +
        `member Prometheus (${proms.length}): PSS ${mem(proms, 'Pss')}; RSS ${mem(proms, 'Rss')}\n` +
        `pod runtime process (with its Service listeners, DNS): PSS ${mem([runtime.pid!], 'Pss')}; RSS ${mem([runtime.pid!], 'Rss')}\n` +
        `load average at the end ${loadavg()
          .map((x) => x.toFixed(2))
          .join(' ')}\n`,
    );
    if (runtime.exitCode !== null) process.stderr.write(`runtime exited: ${runtimeErr}\n`);
  } finally {
    await Promise.all(informers.map((i) => i.stop()));
    if (runtime && runtime.exitCode === null) {
      const done = new Promise((r) => runtime!.once('exit', r));
      runtime.kill('SIGTERM');
      await Promise.race([done, sleep(20_000)]);
      if (runtime.exitCode === null) runtime.kill('SIGKILL');
    }
    await cli(['fleet', 'down'], fleet.env, 120_000);
    rmSync(fleet.home, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
