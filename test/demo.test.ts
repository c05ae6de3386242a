// The README's main job, end to end, on real programs: `meridian fleet up` starts the fleet and the
// hub, rolls the reference system out (APP 1 → APP 2 → PostgreSQL, run by the pod runtime),
// publishes APP 1 through the GSLB DNS and the edge gateway and starts the shop traffic; then every
// demo scenario breaks something while traffic flows, and the test asserts what a user would see.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { setLoopbackOnly } from '../src/dial/dial-guard.ts';
import { API_VERSION } from '../src/api/group.ts';
import type { Application } from '../src/api/application.ts';
import type { KubeObject } from '../src/kube/cluster-client.ts';
import { processesMentioning } from '../src/localfleet/processes.ts';
import { podProcessesOf } from '../src/localfleet/runtime/process-sweep.ts';
import {
  drain,
  failCluster,
  failService,
  localDemoContext,
  recoverCluster,
  recoverRelease,
  recoverService,
  releaseBad,
  type DemoContext,
} from '../src/localfleet/demo/scenarios.ts';
import { ShopClient } from '../src/localfleet/demo/shop-client.ts';
import { failed, readTrafficStats } from '../src/localfleet/demo/traffic-stats.ts';
import { dnsA } from '../src/localfleet/demo/probes.ts';
import { cli, newFleetHome, serviceAccountToken, waitFor, type TestFleet } from './support/harness.ts';

const fleet: TestFleet = newFleetHome('127.96.0');
const HOST = 'shop.meridian.local';
const HUB = 'http://127.0.0.1:7443';
const INGRESS = { 'eu-west': '127.96.1.2', 'us-east': '127.96.1.3', 'ap-south': '127.96.1.4' };
const lines: string[] = [];
let ctx: DemoContext;
let shop: ShopClient;
let token: string;

async function hubGet<T>(path: string, query: Record<string, string> = {}): Promise<T> {
  const url = new URL(path, HUB);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
  return (await r.json()) as T;
}

/** Order ids the traffic generator stored so far. */
function storedOrders(): readonly number[] {
  return readTrafficStats(fleet.dir)?.orders ?? [];
}

