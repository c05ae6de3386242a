// Cross-cluster services never take or delete what Meridian did not create, and follow KEP-1645
// for cluster.local, against a real local fleet (hub + 2 members): a user's own Service of an
// imported name (created with `kubectl create`, headless) stays the user's; a Service that is not
// exported gets no remote endpoints; a namespace Meridian created outlives the last export while a
// user's objects live in it. us-east has the upstream MCS CRDs (mcs-api v0.5.2's own manifests,
// v1beta1 stored) put there by another installer before it joined, with a stored v1beta1 object:
// everything works there, CRDs untouched.
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../src/kube/cluster-client.ts';
import { processesMentioning } from '../src/localfleet/processes.ts';
import {
  applyDocs,
  fleetUp,
  joinMembers,
  kubectl,
  mcsApiCrdFiles,
  newFleetHome,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
  tearDownFleet,
} from './support/harness.ts';
import { app2Workload } from './support/app2.ts';

const app2Export = {
  apiVersion: 'multicluster.x-k8s.io/v1beta1',
  kind: 'ServiceExport',
  metadata: { name: 'app2', namespace: 'shop' },
};

const fleet: TestFleet = newFleetHome('127.100.0');
const MEMBERS = ['eu-west', 'us-east'] as const;
const HUB_PORT = 18943;
const MCS = 'multicluster.x-k8s.io/v1beta1';
/** us-east has MCS CRDs another installer put there before it joined (v1beta1 only). */
let crdBefore: KubeObject | undefined;
let hub: HubProcess;
const clients = new Map<string, ClusterClient>();
const client = (m: string): ClusterClient => clients.get(m)!;
const apply = (context: string, docs: object[]): Promise<void> => applyDocs(fleet, context, docs);

interface Slice extends KubeObject {
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
}
interface Service extends KubeObject {
  spec: { clusterIP?: string; selector?: Record<string, string>; ports: { port: number }[] };
}
interface Import extends KubeObject {
  spec: { type: string; ips?: string[] };
  status?: { clusters?: { cluster: string }[] };
}

/** The upstream mcs-api controller's derived Service name, worked out here on its own. */
function derivedName(ns: string, name: string): string {
  const digest = createHash('sha256').update(`${ns}/${name}`).digest();
  let bits = '';
  for (const byte of digest.subarray(0, 7)) bits += byte.toString(2).padStart(8, '0');
  const chars = Array.from({ length: 10 }, (_, i) => parseInt(bits.slice(i * 5, i * 5 + 5), 2).toString(32));
  return `derived-${chars.join('')}`;
}
const DERIVED = derivedName('shop', 'app2');

async function meridianSlices(member: string, ns: string, serviceName: string): Promise<Slice[]> {
  const l = await client(member).list<Slice>('discovery.k8s.io/v1', 'EndpointSlice', {
    namespace: ns,
    labelSelector: `endpointslice.kubernetes.io/managed-by=meridian.dev,kubernetes.io/service-name=${serviceName}`,
  });
  return l.items;
}

const addresses = (slices: readonly Slice[]): string[] =>
  slices.flatMap((s) => (s.endpoints ?? []).flatMap((e) => e.addresses)).sort();

async function podIPs(member: string, ns = 'shop', app = 'app2'): Promise<string[]> {
  const r = await kubectl(
    [
      '--context',
      member,
      'get',
      'pods',
      '-n',
      ns,
      '-l',
      `app=${app}`,
      '-o',
      'jsonpath={.items[*].status.podIP}',
    ],
    fleet,
  );
  return r.stdout.split(/\s+/).filter(Boolean).sort();
}

async function importIn(member: string, ns = 'shop', name = 'app2'): Promise<Import | undefined> {
  return client(member).get<Import>(MCS, 'ServiceImport', name, ns);
}

