// The foundation against a real local fleet (hub + 2 members): clusters that really run workloads,
// CRDs that reject bad input, the Cluster registry and its health, the authenticated API, leader
// hand-over, CLI exit codes, and a clean `fleet down`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ClusterClient, loadKubeConfig } from '../src/kube/cluster-client.ts';
import { processesMentioning } from '../src/localfleet/processes.ts';
import {
  cli,
  hubEvents,
  fleetUp,
  joinMembers,
  kubectl,
  newFleetHome,
  readPidFile,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
} from './support/harness.ts';

const fleet: TestFleet = newFleetHome('127.78.0');
const hubs: HubProcess[] = [];
let hubClient: ClusterClient;

interface ClusterJson {
  metadata: { name: string };
  status?: {
    conditions?: { type: string; status: string; reason: string }[];
    kubernetesVersion?: string;
    nodeCount?: number;
  };
}

async function clusterReady(name: string): Promise<string | undefined> {
  const r = await kubectl(['--context', 'hub', 'get', 'cluster', name, '-o', 'json'], fleet);
  if (r.code !== 0) return undefined;
  const c = JSON.parse(r.stdout) as ClusterJson;
  return c.status?.conditions?.find((x) => x.type === 'Ready')?.status;
}

/** Waits until the hub reports `name` Ready=`want`; returns how long that took. */
async function waitReady(name: string, want: 'True' | 'False'): Promise<number> {
  const t0 = Date.now();
  await waitFor(
    `${name} Ready=${want}`,
    10_000,
    async () => ((await clusterReady(name)) === want ? true : undefined),
    200,
  );
  return Date.now() - t0;
}

async function leaseHolder(): Promise<string | undefined> {
  const r = await kubectl(
    ['--context', 'hub', '-n', 'meridian-system', 'get', 'lease', 'meridian-hub', '-o', 'json'],
    fleet,
  );
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as { spec?: { holderIdentity?: string } }).spec?.holderIdentity || undefined;
}

