// Benchmark: the deploy service on a local fleet (hub + 3 members, hub process running).
// - propagation latency p50/p99: an Application change until every member has applied it, and
//   until the hub reports it Healthy everywhere; side by side with `kubectl apply --server-side`
//   of the same manifest to each cluster in turn;
// - fleet-wide rollback: failure detected → every cluster Healthy on the previous revision;
// - N Applications × 3 members from cold: convergence time, then hub CPU, RSS and API writes per
//   minute in steady state.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { cachedBinaries } from '../src/toolchain/binaries.ts';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../src/kube/cluster-client.ts';
import { cli, newFleetHome, readPidFile, waitFor } from '../test/support/harness.ts';

const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 30);
const APPS = Number(process.env['BENCH_APPS'] ?? 1000);
const MEMBERS = ['eu-west', 'us-east', 'ap-south'];

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

const fleet = newFleetHome('127.84.0');
const up = await cli(
  ['fleet', 'up', '--members', '3', '--subnet', fleet.subnet, '--no-demo'],
  fleet.env,
  600_000,
);
if (up.code !== 0) throw new Error(up.stderr);
const client = (ctx: string): ClusterClient =>
  new ClusterClient(ctx, loadKubeConfig({ file: fleet.kubeconfig }, ctx));
const hub = client('hub');
const members = MEMBERS.map(client);
const hubPid = readPidFile(join(fleet.dir, 'meridian-hub.pid'));

