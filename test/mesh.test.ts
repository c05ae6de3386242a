// Cross-cluster services against a real local fleet (hub + 3 members): MCS exports and imports,
// derived Services and EndpointSlices, KEP port conflicts, PreferLocal failover within a second
// and its recovery, failover order, cluster loss, cleanup, bad input and a hub restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../src/kube/cluster-client.ts';
import { derivedServiceName } from '../src/mesh/endpoint-plan.ts';
import {
  cli,
  fleetUp,
  joinMembers,
  kubectl,
  newFleetHome,
  readPidFile,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
  applyDocs,
  tearDownFleet,
} from './support/harness.ts';
import { app2Export, app2Workload } from './support/app2.ts';

const fleet: TestFleet = newFleetHome('127.90.0');
const MEMBERS = ['eu-west', 'us-east', 'ap-south'] as const;
const HUB_PORT = 17743;
let hub: HubProcess;
const clients = new Map<string, ClusterClient>();
const hubFlags = (): string[] => ['--hub-kubeconfig', fleet.kubeconfig, '--hub-context', 'hub'];

interface Slice extends KubeObject {
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
  ports?: { name?: string; port: number }[];
}

const client = (m: string): ClusterClient => clients.get(m)!;

const apply = (context: string, docs: object[]): Promise<void> => applyDocs(fleet, context, docs);

/** app2 with its ServiceExport last (the tests apply slices of this list). */
function app2(replicas: number, port = 8080): object[] {
  return [...app2Workload(replicas, port), app2Export];
}

const DERIVED = derivedServiceName('shop', 'app2');

/** Meridian's slice of `source`'s endpoints for `service` (app2, or its derived Service) in `member`. */
async function slice(member: string, source: string, service = 'app2'): Promise<Slice | undefined> {
  return client(member).get<Slice>(
    'discovery.k8s.io/v1',
    'EndpointSlice',
    `${service}-mcs-${source}`,
    'shop',
  );
}

const readyAddresses = (s: Slice | undefined): string[] =>
  (s?.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false)
    .flatMap((e) => e.addresses)
    .sort();

async function podIPs(member: string): Promise<string[]> {
  const r = await kubectl(
    [
      '--context',
      member,
      'get',
      'pods',
      '-n',
      'shop',
      '-l',
      'app=app2',
      '-o',
      'jsonpath={.items[*].status.podIP}',
    ],
    fleet,
  );
  return r.stdout.split(/\s+/).filter(Boolean).sort();
}

async function exportCondition(
  member: string,
  type: string,
): Promise<{ status: string; reason: string; message: string } | undefined> {
  const e = await client(member).get<
    KubeObject & {
      status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
    }
  >('multicluster.x-k8s.io/v1alpha1', 'ServiceExport', 'app2', 'shop');
  return e?.status?.conditions?.find((c) => c.type === type);
}

async function setPods(member: string, simulate: 'not-ready' | undefined): Promise<void> {
  const arg = simulate ? `meridian.dev/simulate=${simulate}` : 'meridian.dev/simulate-';
  const r = await kubectl(
    ['--context', member, 'annotate', 'pods', '-n', 'shop', '-l', 'app=app2', arg, '--overwrite'],
    fleet,
  );
  assert.equal(r.code, 0, r.stderr);
}

/** Ready endpoints in a member's own (kube-controller-manager) slices of app2. */
async function localReady(member: string): Promise<number> {
  const list = await client(member).list<Slice>('discovery.k8s.io/v1', 'EndpointSlice', {
    namespace: 'shop',
    labelSelector:
      'kubernetes.io/service-name=app2,endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io',
  });
  return list.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
}

/** Polls fast (the failover bound is a second) until `ok` holds; returns ms waited. */
async function timeUntil(what: string, ok: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const started = performance.now();
  await waitFor(what, timeoutMs, async () => ((await ok()) ? true : undefined), 25);
  return performance.now() - started;
}

