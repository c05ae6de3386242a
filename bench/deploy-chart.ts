// Benchmark (issue 20): propagation of a real multi-object chart (trust-manager, 15 objects with
// the values below) to a local fleet (hub + 2 members): an Application change until every member
// has applied it, and until the hub reports it Healthy; side by side, in the same run, with
// `helm upgrade --install` of the same chart and values to each member in turn.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { cachedBinaries, REPO_ROOT } from '../src/toolchain/binaries.ts';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../src/kube/cluster-client.ts';
import { freePort } from '../test/support/free-port.ts';
import { cli, fleetUp, joinMembers, newFleetHome, startHub, waitFor } from '../test/support/harness.ts';

const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 20);
const MEMBERS = ['eu-west', 'us-east'];
const CHART = 'test/fixtures/charts/trust-manager';
const values = (sample: number) => ({
  // Certificates from Helm instead of cert-manager (whose kinds the fleet does not serve), and a PDB.
  app: { webhook: { tls: { helmCert: { enabled: true } } } },
  podDisruptionBudget: { enabled: true },
  // Changes every object, as a label change does in real charts.
  commonLabels: { sample: String(sample) },
});

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

const fleet = newFleetHome('127.120.0');
const load0 = loadavg();
// Control planes and a hub process as the integration tests start them (no pod runtime or demo:
// they are not what is measured).
let stopHub: (() => Promise<void>) | undefined;
try {
  await fleetUp(fleet, 2);
  const hubProcess = await startHub(
    fleet,
    'bench-hub',
    await freePort(),
    ['--local-source-root', REPO_ROOT],
    180_000,
  );
  stopHub = () => hubProcess.stop('SIGKILL');
  await joinMembers(fleet, MEMBERS);
  const client = (ctx: string): ClusterClient =>
    new ClusterClient(ctx, loadKubeConfig({ file: fleet.kubeconfig }, ctx));
  const hub = client('hub');
  const members = MEMBERS.map(client);
  type App = KubeObject & { status?: { revision?: number; phase?: string } };
  const appDoc = (sample: number): KubeObject => ({
    apiVersion: 'meridian.dev/v1alpha1',
    kind: 'Application',
    metadata: { name: 'tm', namespace: 'default' },
    spec: {
      destinationNamespace: 'bench',
      placement: { clusters: MEMBERS },
      source: { helm: { chart: CHART, values: values(sample) } },
    },
  });
  const applyApp = (sample: number) => hub.apply(appDoc(sample), { fieldManager: 'bench', force: true });
  const deploymentLabel = async (m: ClusterClient, ns: string, name: string): Promise<string | undefined> =>
    (await m.get('apps/v1', 'Deployment', name, ns))?.metadata.labels?.['sample'];

  await applyApp(0);
  let objects = 0;
  await waitFor('tm Healthy', 180_000, async () => {
    const a = await hub.get<App>('meridian.dev/v1alpha1', 'Application', 'tm', 'default');
    if (a?.status?.phase !== 'Healthy') return undefined;
    const rev = await hub.get<KubeObject & { spec: { clusters: Record<string, unknown[]> } }>(
      'meridian.dev/v1alpha1',
      'ApplicationRevision',
      `tm-${a.status.revision}`,
      'default',
    );
    objects = rev?.spec.clusters['eu-west']?.length ?? 0;
    return true;
  });
  const appliedMs: number[] = [];
  const reportedMs: number[] = [];
  for (let i = 1; i <= SAMPLES; i++) {
    const t0 = performance.now();
    await applyApp(i);
    let applied = 0;
    await waitFor(
      `change ${i}`,
      120_000,
      async () => {
        if (!applied) {
          const labels = await Promise.all(members.map((m) => deploymentLabel(m, 'bench', 'tm')));
          if (labels.every((l) => l === String(i))) applied = performance.now() - t0;
          else return undefined;
        }
        const a = await hub.get<App>('meridian.dev/v1alpha1', 'Application', 'tm', 'default');
        return a?.status?.phase === 'Healthy' && a.status.revision === i + 1 ? true : undefined;
      },
      10,
    );
    appliedMs.push(applied);
    reportedMs.push(performance.now() - t0);
  }

  // Peer: helm upgrade --install of the same chart and values to each member in turn.
  const bins = cachedBinaries()!;
  const helmHome = join(fleet.home, 'helm');
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(helmHome, 'c'),
    HELM_CONFIG_HOME: join(helmHome, 'g'),
    HELM_DATA_HOME: join(helmHome, 'd'),
  };
  const valuesFile = join(fleet.home, 'values.json');
  const helmMs: number[] = [];
  for (let i = 0; i <= SAMPLES; i++) {
    writeFileSync(valuesFile, JSON.stringify(values(i)));
    const t0 = performance.now();
    for (const m of MEMBERS) {
      const r = spawnSync(
        bins.path('helm'),
        [
          'upgrade',
          '--install',
          'tm',
          join(REPO_ROOT, CHART),
          '--namespace',
          'bench-helm',
          '--create-namespace',
          '--kubeconfig',
          fleet.kubeconfig,
          '--kube-context',
          m,
          '--values',
          valuesFile,
        ],
        { env },
      );
      if (r.status !== 0) throw new Error(r.stderr.toString());
    }
    if (i > 0) helmMs.push(performance.now() - t0); // the first is the install
  }
  const load1 = loadavg();
  const row = (what: string, xs: number[]) =>
    `| ${what} | ${pct(xs, 50).toFixed(0)} | ${pct(xs, 99).toFixed(0)} |`;
  process.stdout.write(
    [
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
      `load average before / after: ${load0.map((l) => l.toFixed(2)).join(' ')} / ${load1.map((l) => l.toFixed(2)).join(' ')}`,
      `chart: trust-manager, ${objects} objects per member; ${SAMPLES} changes; 2 members`,
      '',
      '| measure | p50 (ms) | p99 (ms) |',
      '| --- | --- | --- |',
      row('Application change → applied in every member (Meridian)', appliedMs),
      row('Application change → reported Healthy everywhere (Meridian)', reportedMs),
      row('`helm upgrade --install` to each member in turn', helmMs),
      '',
    ].join('\n'),
  );
} finally {
  await stopHub?.();
  await cli(['fleet', 'down'], fleet.env);
}
