// The local pod runtime against a real fleet (2 members, no hub): pods of a local image become
// processes on their own loopback addresses with the pod's env, `kubectl logs` shows their output,
// a program in the same member reaches them through their Service by name, readiness drives Ready
// and the Service's EndpointSlice, an exiting program is restarted with a growing backoff, scaling
// to 0 stops the processes, a PostgreSQL pod answers through its Service and keeps its data across
// a runtime restart, and `fleet down` leaves nothing running.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { processesMentioning, isAlive, readPid } from '../src/localfleet/processes.ts';
import { clusterDnsEnv } from '../src/localfleet/runtime/cluster-dns-env.ts';
import { podLoopbackPrefix, serviceLoopbackPrefix } from '../src/localfleet/runtime/loopback-ranges.ts';
import { CLUSTER_DNS_PORT, clusterDnsAddress } from '../src/localfleet/runtime/service-address-plan.ts';
import { readPodAddressFile, type PodAddressRow } from '../src/localfleet/runtime/pod-address-file.ts';
import { podProcessesOf } from '../src/localfleet/runtime/process-sweep.ts';
import {
  applyDocs,
  cli,
  fleetUp,
  jsonpath,
  kubectl,
  newFleetHome,
  waitFor,
  type TestFleet,
} from './support/harness.ts';

const fleet: TestFleet = newFleetHome('127.102.0');
const MEMBERS = ['eu-west', 'us-east'] as const;
const NS = 'rt';

/** The runtime's published map (what `fleet pods` prints), read directly: polls stay cheap. */
function pods(): PodAddressRow[] {
  return [...(readPodAddressFile(fleet.dir)?.pods ?? [])];
}

/** The member's cluster DNS server. */
const memberDns = (m: string): { host: string; port: number } => ({
  host: clusterDnsAddress(serviceLoopbackPrefix(fleet.subnet, MEMBERS.indexOf(m as never) + 1)),
  port: CLUSTER_DNS_PORT,
});

/** Runs `code` (an ES module) as a program of namespace NS in member `m` would run; its stdout. */
function runInMember(m: string, code: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--input-type=module', '-e', code],
      {
        env: { ...process.env, MERIDIAN_LOOPBACK_ONLY: '1', ...clusterDnsEnv(memberDns(m), NS) },
        timeout: 20_000,
      },
      (err, out, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(out.trim())),
    ),
  );
}

/** The address the member's cluster DNS gives `name` (a Service of NS). */
async function serviceAddress(m: string, name: string): Promise<string> {
  const r = new Resolver({ timeout: 2_000, tries: 1 });
  const dns = memberDns(m);
  r.setServers([`${dns.host}:${dns.port}`]);
  const [address] = await r.resolve4(`${name}.${NS}.svc.cluster.local`);
  if (!address) throw new Error(`no address for ${name}`);
  return address;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: r.status, body: await r.text() };
}

function psql(host: string, sql: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      'psql',
      ['-h', host, '-p', '5432', '-U', 'shop', '-d', 'orders', '-At', '-c', sql],
      { env: { ...process.env, PGPASSWORD: 'pw', PGCONNECT_TIMEOUT: '10' }, timeout: 30_000 },
      (err, out, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(out.trim())),
    ),
  );
}

const refused = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });

const echo = (replicas: number): object[] => [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'echo', namespace: NS },
    data: { GREETING: 'hello' },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'echo', namespace: NS },
    spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'echo', namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'echo' } },
      template: {
        metadata: { labels: { app: 'echo' } },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'echo',
              image: 'meridian.local/test-echo:1',
              ports: [{ name: 'http', containerPort: 8080 }],
              envFrom: [{ configMapRef: { name: 'echo' } }],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
              ],
              readinessProbe: {
                httpGet: { path: '/ready', port: 'http' },
                periodSeconds: 1,
                failureThreshold: 1,
              },
              livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 2, timeoutSeconds: 5 },
            },
          ],
        },
      },
    },
  },
];

/** Ready status and pod IP of every pod of app=echo in one member. */
async function echoPods(member: string): Promise<{ name: string; ip: string; ready: string }[]> {
  const out = await jsonpath(
    fleet,
    member,
    ['get', 'pods', '-n', NS, '-l', 'app=echo'],
    '{range .items[*]}{.metadata.name} {.status.podIP} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
  );
  return out
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('<error'))
    .map((l) => {
      const [name, ip, ready] = l.split(' ');
      return { name: name!, ip: ip ?? '', ready: ready ?? '' };
    });
}