describe('cross-cluster services', () => {
  before(async () => {
    await fleetUp(fleet, MEMBERS.length);
    for (const m of MEMBERS)
      clients.set(m, new ClusterClient(m, loadKubeConfig({ file: fleet.kubeconfig }, m)));
    hub = await startHub(fleet, 'mesh-hub', HUB_PORT);
    await joinMembers(fleet, MEMBERS);
  });

  after(async () => {
    if (hub) writeFileSync(join(tmpdir(), 'meridian-mesh-test-hub.log'), hub.logs());
    await tearDownFleet(fleet, hub);
  });

  test('an export in two members imports the service into all three, with derived Service and slices', async () => {
    // Services first, then the exports: an export makes Meridian derive app2 wherever it is missing.
    for (const m of ['eu-west', 'us-east']) await apply(m, app2(2).slice(0, 3));
    for (const m of ['eu-west', 'us-east']) await apply(m, app2(2).slice(3));
    for (const m of MEMBERS) {
      const imp = await waitFor(`ServiceImport shop/app2 in ${m}`, 60_000, async () => {
        const i = await client(m).get<
          KubeObject & {
            spec: { type: string; ports: unknown[]; ips?: string[] };
            status?: { clusters?: { cluster: string }[] };
          }
        >('multicluster.x-k8s.io/v1alpha1', 'ServiceImport', 'app2', 'shop');
        return i?.status?.clusters?.length === 2 ? i : undefined;
      });
      assert.equal(imp.spec.type, 'ClusterSetIP');
      assert.deepEqual(imp.spec.ports, [{ name: 'http', protocol: 'TCP', port: 8080 }]);
      assert.deepEqual(imp.status!.clusters!.map((c) => c.cluster).sort(), ['eu-west', 'us-east']);
      assert.equal(imp.spec.ips?.length, 1, 'the ClusterSet IP is the local Service address');
    }
    // Every member serves the import through a selector-less Service of its own name (KEP-1645's
    // derived Service); ap-south has no app2, so Meridian created the namespace and nothing else.
    for (const m of MEMBERS) {
      const svc = await client(m).get<
        KubeObject & { spec: { selector?: object; ports: { port: number }[] } }
      >('v1', 'Service', DERIVED, 'shop');
      assert.ok(svc, `derived Service in ${m}`);
      assert.equal(svc.spec.selector, undefined);
      assert.equal(svc.spec.ports[0]!.port, 8080);
      assert.equal(svc.metadata.labels?.['meridian.dev/mcs-derived'], 'true');
    }
    assert.equal(
      await client('ap-south').get('v1', 'Service', 'app2', 'shop'),
      undefined,
      'no plain-name Service',
    );
    // Slices: the derived Service of each member gets every exporting cluster's pod addresses; under
    // the plain name, each exporting member gets the others', never its own (KEP-1645: only where
    // the local Service is exported too). Without a policy all are ready.
    const ips = { 'eu-west': await podIPs('eu-west'), 'us-east': await podIPs('us-east') };
    assert.equal(ips['eu-west'].length, 2);
    for (const [member, sources, service] of [
      ['ap-south', ['eu-west', 'us-east'], DERIVED],
      ['eu-west', ['eu-west', 'us-east'], DERIVED],
      ['eu-west', ['us-east'], 'app2'],
      ['us-east', ['eu-west'], 'app2'],
    ] as const) {
      for (const src of sources) {
        const s = await waitFor(`${member} slice of ${service} from ${src}`, 30_000, async () => {
          const x = await slice(member, src, service);
          return readyAddresses(x).length === 2 ? x : undefined;
        });
        assert.deepEqual(readyAddresses(s), ips[src]);
        assert.equal(s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], 'meridian.dev');
        assert.equal(s.metadata.labels?.['kubernetes.io/service-name'], service);
        assert.equal(s.metadata.labels?.['multicluster.kubernetes.io/service-name'], 'app2');
        assert.equal(s.metadata.labels?.['multicluster.kubernetes.io/source-cluster'], src);
        assert.equal(s.ports?.[0]?.port, 8080);
      }
    }
    for (const m of MEMBERS)
      assert.equal(await slice(m, m), undefined, `${m} does not re-publish its own endpoints under app2`);
    assert.equal(
      await slice('ap-south', 'eu-west'),
      undefined,
      'nothing under app2 where it is not exported',
    );
    for (const m of ['eu-west', 'us-east']) {
      assert.equal((await exportCondition(m, 'Valid'))?.status, 'True');
      assert.equal((await exportCondition(m, 'Conflict'))?.status, 'False');
      await waitFor(`export Ready in ${m}`, 15_000, async () =>
        (await exportCondition(m, 'Ready'))?.status === 'True' ? true : undefined,
      );
    }
    const list = await cli(['services', 'list', '-o', 'json', ...hubFlags()], fleet.env);
    assert.equal(list.code, 0, list.stderr);
    const parsed = JSON.parse(list.stdout) as {
      services: { service: string; exportedBy: string[]; type: string }[];
    };
    assert.deepEqual(
      parsed.services.map((s) => [s.service, s.exportedBy.sort(), s.type]),
      [['shop/app2', ['eu-west', 'us-east'], 'ClusterSetIP']],
    );
  });

  test('a newer export with a different port for the same name is in conflict; the oldest wins', async () => {
    await apply('us-east', [app2(2, 9090)[2]!]);
    const c = await waitFor('Conflict on the us-east export', 30_000, async () => {
      const x = await exportCondition('us-east', 'Conflict');
      return x?.status === 'True' ? x : undefined;
    });
    assert.equal(c.reason, 'PortConflict');
    assert.match(c.message, /eu-west/);
    // KEP-1645: every export in the conflict says so; eu-west's is older and keeps its port.
    const winner = await waitFor('Conflict on the eu-west export too', 15_000, async () => {
      const x = await exportCondition('eu-west', 'Conflict');
      return x?.status === 'True' ? x : undefined;
    });
    assert.match(winner.message, /us-east disagrees and loses/);
    const imp = await client('ap-south').get<KubeObject & { spec: { ports: { port: number }[] } }>(
      'multicluster.x-k8s.io/v1alpha1',
      'ServiceImport',
      'app2',
      'shop',
    );
    assert.equal(imp?.spec.ports[0]?.port, 8080, 'the merged port stays the oldest export’s');
    const list = await cli(['services', 'list', ...hubFlags()], fleet.env);
    assert.match(list.stdout, /us-east: .*eu-west/);
    await apply('us-east', [app2(2)[2]!]);
    for (const m of ['us-east', 'eu-west'])
      await waitFor(`conflict resolved in ${m}`, 30_000, async () =>
        (await exportCondition(m, 'Conflict'))?.status === 'False' ? true : undefined,
      );
  });

  test('ClientIP affinity and exported labels reach every ServiceImport (Ready) and derived Service, and go again', async () => {
    type Import = KubeObject & {
      spec: {
        sessionAffinity?: string;
        sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
        ipFamilies?: string[];
        internalTrafficPolicy?: string;
        trafficDistribution?: string;
      };
      status?: { conditions?: { type: string; status: string; reason: string }[] };
    };
    const setBoth = async (service: object, exp: object): Promise<void> => {
      for (const m of ['eu-west', 'us-east']) {
        for (const [kind, patch] of [
          ['service', service],
          ['serviceexport', exp],
        ] as const) {
          const r = await kubectl(
            [
              '--context',
              m,
              'patch',
              kind,
              'app2',
              '-n',
              'shop',
              '--type',
              'merge',
              '-p',
              JSON.stringify(patch),
            ],
            fleet,
          );
          assert.equal(r.code, 0, r.stderr);
        }
      }
    };
    const imported = (m: string) =>
      client(m).get<Import>('multicluster.x-k8s.io/v1beta1', 'ServiceImport', 'app2', 'shop');
    const derivedAffinity = async (m: string) =>
      (
        await client(m).get<KubeObject & { spec: { sessionAffinity?: string } }>(
          'v1',
          'Service',
          DERIVED,
          'shop',
        )
      )?.spec.sessionAffinity;

    await setBoth(
      {
        spec: {
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 120 } },
          trafficDistribution: 'PreferClose',
        },
      },
      {
        spec: { exportedLabels: { tier: 'backend' }, exportedAnnotations: { 'example.com/owner': 'team-b' } },
      },
    );
    for (const m of MEMBERS) {
      const imp = await waitFor(`sticky ServiceImport in ${m}`, 30_000, async () => {
        const i = await imported(m);
        return i?.spec.sessionAffinity === 'ClientIP' && i.metadata.labels?.['tier'] === 'backend'
          ? i
          : undefined;
      });
      assert.equal(imp.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds, 120);
      assert.deepEqual(imp.spec.ipFamilies, ['IPv4'], 'the families of the import address');
      assert.equal(imp.spec.internalTrafficPolicy, 'Cluster');
      assert.equal(imp.spec.trafficDistribution, 'PreferClose');
      assert.equal(imp.metadata.annotations?.['example.com/owner'], 'team-b');
      assert.equal(imp.metadata.labels?.['app.kubernetes.io/managed-by'], 'meridian', 'our label wins');
      const ready = imp.status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.status, 'True');
      assert.equal(ready?.reason, 'Ready');
      assert.equal(await derivedAffinity(m), 'ClientIP');
      assert.equal((await exportCondition('eu-west', 'Conflict'))?.status, 'False', 'both export the same');
    }

    // Back to no affinity and nothing exported: everything Meridian set goes (a Service may not
    // keep an affinity config without ClientIP, so this also proves the config went with it).
    await setBoth(
      { spec: { sessionAffinity: 'None', sessionAffinityConfig: null, trafficDistribution: null } },
      { spec: { exportedLabels: null, exportedAnnotations: null } },
    );
    for (const m of MEMBERS) {
      const imp = await waitFor(`plain ServiceImport in ${m}`, 30_000, async () => {
        const i = await imported(m);
        return i && i.spec.sessionAffinity === undefined && !i.metadata.labels?.['tier'] ? i : undefined;
      });
      assert.equal(imp.spec.sessionAffinityConfig, undefined);
      assert.equal(imp.spec.trafficDistribution, undefined);
      assert.equal(imp.metadata.annotations?.['example.com/owner'], undefined);
      await waitFor(`derived Service in ${m} without affinity`, 30_000, async () =>
        (await derivedAffinity(m)) === 'None' ? true : undefined,
      );
    }
  });

  test('the CoreDNS RBAC of `meridian services coredns --rbac` lets CoreDNS read what the multicluster plugin needs, nothing else', async () => {
    const out = await cli(['services', 'coredns', '--rbac'], fleet.env);
    assert.equal(out.code, 0, out.stderr);
    const applied = await kubectl(['--context', 'eu-west', 'apply', '-f', '-'], fleet, out.stdout);
    assert.equal(applied.code, 0, applied.stderr);
    const can = async (verb: string, resource: string): Promise<string> =>
      (
        await kubectl(
          [
            '--context',
            'eu-west',
            'auth',
            'can-i',
            verb,
            resource,
            '--as=system:serviceaccount:kube-system:coredns',
          ],
          fleet,
        )
      ).stdout.trim();
    assert.equal(await can('list', 'serviceimports.multicluster.x-k8s.io'), 'yes');
    assert.equal(await can('watch', 'endpointslices.discovery.k8s.io'), 'yes');
    assert.equal(await can('list', 'secrets'), 'no');
    assert.equal(await can('create', 'serviceimports.multicluster.x-k8s.io'), 'no');
    const bad = await cli(['services', 'coredns', '--zone', 'not a zone'], fleet.env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--zone: "not a zone" is not a DNS zone/);
  });

  test('bad TrafficPolicy input is rejected with a message naming the field', async () => {
    await apply('hub', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }]);
    const base = {
      apiVersion: 'meridian.dev/v1alpha1',
      kind: 'TrafficPolicy',
      metadata: { name: 'bad', namespace: 'shop' },
    };
    for (const [spec, msg] of [
      [{ service: 'app2', locality: 'Nearest' }, /spec\.locality/],
      [{ service: 'app2', failover: { minReadyLocal: -1 } }, /spec\.failover\.minReadyLocal/],
      [{ service: 'App2!' }, /spec\.service/],
    ] as const) {
      const r = await kubectl(['--context', 'hub', 'apply', '-f', '-'], fleet, stringify({ ...base, spec }));
      assert.notEqual(r.code, 0, `accepted ${JSON.stringify(spec)}`);
      assert.match(r.stderr, msg);
    }
  });

  test('PreferLocal publishes remote endpoints within a second of local ones failing, and undoes it after the hold-down', async () => {
    await apply('hub', [
      {
        apiVersion: 'meridian.dev/v1alpha1',
        kind: 'TrafficPolicy',
        metadata: { name: 'app2', namespace: 'shop' },
        spec: { service: 'app2', locality: 'PreferLocal', failover: { minReadyLocal: 1 } },
      },
    ]);
    await timeUntil(
      'eu-west uses only local app2',
      async () => readyAddresses(await slice('eu-west', 'us-east')).length === 0,
    );
    await setPods('eu-west', 'not-ready');
    await timeUntil('eu-west local app2 not ready', async () => (await localReady('eu-west')) === 0);
    const failover = await timeUntil(
      'remote endpoints ready in eu-west',
      async () => readyAddresses(await slice('eu-west', 'us-east')).length === 2,
      5_000,
    );
    assert.ok(
      failover < 1_000,
      `failover took ${failover.toFixed(0)} ms after local endpoints turned not-ready`,
    );
    const show = await cli(['services', 'show', 'shop/app2', '-o', 'json', ...hubFlags()], fleet.env);
    const eu = (
      JSON.parse(show.stdout) as {
        clusters: {
          cluster: string;
          localReady: number;
          remoteReady: number;
          activeGroup: string;
          reason: string;
        }[];
      }
    ).clusters.find((c) => c.cluster === 'eu-west')!;
    assert.equal(eu.localReady, 0);
    assert.equal(eu.remoteReady, 2);
    assert.notEqual(eu.activeGroup, 'cluster:eu-west');
    await setPods('eu-west', undefined);
    await kubectl(
      ['--context', 'eu-west', 'delete', 'pods', '-n', 'shop', '-l', 'app=app2', '--wait=false'],
      fleet,
    );
    await timeUntil('eu-west local app2 ready again', async () => (await localReady('eu-west')) >= 1, 30_000);
    const recovery = await timeUntil(
      'remote endpoints not ready again',
      async () => readyAddresses(await slice('eu-west', 'us-east')).length === 0,
      15_000,
    );
    assert.ok(recovery >= 2_000, `recovery waited out the hold-down (${recovery.toFixed(0)} ms)`);
    const events = await kubectl(
      ['--context', 'eu-west', 'get', 'events', '-n', 'shop', '-o', 'jsonpath={.items[*].reason}'],
      fleet,
    );
    assert.match(events.stdout, /Failover/);
    assert.match(events.stdout, /Recovered/);
  });

  test('failover follows failover.order across regions', async () => {
    await apply('hub', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }]);
    await apply('ap-south', app2(1));
    await apply('hub', [
      {
        apiVersion: 'meridian.dev/v1alpha1',
        kind: 'TrafficPolicy',
        metadata: { name: 'app2', namespace: 'shop' },
        spec: {
          service: 'app2',
          locality: 'PreferLocal',
          failover: { minReadyLocal: 1, order: ['ap-south', 'us-east'] },
        },
      },
    ]);
    await waitFor('ap-south exports', 30_000, async () => {
      if (await slice('eu-west', 'ap-south')) return true;
      const svc = await client('ap-south').get<KubeObject>('v1', 'Service', 'app2', 'shop');
      const exp = await client('ap-south').get<KubeObject>(
        'multicluster.x-k8s.io/v1alpha1',
        'ServiceExport',
        'app2',
        'shop',
      );
      throw new Error(
        JSON.stringify({ svc: { labels: svc?.metadata.labels, spec: svc?.['spec'] }, exp: exp?.['status'] }),
      );
    });
    await setPods('eu-west', 'not-ready');
    await timeUntil('eu-west fails over to ap-south, not us-east', async () => {
      const [ap, us] = [await slice('eu-west', 'ap-south'), await slice('eu-west', 'us-east')];
      return readyAddresses(ap).length === 1 && readyAddresses(us).length === 0;
    });
    await setPods('eu-west', undefined);
    await kubectl(
      ['--context', 'eu-west', 'delete', 'pods', '-n', 'shop', '-l', 'app=app2', '--wait=false'],
      fleet,
    );
    await timeUntil(
      'eu-west back on local',
      async () => readyAddresses(await slice('eu-west', 'ap-south')).length === 0,
      30_000,
    );
  });

  test('a stopped member stops contributing endpoints, keeps its objects, and rejoins cleanly', async () => {
    await kubectl(['--context', 'hub', 'delete', 'trafficpolicy', 'app2', '-n', 'shop'], fleet);
    await timeUntil(
      'Any: us-east endpoints ready in eu-west',
      async () => readyAddresses(await slice('eu-west', 'us-east')).length === 2,
    );
    const pidFile = join(fleet.dir, 'us-east', 'kube-apiserver.pid');
    process.kill(readPidFile(pidFile), 'SIGKILL');
    await timeUntil(
      'us-east endpoints not ready in eu-west',
      async () => readyAddresses(await slice('eu-west', 'us-east')).length === 0,
      20_000,
    );
    assert.ok(await slice('eu-west', 'us-east'), 'the slice stays (a status flip, nothing deleted)');
    await fleetUp(fleet, MEMBERS.length);
    await timeUntil(
      'us-east rejoined',
      async () => readyAddresses(await slice('eu-west', 'us-east')).length === 2,
      60_000,
    );
    assert.ok(
      await client('us-east').get('multicluster.x-k8s.io/v1alpha1', 'ServiceExport', 'app2', 'shop'),
      'nothing deleted in us-east',
    );
  });

  test('a hub restart converges without rewriting any slice', async () => {
    let contents: Record<string, string> = {};
    const versions = async () => {
      const out: Record<string, string> = {};
      for (const m of MEMBERS) {
        const l = await client(m).list<Slice>('discovery.k8s.io/v1', 'EndpointSlice', {
          namespace: 'shop',
          labelSelector: 'endpointslice.kubernetes.io/managed-by=meridian.dev',
        });
        for (const s of l.items) {
          out[`${m}/${s.metadata.name}`] = s.metadata.resourceVersion!;
          contents[`${m}/${s.metadata.name}`] = JSON.stringify({
            e: s.endpoints,
            p: s.ports,
            l: s.metadata.labels,
          });
        }
        const i = await client(m).get<KubeObject>(
          'multicluster.x-k8s.io/v1alpha1',
          'ServiceImport',
          'app2',
          'shop',
        );
        out[`${m}/import`] = i!.metadata.resourceVersion!;
        contents[`${m}/import`] = JSON.stringify({
          a: i!.metadata.annotations,
          s: i!['spec'],
          st: i!['status'],
        });
      }
      return out;
    };
    // Settled first: the member restarted just before may still be catching up.
    let before = await versions();
    for (let stable = 0; stable < 3;) {
      await new Promise((r) => setTimeout(r, 1_000));
      const now = await versions();
      stable = JSON.stringify(now) === JSON.stringify(before) ? stable + 1 : 0;
      before = now;
    }
    writeFileSync(join(tmpdir(), 'meridian-mesh-test-hub-1.log'), hub.logs());
    await hub.stop('SIGKILL');
    hub = await startHub(fleet, 'mesh-hub-2', HUB_PORT);
    // Lease takeover (10 s) plus a full replan.
    await waitFor('new hub leads and has planned', 40_000, async () =>
      hub.logs().includes('mesh caches synced') ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 5_000));
    const beforeContents = contents;
    contents = {};
    const after = await versions();
    const changed = Object.keys(after).filter((k) => after[k] !== before[k]);
    assert.deepEqual(
      changed.map((k) => ({ k, before: beforeContents[k], after: contents[k] })),
      [],
      'objects rewritten by the restarted hub',
    );
  });

  test('deleting an exporting namespace withdraws its endpoints from the others', async () => {
    const del = await kubectl(
      ['--context', 'ap-south', 'delete', 'namespace', 'shop', '--wait=false'],
      fleet,
    );
    assert.equal(del.code, 0, del.stderr);
    for (const m of ['eu-west', 'us-east'])
      await timeUntil(
        `${m} drops ap-south's slice`,
        async () => (await slice(m, 'ap-south')) === undefined,
        30_000,
      );
  });

  test('unexporting removes imports, derived Services and slices everywhere', async () => {
    for (const m of ['eu-west', 'us-east'])
      await kubectl(['--context', m, 'delete', 'serviceexport', 'app2', '-n', 'shop'], fleet);
    for (const m of MEMBERS) {
      await waitFor(`nothing of app2's import left in ${m}`, 30_000, async () => {
        const l = await client(m).list<Slice>('discovery.k8s.io/v1', 'EndpointSlice', {
          namespace: 'shop',
          labelSelector: 'endpointslice.kubernetes.io/managed-by=meridian.dev',
        });
        const imp = await client(m).get('multicluster.x-k8s.io/v1alpha1', 'ServiceImport', 'app2', 'shop');
        return l.items.length === 0 && !imp ? true : undefined;
      });
    }
    assert.ok(await client('eu-west').get('v1', 'Service', 'app2', 'shop'), "the user's own Service stays");
    // ap-south's namespace was deleted by its user and recreated by Meridian for the import: it goes too.
    await timeUntil(
      'the namespace Meridian created is removed',
      async () => {
        const ns = await client('ap-south').get('v1', 'Namespace', 'shop');
        return !ns || ns.metadata.deletionTimestamp !== undefined;
      },
      30_000,
    );
    const show = await cli(['services', 'show', 'shop/app2', ...hubFlags()], fleet.env);
    assert.equal(show.code, 3);
  });
});
