// The local fleet's Services and member Prometheus against a real fleet (hub + 2 members, the hub
// process running): real Deployments, Services, EndpointSlices (the members' own and Meridian's
// multi-cluster ones) and readiness faults; stand-in pod processes are HTTP servers this test
// starts on the pods' loopback addresses, mapped from the kwok pod IPs by a hand-filled
// PodAddressMap (the pod runtime's contract). Programs are real child node processes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { get, type Server, createServer } from 'node:http';
import { API_VERSION } from '../src/api/group.ts';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../src/kube/cluster-client.ts';
import { fleetLayout } from '../src/localfleet/layout.ts';
import { stopProcess } from '../src/localfleet/processes.ts';
import { POD_RUNTIME } from '../src/localfleet/fleet.ts';
import { podLoopbackPrefix } from '../src/localfleet/runtime/loopback-ranges.ts';
import { MemberPrometheusServers } from '../src/localfleet/runtime/prometheus-servers.ts';
import { ServiceProxy } from '../src/localfleet/runtime/service-proxy.ts';
import { ensurePromql } from '../src/observe/metrics/promql-build.ts';
import {
  applyDocs,
  fleetUp,
  joinMembers,
  kubectl,
  newFleetHome,
  serviceAccountToken,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
  tearDownFleet,
} from './support/harness.ts';
import { app2Workload } from './support/app2.ts';
import { StaticPodAddresses } from './support/static-pod-addresses.ts';

const fleet: TestFleet = newFleetHome('127.106.0');
const MEMBERS = ['eu-west', 'us-east'] as const;
const layout = fleetLayout({ members: MEMBERS.length, subnet: fleet.subnet });
const HUB_PORT = 18106;
const pods = new StaticPodAddresses();
const standIns = new Map<string, Server>();
const clients = new Map<string, ClusterClient>();
let hub: HubProcess | undefined;
let proxy: ServiceProxy | undefined;
let proms: MemberPrometheusServers | undefined;

interface Pod extends KubeObject {
  status?: { podIP?: string; phase?: string };
}

/** app2: a Deployment whose pods ask to be scraped, and its Service (port 8080 → named port http). */
const app2 = (replicas: number): object[] =>
  app2Workload(replicas, 8080, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080' });

/** Starts a stand-in process (an HTTP server on a loopback address) for each app2 pod of `member`. */
async function runPods(member: string, replicas: number): Promise<string[]> {
  const index = layout.all.findIndex((c) => c.name === member);
  const list = await waitFor(`${replicas} app2 pods with IPs in ${member}`, 60_000, async () => {
    const l = await clients
      .get(member)!
      .list<Pod>('v1', 'Pod', { namespace: 'shop', labelSelector: 'app=app2' });
    const withIp = l.items.filter((p) => p.status?.podIP && !p.metadata.deletionTimestamp);
    return withIp.length === replicas ? withIp : undefined;
  });
  for (const p of list) {
    const podIp = p.status!.podIP!;
    if (standIns.has(podIp)) continue;
    const loopback = `${podLoopbackPrefix(fleet.subnet, index)}.${standIns.size + 1}`;
    let served = 0;
    const server = createServer((req, res) => {
      if (req.url === '/metrics') {
        res.end(`# TYPE standin_requests_total counter\nstandin_requests_total ${served}\n`);
        return;
      }
      served++;
      res.end(p.metadata.name);
    });
    await new Promise<void>((r) => server.listen(8080, loopback, r));
    standIns.set(podIp, server);
    pods.set({ cluster: member, namespace: 'shop', pod: p.metadata.name, podIp, loopback });
  }
  return list.map((p) => p.metadata.name).sort();
}

/** GET on a new connection (no keep-alive: the proxy balances per connection); body or error code. */
function fetchOnce(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = get({ host, port, path: '/', agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

async function throughService(member: string, n: number, service = 'app2'): Promise<string[]> {
  const a = proxy!.addressFor(member, 'shop', service);
  if (!a) return [`no address for shop/${service} in ${member}`];
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await fetchOnce(a.loopback, 8080));
  return out;
}

/** A child node process of a pod in `member`/`namespace` GETs each URL; the bodies. */
function program(member: string, namespace: string, urls: readonly string[]): Promise<string[]> {
  const code = `
    import http from 'node:http';
    const get = (u) => new Promise((ok, fail) => http.get(u, { agent: false }, (r) => {
      let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => ok(b));
    }).on('error', fail));
    const out = [];
    for (const u of ${JSON.stringify(urls)}) out.push(await get(u));
    console.log(JSON.stringify(out));`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', code],
      { env: { ...process.env, ...proxy!.dnsEnv(member, namespace) }, timeout: 20_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as string[]),
    );
  });
}

