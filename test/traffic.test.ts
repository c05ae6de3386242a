// Global traffic against a real local fleet (hub + 2 members) with loopback listeners standing in
// for each member's ingress: generated Ingresses, host conflicts, health checks into status and
// Events, drain, bad input, and cleanup. The hub answers DNS and proxies HTTP and HTTPS (a
// GlobalIngress's TLS Secret) in worker processes, which die with it.
import { after, before, describe, test } from 'node:test';
import { execFile } from 'node:child_process';
import { Agent } from 'node:http';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import {
  applyApplication,
  cli,
  deployment,
  fleetUp,
  gatewayApiCrdFiles,
  getWithHost,
  hubEvents,
  joinMembers,
  kubectl,
  localIngressEmulator,
  memberIngressAddress,
  metricsToken,
  newFleetHome,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
  tearDownFleet,
} from './support/harness.ts';
import type { IngressEmulator } from '../src/localfleet/ingress-emulator.ts';
import { httpsGet, selfSignedCertificate } from './support/certificates.ts';
import { alive, childPids } from './support/workers.ts';

const fleet: TestFleet = newFleetHome('127.88.0');
const MEMBERS = ['eu-west', 'us-east'] as const;
const HOST = 'shop.example.test';
const DNS_PORT = 17653;
const EDGE_PORT = 17654;
const EDGE_TLS_PORT = 17655;

/** A steady stream of GETs through the edge gateway until stopped: which cluster served each, and failures. */
function steadyStream(intervalMs = 20) {
  const served: string[] = [];
  const failures: string[] = [];
  let running = true;
  // One keep-alive connection, like a browser: the gateway must fail over behind it.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const done = (async () => {
    const deadline = Date.now() + 120_000;
    while (running && Date.now() < deadline) {
      try {
        const r = await getWithHost(`http://127.0.0.1:${EDGE_PORT}/`, HOST, agent);
        const body = JSON.parse(r.body) as { cluster?: string };
        if (r.status === 200 && body.cluster) served.push(body.cluster);
        else failures.push(`HTTP ${r.status} ${r.body}`);
      } catch (e) {
        failures.push(String(e));
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    served,
    failures,
    stop: async () => {
      running = false;
      await done;
      agent.destroy();
    },
  };
}

/** The A records the hub's GSLB DNS gives for HOST, asked with the real `dig`. */
async function dig(): Promise<string[]> {
  const r = await run('dig', [
    '@127.0.0.1',
    '-p',
    String(DNS_PORT),
    HOST,
    'A',
    '+short',
    '+norecurse',
    '+time=1',
    '+tries=1',
  ]);
  return r.stdout.split('\n').filter(Boolean).sort();
}
let hub: HubProcess;
let ingress: IngressEmulator;
const hubFlags = (): string[] => ['--hub-kubeconfig', fleet.kubeconfig, '--hub-context', 'hub'];

interface GiStatus {
  clusters?: {
    name: string;
    healthy: boolean;
    reason?: string;
    drained?: boolean;
    readyEndpoints?: number;
  }[];
  conditions?: { type: string; status: string; reason: string; message: string }[];
}

async function applyYaml(context: string, doc: object): Promise<{ code: number; stderr: string }> {
  return kubectl(['--context', context, 'apply', '-f', '-'], fleet, stringify(doc));
}

async function giStatus(name: string): Promise<GiStatus | undefined> {
  const r = await kubectl(
    ['--context', 'hub', 'get', 'globalingress', name, '-n', 'default', '-o', 'json'],
    fleet,
  );
  return r.code === 0 ? (JSON.parse(r.stdout) as { status?: GiStatus }).status : undefined;
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const condition = (s: GiStatus | undefined, type: string) => s?.conditions?.find((c) => c.type === type);

async function waitHealth(name: string, cluster: string, healthy: boolean, timeoutMs = 30_000) {
  return waitFor(`${name}: ${cluster} healthy=${healthy}`, timeoutMs, async () => {
    const s = await giStatus(name);
    const c = s?.clusters?.find((x) => x.name === cluster);
    if (c?.healthy === healthy) return s;
    throw new Error(JSON.stringify(s?.clusters ?? s));
  });
}

async function ingressIn(
  context: string,
  name: string,
  ns: string,
): Promise<Record<string, unknown> | undefined> {
  const r = await kubectl(['--context', context, 'get', 'ingress', name, '-n', ns, '-o', 'json'], fleet);
  return r.code === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
}

const service = (name: string): object => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
});

