// The reference system's deploy artifacts as Meridian reads them: the Application is valid, and the
// chart rendered per cluster (with `helm template`, as the deploy service renders it) gives kwok
// fakes with its own defaults and the real programs with application.yaml's values.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Application } from '../../../src/api/application.ts';
import { validateResource } from '../../../src/api/validate.ts';
import type { KubeObject } from '../../../src/kube/cluster-client.ts';
import { clusterValues, overridesFor } from '../../../src/deploy/overrides.ts';
import { renderHelm } from '../../../src/deploy/render-helm.ts';
import type { TargetCluster } from '../../../src/fleet/targets.ts';
import { REPO_ROOT, cachedBinaries } from '../../../src/toolchain/binaries.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const readApp = (file: string) => parse(readFileSync(join(HERE, '..', file), 'utf8')) as Application;

interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string; valueFrom?: Record<string, Record<string, unknown>> }[];
  readinessProbe?: { httpGet?: { path: string } };
  livenessProbe?: { httpGet?: { path: string } };
}
interface Workload {
  spec: {
    template: { metadata: { annotations?: Record<string, string> }; spec: { containers: Container[] } };
  };
}

test('the Application is a valid Meridian resource', () => {
  const result = validateResource('Application', readApp('application.yaml'));
  assert.ok(result.ok, result.ok ? '' : result.message);
});

/** helm as `meridian fleet build` built it; undefined before the build (or without Go on PATH). */
function builtHelm(): string | undefined {
  try {
    return cachedBinaries()?.path('helm');
  } catch {
    return undefined;
  }
}
const helm = builtHelm();
describe(
  'the chart rendered per cluster',
  { skip: helm ? false : 'helm is not built yet (meridian fleet build)' },
  () => {
    let helmHome: string;
    before(async () => (helmHome = await mkdtemp(join(tmpdir(), 'refsys-helm-'))));
    after(async () => rm(helmHome, { recursive: true, force: true }));

    /** `defaults`: the chart's own values (no values or overrides from the Application). */
    async function render(
      file: string,
      name: string,
      region: string,
      defaults = false,
    ): Promise<KubeObject[]> {
      const app = readApp(file);
      if (defaults) {
        delete (app.spec.source as { helm: { values?: unknown } }).helm.values;
        delete app.spec.overrides;
      }
      const source = app.spec.source as { helm: { chart: string; values?: Record<string, unknown> } };
      const cluster: TargetCluster = { name, region, labels: {}, ready: true };
      const result = await renderHelm({
        helmPath: helm!,
        helmHome,
        chart: join(REPO_ROOT, source.helm.chart),
        chartField: 'spec.source.helm.chart',
        releaseName: 'reference-system',
        namespace: app.spec.destinationNamespace ?? 'shop',
        cluster,
        values: clusterValues(source.helm.values, overridesFor(app.spec.overrides, cluster)),
      });
      assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
      return result.objects;
    }
    const find = (objs: KubeObject[], kind: string, name: string) =>
      objs.find((o) => o.kind === kind && o.metadata.name === name) as (KubeObject & Workload) | undefined;
    const env = (c: Container) =>
      Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

    test("the chart's defaults: kwok fakes, nothing of the real programs", async () => {
      const objs = await render('application.yaml', 'eu-west', 'eu-west', true);
      assert.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
        'Deployment/app1',
        'Deployment/app2',
        'Service/app1',
        'Service/app2',
        'Service/db',
        'StatefulSet/db',
      ]);
      const app1 = find(objs, 'Deployment', 'app1')!.spec.template;
      assert.equal(app1.metadata.annotations, undefined);
      assert.deepEqual(env(app1.spec.containers[0]!), {
        APP2_URL: 'http://app2.shop.svc:8080',
        MERIDIAN_CLUSTER: 'eu-west',
        MERIDIAN_REGION: 'eu-west',
      });
      assert.equal(app1.spec.containers[0]!.livenessProbe, undefined);
      assert.equal(
        (find(objs, 'Service', 'db') as unknown as { spec: { clusterIP?: string } }).spec.clusterIP,
        'None',
      );
    });

    test('local runtime: local images, probes, scrape annotations, cluster and OTLP env, app2 exported', async () => {
      const objs = await render('application.yaml', 'eu-west', 'eu-west');
      assert.equal(find(objs, 'StatefulSet', 'db'), undefined, 'the database runs in ap-south only');
      assert.ok(find(objs, 'ServiceExport', 'app2'));
      assert.ok(find(objs, 'Secret', 'db-credentials'));
      for (const [name, image] of [
        ['app1', 'meridian.local/app1:1'],
        ['app2', 'meridian.local/app2:1'],
      ] as const) {
        const pod = find(objs, 'Deployment', name)!.spec.template;
        const c = pod.spec.containers[0]!;
        assert.equal(c.image, image);
        assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
        assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
        assert.deepEqual(pod.metadata.annotations, {
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': '8080',
          'prometheus.io/path': '/metrics',
        });
        const e = env(c);
        assert.equal(e['CLUSTER_NAME'], 'eu-west');
        assert.equal(e['PORT'], '8080');
        assert.equal(e['OTEL_SERVICE_NAME'], name);
        assert.equal(
          e['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'],
          'http://127.0.0.1:7443/v1/clusters/eu-west/traces',
        );
        assert.match(String(e['OTEL_RESOURCE_ATTRIBUTES']), /^k8s\.cluster\.name=eu-west,/);
        assert.deepEqual(e['OTEL_EXPORTER_OTLP_HEADERS'], {
          secretKeyRef: { name: 'meridian-otlp', key: 'headers', optional: true },
        });
      }
      assert.equal(
        env(find(objs, 'Deployment', 'app1')!.spec.template.spec.containers[0]!)['APP2_URL'],
        'http://app2',
      );
      const app2Env = env(find(objs, 'Deployment', 'app2')!.spec.template.spec.containers[0]!);
      assert.deepEqual(
        [app2Env['PGHOST'], app2Env['PGPORT'], app2Env['PGUSER'], app2Env['PGDATABASE']],
        ['db.shop.svc.clusterset.local', '5432', 'shop', 'shop'],
      );
      const app2Svc = find(objs, 'Service', 'app2') as unknown as { spec: { ports: { port: number }[] } };
      assert.equal(app2Svc.spec.ports[0]!.port, 80);
    });

    test('local runtime in ap-south: the database StatefulSet, its ClusterIP Service and its ServiceExport', async () => {
      const objs = await render('application.yaml', 'ap-south', 'ap-south');
      const db = find(objs, 'StatefulSet', 'db')!;
      assert.equal(db.spec.template.spec.containers[0]!.image, 'meridian.local/postgres:15');
      assert.deepEqual(Object.keys(env(db.spec.template.spec.containers[0]!)).sort(), [
        'POSTGRES_DB',
        'POSTGRES_PASSWORD',
        'POSTGRES_USER',
      ]);
      const svc = find(objs, 'Service', 'db') as unknown as { spec: { clusterIP?: string } };
      assert.equal(svc.spec.clusterIP, undefined);
      assert.ok(find(objs, 'ServiceExport', 'db'));
      assert.equal(
        (find(objs, 'Deployment', 'app1') as unknown as { spec: { replicas: number } }).spec.replicas,
        1,
      );
    });
  },
);
