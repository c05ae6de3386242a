// The fleet topology and the hub's own fleet metrics against a real local fleet (hub + 2 members):
// an Application deployed by Meridian shows its app and revision per cluster, an MCS export shows
// as an import in the other member, GlobalIngress health per cluster, all behind the hub's RBAC.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  applyApplication,
  fleetUp,
  joinMembers,
  metricsToken,
  newFleetHome,
  readPidFile,
  serviceAccountToken,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
  applyDocs,
  tearDownFleet,
} from './support/harness.ts';
import { app2Export, app2Workload } from './support/app2.ts';
import { freeze, thaw } from './support/freeze.ts';
import { ClusterClient, loadKubeConfig } from '../src/kube/cluster-client.ts';
import { ensureConsole } from '../src/hub/console-build.ts';

// A variable, so the root project's type check does not follow it into the console's DOM code.
const CONSOLE_RENDER = '../console/test-support/render-console.tsx';
interface RenderedConsole {
  text(): string;
  query(selector: string): unknown;
  queryAll(selector: string): { textContent: string | null }[];
  type(selector: string, value: string): void;
  click(selector: string): void;
  navigate(hash: string): void;
  token(): string | null;
  close(): Promise<void>;
}

const fleet: TestFleet = newFleetHome('127.76.0');
const MEMBERS = ['eu-west', 'us-east'] as const;
const HUB_PORT = 18643;
let hub: HubProcess;
let viewer: string;

interface TopologyAnswer {
  regions: { name: string; clusters: string[] }[];
  clusters: {
    name: string;
    region: string;
    ready: boolean;
    reachable: boolean;
    apps: { namespace: string; app: string; workload: string; application?: string; revision?: string }[];
    applications: { namespace: string; name: string; revision?: number; phase?: string }[];
    imports: { namespace: string; name: string; sourceClusters: string[] }[];
    globalTraffic: { name: string; hosts: string[]; healthy: boolean }[];
  }[];
  warnings: string[];
}