async function simulate(member: string, selector: string, fault: 'not-ready' | undefined): Promise<void> {
  const arg = fault ? `meridian.dev/simulate=${fault}` : 'meridian.dev/simulate-';
  const r = await kubectl(
    ['--context', member, 'annotate', 'pods', '-n', 'shop', ...selector.split(' '), arg, '--overwrite'],
    fleet,
  );
  assert.equal(r.code, 0, r.stderr);
}

const sorted = (xs: readonly string[]): string[] => [...xs].sort();

describe(
  'Services with kube-proxy semantics, cluster DNS names and member Prometheus',
  { timeout: 900_000 },
  () => {
    before(async () => {
      await ensurePromql();
      await fleetUp(fleet, MEMBERS.length);
      // This test runs its own Service proxy over its own programs: the fleet's pod runtime (which
      // `fleet up` starts, with Services and cluster DNS on the same addresses) must not run.
      await stopProcess({ dir: fleet.dir, name: POD_RUNTIME }, 8_000);
      for (const m of MEMBERS)
        clients.set(m, new ClusterClient(m, loadKubeConfig({ file: fleet.kubeconfig }, m)));
      hub = await startHub(fleet, 'svc-hub', HUB_PORT);
      await joinMembers(fleet, MEMBERS);
      proxy = new ServiceProxy({
        layout,
        members: MEMBERS.map((name) => ({ name, client: clients.get(name)! })),
        pods,
      });
      await proxy.start();
    });

    after(async () => {
      await proms?.stop();
      await proxy?.stop();
      await Promise.all([...standIns.values()].map((s) => new Promise((r) => s.close(r))));
      await tearDownFleet(fleet, hub);
    });

    test('a Service reaches its ready pod processes in turn, by its address and by its cluster names', async () => {
      await applyDocs(fleet, 'eu-west', app2(2));
      const names = await runPods('eu-west', 2);
      const got = await waitFor('both app2 pods behind the eu-west listener', 30_000, async () => {
        const r = await throughService('eu-west', 4);
        return sorted(r).join() === sorted([...names, ...names]).join() ? r : undefined;
      });
      // Per connection, in turn.
      assert.notEqual(got[0], got[1]);
      assert.equal(got[0], got[2]);
      const a = proxy!.addressFor('eu-west', 'shop', 'app2')!;
      assert.deepEqual(a.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
      assert.match(a.loopback, /^127\.106\.65\.\d+$/);
      assert.deepEqual(
        proxy!.inNamespace('eu-west', 'shop').map((s) => s.name),
        ['app2'],
      );
      const bodies = await program('eu-west', 'shop', [
        'http://app2:8080/',
        'http://app2.shop:8080/',
        'http://app2.shop.svc:8080/',
        'http://app2.shop.svc.cluster.local:8080/',
      ]);
      for (const b of bodies) assert.ok(names.includes(b), `answered by an app2 pod: ${b}`);
    });

    test('a pod that turns NotReady leaves the Service; with none ready connections are refused', async () => {
      const names = await runPods('eu-west', 2);
      const [first, second] = names as [string, string];
      await simulate('eu-west', first, 'not-ready');
      await waitFor(`only ${second} answers`, 30_000, async () => {
        const r = await throughService('eu-west', 4);
        return r.every((x) => x === second) ? r : undefined;
      });
      await simulate('eu-west', '-l app=app2', 'not-ready');
      const refused = await waitFor('connections refused with no ready pod', 30_000, async () => {
        const r = await throughService('eu-west', 2);
        return r.every((x) => x === 'ECONNRESET') ? r : undefined;
      });
      assert.deepEqual(refused, ['ECONNRESET', 'ECONNRESET']);
      await simulate('eu-west', '-l app=app2', undefined);
      await waitFor('both pods back', 30_000, async () => {
        const r = await throughService('eu-west', 4);
        return new Set(r).size === 2 && r.every((x) => names.includes(x)) ? r : undefined;
      });
    });

    test("an exported Service reaches eu-west's pod processes from us-east, by its clusterset name too", async () => {
      const names = await runPods('eu-west', 2);
      await applyDocs(fleet, 'eu-west', [
        {
          apiVersion: 'multicluster.x-k8s.io/v1alpha1',
          kind: 'ServiceExport',
          metadata: { name: 'app2', namespace: 'shop' },
        },
      ]);
      // us-east has no app2 of its own: Meridian serves the import there through a derived Service
      // (KEP-1645), named in the ServiceImport, whose slices hold eu-west's endpoints.
      const derived = await waitFor(
        'the ServiceImport in us-east names its derived Service',
        60_000,
        async () => {
          const r = await kubectl(
            [
              '--context',
              'us-east',
              'get',
              'serviceimports.multicluster.x-k8s.io',
              'app2',
              '-n',
              'shop',
              '-o',
              'jsonpath={.metadata.annotations.multicluster\\.kubernetes\\.io/derived-service}',
            ],
            fleet,
          );
          return r.code === 0 && r.stdout ? r.stdout : undefined;
        },
      );
      await waitFor('both eu-west pods behind the us-east listener', 60_000, async () => {
        const r = await throughService('us-east', 4, derived);
        return sorted(r).join() === sorted([...names, ...names]).join() ? r : undefined;
      });
      const bodies = await waitFor('the clusterset name in us-east', 30_000, async () => {
        try {
          return await program('us-east', 'default', ['http://app2.shop.svc.clusterset.local:8080/']);
        } catch {
          return undefined;
        }
      });
      for (const b of bodies) assert.ok(names.includes(b), `answered by an eu-west pod: ${b}`);
      await simulate('eu-west', '-l app=app2', 'not-ready');
      await waitFor('us-east refuses once eu-west has no ready pod', 30_000, async () => {
        const r = await throughService('us-east', 2, derived);
        return r.every((x) => x === 'ECONNRESET') ? r : undefined;
      });
      await simulate('eu-west', '-l app=app2', undefined);
    });

    test("each member's Prometheus scrapes the annotated pod processes; the hub answers with cluster and region", async () => {
      const names = await runPods('eu-west', 2);
      const hubClient = new ClusterClient('hub', loadKubeConfig({ file: fleet.kubeconfig }, 'hub'));
      proms = new MemberPrometheusServers({
        layout,
        members: MEMBERS.map((name) => ({ name, client: clients.get(name)! })),
        pods,
        dir: fleet.dir,
        hub: hubClient,
        scrapeIntervalSeconds: 1,
      });
      await proms.start();
      const cluster = await hubClient.get<
        KubeObject & { spec: { observability?: { prometheusURL?: string } } }
      >(API_VERSION, 'Cluster', 'eu-west');
      assert.equal(cluster?.spec.observability?.prometheusURL, proms.url('eu-west'));
      const token = await serviceAccountToken(fleet, 'svc-metrics-viewer', 'meridian-viewer');
      type Series = { metric: Record<string, string> };
      const series = await waitFor("the stand-ins' series through the hub", 90_000, async () => {
        const q = new URLSearchParams({ query: 'standin_requests_total' });
        const r = await fetch(`http://127.0.0.1:${HUB_PORT}/api/v1/query?${q.toString()}`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(20_000),
        });
        const body = (await r.json()) as { status: string; data?: { result: Series[] } };
        const result = body.data?.result ?? [];
        return result.length === 2 ? result : undefined;
      });
      assert.deepEqual(
        series
          .map((s) => [
            s.metric['cluster'],
            s.metric['region'],
            s.metric['namespace'],
            s.metric['pod'],
            s.metric['container'],
          ])
          .sort(),
        names.map((n) => ['eu-west', 'eu-west', 'shop', n, 'app2']),
      );
    });
  },
);
