// The chart corpus: real public charts (test/fixtures/charts/SOURCES.md), packaged and served from a
// loopback chart repository, rendered by Meridian for two clusters. Each renders, its object count
// equals `helm template` with the same values, and built-in values never break a strict schema.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import type { Application } from '../src/api/application.ts';
import { assertValidResource } from '../src/api/validate.ts';
import { namespacedByKind } from '../src/deploy/application-controller.ts';
import { renderApplication } from '../src/deploy/render.ts';
import type { RenderEnv, RenderTools } from '../src/deploy/render.ts';
import type { TargetCluster } from '../src/fleet/targets.ts';
import { cachedBinaries, REPO_ROOT } from '../src/toolchain/binaries.ts';

function findTools(): RenderTools | undefined {
  try {
    const bins = cachedBinaries();
    return bins ? { helm: bins.path('helm'), kubectl: bins.path('kubectl') } : undefined;
  } catch {
    return undefined;
  }
}
const tools = findTools();
const skip = tools ? false : 'helm and kubectl are not built (run `meridian fleet build`)';
const CHARTS = join(REPO_ROOT, 'test', 'fixtures', 'charts');

/** Each chart of the corpus with the values a user would need, and what makes it interesting. */
export const CORPUS: readonly { chart: string; values?: Record<string, unknown>; style: string }[] = [
  { chart: 'trust-manager', style: 'strict schema, CRD, webhook' },
  { chart: 'external-dns', values: { policy: 'sync' }, style: 'CRDs in crds/, required values' },
  { chart: 'prometheus-operator-admission-webhook', style: 'hooks' },
  { chart: 'alertmanager', style: 'StatefulSet' },
  { chart: 'prometheus-node-exporter', style: 'DaemonSet' },
  { chart: 'kube-state-metrics', style: 'Deployment, cluster RBAC' },
  { chart: 'prometheus-pushgateway', style: 'Deployment' },
  { chart: 'prometheus-blackbox-exporter', style: 'ConfigMap-driven Deployment' },
];

// Kinds the fleet's members would serve once the charts' CRDs (or cert-manager's) are installed.
const EXTRA_KINDS: Record<string, boolean> = {
  'cert-manager.io/v1/Certificate': true,
  'cert-manager.io/v1/Issuer': true,
  'monitoring.coreos.com/v1/ServiceMonitor': true,
  'externaldns.k8s.io/v1alpha1/DNSEndpoint': true,
};

const clusters: TargetCluster[] = [
  {
    name: 'eu-west',
    region: 'eu-west',
    zone: 'eu-west-a',
    labels: {},
    kubernetesVersion: 'v1.35.4',
    ready: true,
  },
  { name: 'us-east', region: 'us-east', labels: {}, kubernetesVersion: 'v1.34.2', ready: true },
];

let work: string;
let env: RenderEnv;
let server: Server;
let repoURL: string;
const versions = new Map<string, string>();

const helmEnv = () => ({
  ...process.env,
  HELM_CACHE_HOME: join(work, 'h', 'c'),
  HELM_CONFIG_HOME: join(work, 'h', 'g'),
  HELM_DATA_HOME: join(work, 'h', 'd'),
});

function application(name: string, helm: Record<string, unknown>): Application {
  return assertValidResource('Application', {
    apiVersion: 'meridian.dev/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'team-a' },
    spec: { destinationNamespace: name, placement: { clusters: ['eu-west', 'us-east'] }, source: { helm } },
  });
}