describe('local fleet and hub foundation', () => {
  before(async () => {
    await fleetUp(fleet, 2);
    hubClient = new ClusterClient('hub', loadKubeConfig({ file: fleet.kubeconfig }, 'hub'));
  });

  after(async () => {
    for (const h of hubs) await h.stop('SIGKILL');
    const down = await cli(['fleet', 'down'], fleet.env);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(processesMentioning(fleet.dir + '/'), [], 'processes left after fleet down');
    rmSync(fleet.home, { recursive: true, force: true });
  });

  test('members are real clusters: labelled nodes turn Ready, a Deployment gets Ready pods and an EndpointSlice', async () => {
    const nodes = await kubectl(['--context', 'eu-west', 'get', 'nodes', '-o', 'json'], fleet);
    assert.equal(nodes.code, 0, nodes.stderr);
    const items = (JSON.parse(nodes.stdout) as { items: { metadata: { labels: Record<string, string> } }[] })
      .items;
    assert.equal(items.length, 3);
    for (const n of items) {
      assert.equal(n.metadata.labels['topology.kubernetes.io/region'], 'eu-west');
      assert.match(n.metadata.labels['topology.kubernetes.io/zone'] ?? '', /^eu-west-[abc]$/);
    }
    const manifest = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: probe-app, namespace: default }
spec:
  replicas: 2
  selector: { matchLabels: { app: probe-app } }
  template:
    metadata: { labels: { app: probe-app } }
    spec: { containers: [{ name: app, image: example/app:1 }] }
---
apiVersion: v1
kind: Service
metadata: { name: probe-app, namespace: default }
spec: { selector: { app: probe-app }, ports: [{ port: 80 }] }
`;
    const applied = await kubectl(['--context', 'eu-west', 'apply', '-f', '-'], fleet, manifest);
    assert.equal(applied.code, 0, applied.stderr);
    await waitFor('probe-app 2/2 available', 30_000, async () => {
      const r = await kubectl(
        ['--context', 'eu-west', 'get', 'deploy', 'probe-app', '-o', 'jsonpath={.status.availableReplicas}'],
        fleet,
      );
      return r.stdout === '2' ? true : undefined;
    });
    const slices = await waitFor('EndpointSlice with 2 ready endpoints', 15_000, async () => {
      const r = await kubectl(
        [
          '--context',
          'eu-west',
          'get',
          'endpointslices',
          '-l',
          'kubernetes.io/service-name=probe-app',
          '-o',
          'json',
        ],
        fleet,
      );
      const s = JSON.parse(r.stdout) as { items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] };
      const ready = s.items.flatMap((i) => i.endpoints ?? []).filter((e) => e.conditions?.ready).length;
      return ready === 2 ? ready : undefined;
    });
    assert.equal(slices, 2);
    // A pod made to fail through a kwok Stage leaves the EndpointSlice's ready set.
    const pods = await kubectl(
      ['--context', 'eu-west', 'get', 'pods', '-l', 'app=probe-app', '-o', 'name'],
      fleet,
    );
    const pod = pods.stdout.trim().split('\n')[0]!;
    await kubectl(['--context', 'eu-west', 'annotate', pod, 'meridian.dev/simulate=crash'], fleet);
    await waitFor('crashed pod not ready', 15_000, async () => {
      const r = await kubectl(
        [
          '--context',
          'eu-west',
          'get',
          pod,
          '-o',
          'jsonpath={.status.containerStatuses[0].state.waiting.reason}',
        ],
        fleet,
      );
      return r.stdout === 'CrashLoopBackOff' ? true : undefined;
    });
    await kubectl(['--context', 'eu-west', 'delete', '-f', '-'], fleet, manifest);
  });

  test('fleet status reports every cluster and the merged kubeconfig has a context per cluster', async () => {
    const st = await cli(['fleet', 'status', '-o', 'json'], fleet.env);
    assert.equal(st.code, 0, st.stderr);
    const body = JSON.parse(st.stdout) as {
      clusters: { name: string; apiReachable: boolean; version: string }[];
    };
    assert.deepEqual(
      body.clusters.map((c) => c.name),
      ['hub', 'eu-west', 'us-east'],
    );
    assert.ok(
      body.clusters.every((c) => c.apiReachable && c.version === 'v1.35.4'),
      st.stdout,
    );
    const path = await cli(['fleet', 'kubeconfig'], fleet.env);
    assert.equal(path.stdout.trim(), fleet.kubeconfig);
    const ctx = await kubectl(['config', 'get-contexts', '-o', 'name'], fleet);
    assert.deepEqual(ctx.stdout.trim().split('\n').sort(), ['eu-west', 'hub', 'us-east']);
  });

  test('fleet up again is idempotent and starts nothing new', async () => {
    const again = await cli(
      ['fleet', 'up', '--members', '2', '--subnet', fleet.subnet, '--no-hub'],
      fleet.env,
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /0 to start, 3 already running/);
  });

  test('CRDs have printer columns and reject a malformed Cluster, naming the field', async () => {
    const cols = await kubectl(['--context', 'hub', 'get', 'clusters'], fleet);
    assert.equal(cols.code, 0, cols.stderr);
    assert.match(cols.stdout.split('\n')[0] ?? '', /NAME\s+REGION\s+READY\s+VERSION\s+NODES\s+AGE/);
    const bad = `
apiVersion: meridian.dev/v1alpha1
kind: Cluster
metadata: { name: bad-one }
spec:
  region: "EU West"
  kubeconfigSecretRef: { namespace: meridian-system, name: x, key: kubeconfig }
  ingress: { addresses: ["127.0.0.1"], port: 70000 }
`;
    const r = await kubectl(['--context', 'hub', 'apply', '-f', '-'], fleet, bad);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /spec\.region/);
    assert.match(r.stderr, /spec\.ingress\.port/);
    const gone = await kubectl(['--context', 'hub', 'get', 'cluster', 'bad-one'], fleet);
    assert.notEqual(gone.code, 0, 'the malformed Cluster must not exist');
  });

  test('cluster join registers members and the hub reports them Ready with version and nodes', async () => {
    hubs.push(await startHub(fleet, 'hub-a', 17443));
    await joinMembers(fleet, ['eu-west', 'us-east']);
    await waitFor('both clusters Ready', 15_000, async () =>
      (await clusterReady('eu-west')) === 'True' && (await clusterReady('us-east')) === 'True'
        ? true
        : undefined,
    );
    const list = await cli(
      ['cluster', 'list', '-o', 'json', '--hub-kubeconfig', fleet.kubeconfig, '--hub-context', 'hub'],
      fleet.env,
    );
    const items = JSON.parse(list.stdout) as ClusterJson[];
    const eu = items.find((c) => c.metadata.name === 'eu-west');
    assert.equal(eu?.status?.kubernetesVersion, 'v1.35.4');
    assert.equal(eu?.status?.nodeCount, 3);
    const table = await cli(
      ['cluster', 'list', '--hub-kubeconfig', fleet.kubeconfig, '--hub-context', 'hub'],
      fleet.env,
    );
    assert.match(table.stdout, /eu-west\s+eu-west\s+-\s+True\s+APIServerReachable\s+v1\.35\.4\s+3/);
    // The credentials live in a Secret, never in the Cluster or the CLI output.
    assert.doesNotMatch(list.stdout, /client-key-data|BEGIN/);
  });

  test('a member whose API server stops turns Ready=False within 10 s and back within 10 s of recovery', async () => {
    const pidFile = join(fleet.dir, 'us-east', 'kube-apiserver.pid');
    process.kill(readPidFile(pidFile), 'SIGKILL');
    const down = await waitReady('us-east', 'False');
    const events = await hubEvents(fleet, 'involvedObject.name=us-east', 'json');
    assert.match(events, /APIServerUnreachable/);
    await fleetUp(fleet, 2);
    const back = await waitReady('us-east', 'True');
    process.stderr.write(`# Ready=False after ${down} ms; Ready=True ${back} ms after recovery\n`);
    // The hub's Node watch on us-east survived the restart: a node added now shows in the status.
    const node = `apiVersion: v1
kind: Node
metadata:
  name: us-east-extra
  annotations: { kwok.x-k8s.io/node: fake }
  labels: { topology.kubernetes.io/region: us-east }
`;
    const added = await kubectl(['--context', 'us-east', 'apply', '-f', '-'], fleet, node);
    assert.equal(added.code, 0, added.stderr);
    await waitFor(
      'nodeCount 4 on us-east',
      10_000,
      async () => {
        const r = await kubectl(
          ['--context', 'hub', 'get', 'cluster', 'us-east', '-o', 'jsonpath={.status.nodeCount}'],
          fleet,
        );
        return r.stdout === '4' ? true : undefined;
      },
      200,
    );
    await kubectl(['--context', 'us-east', 'delete', 'node', 'us-east-extra'], fleet);
    // eu-west was never affected.
    assert.equal(await clusterReady('eu-west'), 'True');
  });

  test('the HTTP API needs a token the hub accepts and RBAC that allows the request', async () => {
    const base = `http://127.0.0.1:${hubs[0]!.port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const anon = await fetch(`${base}/api/v1/clusters`);
    assert.equal(anon.status, 401);
    const bogus = await fetch(`${base}/api/v1/clusters`, {
      headers: { Authorization: 'Bearer not-a-token' },
    });
    assert.equal(bogus.status, 401);
    await kubectl(['--context', 'hub', 'create', 'serviceaccount', 'api-tester', '-n', 'default'], fleet);
    // A fresh token of the api-tester service account each call (TokenRequest).
    const newToken = async (): Promise<string> =>
      (
        await hubClient.rest.request<{ status: { token: string } }>(
          'POST',
          '/api/v1/namespaces/default/serviceaccounts/api-tester/token',
          {
            body: {
              apiVersion: 'authentication.k8s.io/v1',
              kind: 'TokenRequest',
              spec: { expirationSeconds: 600 },
            },
          },
        )
      ).status.token;
    const auth = { Authorization: `Bearer ${await newToken()}` };
    const forbidden = await fetch(`${base}/api/v1/clusters`, { headers: auth });
    assert.equal(forbidden.status, 403);
    assert.match(
      ((await forbidden.json()) as { error: string }).error,
      /cannot list clusters\.meridian\.dev/,
    );
    // Who am I needs authentication only, as SelfSubjectReview does in Kubernetes.
    const who = await fetch(`${base}/api/v1/whoami`, { headers: auth });
    assert.equal(who.status, 200);
    assert.equal(
      ((await who.json()) as { username: string }).username,
      'system:serviceaccount:default:api-tester',
    );
    await kubectl(
      [
        '--context',
        'hub',
        'create',
        'clusterrolebinding',
        'api-tester-view',
        '--clusterrole=meridian-viewer',
        '--serviceaccount=default:api-tester',
      ],
      fleet,
    );
    const allowed = await waitFor(
      'RBAC to allow the request',
      20_000,
      async () => {
        const r = await fetch(`${base}/api/v1/clusters`, { headers: auth });
        return r.status === 200 ? r : undefined;
      },
      500,
    );
    const body = (await allowed.json()) as { items: { name: string }[] };
    assert.deepEqual(body.items.map((i) => i.name).sort(), ['eu-west', 'us-east']);
    const metrics = await fetch(`${base}/metrics`, { headers: auth });
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assert.match(text, /meridian_hub_leader 1/);
    assert.match(text, /meridian_cluster_ready\{cluster="eu-west",region="eu-west"\} 1/);
    // A burst of requests with a token the hub has not seen yet sends one TokenReview, not one
    // per request (counted by the hub cluster's API server).
    const tokenReviews = async (): Promise<number> =>
      (await hubClient.rest.get<string>('/metrics'))
        .split('\n')
        .filter((l) => l.startsWith('apiserver_request_total{') && l.includes('resource="tokenreviews"'))
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const fresh = await newToken();
    const reviewsBefore = await tokenReviews();
    const burst = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${base}/api/v1/clusters`, { headers: { Authorization: `Bearer ${fresh}` } }),
      ),
    );
    assert.deepEqual(new Set(burst.map((r) => r.status)), new Set([200]));
    assert.equal((await tokenReviews()) - reviewsBefore, 1, 'one TokenReview for the burst');
    // No secret ever reaches the hub's log.
    assert.doesNotMatch(hubs[0]!.logs(), /BEGIN [A-Z ]*PRIVATE KEY|client-key-data|eyJhbGci/);
  });

  test('a second hub waits as standby and takes over within 15 s when the leader dies', async () => {
    const standby = await startHub(fleet, 'hub-b', 17444);
    hubs.push(standby);
    assert.equal(await leaseHolder(), 'hub-a');
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(await leaseHolder(), 'hub-a', 'the standby must not steal a live lease');
    await hubs[0]!.stop('SIGKILL');
    const killedAt = Date.now();
    await waitFor(
      'hub-b to hold the lease',
      15_000,
      async () => ((await leaseHolder()) === 'hub-b' ? true : undefined),
      250,
    );
    process.stderr.write(`# standby took over ${Date.now() - killedAt} ms after the leader died\n`);
    // The new leader runs the controllers: a status change is still written.
    process.kill(readPidFile(join(fleet.dir, 'eu-west', 'kube-apiserver.pid')), 'SIGKILL');
    await waitReady('eu-west', 'False');
    await fleetUp(fleet, 2);
    await waitReady('eu-west', 'True');
  });

  test('CLI: bad flags exit 2, missing kubeconfig and unknown context fail with clear messages, bad input changes nothing', async () => {
    const unknownFlag = await cli(['fleet', 'up', '--bogus'], fleet.env);
    assert.equal(unknownFlag.code, 2);
    assert.match(unknownFlag.stderr, /unknown option '--bogus'/);
    const members = await cli(['fleet', 'up', '--members', '0'], fleet.env);
    assert.equal(members.code, 2);
    assert.match(members.stderr, /--members must be a whole number from 1 to 8/);
    const hubFlags = ['--hub-kubeconfig', fleet.kubeconfig, '--hub-context', 'hub'];
    const missing = await cli(
      ['cluster', 'join', 'x1', '--kubeconfig', '/nonexistent/kc', '--region', 'eu-west', ...hubFlags],
      fleet.env,
    );
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /kubeconfig \/nonexistent\/kc: cannot be read \(ENOENT\)/);
    const ctx = await cli(
      [
        'cluster',
        'join',
        'x1',
        '--kubeconfig',
        fleet.kubeconfig,
        '--context',
        'nope',
        '--region',
        'eu-west',
        ...hubFlags,
      ],
      fleet.env,
    );
    assert.equal(ctx.code, 1);
    assert.match(ctx.stderr, /context "nope" does not exist \(known: hub, eu-west, us-east\)/);
    const badRegion = await cli(
      [
        'cluster',
        'join',
        'x1',
        '--kubeconfig',
        fleet.kubeconfig,
        '--context',
        'eu-west',
        '--region',
        'EU West',
        ...hubFlags,
      ],
      fleet.env,
    );
    assert.equal(badRegion.code, 2);
    assert.match(badRegion.stderr, /Cluster x1: spec\.region:/);
    const noRegion = await cli(
      ['cluster', 'join', 'x1', '--kubeconfig', fleet.kubeconfig, ...hubFlags],
      fleet.env,
    );
    assert.equal(noRegion.code, 2);
    assert.match(noRegion.stderr, /required option '--region <region>' not specified/);
    const secret = await kubectl(
      ['--context', 'hub', '-n', 'meridian-system', 'get', 'secret', 'cluster-x1-kubeconfig'],
      fleet,
    );
    assert.notEqual(secret.code, 0, 'a rejected join must not leave a Secret behind');
    const removeMissing = await cli(['cluster', 'remove', 'x1', ...hubFlags], fleet.env);
    assert.equal(removeMissing.code, 3);
    const help = await cli(['cluster', 'join', '--help'], fleet.env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--kubeconfig <file>/);
  });

  test('fleet up fails clearly when a port is taken and leaves nothing running', async () => {
    const other = newFleetHome('127.79.0');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(6443, '127.79.0.2', () => r()));
    try {
      const r = await cli(['fleet', 'up', '--members', '1', '--subnet', other.subnet, '--no-hub'], other.env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /127\.79\.0\.2:6443 \(for kube-apiserver\) is already in use/);
      assert.deepEqual(processesMentioning(other.dir + '/'), []);
    } finally {
      blocker.close();
      rmSync(other.home, { recursive: true, force: true });
    }
  });
});