function globalIngress(name: string, spec: Record<string, unknown>): object {
  return {
    apiVersion: 'meridian.dev/v1alpha1',
    kind: 'GlobalIngress',
    metadata: { name, namespace: 'default' },
    spec: {
      hosts: [HOST],
      rules: [{ path: '/', service: 'web', port: 80 }],
      applicationRef: { name: 'shop' },
      strategy: { type: 'Failover', order: ['us-east', 'eu-west'] },
      healthCheck: {
        path: '/healthz',
        intervalSeconds: 1,
        timeoutSeconds: 1,
        healthyThreshold: 1,
        unhealthyThreshold: 2,
      },
      dns: { ttlSeconds: 5 },
      ...spec,
    },
  };
}

describe('global traffic', () => {
  before(async () => {
    await fleetUp(fleet, MEMBERS.length);
    // The local fleet's ingress emulator serves each member's ingress address from its real
    // Ingress objects and EndpointSlices.
    ingress = localIngressEmulator(fleet, MEMBERS);
    await ingress.start();
    hub = await startHub(fleet, 'traffic-hub', 17643, [
      '--edge-listen',
      `127.0.0.1:${EDGE_PORT}`,
      '--edge-tls-listen',
      `127.0.0.1:${EDGE_TLS_PORT}`,
      '--dns-listen',
      `127.0.0.1:${DNS_PORT}`,
      '--dns-zone',
      'example.test',
      // DNS answered by worker processes, as a production hub would: the dig and failover tests
      // below check that path end to end (test/gslb-dns.test.ts covers the in-process one).
      '--dns-workers',
      '2',
      // The edge gateway too, so the failover stream and the metrics below go through edge workers
      // (test/edge-gateway.test.ts covers the in-process gateway, test/edge-workers.test.ts the pool).
      '--edge-workers',
      '2',
    ]);
    await joinMembers(fleet, MEMBERS, { withIngress: true });
    await applyApplication(fleet, 'shop', {
      destinationNamespace: 'shop',
      placement: { clusters: [...MEMBERS] },
      source: { manifests: [deployment('web', 2), service('web'), deployment('api', 1)] },
    });
  });

  after(async () => {
    // Kept for a failed run's post-mortem.
    if (hub) writeFileSync(join(tmpdir(), 'meridian-traffic-test-hub.log'), hub.logs());
    await hub?.stop('SIGKILL');
    await ingress?.stop();
    await tearDownFleet(fleet);
  });

  test('a GlobalIngress generates an Ingress in every placed member and reports each cluster healthy', async () => {
    const r = await applyYaml('hub', globalIngress('shop', {}));
    assert.equal(r.code, 0, r.stderr);
    for (const m of MEMBERS) {
      const ing = await waitFor(`Ingress shop/shop in ${m}`, 30_000, () => ingressIn(m, 'shop', 'shop'));
      const spec = ing['spec'] as {
        rules: { host: string; http: { paths: { path: string; backend: unknown }[] } }[];
      };
      assert.equal(spec.rules[0]!.host, HOST);
      assert.deepEqual(spec.rules[0]!.http.paths[0], {
        path: '/',
        pathType: 'Prefix',
        backend: { service: { name: 'web', port: { number: 80 } } },
      });
      const labels = (ing['metadata'] as { labels: Record<string, string> }).labels;
      assert.equal(labels['meridian.dev/global-ingress'], 'default.shop');
      assert.equal(labels['app.kubernetes.io/managed-by'], 'meridian');
    }
    const s = await waitFor('both clusters healthy with ready endpoints', 60_000, async () => {
      const st = await giStatus('shop');
      const ok = MEMBERS.every((m) => {
        const c = st?.clusters?.find((x) => x.name === m);
        return c?.healthy === true && c.reason === 'Healthy' && (c.readyEndpoints ?? 0) >= 2;
      });
      if (ok && condition(st, 'Programmed')?.status === 'True') return st;
      throw new Error(JSON.stringify(st));
    });
    assert.equal(condition(s, 'Ready')?.status, 'True');
    assert.equal(condition(s, 'Conflict')?.status, 'False');
    assert.equal(condition(s, 'Programmed')?.status, 'True');
  });

  test('a rule added later updates the Ingress and derives the missing Service from its Deployment', async () => {
    const r = await applyYaml(
      'hub',
      globalIngress('shop', {
        rules: [
          { path: '/', service: 'web', port: 80 },
          { path: '/api', service: 'api', port: 8080 },
        ],
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    for (const m of MEMBERS) {
      await waitFor(`/api rule and Service api in ${m}`, 30_000, async () => {
        const ing = await ingressIn(m, 'shop', 'shop');
        const paths = (
          ing?.['spec'] as { rules: { http: { paths: { path: string }[] } }[] } | undefined
        )?.rules[0]?.http.paths.map((p) => p.path);
        const svc = await kubectl(
          ['--context', m, 'get', 'service', 'api', '-n', 'shop', '-o', 'json'],
          fleet,
        );
        if (!paths?.includes('/api') || svc.code !== 0) return undefined;
        const s = JSON.parse(svc.stdout) as {
          spec: { selector: Record<string, string>; ports: { port: number }[] };
        };
        assert.deepEqual(s.spec.selector, { app: 'api' });
        assert.equal(s.spec.ports[0]!.port, 8080);
        assert.deepEqual(paths, ['/api', '/'], 'longest prefix first');
        return true;
      });
    }
  });

  test('a second GlobalIngress claiming the same host gets a Conflict condition and generates nothing', async () => {
    const r = await applyYaml('hub', globalIngress('shop-copy', {}));
    assert.equal(r.code, 0, r.stderr);
    const s = await waitFor('Conflict on shop-copy', 30_000, async () => {
      const st = await giStatus('shop-copy');
      return condition(st, 'Conflict')?.status === 'True' ? st : undefined;
    });
    assert.match(
      condition(s, 'Conflict')!.message,
      /shop\.example\.test is already published by GlobalIngress default\/shop/,
    );
    assert.equal(condition(s, 'Ready')?.status, 'False');
    for (const m of MEMBERS) assert.equal(await ingressIn(m, 'shop-copy', 'shop'), undefined);
    // The older one keeps serving.
    assert.equal(condition(await giStatus('shop'), 'Conflict')?.status, 'False');
    const del = await kubectl(
      ['--context', 'hub', 'delete', 'globalingress', 'shop-copy', '-n', 'default'],
      fleet,
    );
    assert.equal(del.code, 0, del.stderr);
  });

  test('when the holder of a host goes, the GlobalIngress it blocked publishes it', async () => {
    const late = { hosts: ['late.example.test'] };
    assert.equal((await applyYaml('hub', globalIngress('late-a', late))).code, 0);
    await waitFor('late-a Ready', 30_000, async () =>
      condition(await giStatus('late-a'), 'Conflict')?.status === 'False' ? true : undefined,
    );
    assert.equal((await applyYaml('hub', globalIngress('late-b', late))).code, 0);
    await waitFor('Conflict on late-b', 30_000, async () =>
      condition(await giStatus('late-b'), 'Conflict')?.status === 'True' ? true : undefined,
    );
    const del = await kubectl(
      ['--context', 'hub', 'delete', 'globalingress', 'late-a', '-n', 'default'],
      fleet,
    );
    assert.equal(del.code, 0, del.stderr);
    // Only the deleted one changed: the controller must still re-examine late-b, which names its host.
    await waitFor('late-b takes the host', 30_000, async () =>
      condition(await giStatus('late-b'), 'Conflict')?.status === 'False' ? true : undefined,
    );
    await waitFor('late-b Ingress in us-east', 30_000, async () =>
      (await ingressIn('us-east', 'late-b', 'shop')) ? true : undefined,
    );
    const gone = await kubectl(
      ['--context', 'hub', 'delete', 'globalingress', 'late-b', '-n', 'default'],
      fleet,
    );
    assert.equal(gone.code, 0, gone.stderr);
  });

  test('a dead ingress leaves rotation (status and DNS) within interval × threshold and comes back when it answers again', async () => {
    await waitHealth('shop', 'us-east', true);
    const usEast = memberIngressAddress(fleet, 'us-east');
    const euWest = memberIngressAddress(fleet, 'eu-west');
    assert.deepEqual(
      await waitFor('DNS names us-east (Failover, first in order)', 15_000, async () => {
        const a = await dig();
        return a[0] === usEast ? a : undefined;
      }),
      [usEast],
    );
    const stream = steadyStream();
    await waitFor('the gateway sends to us-east first', 10_000, async () =>
      stream.served.at(-1) === 'us-east' ? true : undefined,
    );
    const started = Date.now();
    await ingress.down('us-east');
    await waitFor(
      'DNS answer switched to eu-west',
      15_000,
      async () => ((await dig())[0] === euWest ? true : undefined),
      50,
    );
    const dnsTook = Date.now() - started;
    assert.ok(dnsTook < 4_500, `DNS switched after ${dnsTook} ms`);
    const s = await waitHealth('shop', 'us-east', false, 15_000);
    const took = Date.now() - started;
    // interval 1 s × unhealthyThreshold 2, plus the check timeout and the status round trip.
    assert.ok(took < 4_500, `left rotation after ${took} ms`);
    assert.equal(s.clusters?.find((c) => c.name === 'us-east')?.reason, 'CheckFailed');
    assert.equal(condition(s, 'Ready')?.status, 'True', 'eu-west still serves');
    await waitFor('ClusterUnhealthy event', 15_000, async () => {
      const ev = await hubEvents(fleet, 'reason=ClusterUnhealthy', 'jsonpath={.items[*].message}');
      return ev.includes('cluster us-east left rotation') ? true : undefined;
    });
    await ingress.up('us-east');
    await waitHealth('shop', 'us-east', true, 15_000);
    await waitFor('DNS names us-east again', 15_000, async () =>
      (await dig())[0] === usEast ? true : undefined,
    );
    const before = stream.served.length;
    await waitFor('the gateway sends to us-east again', 10_000, async () =>
      stream.served.slice(before).includes('us-east') ? true : undefined,
    );
    await stream.stop();
    assert.deepEqual(stream.failures, [], 'no request failed through the outage');
    assert.ok(stream.served.includes('eu-west'), 'eu-west served during the outage');
    assert.ok(stream.served.length > 30, `a steady stream (${stream.served.length} requests)`);
    const token = await metricsToken(fleet);
    const metrics = await (
      await fetch(`http://127.0.0.1:17643/metrics`, { headers: { authorization: `Bearer ${token}` } })
    ).text();
    assert.match(metrics, /meridian_edge_requests_total\{[^}]*cluster="eu-west"/);
    await waitFor('ClusterHealthy event', 15_000, async () => {
      const ev = await hubEvents(fleet, 'reason=ClusterHealthy', 'jsonpath={.items[*].message}');
      return ev.includes('cluster us-east is back in rotation') ? true : undefined;
    });
  });

  test("the edge gateway's workers terminate TLS with the certificate of the GlobalIngress's Secret", async () => {
    const pki = await selfSignedCertificate(HOST);
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: 'shop-tls', namespace: 'default' },
      data: {
        'tls.crt': Buffer.from(pki.cert).toString('base64'),
        'tls.key': Buffer.from(pki.key).toString('base64'),
      },
    };
    assert.equal((await applyYaml('hub', secret)).code, 0);
    const r = await applyYaml('hub', globalIngress('shop', { tls: { secretName: 'shop-tls' } }));
    assert.equal(r.code, 0, r.stderr);
    const get = (): Promise<{ status: number; body: string }> => httpsGet(EDGE_TLS_PORT, HOST, pki.ca);
    // A handshake fails until the table with the certificate has reached the workers.
    const reply = await waitFor('an HTTPS answer through the edge workers', 15_000, async () => {
      const x = await get();
      if (x.status !== 200) throw new Error(`HTTP ${x.status} ${x.body}`);
      return x;
    });
    assert.ok(['us-east', 'eu-west'].includes((JSON.parse(reply.body) as { cluster: string }).cluster));
    // Connection after connection: the kernel hands each to one worker, and both hold the certificate.
    for (let i = 0; i < 40; i++) assert.equal((await get()).status, 200);
    await waitFor('access lines of both edge workers', 10_000, () => {
      const pids = new Set(
        hub
          .logs()
          .split('\n')
          .filter((l) => l.endsWith('"msg":"edge request"}'))
          .map((l) => (JSON.parse(l) as { pid: number }).pid),
      );
      return pids.size === 2 ? pids : undefined;
    });
    assert.doesNotMatch(hub.logs(), /PRIVATE KEY/, 'the key is never logged');
  });

  test('a cluster whose workload has no ready replicas is unhealthy even though its ingress answers', async () => {
    const pods = await kubectl(
      [
        '--context',
        'eu-west',
        'annotate',
        'pods',
        '-n',
        'shop',
        '-l',
        'app=web',
        'meridian.dev/simulate=not-ready',
        '--overwrite',
      ],
      fleet,
    );
    assert.equal(pods.code, 0, pods.stderr);
    const s = await waitHealth('shop', 'eu-west', false, 30_000);
    const c = s.clusters?.find((x) => x.name === 'eu-west');
    assert.equal(c?.reason, 'NoReadyReplicas');
    assert.equal(c?.readyEndpoints, 0);
    await kubectl(
      ['--context', 'eu-west', 'annotate', 'pods', '-n', 'shop', '-l', 'app=web', 'meridian.dev/simulate-'],
      fleet,
    );
    // Pods marked not-ready stay so in kwok; replacing them brings ready ones back.
    await kubectl(
      ['--context', 'eu-west', 'delete', 'pods', '-n', 'shop', '-l', 'app=web', '--wait=false'],
      fleet,
    );
    await waitHealth('shop', 'eu-west', true, 60_000);
  });

  test('traffic drain takes a cluster out of rotation and --undo brings it back; status shows it', async () => {
    const d = await cli(['traffic', 'drain', 'us-east', ...hubFlags()], fleet.env);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /cluster us-east drained/);
    await waitFor('us-east drained in status', 15_000, async () => {
      const st = await giStatus('shop');
      return st?.clusters?.find((c) => c.name === 'us-east')?.drained === true ? true : undefined;
    });
    const euWest = memberIngressAddress(fleet, 'eu-west');
    await waitFor('DNS stops naming the drained cluster', 10_000, async () =>
      (await dig())[0] === euWest ? true : undefined,
    );
    const st = await cli(['traffic', 'status', HOST, '-o', 'json', ...hubFlags()], fleet.env);
    assert.equal(st.code, 0, st.stderr);
    const out = JSON.parse(st.stdout) as { dnsAnswer: string[]; gatewayTarget: string; strategy: string };
    assert.equal(out.strategy, 'Failover');
    assert.deepEqual(
      out.dnsAnswer,
      [memberIngressAddress(fleet, 'eu-west')],
      'Failover skips the drained first choice',
    );
    assert.equal(out.gatewayTarget, 'eu-west');
    const undo = await cli(['traffic', 'drain', 'us-east', '--undo', ...hubFlags()], fleet.env);
    assert.equal(undo.code, 0, undo.stderr);
    await waitFor('us-east first again', 15_000, async () => {
      const r = await cli(['traffic', 'status', HOST, '-o', 'json', ...hubFlags()], fleet.env);
      const o = JSON.parse(r.stdout) as { gatewayTarget: string };
      return o.gatewayTarget === 'us-east' ? true : undefined;
    });
    const table = await cli(['traffic', 'status', HOST, ...hubFlags()], fleet.env);
    assert.match(table.stdout, /CLUSTER\s+REGION\s+ADDRESS\s+HEALTHY/);
    assert.match(table.stdout, /DNS answer: /);
    const missing = await cli(['traffic', 'status', 'nope.example.test', ...hubFlags()], fleet.env);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no GlobalIngress publishes host nope\.example\.test/);
  });

  test('bad input is rejected with a message naming the field, and nothing is created', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ strategy: { type: 'Nearest' } }, /spec\.strategy\.type/],
      [{ hosts: [] }, /spec\.hosts/],
      [{ healthCheck: { intervalSeconds: 0 } }, /spec\.healthCheck\.intervalSeconds/],
      [
        { healthCheck: { intervalSeconds: 2, timeoutSeconds: 5 } },
        /timeoutSeconds must not exceed intervalSeconds/,
      ],
      [{ strategy: { type: 'Weighted' } }, /weights must give at least one cluster a weight above 0/],
    ];
    for (const [spec, message] of cases) {
      const r = await applyYaml('hub', globalIngress('bad', spec));
      assert.notEqual(r.code, 0, `accepted ${JSON.stringify(spec)}`);
      assert.match(r.stderr, message);
    }
    const get = await kubectl(['--context', 'hub', 'get', 'globalingress', 'bad', '-n', 'default'], fleet);
    assert.notEqual(get.code, 0);
  });

  test('leaving the placement removes the Ingress there; deleting the GlobalIngress removes it everywhere', async () => {
    const r = await applyYaml(
      'hub',
      globalIngress('shop', {
        applicationRef: undefined,
        destinationNamespace: 'shop',
        placement: { clusters: ['eu-west'] },
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    await waitFor('Ingress gone from us-east', 30_000, async () =>
      (await ingressIn('us-east', 'shop', 'shop')) === undefined ? true : undefined,
    );
    assert.ok(await ingressIn('eu-west', 'shop', 'shop'));
    const svc = await kubectl(['--context', 'us-east', 'get', 'service', 'api', '-n', 'shop'], fleet);
    assert.notEqual(svc.code, 0, 'the generated Service left with the Ingress');
    const del = await kubectl(
      ['--context', 'hub', 'delete', 'globalingress', 'shop', '-n', 'default', '--timeout=60s'],
      fleet,
    );
    assert.equal(del.code, 0, del.stderr);
    for (const m of MEMBERS) assert.equal(await ingressIn(m, 'shop', 'shop'), undefined);
    const web = await kubectl(['--context', 'eu-west', 'get', 'service', 'web', '-n', 'shop'], fleet);
    assert.equal(web.code, 0, "the Application's own Service is not touched");
  });
  test('a member serving the Gateway API gets an HTTPRoute on the meridian Gateway instead of an Ingress', async () => {
    for (const file of gatewayApiCrdFiles()) {
      const r = await kubectl(['--context', 'us-east', 'apply', '--server-side', '-f', file], fleet);
      assert.equal(r.code, 0, r.stderr);
    }
    // (`kubectl wait` fails instead of waiting while a new CRD has no conditions yet.)
    await waitFor('the HTTPRoute CRD Established in us-east', 30_000, async () => {
      const g = await kubectl(
        [
          '--context',
          'us-east',
          'get',
          'crd',
          'httproutes.gateway.networking.k8s.io',
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Established")].status}',
        ],
        fleet,
      );
      return g.stdout.trim() === 'True' ? true : undefined;
    });
    const r = await applyYaml(
      'hub',
      globalIngress('routes', {
        hosts: ['routes.example.test'],
        applicationRef: undefined,
        destinationNamespace: 'shop',
        placement: { clusters: ['eu-west', 'us-east'] },
        rules: [
          { path: '/', service: 'web', port: 80 },
          { path: '/api', service: 'web', port: 80 },
        ],
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    // The real CRD's schema and CEL rules validate what Meridian writes.
    const route = await waitFor('HTTPRoute routes in us-east', 60_000, async () => {
      const g = await kubectl(
        ['--context', 'us-east', 'get', 'httproute', 'routes', '-n', 'shop', '-o', 'json'],
        fleet,
      );
      return g.code === 0 ? (JSON.parse(g.stdout) as { spec: Record<string, unknown> }) : undefined;
    });
    assert.deepEqual(route.spec['parentRefs'], [
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'meridian', namespace: 'meridian-system' },
    ]);
    assert.deepEqual(route.spec['hostnames'], ['routes.example.test']);
    const rules = route.spec['rules'] as { matches: { path: { value: string } }[] }[];
    assert.deepEqual(
      rules.map((x) => x.matches[0]!.path.value),
      ['/api', '/'],
      'longest prefix first',
    );
    assert.equal(
      await ingressIn('us-east', 'routes', 'shop'),
      undefined,
      'no Ingress where the Gateway API is served',
    );
    await waitFor('Ingress routes in eu-west', 30_000, async () => ingressIn('eu-west', 'routes', 'shop'));
    const del = await kubectl(
      ['--context', 'hub', 'delete', 'globalingress', 'routes', '-n', 'default', '--timeout=60s'],
      fleet,
    );
    assert.equal(del.code, 0, del.stderr);
    const gone = await kubectl(['--context', 'us-east', 'get', 'httproute', 'routes', '-n', 'shop'], fleet);
    assert.notEqual(gone.code, 0, 'the HTTPRoute is removed with the GlobalIngress');
  });

  test("the hub's DNS and edge workers exit when the hub is killed with SIGKILL", async () => {
    const children = childPids(hub.child.pid!);
    // Two DNS and two edge workers (and nothing else the hub runs at this point).
    assert.ok(children.length >= 4, `the hub's child processes: ${children.join(', ')}`);
    await hub.stop('SIGKILL');
    await waitFor('every worker exits', 10_000, () => (children.some(alive) ? undefined : true));
  });
});