/** Objects `helm template` renders for `chart` with `values` (the reference count). */
function helmTemplateCount(chart: string, values: Record<string, unknown>, kubeVersion: string): number {
  const file = join(work, `values-${chart}.json`);
  writeFileSync(file, JSON.stringify(values));
  const out = execFileSync(
    tools!.helm,
    ['template', chart, join(CHARTS, chart), '--namespace', chart, '--include-crds', '--skip-tests'].concat([
      '--kube-version',
      kubeVersion,
      '--values',
      file,
    ]),
    { env: helmEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  return out.split(/^---\s*$/m).filter((doc) => {
    const v = parse(doc) as unknown;
    return v !== null && typeof v === 'object';
  }).length;
}

describe('real-world chart corpus', { skip }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'meridian-charts-test-'));
    const repo = join(work, 'repo');
    mkdirSync(repo, { recursive: true });
    for (const { chart } of CORPUS) {
      execFileSync(tools!.helm, ['package', join(CHARTS, chart), '--destination', repo], { env: helmEnv() });
      const meta = parse(readFileSync(join(CHARTS, chart, 'Chart.yaml'), 'utf8')) as { version: string };
      versions.set(chart, meta.version);
    }
    execFileSync(tools!.helm, ['repo', 'index', repo], { env: helmEnv() });
    server = createServer((req, res) => {
      const name = (req.url ?? '/').replace(/^\/+/, '').split('?')[0] ?? '';
      if (!/^[\w.-]+$/.test(name)) {
        res.writeHead(404).end();
        return;
      }
      try {
        res.writeHead(200).end(readFileSync(join(repo, name)));
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    repoURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    env = {
      revision: 1,
      isNamespaced: (cluster, apiVersion, kind) =>
        namespacedByKind(cluster, apiVersion, kind, new Map()) ?? EXTRA_KINDS[`${apiVersion}/${kind}`],
      cacheDir: join(work, 'cache'),
      tools: tools!,
    };
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    rmSync(work, { recursive: true, force: true });
  });

  for (const { chart, values, style } of CORPUS) {
    test(`${chart} (${style}) renders from the repository with as many objects as helm template`, async () => {
      const app = application(chart, {
        chart,
        repoURL,
        version: versions.get(chart),
        ...(values ? { values } : {}),
      });
      const outcome = await renderApplication(app, clusters, env);
      assert.ok(outcome.ok, outcome.ok ? '' : JSON.stringify(outcome.errors, null, 2));
      for (const c of outcome.clusters) {
        const target = clusters.find((t) => t.name === c.cluster)!;
        assert.equal(
          c.objects.length,
          helmTemplateCount(chart, values ?? {}, target.kubernetesVersion!),
          c.cluster,
        );
        assert.ok(c.objects.length >= 3, `${chart} renders real content`);
      }
    });
  }

  test('a strict schema gets the built-in values under global.meridian, with a notice saying so', async () => {
    const outcome = await renderApplication(
      application('trust-manager', {
        chart: 'trust-manager',
        repoURL,
        version: versions.get('trust-manager'),
      }),
      clusters,
      env,
    );
    assert.ok(outcome.ok, outcome.ok ? '' : JSON.stringify(outcome.errors));
    assert.match(
      outcome.notices?.join('\n') ?? '',
      /global\.meridian.*does not allow a top-level "meridian"/,
    );
    // Off, and a key of the user's choosing the schema rejects: helm's own error, naming the key.
    const off = await renderApplication(
      application('tm-off', { chart: 'trust-manager', repoURL, meridianValues: false }),
      clusters,
      env,
    );
    assert.ok(off.ok);
    assert.match(off.notices?.join('\n') ?? '', /off/);
    const bad = await renderApplication(
      application('tm-bad', { chart: 'trust-manager', repoURL, meridianValuesKey: 'cluster' }),
      clusters,
      env,
    );
    assert.ok(!bad.ok);
    assert.match(bad.errors[0]?.message ?? '', /additional properties 'cluster' not allowed/);
  });

  test('a chart with an open schema keeps them at meridian, without a notice', async () => {
    const outcome = await renderApplication(
      application('alertmanager', { chart: 'alertmanager', repoURL }),
      clusters,
      env,
    );
    assert.ok(outcome.ok, outcome.ok ? '' : JSON.stringify(outcome.errors));
    assert.equal(outcome.notices, undefined);
  });
});