/** Holds `ok` for `ms` (a thing that must not happen, watched for a while). */
async function holds(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    assert.ok(await ok(), what);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * startHub, with up to three tries: on a machine shared with other test runs the hub may not answer
 * within startHub's 60 s; the one that did not (this test's own child) is killed before the next.
 */
async function startHubPatiently(): Promise<HubProcess> {
  for (let attempt = 1; ; attempt++) {
    const identity = `mesh-ownership-hub-${attempt}`;
    try {
      return await startHub(fleet, identity, HUB_PORT);
    } catch (e) {
      for (const pid of processesMentioning(identity)) process.kill(pid, 'SIGKILL');
      if (attempt === 3) throw e;
      await waitFor('the slow hub gone', 10_000, () =>
        processesMentioning(identity).length ? undefined : true,
      );
    }
  }
}

describe('cross-cluster services own only what they create', () => {
  before(async () => {
    await fleetUp(fleet, MEMBERS.length);
    for (const m of MEMBERS)
      clients.set(m, new ClusterClient(m, loadKubeConfig({ file: fleet.kubeconfig }, m)));
    // Upstream's own manifests (v1beta1 stored, v1alpha1 served, upstream's release label), created
    // by another field manager; then a Service and its v1beta1 ServiceExport are stored.
    const created = await kubectl(
      ['--context', 'us-east', 'create', ...mcsApiCrdFiles().flatMap((f) => ['-f', f])],
      fleet,
    );
    assert.equal(created.code, 0, created.stderr);
    await kubectl(
      ['--context', 'us-east', 'wait', '--for=condition=Established', 'crd', '--all', '--timeout=30s'],
      fleet,
    );
    await apply('us-east', [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'dbs' } },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'pg', namespace: 'dbs' },
        spec: { selector: { app: 'pg' }, ports: [{ name: 'pg', port: 5432 }] },
      },
      {
        apiVersion: 'multicluster.x-k8s.io/v1beta1',
        kind: 'ServiceExport',
        metadata: { name: 'pg', namespace: 'dbs' },
      },
    ]);
    crdBefore = await client('us-east').get<KubeObject>(
      'apiextensions.k8s.io/v1',
      'CustomResourceDefinition',
      'serviceexports.multicluster.x-k8s.io',
    );
    hub = await startHubPatiently();
    await joinMembers(fleet, MEMBERS);
  });

  after(async () => {
    if (hub) writeFileSync(join(tmpdir(), 'meridian-mesh-ownership-hub.log'), hub.logs());
    await tearDownFleet(fleet, hub);
  });

  test('the import is served by a derived Service of its own name; a user creates their own Service freely', async () => {
    await apply('eu-west', [...app2Workload(2), app2Export]);
    const imp = await waitFor('ServiceImport shop/app2 in us-east with its address', 60_000, async () => {
      const i = await importIn('us-east');
      return i?.spec.ips?.length ? i : undefined;
    });
    const derived = await client('us-east').get<Service>('v1', 'Service', DERIVED, 'shop');
    assert.ok(derived, `derived Service ${DERIVED} in us-east`);
    assert.equal(derived.spec.selector, undefined);
    assert.deepEqual(imp.spec.ips, [derived.spec.clusterIP], 'the import’s IP is the derived Service’s');
    assert.equal(imp.metadata.annotations?.['multicluster.kubernetes.io/derived-service'], DERIVED);
    assert.deepEqual(
      (derived.metadata.ownerReferences as { kind: string; uid: string }[]).map((o) => [o.kind, o.uid]),
      [['ServiceImport', imp.metadata.uid]],
    );
    const euIPs = await podIPs('eu-west');
    await waitFor('eu-west endpoints behind the derived Service in us-east', 30_000, async () =>
      addresses(await meridianSlices('us-east', 'shop', DERIVED)).join() === euIPs.join() ? true : undefined,
    );
    // The plain name is not Meridian's: a user creates a headless Service of that name, the way
    // `kubectl create` and `helm install` do, and it stays exactly theirs.
    assert.equal(await client('us-east').get('v1', 'Service', 'app2', 'shop'), undefined);
    const create = await kubectl(
      ['--context', 'us-east', 'create', '--validate=false', '-f', '-'],
      fleet,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'app2', namespace: 'shop' },
        spec: { clusterIP: 'None', selector: { app: 'app2' }, ports: [{ name: 'http', port: 8080 }] },
      }),
    );
    assert.equal(create.code, 0, create.stderr);
    await holds("the user's headless Service stays theirs", 5_000, async () => {
      const s = await client('us-east').get<Service>('v1', 'Service', 'app2', 'shop');
      return (
        s?.spec.clusterIP === 'None' &&
        s.spec.selector?.['app'] === 'app2' &&
        s.metadata.labels?.['meridian.dev/mcs-derived'] === undefined
      );
    });
  });

  test('KEP-1645: a same-name Service that is not exported gets no remote endpoints under its name', async () => {
    await apply('us-east', [app2Workload(1)[1]!]);
    await waitFor('us-east app2 pod', 30_000, async () =>
      (await podIPs('us-east')).length === 1 ? true : undefined,
    );
    await holds(
      'no Meridian slice under the plain name in us-east',
      4_000,
      async () => (await meridianSlices('us-east', 'shop', 'app2')).length === 0,
    );
    // The user's unexported instance is not part of the service anywhere.
    const usIP = (await podIPs('us-east'))[0]!;
    assert.ok(!addresses(await meridianSlices('eu-west', 'shop', 'app2')).includes(usIP));
    assert.ok(!addresses(await meridianSlices('eu-west', 'shop', DERIVED)).includes(usIP));
  });

  test('once the local Service is exported too, local and remote instances are united under the plain name', async () => {
    await apply('us-east', [app2Export]);
    const [euIPs, usIPs] = [await podIPs('eu-west'), await podIPs('us-east')];
    await waitFor('eu-west endpoints under app2 in us-east', 30_000, async () =>
      addresses(await meridianSlices('us-east', 'shop', 'app2')).join() === euIPs.join() ? true : undefined,
    );
    await waitFor('us-east endpoints under app2 in eu-west', 30_000, async () =>
      addresses(await meridianSlices('eu-west', 'shop', 'app2')).join() === usIPs.join() ? true : undefined,
    );
    const both = [...euIPs, ...usIPs].sort().join();
    for (const m of ['eu-west', 'us-east'])
      await waitFor(`both clusters behind the derived Service in ${m}`, 30_000, async () =>
        addresses(await meridianSlices(m, 'shop', DERIVED)).join() === both ? true : undefined,
      );
    await kubectl(['--context', 'us-east', 'delete', 'serviceexport', 'app2', '-n', 'shop'], fleet);
    await waitFor('the union under the plain name is withdrawn in us-east', 30_000, async () =>
      (await meridianSlices('us-east', 'shop', 'app2')).length === 0 ? true : undefined,
    );
  });

  test('the last export going keeps a namespace Meridian created while a user’s objects are in it', async () => {
    const ns = await client('us-east').get<KubeObject>('v1', 'Namespace', 'shop');
    assert.equal(
      ns?.metadata.labels?.['meridian.dev/mcs-namespace'],
      'true',
      'Meridian created shop in us-east',
    );
    await apply('us-east', [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'settings', namespace: 'shop' },
        data: { a: '1' },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'password', namespace: 'shop' },
        stringData: { p: 'x' },
      },
    ]);
    await kubectl(['--context', 'eu-west', 'delete', 'serviceexport', 'app2', '-n', 'shop'], fleet);
    await waitFor('the import withdrawn from us-east', 30_000, async () => {
      const left = [
        await importIn('us-east'),
        await client('us-east').get('v1', 'Service', DERIVED, 'shop'),
        ...(await meridianSlices('us-east', 'shop', DERIVED)),
      ].filter(Boolean);
      return left.length === 0 ? true : undefined;
    });
    await holds('the namespace and the user’s objects stay', 5_000, async () => {
      const namespace = await client('us-east').get<KubeObject>('v1', 'Namespace', 'shop');
      return namespace !== undefined && !namespace.metadata.deletionTimestamp;
    });
    for (const [kind, name, apiVersion] of [
      ['Deployment', 'app2', 'apps/v1'],
      ['Service', 'app2', 'v1'],
      ['ConfigMap', 'settings', 'v1'],
      ['Secret', 'password', 'v1'],
    ] as const)
      assert.ok(await client('us-east').get(apiVersion, kind, name, 'shop'), `${kind} ${name} kept`);
  });

  test('a namespace Meridian created that holds nothing but the import goes with the last export', async () => {
    await apply('eu-west', [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lab' } },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'echo', namespace: 'lab' },
        spec: { selector: { app: 'echo' }, ports: [{ port: 80 }] },
      },
      { ...app2Export, metadata: { name: 'echo', namespace: 'lab' } },
    ]);
    await waitFor('echo imported into us-east', 60_000, async () =>
      (await importIn('us-east', 'lab', 'echo')) ? true : undefined,
    );
    await kubectl(['--context', 'eu-west', 'delete', 'namespace', 'lab', '--wait=false'], fleet);
    await waitFor('the namespace lab Meridian created in us-east is removed', 60_000, async () => {
      const n = await client('us-east').get<KubeObject>('v1', 'Namespace', 'lab');
      return !n || n.metadata.deletionTimestamp ? true : undefined;
    });
  });

  test('a member whose MCS CRDs another installer put there (upstream v0.5.2, an object stored) works, its CRDs untouched', async () => {
    const imp = await waitFor('pg imported into eu-west from us-east', 60_000, async () => {
      const i = await client('eu-west').get<Import>(
        'multicluster.x-k8s.io/v1beta1',
        'ServiceImport',
        'pg',
        'dbs',
      );
      return i?.status?.clusters?.some((c) => c.cluster === 'us-east') ? i : undefined;
    });
    assert.equal(imp.spec.type, 'ClusterSetIP');
    const valid = await waitFor('the v1beta1 export in us-east is Valid', 30_000, async () => {
      const e = await client('us-east').get<
        KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
      >('multicluster.x-k8s.io/v1beta1', 'ServiceExport', 'pg', 'dbs');
      return e?.status?.conditions?.find((c) => c.type === 'Valid' && c.status === 'True');
    });
    assert.ok(valid);
    const after = await client('us-east').get<
      KubeObject & {
        spec: { versions: { name: string; storage: boolean }[] };
        status: { storedVersions: string[] };
      }
    >('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'serviceexports.multicluster.x-k8s.io');
    assert.equal(
      after?.metadata.resourceVersion,
      crdBefore?.metadata.resourceVersion,
      'the foreign CRD is used as it is',
    );
    assert.deepEqual(after?.status.storedVersions, ['v1beta1']);
    const hubCluster = await waitFor('the Cluster says whose CRDs are used', 30_000, async () => {
      const r = await kubectl(['--context', 'hub', 'get', 'cluster', 'us-east', '-o', 'json'], fleet);
      const c = JSON.parse(r.stdout) as {
        status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
      };
      return c.status?.conditions?.find((x) => x.type === 'MultiClusterServices');
    });
    assert.equal(hubCluster.status, 'True');
    assert.equal(hubCluster.reason, 'ForeignCRDs');
    assert.match(hubCluster.message, /another installer/);
    // Meridian's own members serve both versions, v1beta1 stored.
    const ours = await client('eu-west').get<
      KubeObject & { spec: { versions: { name: string; served: boolean; storage: boolean }[] } }
    >('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'serviceimports.multicluster.x-k8s.io');
    assert.deepEqual(
      ours?.spec.versions.map((v) => [v.name, v.served, v.storage]),
      [
        ['v1beta1', true, true],
        ['v1alpha1', true, false],
      ],
    );
  });
});