async function api(path: string, token: string | undefined): Promise<{ status: number; body: unknown }> {
  const r = await fetch(`http://127.0.0.1:${HUB_PORT}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: r.status, body: await r.json().catch(() => undefined) };
}

async function topology(): Promise<TopologyAnswer> {
  const r = await api('/api/v1/topology', viewer);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as TopologyAnswer;
}

const applyYaml = (context: string, docs: object[]): Promise<void> => applyDocs(fleet, context, docs);

describe('fleet topology', () => {
  before(async () => {
    await fleetUp(fleet, MEMBERS.length);
    await ensureConsole(); // before the hub starts: it serves the build it finds then
    hub = await startHub(fleet, 'topology-hub', HUB_PORT);
    await joinMembers(fleet, MEMBERS);
    viewer = await serviceAccountToken(fleet, 'viewer', 'meridian-viewer');
    const [, deploymentDoc, serviceDoc] = app2Workload(2);
    await applyApplication(fleet, 'shop', {
      destinationNamespace: 'shop',
      placement: { clusters: [...MEMBERS] },
      source: { manifests: [deploymentDoc, serviceDoc] },
    });
  });

  after(async () => {
    if (hub) writeFileSync(join(fleet.home, '..', 'meridian-topology-test-hub.log'), hub.logs());
    await tearDownFleet(fleet, hub);
  });

  test('shows regions, and per cluster the apps Meridian deployed at the revision they run', async () => {
    const t = await waitFor('app2 at revision 1 in both members', 120_000, async () => {
      const t = await topology();
      const ok = MEMBERS.every((m) =>
        t.clusters
          .find((c) => c.name === m)
          ?.apps.some((a) => a.app === 'app2' && a.revision === '1' && a.application === 'default.shop'),
      );
      return ok ? t : undefined;
    });
    assert.deepEqual(
      t.regions
        .map((r) => r.clusters)
        .flat()
        .sort(),
      [...MEMBERS],
    );
    for (const c of t.clusters) {
      assert.equal(c.ready, true, `${c.name} ready`);
      assert.equal(c.reachable, true, `${c.name} reachable`);
      const app = c.apps.find((a) => a.app === 'app2')!;
      assert.equal(app.namespace, 'shop');
      assert.equal(app.workload, 'Deployment/app2');
    }
    await waitFor('the Application Healthy in both members', 60_000, async () => {
      const t = await topology();
      return t.clusters.every((c) =>
        c.applications.some((a) => a.name === 'shop' && a.revision === 1 && a.phase === 'Healthy'),
      )
        ? true
        : undefined;
    });
  });

  test("the hub's fleet metrics give each cluster's application health at its revision", async () => {
    const token = await metricsToken(fleet);
    const text = await waitFor('meridian_application_cluster_healthy for both members', 30_000, async () => {
      const r = await fetch(`http://127.0.0.1:${HUB_PORT}/metrics`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = await r.text();
      return MEMBERS.every((m) =>
        body.includes(
          `meridian_application_cluster_healthy{namespace="default",application="shop",cluster="${m}",region="${m}",revision="1"} 1`,
        ),
      )
        ? body
        : undefined;
    });
    assert.match(
      text,
      /meridian_rollouts_total\{namespace="default",application="shop",outcome="Succeeded"\} 1/,
    );
  });

  test('an export in one member shows as an import in the other, joined to its source cluster', async () => {
    await applyYaml('eu-west', [app2Export]);
    const t = await waitFor('shop/app2 imported in us-east from eu-west', 60_000, async () => {
      const t = await topology();
      const imp = t.clusters.find((c) => c.name === 'us-east')?.imports.find((i) => i.name === 'app2');
      return imp?.sourceClusters.includes('eu-west') ? t : undefined;
    });
    const euImport = t.clusters.find((c) => c.name === 'eu-west')?.imports.find((i) => i.name === 'app2');
    assert.deepEqual(
      euImport?.sourceClusters,
      ['eu-west'],
      'the exporter imports its own export too (KEP-1645)',
    );
  });

  test('a trace crossing clusters draws an edge marked cross-cluster and east–west (the callee is imported)', async () => {
    const writer = await serviceAccountToken(fleet, 'collector', 'meridian-telemetry-writer');
    const traceId = randomBytes(16).toString('hex');
    const clientSpan = randomBytes(8).toString('hex');
    const now = BigInt(Date.now()) * 1_000_000n;
    const span = (service: string, spanId: string, kind: number, parent?: string): object => ({
      resource: {
        attributes: [
          { key: 'service.name', value: { stringValue: service } },
          { key: 'k8s.namespace.name', value: { stringValue: 'shop' } },
        ],
      },
      scopeSpans: [
        {
          spans: [
            {
              traceId,
              spanId,
              ...(parent ? { parentSpanId: parent } : {}),
              name: 'GET /items',
              kind,
              startTimeUnixNano: String(now),
              endTimeUnixNano: String(now + 20_000_000n),
            },
          ],
        },
      ],
    });
    // app1 in eu-west calls app2 in us-east; each cluster's collector uses its own endpoint.
    for (const [cluster, body] of [
      ['eu-west', span('app1', clientSpan, 3)],
      ['us-east', span('app2', randomBytes(8).toString('hex'), 2, clientSpan)],
    ] as const) {
      const r = await fetch(`http://127.0.0.1:${HUB_PORT}/v1/clusters/${cluster}/traces`, {
        method: 'POST',
        headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ resourceSpans: [body] }),
      });
      assert.equal(r.status, 200, await r.text());
    }
    const edge = await waitFor('the app1 → app2 edge', 30_000, async () => {
      const t = (await topology()) as TopologyAnswer & {
        serviceGraph: {
          edges: {
            source: { service: string; cluster?: string };
            target: { service: string; cluster?: string };
            crossCluster: boolean;
            eastWest: boolean;
            calls: number;
          }[];
        };
      };
      return t.serviceGraph.edges.find((e) => e.source.service === 'app1' && e.target.service === 'app2');
    });
    assert.equal(edge.source.cluster, 'eu-west');
    assert.equal(edge.target.cluster, 'us-east');
    assert.equal(edge.calls, 1);
    assert.equal(edge.crossCluster, true);
    assert.equal(edge.eastWest, true, 'shop/app2 is imported in eu-west');
  });

  test('GlobalIngress health shows on each placed cluster', async () => {
    await applyYaml('hub', [
      {
        apiVersion: 'meridian.dev/v1alpha1',
        kind: 'GlobalIngress',
        metadata: { name: 'shop', namespace: 'default' },
        spec: {
          hosts: ['shop.example.test'],
          rules: [{ path: '/', service: 'app2', port: 8080 }],
          applicationRef: { name: 'shop' },
          healthCheck: { path: '/', intervalSeconds: 1, timeoutSeconds: 1 },
        },
      },
    ]);
    await waitFor('GlobalIngress shop on both clusters', 60_000, async () => {
      const t = await topology();
      return MEMBERS.every((m) =>
        t.clusters
          .find((c) => c.name === m)
          ?.globalTraffic.some((g) => g.name === 'shop' && g.hosts[0] === 'shop.example.test'),
      )
        ? true
        : undefined;
    });
  });

  test('a member that does not answer is marked unreachable with a warning, the rest still answers', async () => {
    const pid = readPidFile(join(fleet.dir, 'us-east', 'kube-apiserver.pid'));
    const usEast = new ClusterClient('us-east', loadKubeConfig({ file: fleet.kubeconfig }, 'us-east'));
    try {
      // Not just SIGSTOP: until every thread has stopped, the API server still answers (freeze.ts).
      await freeze(pid);
      await assert.rejects(
        usEast.version(500),
        /no answer within 500 ms/,
        "us-east's API server still answers after the freeze",
      );
      const started = Date.now();
      const t = await topology();
      const took = Date.now() - started;
      assert.equal(t.clusters.find((c) => c.name === 'us-east')?.reachable, false, `answered in ${took} ms`);
      assert.match(t.warnings.join('\n'), /us-east/);
      assert.equal(t.clusters.find((c) => c.name === 'eu-west')?.reachable, true);
      // The hub waited for us-east's own timeout (3 s): it asked the member, not a cache.
      assert.ok(took >= 2_500, `answered in ${took} ms, before the member timeout`);
      assert.ok(took < 10_000, `a frozen member delays the answer only by its timeout; took ${took} ms`);
    } finally {
      thaw(pid);
      usEast.close();
    }
  });

  test('requires a token and RBAC, and documents itself in OpenAPI', async () => {
    assert.equal((await api('/api/v1/topology', undefined)).status, 401);
    const nobody = await serviceAccountToken(fleet, 'nobody', undefined);
    const denied = await api('/api/v1/topology', nobody);
    assert.equal(denied.status, 403);
    assert.match(JSON.stringify(denied.body), /cannot get topology\.observe\.meridian\.dev/);
    const bad = await api('/api/v1/topology?window=forever', viewer);
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /window/);
    const doc = await api('/api/v1/openapi.json', viewer);
    assert.equal(doc.status, 200);
    const paths = Object.keys((doc.body as { paths: Record<string, unknown> }).paths);
    assert.ok(paths.includes('/api/v1/topology'), paths.join(' '));
  });

  test('serves the web console without a token, with headers that keep it to its own origin', async () => {
    const page = await fetch(`http://127.0.0.1:${HUB_PORT}/console/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(
      page.headers.get('content-security-policy') ?? '',
      /default-src 'none'.*connect-src 'self'.*frame-ancestors 'none'/,
    );
    const html = await page.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, html);
    const js = await fetch(`http://127.0.0.1:${HUB_PORT}${script}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await fetch(`http://127.0.0.1:${HUB_PORT}/console/assets/missing.js`)).status, 404);
    const root = await fetch(`http://127.0.0.1:${HUB_PORT}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/console/');
  });

  test('the web console signs in with a token and shows the fleet, the cross-cluster call and its trace', async () => {
    const { renderConsole } = (await import(CONSOLE_RENDER)) as {
      renderConsole: (base: string, token?: string) => Promise<RenderedConsole>;
    };
    const page = await renderConsole(`http://127.0.0.1:${HUB_PORT}`);
    try {
      const shows = (what: string, test: (text: string) => boolean, ms = 15_000): Promise<true> =>
        waitFor(what, ms, async () => (test(page.text()) ? true : undefined));
      await shows('the sign-in form', (t) => t.includes('Sign in'));
      page.type('textarea', 'not-a-token');
      page.click('button[type=submit]');
      await shows('the rejection', (t) => t.includes('not signed in or the token expired'));
      assert.equal(page.token(), null, 'a rejected token is not kept');

      page.type('textarea', viewer);
      page.click('button[type=submit]');
      await shows(
        'both clusters with app2 at revision 1',
        (t) => MEMBERS.every((m) => t.includes(m)) && t.includes('Deployment/app2'),
      );
      const rows = page.queryAll('tr').map((r) => r.textContent ?? '');
      assert.ok(
        rows.some((r) => r.startsWith('app2shopDeployment/app2default.shop1')),
        rows.join('\n'),
      );
      assert.ok(
        page.query('svg.graph path.edge.cross.eastwest'),
        'the app1 → app2 edge is drawn as cross-cluster, through an import',
      );

      page.navigate('#/traces');
      await shows('the cross-cluster trace in the list', (t) => t.includes('app1: GET /items'));
      page.click('a[href^="#/traces/"]');
      await shows('the hop marked with the clusters it crossed', (t) => t.includes('⇄ eu-west → us-east'));

      page.navigate('#/logs');
      await shows('the logs view', (t) => t.includes('Follow'));
      page.click('button[type=submit]');
      // Whatever the members answer (lines or warnings), the view renders it and stays up.
      await shows(
        'the logs answer',
        (t) => !t.includes('Querying') && t.includes('Follow') && /No lines|\[(eu-west|us-east)\]/.test(t),
      );

      page.navigate('#/metrics');
      await shows('the metrics view', (t) => t.includes('instant'));
      page.type('input.promql', 'sum(');
      page.click('button[type=submit]');
      await shows("the hub's PromQL error", (t) => /parse error/i.test(t));
    } finally {
      await page.close();
    }
  });
});
