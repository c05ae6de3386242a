// Least-privilege member credentials against a real local fleet (hub + 1 member, RBAC on): the hub
// stores its own ServiceAccount's token, never the joining user's; with --namespaces it can deploy
// there and read no Secret elsewhere; rotate-credentials revokes the old token; a user who cannot
// create RBAC gets a named error and nothing is created; remove cleans the member.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { MCS_API_VERSION, mcsCrds } from '../src/api/mcs.ts';
import { ClusterClient, KubeApiError, loadKubeConfig, type KubeObject } from '../src/kube/cluster-client.ts';
import { applyCrds } from '../src/kube/crds.ts';
import { processesMentioning } from '../src/localfleet/processes.ts';
import {
  applyApplication,
  cli,
  fleetUp,
  kubectl,
  newFleetHome,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
} from './support/harness.ts';

const fleet: TestFleet = newFleetHome('127.140.0');
const hubFlags = ['--hub-kubeconfig', fleet.kubeconfig, '--hub-context', 'hub'];
const clients: ClusterClient[] = [];
let hub: HubProcess | undefined;
let admin: ClusterClient;

/** The member client the hub would build from its stored credentials Secret. */
async function storedIdentity(): Promise<{ client: ClusterClient; yaml: string }> {
  const r = await kubectl(
    [
      '--context',
      'hub',
      '-n',
      'meridian-system',
      'get',
      'secret',
      'cluster-eu-west-kubeconfig',
      '-o',
      'jsonpath={.data.kubeconfig}',
    ],
    fleet,
  );
  assert.equal(r.code, 0, r.stderr);
  const yaml = Buffer.from(r.stdout, 'base64').toString('utf8');
  const client = new ClusterClient('eu-west', loadKubeConfig({ yaml }));
  clients.push(client);
  return { client, yaml };
}

/** The HTTP status a call answers with (200 when it succeeds). */
async function statusOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (e) {
    if (e instanceof KubeApiError) return e.status;
    throw e;
  }
}

const configMap = (namespace: string, name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace },
  data: { k: 'v' },
});

async function memberHas(args: readonly string[]): Promise<string> {
  const r = await kubectl(['--context', 'eu-west', 'get', ...args, '-o', 'name'], fleet);
  return r.stdout.trim();
}