describe('the main job: fleet up with the reference system, live traffic and scenarios', () => {
  before(() => setLoopbackOnly(true));
  after(async () => {
    shop?.close();
    const down = await cli(['fleet', 'down'], fleet.env);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(processesMentioning(fleet.dir + '/'), [], 'no fleet process left');
    assert.deepEqual(podProcessesOf(fleet.dir), [], 'no pod process left');
    rmSync(fleet.home, { recursive: true, force: true });
  });

  test('fleet up deploys the real programs, publishes APP 1 and starts shop traffic', async () => {
    const up = await cli(['fleet', 'up', '--subnet', fleet.subnet, '--rps', '5'], fleet.env, 900_000);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /reference system Healthy on 3\/3 clusters/);
    assert.match(up.stderr, /shop\.meridian\.local published through GSLB DNS and the edge gateway/);
    assert.match(up.stderr, /shop traffic: 5 requests\/s through the edge gateway/);
    assert.match(up.stderr, /web console: http:\/\/127\.0\.0\.1:7443\/console\/#token=\S+/);
    ctx = localDemoContext(fleet.dir, (m) => lines.push(m));
    shop = new ShopClient(new URL('http://127.0.0.1:8000'), HOST);
    token = await serviceAccountToken(fleet, 'e2e-viewer', 'meridian-viewer');

    // RoundRobin: every healthy member's ingress address.
    assert.deepEqual(await dnsA(ctx.dns, HOST), Object.values(INGRESS).sort());
    const served = new Set<string>();
    for (let i = 0; i < 9; i++) {
      const r = await shop.send('GET', '/items');
      assert.equal(r.status, 200, r.error);
      // PreferLocal: APP 1 calls the APP 2 of its own cluster while that one is ready.
      assert.equal(r.app2Cluster, r.app1Cluster);
      served.add(r.app1Cluster!);
    }
    assert.deepEqual([...served].sort(), ['ap-south', 'eu-west', 'us-east']);
    const order = await shop.send('POST', '/orders', { item: 'espresso', quantity: 2 });
    assert.equal(order.status, 201, order.error);
    const back = await shop.send('GET', `/orders/${order.orderId}`);
    assert.equal(back.status, 200, 'an order stored through one cluster is read back through any');
  });

  test('within a minute the console API shows the service graph, traces, metrics and logs', async () => {
    const graph = await waitFor('APP 1 → APP 2 → db in the service graph', 60_000, async () => {
      const t = await hubGet<{
        serviceGraph: {
          edges: {
            source: { service: string; cluster?: string };
            target: { service: string; cluster?: string };
            callsPerSecond: number;
          }[];
        };
      }>('/api/v1/topology', { window: '2m' });
      const edges = t.serviceGraph.edges.map(
        (e) => `${e.source.service}@${e.source.cluster}>${e.target.service}@${e.target.cluster}`,
      );
      const want = ['eu-west', 'us-east', 'ap-south'].flatMap((c) => [
        `app1@${c}>app2@${c}`,
        `app2@${c}>db@ap-south`,
      ]);
      return want.every((w) => edges.includes(w)) ? t : undefined;
    });
    assert.ok(
      graph.serviceGraph.edges.every((e) => e.callsPerSecond > 0),
      'live rates',
    );
    const traces = await hubGet<{ traces: { spanCount: number; services: string[] }[] }>('/api/v1/traces', {
      service: 'app1',
      limit: '20',
    });
    assert.ok(
      traces.traces.some((t) => t.services.includes('app1') && t.services.includes('app2')),
      'a trace goes APP 1 → APP 2',
    );
    const metrics = await waitFor('request rates of both apps in every cluster', 60_000, async () => {
      const m = await hubGet<{ data: { result: { metric: Record<string, string> }[] } }>('/api/v1/query', {
        query: 'sum by (cluster, app) (rate(http_requests_total[1m]))',
      });
      return m.data.result.length >= 6 ? m : undefined;
    });
    assert.deepEqual([...new Set(metrics.data.result.map((r) => r.metric['cluster']))].sort(), [
      'ap-south',
      'eu-west',
      'us-east',
    ]);
    const logs = await hubGet<{ lines: { kind: string; cluster?: string; message?: string }[] }>(
      '/api/v1/logs',
      {
        selector: 'app=app2',
        since: '5m',
        limit: '200',
      },
    );
    const withTrace = logs.lines.filter(
      (l) => l.kind === 'line' && /"trace_id":"[0-9a-f]{32}"/.test(l.message ?? ''),
    );
    assert.deepEqual([...new Set(withTrace.map((l) => l.cluster))].sort(), [
      'ap-south',
      'eu-west',
      'us-east',
    ]);
  });

  test('failing APP 2 in eu-west: APP 1 there is served by a remote APP 2 within 2 s, and back after recovery', async () => {
    let recovered = false;
    try {
      const report = await failService(ctx, 'app2', 'eu-west');
      // The goal is 1 s: met at p50 (0.7–0.95 s) but not at p99 (1.8 s at load 20, 1.26 s
      // once on a quiet machine), see docs/benchmarks.md; the test holds the line at 2 s.
      assert.ok(
        report.newPathMs !== undefined && report.newPathMs <= 2_000,
        `new path after ${report.newPathMs} ms`,
      );
      const remote = report.results.filter((r) => !failed(r) && r.app2Cluster !== 'eu-west');
      assert.ok(remote.length > 0 && remote.every((r) => r.app1Cluster === 'eu-west'));
      // The cross-cluster hop in a trace: APP 1 in eu-west, APP 2 elsewhere.
      await waitFor('a trace with APP 1 in eu-west and APP 2 in another cluster', 30_000, async () => {
        const t = await hubGet<{ traces: { clusters: string[]; services: string[] }[] }>('/api/v1/traces', {
          service: 'app1',
          cluster: 'eu-west',
          limit: '50',
        });
        return t.traces.find(
          (x) => x.clusters.includes('eu-west') && x.clusters.length > 1 && x.services.includes('app2'),
        );
      });
      // The hub's metrics: APP 1's failed calls in eu-west stop (none in the last 15 s).
      await waitFor("APP 1's error rate in eu-west back to zero", 90_000, async () => {
        const m = await hubGet<{ data: { result: { value: [number, string] }[] } }>('/api/v1/query', {
          query: 'sum(increase(http_requests_total{cluster="eu-west",app="app1",code=~"5.."}[15s]))',
        });
        const v = Number(m.data.result[0]?.value[1] ?? '0');
        return v === 0 ? true : undefined;
      });
      const back = await recoverService(ctx, 'app2', 'eu-west');
      recovered = true;
      assert.ok(back.newPathMs !== undefined, 'APP 1 in eu-west calls its local APP 2 again');
    } finally {
      if (!recovered) await recoverService(ctx, 'app2', 'eu-west');
    }
  });

  test('failing eu-west as a whole: zero idempotent requests lost through the edge, DNS stops naming it', async () => {
    let recovered = false;
    try {
      const report = await failCluster(ctx, 'eu-west');
      const lost = report.results.filter(failed);
      assert.deepEqual(lost, [], 'no request through the edge failed');
      assert.ok(report.results.length > 20);
      // interval 2 s × unhealthy threshold 2, plus one interval for where the fault fell in it.
      assert.ok(report.dnsMs !== undefined && report.dnsMs <= 6_000, `DNS after ${report.dnsMs} ms`);
      const back = await recoverCluster(ctx, 'eu-west', 120_000);
      recovered = true;
      assert.ok(back.dnsMs !== undefined, 'eu-west is answered again after recovery');
    } finally {
      if (!recovered) await recoverCluster(ctx, 'eu-west', 120_000);
    }
  });

  test('a bad release rolls back everywhere; nothing is served by it afterwards', async () => {
    await waitFor('the reference system Healthy again', 180_000, async () => {
      const app = await ctx.hub.get<Application & KubeObject>(
        API_VERSION,
        'Application',
        'reference-system',
        'default',
      );
      return app?.status?.phase === 'Healthy' ? true : undefined;
    });
    const report = await releaseBad(ctx);
    assert.ok(report.rolledBackMs !== undefined, 'rolled back');
    assert.ok(report.results.length >= 20);
    assert.deepEqual(
      report.results
        .filter((r) => failed(r) || r.app1Version !== '1')
        .map((r) => `${r.status} v${r.app1Version}`),
      [],
      'every answer after the rollback comes from version 1',
    );
    await recoverRelease(ctx);
  });

  test('drain and undrain us-east', async () => {
    const d = await drain(ctx, 'us-east', false);
    assert.ok(d.dnsMs !== undefined);
    assert.ok(
      d.results.every((r) => !failed(r) && r.app1Cluster !== 'us-east'),
      'nothing served by us-east',
    );
    const u = await drain(ctx, 'us-east', true);
    assert.ok(u.dnsMs !== undefined);
    assert.deepEqual(u.results.filter(failed), []);
  });

  test('every order stored before the scenarios is readable after them', async () => {
    const orders = storedOrders();
    assert.ok(orders.length > 20, `the traffic stored ${orders.length} orders`);
    const missing: number[] = [];
    for (const id of orders) {
      const r = await shop.send('GET', `/orders/${id}`);
      if (r.status !== 200) missing.push(id);
    }
    assert.deepEqual(missing, []);
    const stats = readTrafficStats(fleet.dir)!;
    assert.ok(stats.sent > 100, `traffic kept flowing (${stats.sent} requests)`);
  });
});