type App = KubeObject & { status?: { revision?: number; phase?: string; readyClusters?: string } };
const appDoc = (name: string, data: Record<string, string>, extra: object[] = []): KubeObject => ({
  apiVersion: 'meridian.dev/v1alpha1',
  kind: 'Application',
  metadata: { name, namespace: 'default' },
  spec: {
    destinationNamespace: 'bench',
    placement: { clusters: MEMBERS },
    source: {
      manifests: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${name}-cfg` }, data }, ...extra],
    },
  },
});
const applyApp = (doc: KubeObject): Promise<KubeObject> =>
  hub.apply(doc, { fieldManager: 'bench', force: true });

// 1. Propagation latency.
const appliedMs: number[] = [];
const reportedMs: number[] = [];
await applyApp(appDoc('prop', { v: '0' }));
await waitFor('prop Healthy', 60_000, async () =>
  (await hub.get<App>('meridian.dev/v1alpha1', 'Application', 'prop', 'default'))?.status?.phase === 'Healthy'
    ? true
    : undefined,
);
for (let i = 1; i <= SAMPLES; i++) {
  const t0 = performance.now();
  await applyApp(appDoc('prop', { v: String(i) }));
  const pending = new Set(MEMBERS);
  let applied = 0;
  await waitFor(
    `change ${i} applied everywhere`,
    30_000,
    async () => {
      await Promise.all(
        members.map(async (m) => {
          if (!pending.has(m.name)) return;
          const cm = await m.get<KubeObject & { data?: Record<string, string> }>(
            'v1',
            'ConfigMap',
            'prop-cfg',
            'bench',
          );
          if (cm?.data?.['v'] === String(i)) pending.delete(m.name);
        }),
      );
      if (pending.size === 0 && !applied) applied = performance.now() - t0;
      if (!applied) return undefined;
      const a = await hub.get<App>('meridian.dev/v1alpha1', 'Application', 'prop', 'default');
      return a?.status?.phase === 'Healthy' && a.status.revision === i + 1 ? true : undefined;
    },
    10,
  );
  appliedMs.push(applied);
  reportedMs.push(performance.now() - t0);
}

// Peer: kubectl apply --server-side of the same manifest to each cluster in turn.
const kubectl = cachedBinaries()!.path('kubectl');
const manifestFile = join(fleet.home, 'cm.yaml');
const kubectlMs: number[] = [];
for (let i = 1; i <= SAMPLES; i++) {
  writeFileSync(
    manifestFile,
    stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kubectl-cfg', namespace: 'bench' },
      data: { v: String(i) },
    }),
  );
  const t0 = performance.now();
  for (const m of MEMBERS) {
    const r = spawnSync(kubectl, [
      '--kubeconfig',
      fleet.kubeconfig,
      '--context',
      m,
      'apply',
      '--server-side',
      '--field-manager',
      'bench',
      '-f',
      manifestFile,
    ]);
    if (r.status !== 0) throw new Error(r.stderr.toString());
  }
  kubectlMs.push(performance.now() - t0);
}

// 2. Fleet-wide rollback time.
const deployment = (annotations: Record<string, string>): object => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'rb' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'rb' } },
    template: {
      metadata: { labels: { app: 'rb' }, annotations },
      spec: { containers: [{ name: 'c', image: 'example/rb:1' }] },
    },
  },
});
const rbApp = (annotations: Record<string, string>, crashIn?: string): KubeObject => {
  const d = appDoc('rb', { v: '1' }, [deployment(annotations)]);
  if (crashIn) {
    (d['spec'] as Record<string, unknown>)['overrides'] = [
      {
        clusters: [crashIn],
        patches: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: { name: 'rb' },
            spec: { template: { metadata: { annotations: { 'meridian.dev/simulate': 'crash' } } } },
          },
        ],
      },
    ];
  }
  return d;
};
const rollbackMs: number[] = [];
for (let i = 0; i < 3; i++) {
  await applyApp(rbApp({ round: `${i}-good` }));
  await waitFor(
    'rb Healthy',
    60_000,
    async () =>
      (await hub.get<App>('meridian.dev/v1alpha1', 'Application', 'rb', 'default'))?.status?.phase ===
      'Healthy'
        ? true
        : undefined,
    50,
  );
  await applyApp(rbApp({ round: `${i}-bad` }, 'ap-south'));
  let detected = 0;
  await waitFor(
    'rb RolledBack',
    120_000,
    async () => {
      const a = await hub.get<App & { status?: { mode?: string } }>(
        'meridian.dev/v1alpha1',
        'Application',
        'rb',
        'default',
      );
      if (!detected && a?.status?.mode === 'RollingBack') detected = performance.now();
      return a?.status?.phase === 'RolledBack' ? true : undefined;
    },
    20,
  );
  rollbackMs.push(performance.now() - (detected || performance.now()));
}

// 3. N Applications from cold, then steady state.
const cpuTicks = (): number => {
  const f = readFileSync(`/proc/${hubPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
};
const rssMiB = (): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${hubPid}/status`, 'utf8'))![1]) / 1024;
/** Writes the hub's API server served, by resource (leases, events, auth reviews and node heartbeats left out). */
const writes = async (): Promise<Map<string, number>> => {
  const text = await hub.rest.get<string>('/metrics');
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{') || !/verb="(POST|PUT|PATCH|DELETE|APPLY)"/.test(line))
      continue;
    const res = /resource="([^"]*)"/.exec(line)?.[1] ?? '';
    const sub = /subresource="([^"]*)"/.exec(line)?.[1] ?? '';
    if (/^(leases|events|tokenreviews|subjectaccessreviews|nodes)$/.test(res)) continue;
    const key = sub ? `${res}/${sub}` : res;
    out.set(key, (out.get(key) ?? 0) + Number(line.split(' ').pop()));
  }
  return out;
};
const t0 = performance.now();
for (let i = 0; i < APPS; i += 20) {
  await Promise.all(
    Array.from({ length: Math.min(20, APPS - i) }, (_, j) => applyApp(appDoc(`app-${i + j}`, { v: '1' }))),
  );
}
await waitFor(
  `${APPS} applications Healthy`,
  1_800_000,
  async () => {
    const list = await hub.list<App>('meridian.dev/v1alpha1', 'Application', {
      namespace: 'default',
      timeoutMs: 60_000,
    });
    const healthy = list.items.filter(
      (a) => a.metadata.name.startsWith('app-') && a.status?.phase === 'Healthy',
    ).length;
    return healthy === APPS ? true : undefined;
  },
  2_000,
);
const convergeS = (performance.now() - t0) / 1000;
await new Promise((r) => setTimeout(r, 40_000)); // let every app settle into its idle requeue
const c0 = cpuTicks();
const w0 = await writes();
const steadyS = 60;
await new Promise((r) => setTimeout(r, steadyS * 1000));
const cpuPct = ((cpuTicks() - c0) / 100 / steadyS) * 100;
const w1 = await writes();
const perResource = [...w1]
  .map(([k, v]) => [k, (v - (w0.get(k) ?? 0)) / (steadyS / 60)] as const)
  .filter(([, v]) => v > 0);
const writesPerMin = perResource.reduce((a, [, v]) => a + v, 0);
const rss = rssMiB();

await cli(['fleet', 'down'], fleet.env);
rmSync(fleet.home, { recursive: true, force: true });

const f = (x: number): string => x.toFixed(0);
process.stdout.write(
  [
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}`,
    '',
    `| measure (${SAMPLES} changes, 3 members) | p50 (ms) | p99 (ms) |`,
    '|---|---|---|',
    `| change → applied in every member (Meridian) | ${f(pct(appliedMs, 50))} | ${f(pct(appliedMs, 99))} |`,
    `| change → reported Healthy everywhere in status (Meridian) | ${f(pct(reportedMs, 50))} | ${f(pct(reportedMs, 99))} |`,
    `| kubectl apply --server-side to each member in turn | ${f(pct(kubectlMs, 50))} | ${f(pct(kubectlMs, 99))} |`,
    `| ratio Meridian applied / kubectl | ${(pct(appliedMs, 50) / pct(kubectlMs, 50)).toFixed(2)} | ${(pct(appliedMs, 99) / pct(kubectlMs, 99)).toFixed(2)} |`,
    '',
    `fleet-wide rollback, failure detected → every cluster Healthy on the previous revision: ${rollbackMs.map(f).join(', ')} ms (3 runs)`,
    '',
    `${APPS} Applications × 3 members (1 ConfigMap each) from cold: converged in ${convergeS.toFixed(1)} s;`,
    `steady state over ${steadyS} s: hub CPU ${cpuPct.toFixed(1)} % of one core, hub RSS ${f(rss)} MiB, ${f(writesPerMin)} API writes/min to the hub (${perResource.map(([k, v]) => `${k}: ${f(v)}`).join(', ') || 'none'}; leases, events, auth reviews and node heartbeats left out)`,
  ].join('\n') + '\n',
);