/** Addresses of the Service's EndpointSlice endpoints in one member, with their `ready`. */
async function sliceEndpoints(member: string): Promise<Map<string, boolean>> {
  const out = await jsonpath(
    fleet,
    member,
    ['get', 'endpointslices', '-n', NS, '-l', 'kubernetes.io/service-name=echo'],
    '{range .items[*].endpoints[*]}{.addresses[0]} {.conditions.ready}{"\\n"}{end}',
  );
  return new Map(
    out
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('<error'))
      .map((l) => [l.split(' ')[0]!, l.split(' ')[1] === 'true'] as const),
  );
}

describe('the local pod runtime: pods of local images as processes on loopback', () => {
  before(async () => {
    writeFileSync(
      join(fleet.home, 'local-images.yaml'),
      'images:\n  meridian.local/test-echo:\n    entrypoint: [node, test/fixtures/local-images/echo-server.mjs]\n',
    );
    await fleetUp(fleet, MEMBERS.length);
  });

  after(async () => {
    await cli(['fleet', 'down'], fleet.env);
    rmSync(fleet.home, { recursive: true, force: true });
  });

  test('a Deployment in two members runs as processes answering on their loopback addresses, with logs', async () => {
    for (const m of MEMBERS) await applyDocs(fleet, m, echo(2));
    // A kwok pod next to them still turns Ready at once (the Stages still play it).
    await applyDocs(fleet, 'eu-west', [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'fake', namespace: NS },
        spec: { containers: [{ name: 'c', image: 'example/fake:1' }] },
      },
    ]);
    for (const m of MEMBERS) {
      await waitFor(`2 Ready echo pods in ${m}`, 60_000, async () => {
        const ps = await echoPods(m);
        return ps.length === 2 && ps.every((p) => p.ready === 'True') ? ps : undefined;
      });
    }
    assert.equal(
      await jsonpath(
        fleet,
        'eu-west',
        ['get', 'pod', 'fake', '-n', NS],
        '{.status.conditions[?(@.type=="Ready")].status}',
      ),
      'True',
    );
    const rows = await waitFor('4 ready rows in the pod map', 30_000, () => {
      const r = pods();
      return r.length === 4 && r.every((p) => p.ready) ? r : undefined;
    });
    // `fleet pods` prints the same map as a table.
    const table = await cli(['fleet', 'pods'], fleet.env, 120_000);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /CLUSTER\s+NAMESPACE\s+POD\s+POD IP\s+LOOPBACK\s+PORTS\s+READY\s+RESTARTS/);
    for (const r of rows) {
      assert.match(
        table.stdout,
        new RegExp(`${r.cluster}\\s+${NS}\\s+${r.pod}\\s+${r.podIp}\\s+${r.loopback}\\s+8080\\s+true\\s+0`),
      );
    }
    for (const [i, m] of MEMBERS.entries()) {
      const prefix = podLoopbackPrefix(fleet.subnet, i + 1);
      const mine = rows.filter((r) => r.cluster === m);
      assert.equal(mine.length, 2);
      const ips = new Set((await echoPods(m)).map((p) => p.ip));
      for (const row of mine) {
        assert.ok(row.loopback.startsWith(`${prefix}.`), `${row.loopback} is in ${prefix}.0/24`);
        assert.ok(ips.has(row.podIp), `${row.podIp} is the pod's IP`);
        assert.deepEqual(row.ports, [8080]);
        const r = await get(`http://${row.loopback}:8080/`);
        assert.equal(r.status, 200);
        const body = JSON.parse(r.body) as Record<string, string>;
        assert.equal(body['pod'], row.pod);
        assert.equal(body['namespace'], NS);
        assert.equal(body['podIp'], row.podIp);
        assert.match(body['node'] ?? '', new RegExp(`^${m}-node-`));
        assert.equal(body['greeting'], 'hello');
        // It asked for 0.0.0.0 and got its own loopback address only.
        assert.equal(body['local'], `${row.loopback}:8080`);
        assert.equal(await refused('127.0.0.1', 8080), true);
      }
      // The Service's EndpointSlice has every pod, ready.
      const eps = await sliceEndpoints(m);
      assert.deepEqual([...eps.values()], [true, true]);
      const logs = await kubectl(['--context', m, 'logs', '-n', NS, mine[0]!.pod], fleet);
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(
        logs.stdout,
        new RegExp(`listening on ${mine[0]!.loopback.replace(/\./g, '\\.')}:8080 pod=${mine[0]!.pod}`),
      );
      assert.match(logs.stdout, /GET \/ready/);
      // A program in the same member reaches them through the Service by its short name, a new
      // connection to each ready pod in turn.
      const answered = await waitFor(`both ${m} pods through the echo Service`, 30_000, async () => {
        const out = await runInMember(
          m,
          `import http from 'node:http';
          const get = () => new Promise((ok, fail) => http.get({ host: 'echo', port: 80, agent: false }, (res) => {
            let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => ok(JSON.parse(b).pod));
          }).on('error', fail));
          const names = [];
          for (let i = 0; i < 4; i++) names.push(await get());
          console.log(JSON.stringify(names));`,
        );
        const names = JSON.parse(out) as string[];
        return new Set(names).size === 2 ? names : undefined;
      });
      assert.deepEqual([...new Set(answered)].sort(), mine.map((r) => r.pod).sort());
    }
  });

  test('a failing readiness probe makes the pod NotReady and takes it out of the Service; recovering brings it back', async () => {
    const row = pods().find((p) => p.cluster === 'eu-west')!;
    await fetch(`http://${row.loopback}:8080/ready/off`, { method: 'POST' });
    await waitFor('the pod NotReady and its endpoint not ready', 20_000, async () => {
      const p = (await echoPods('eu-west')).find((x) => x.name === row.pod);
      const eps = await sliceEndpoints('eu-west');
      return p?.ready === 'False' && eps.get(row.podIp) === false ? true : undefined;
    });
    const others = [...(await sliceEndpoints('eu-west')).entries()].filter(([ip]) => ip !== row.podIp);
    assert.deepEqual(
      others.map(([, ready]) => ready),
      [true],
    );
    await fetch(`http://${row.loopback}:8080/ready/on`, { method: 'POST' });
    await waitFor('the pod Ready again', 20_000, async () =>
      (await sliceEndpoints('eu-west')).get(row.podIp) === true ? true : undefined,
    );
    // The simulated fault works on a real pod too.
    await kubectl(
      ['--context', 'eu-west', 'annotate', 'pod', '-n', NS, row.pod, 'meridian.dev/simulate=not-ready'],
      fleet,
    );
    await waitFor('simulated not-ready', 20_000, async () =>
      (await sliceEndpoints('eu-west')).get(row.podIp) === false ? true : undefined,
    );
    await kubectl(
      ['--context', 'eu-west', 'annotate', 'pod', '-n', NS, row.pod, 'meridian.dev/simulate-'],
      fleet,
    );
    await waitFor('recovered from the simulated fault', 20_000, async () =>
      (await sliceEndpoints('eu-west')).get(row.podIp) === true ? true : undefined,
    );
  });

  test('a program that exits is restarted with a growing backoff and its restartCount rises', async () => {
    await applyDocs(fleet, 'us-east', [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'crasher', namespace: NS },
        spec: {
          containers: [
            {
              name: 'crasher',
              image: 'meridian.local/test-echo',
              env: [
                { name: 'EXIT_AFTER_MS', value: '300' },
                { name: 'PORT', value: '8081' },
              ],
            },
          ],
        },
      },
    ]);
    const seen = new Map<number, number>(); // restartCount → when first seen
    let waiting = '';
    await waitFor(
      'restartCount 3',
      90_000,
      async () => {
        const out = await jsonpath(
          fleet,
          'us-east',
          ['get', 'pod', 'crasher', '-n', NS],
          '{.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].state.waiting.reason}',
        );
        const [count, reason] = out.split(' ');
        const n = Number(count);
        if (!seen.has(n)) seen.set(n, Date.now());
        if (reason) waiting = reason;
        return n >= 3 ? n : undefined;
      },
      200,
    );
    assert.equal(waiting, 'CrashLoopBackOff');
    const gap1 = seen.get(2)! - seen.get(1)!;
    const gap2 = seen.get(3)! - seen.get(2)!;
    assert.ok(gap1 >= 8_000, `second restart after the 10 s backoff (${gap1} ms)`);
    assert.ok(gap2 >= gap1 + 7_000, `third restart after a longer backoff (${gap1} then ${gap2} ms)`);
    const logs = await kubectl(['--context', 'us-east', 'logs', '-n', NS, 'crasher', '--previous'], fleet);
    assert.match(logs.stdout, /exiting with 3 after 300 ms/);
    await kubectl(['--context', 'us-east', 'delete', 'pod', '-n', NS, 'crasher', '--wait=false'], fleet);
  });

  test('scaling to 0 stops the processes', async () => {
    const before = pods().filter((p) => p.pod.startsWith('echo-'));
    assert.equal(before.length, 4);
    for (const m of MEMBERS)
      await kubectl(['--context', m, 'scale', 'deployment', '-n', NS, 'echo', '--replicas=0'], fleet);
    await waitFor('no echo process left', 30_000, async () => {
      const rows = pods().filter((p) => p.pod.startsWith('echo-'));
      if (rows.length > 0) return undefined;
      for (const p of before) if (!(await refused(p.loopback, 8080))) return undefined;
      return true;
    });
  });

  test('a PostgreSQL pod accepts connections through its Service and keeps its data across a runtime restart', async () => {
    await applyDocs(fleet, 'eu-west', [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'db', namespace: NS },
        spec: { selector: { app: 'db' }, ports: [{ port: 5432, targetPort: 'postgres' }] },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'db', namespace: NS },
        spec: {
          serviceName: 'db',
          replicas: 1,
          selector: { matchLabels: { app: 'db' } },
          template: {
            metadata: { labels: { app: 'db' } },
            spec: {
              containers: [
                {
                  name: 'postgres',
                  image: 'meridian.local/postgres:15',
                  ports: [{ name: 'postgres', containerPort: 5432 }],
                  env: [
                    { name: 'POSTGRES_USER', value: 'shop' },
                    { name: 'POSTGRES_PASSWORD', value: 'pw' },
                    { name: 'POSTGRES_DB', value: 'orders' },
                  ],
                  readinessProbe: {
                    exec: { command: ['pg_isready', '-U', 'shop'] },
                    periodSeconds: 1,
                    timeoutSeconds: 10,
                  },
                },
              ],
            },
          },
        },
      },
    ]);
    const ready = async (): Promise<PodAddressRow> =>
      waitFor('db-0 ready', 90_000, async () => pods().find((p) => p.pod === 'db-0' && p.ready));
    const db = await ready();
    const service = await waitFor('the db Service address', 30_000, () => serviceAddress('eu-west', 'db'));
    assert.notEqual(service, db.loopback);
    // The Service listener follows the slice a moment after the pod turns Ready.
    await waitFor('postgres through its Service', 30_000, () =>
      psql(service, 'CREATE TABLE orders (id int primary key, item text)'),
    );
    await psql(service, "INSERT INTO orders VALUES (1, 'book')");

    const runtimePid = readPid({ dir: fleet.dir, name: 'meridian-pod-runtime' })!;
    process.kill(runtimePid, 'SIGTERM');
    await waitFor('the runtime and postgres stopped', 20_000, () =>
      !isAlive(runtimePid) && podProcessesOf(fleet.dir).length === 0 ? true : undefined,
    );
    await fleetUp(fleet, MEMBERS.length); // restarts the runtime
    const again = await ready();
    // The row may still say Ready from before the restart for a moment: retry the query.
    const item = await waitFor('the row after the restart', 60_000, () =>
      psql(again.loopback, 'SELECT item FROM orders WHERE id = 1'),
    );
    assert.equal(item, 'book');
    const serviceAgain = await waitFor('the db Service again', 30_000, () => serviceAddress('eu-west', 'db'));
    assert.equal(
      await waitFor('the row through the Service', 60_000, () =>
        psql(serviceAgain, 'SELECT item FROM orders WHERE id = 1'),
      ),
      'book',
    );
  });

  test('fleet down leaves no runtime and no pod process', async () => {
    assert.ok(podProcessesOf(fleet.dir).length > 0, 'postgres runs before');
    const down = await cli(['fleet', 'down'], fleet.env);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(podProcessesOf(fleet.dir), []);
    assert.deepEqual(processesMentioning(fleet.dir + '/'), []);
  });
});