describe('least-privilege member credentials', () => {
  before(async () => {
    await fleetUp(fleet, 1);
    admin = new ClusterClient('eu-west', loadKubeConfig({ file: fleet.kubeconfig }, 'eu-west'));
    clients.push(admin);
    await applyCrds(admin, mcsCrds());
  });

  after(async () => {
    await hub?.stop('SIGKILL');
    for (const c of clients) c.close();
    const down = await cli(['fleet', 'down'], fleet.env);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(processesMentioning(fleet.dir + '/'), [], 'processes left after fleet down');
    rmSync(fleet.home, { recursive: true, force: true });
  });

  test("fleet up joins its members as the hub's own ServiceAccount, never with the admin's credentials", async () => {
    const { client, yaml } = await storedIdentity();
    assert.doesNotMatch(yaml, /client-key-data|client-certificate-data/);
    assert.match(yaml, /token:/);
    assert.equal(
      await memberHas(['serviceaccount', '-n', 'meridian-system', 'meridian-hub']),
      'serviceaccount/meridian-hub',
    );
    // Cluster-wide: what the services do anywhere.
    await client.apply(configMap('default', 'hub-can-write'), { force: true });
    await client.delete('v1', 'ConfigMap', 'hub-can-write', 'default');
    assert.equal(await statusOf(() => client.list('discovery.k8s.io/v1', 'EndpointSlice')), 200);
    assert.equal(await statusOf(() => client.list('v1', 'Node')), 200);
  });

  test('remove with the member kubeconfig deletes the identity there, and its token stops working', async () => {
    const { client } = await storedIdentity();
    const r = await cli(
      ['cluster', 'remove', 'eu-west', '--kubeconfig', fleet.kubeconfig, '--context', 'eu-west', ...hubFlags],
      fleet.env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ServiceAccount meridian-system\/meridian-hub/);
    assert.match(r.stdout, /ClusterRoleBinding meridian-hub-deploy/);
    assert.equal(await memberHas(['serviceaccount', '-n', 'meridian-system', 'meridian-hub']), '');
    assert.equal(
      await memberHas(['clusterrole,clusterrolebinding', '-l', 'meridian.dev/hub-access=true']),
      '',
    );
    const gone = await kubectl(['--context', 'hub', 'get', 'cluster', 'eu-west'], fleet);
    assert.notEqual(gone.code, 0);
    await waitFor('the removed token to be refused', 15_000, async () =>
      (await statusOf(() => client.list('v1', 'Node'))) === 401 ? true : undefined,
    );
  });

  test('a kubeconfig that cannot create RBAC gets an error naming the permission, and nothing is created', async () => {
    await kubectl(['--context', 'eu-west', 'create', 'serviceaccount', 'viewer', '-n', 'default'], fleet);
    await kubectl(
      [
        '--context',
        'eu-west',
        'create',
        'clusterrolebinding',
        'viewer',
        '--clusterrole=view',
        '--serviceaccount=default:viewer',
      ],
      fleet,
    );
    const tok = await kubectl(['--context', 'eu-west', 'create', 'token', 'viewer', '-n', 'default'], fleet);
    assert.equal(tok.code, 0, tok.stderr);
    const kc = loadKubeConfig({ file: fleet.kubeconfig }, 'eu-west');
    const cluster = kc.getCurrentCluster()!;
    const file = join(fleet.home, 'viewer.kubeconfig');
    writeFileSync(
      file,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'v',
        clusters: [
          { name: 'c', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } },
        ],
        users: [{ name: 'viewer', user: { token: tok.stdout.trim() } }],
        contexts: [{ name: 'v', context: { cluster: 'c', user: 'viewer' } }],
      }),
    );
    const r = await cli(
      ['cluster', 'join', 'eu-west', '--kubeconfig', file, '--region', 'eu-west', ...hubFlags],
      fleet.env,
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /cluster eu-west: the kubeconfig's user is not allowed to create namespaces \(cluster-wide\)/,
    );
    assert.match(r.stderr, /Nothing was created/);
    assert.equal(await memberHas(['serviceaccount', '-n', 'meridian-system', 'meridian-hub']), '');
    assert.equal(
      await memberHas([
        'clusterrole,clusterrolebinding,role,rolebinding',
        '-A',
        '-l',
        'meridian.dev/hub-access=true',
      ]),
      '',
    );
    const hub = await kubectl(['--context', 'hub', 'get', 'cluster', 'eu-west'], fleet);
    assert.notEqual(hub.code, 0, 'no Cluster in the hub');
  });

  test('with --namespaces the hub deploys and exports there but reads no Secret elsewhere', async () => {
    const r = await cli(
      [
        'cluster',
        'join',
        'eu-west',
        '--kubeconfig',
        fleet.kubeconfig,
        '--context',
        'eu-west',
        '--region',
        'eu-west',
        '--namespaces',
        'team-a,team-b',
        ...hubFlags,
      ],
      fleet.env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deploying to namespaces team-a, team-b/);
    const { client } = await storedIdentity();
    await client.apply(configMap('team-a', 'app-config'), { force: true });
    await client.apply(
      {
        apiVersion: MCS_API_VERSION,
        kind: 'ServiceExport',
        metadata: { name: 'shop', namespace: 'team-b' },
      },
      { force: true },
    );
    assert.equal(await statusOf(() => client.list('v1', 'Secret', { namespace: 'team-a' })), 200);
    // The fleet-wide caches still work: EndpointSlices, Services, Namespaces, Nodes everywhere.
    for (const [v, k] of [
      ['discovery.k8s.io/v1', 'EndpointSlice'],
      ['v1', 'Service'],
      ['v1', 'Namespace'],
      ['v1', 'Node'],
      [MCS_API_VERSION, 'ServiceExport'],
    ] as const)
      assert.equal(await statusOf(() => client.list(v, k)), 200, `list ${k}`);
    // Nothing outside the namespaces: no Secrets, no writes, no RBAC.
    assert.equal(await statusOf(() => client.list('v1', 'Secret')), 403, 'Secrets cluster-wide');
    assert.equal(await statusOf(() => client.list('v1', 'Secret', { namespace: 'default' })), 403);
    assert.equal(await statusOf(() => client.list('v1', 'Secret', { namespace: 'kube-system' })), 403);
    assert.equal(await statusOf(() => client.apply(configMap('default', 'nope'), { force: true })), 403);
    assert.equal(
      await statusOf(() =>
        client.apply({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: 'escalate' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
          subjects: [{ kind: 'ServiceAccount', name: 'meridian-hub', namespace: 'meridian-system' }],
        }),
      ),
      403,
    );
    // The cluster-wide deploy grant of the earlier join is gone (a re-join prunes what it no longer wants).
    assert.equal(await memberHas(['clusterrolebinding', 'meridian-hub-deploy']), '');
  });

  test('the hub, under that identity, reports the member Ready and deploys an Application into an allowed namespace', async () => {
    hub = await startHub(fleet, 'join-hub', 17843);
    await applyApplication(fleet, 'scoped', {
      destinationNamespace: 'team-a',
      placement: { clusters: ['eu-west'] },
      source: {
        manifests: [
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'scoped-config' }, data: { a: 'b' } },
        ],
      },
    });
    await waitFor(
      'Application scoped Healthy on eu-west',
      60_000,
      async () => {
        const r = await kubectl(
          ['--context', 'hub', 'get', 'application', 'scoped', '-n', 'default', '-o', 'json'],
          fleet,
        );
        const status = (JSON.parse(r.stdout || '{}') as { status?: { phase?: string; clusters?: unknown } })
          .status;
        if (status?.phase === 'Healthy') return true;
        throw new Error(
          `phase ${status?.phase ?? '(none)'}: ${JSON.stringify(status?.clusters)} ${hub?.logs().slice(-600)}`,
        );
      },
      250,
    );
    const ready = await kubectl(
      [
        '--context',
        'hub',
        'get',
        'cluster',
        'eu-west',
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ],
      fleet,
    );
    assert.equal(ready.stdout, 'True');
    assert.equal(await memberHas(['configmap', '-n', 'team-a', 'scoped-config']), 'configmap/scoped-config');
    const del = await kubectl(
      ['--context', 'hub', 'delete', 'application', 'scoped', '-n', 'default', '--wait=true'],
      fleet,
    );
    assert.equal(del.code, 0, del.stderr);
    assert.equal(
      await memberHas(['configmap', '-n', 'team-a', 'scoped-config']),
      '',
      'pruned when the Application goes',
    );
  });

  test('rotate-credentials stores a new token and the old one stops working', async () => {
    const { client: old } = await storedIdentity();
    assert.equal(await statusOf(() => old.list('v1', 'ConfigMap', { namespace: 'team-a' })), 200);
    const r = await cli(
      [
        'cluster',
        'rotate-credentials',
        'eu-west',
        '--kubeconfig',
        fleet.kubeconfig,
        '--context',
        'eu-west',
        ...hubFlags,
      ],
      fleet.env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /revoked meridian-hub-token-/);
    const { client: fresh, yaml } = await storedIdentity();
    assert.notEqual(yaml, undefined);
    assert.equal(await statusOf(() => fresh.list('v1', 'ConfigMap', { namespace: 'team-a' })), 200);
    await waitFor('the old token to be refused', 15_000, async () =>
      (await statusOf(() => old.list('v1', 'ConfigMap', { namespace: 'team-a' }))) === 401 ? true : undefined,
    );
    assert.equal(
      (await memberHas(['secret', '-n', 'meridian-system', '-l', 'meridian.dev/hub-access=true'])).split('\n')
        .length,
      1,
      'one token Secret left',
    );
  });

  test('remove without access to the member says what is left behind and still unregisters', async () => {
    const r = await cli(['cluster', 'remove', 'eu-west', ...hubFlags], fleet.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the member was not cleaned up \(no kubeconfig for the member was given\)/);
    assert.match(r.stderr, /kubectl delete clusterrolebinding,clusterrole -l meridian\.dev\/hub-access=true/);
    assert.match(r.stdout, /cluster eu-west removed from the hub/);
    assert.equal(
      await memberHas(['serviceaccount', '-n', 'meridian-system', 'meridian-hub']),
      'serviceaccount/meridian-hub',
    );
  });
});
