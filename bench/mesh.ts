// Benchmark: cross-cluster services (the mesh controller) on a local fleet, hub + 3 members.
// - PreferLocal failover: eu-west's own app2 endpoints turn not-ready (kwok), measured from the
//   moment eu-west's own EndpointSlice shows 0 ready endpoints until its `app2-mcs-us-east` slice
//   shows ready ones; and the way back (own slice ready again → remote slice not ready again,
//   which includes the controller's hold-down). Both slices are watched in eu-west, so the
//   timestamps are event arrival times, not polls.
// - N exported services × 3 members (each exported by 2 of the 3) from cold: the hub starts after
//   every Service, its EndpointSlice and every ServiceExport exist; time until every member holds
//   all its ServiceImports (status.clusters filled) and every expected meridian.dev EndpointSlice.
//   Then a quiet minute: hub CPU and RSS, and writes to the members (watch events on what the mesh
//   writes, and the member API servers' own write counters); then a hub restart, which should write
//   nothing; then the failover measurement again with the N services imported.
// Env: BENCH_SAMPLES (default 20), BENCH_SERVICES (default 1000), BENCH_STEADY_SECONDS (default 60).
// Loopback only (subnet 127.94.0, hub on 127.0.0.1:17943); the fleet is torn down on failure too.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../src/kube/cluster-client.ts';
import { Informer } from '../src/kube/informer.ts';
import { endpointSliceName } from '../src/mesh/endpoint-plan.ts';
import { app2Export, app2Workload } from '../test/support/app2.ts';
import {
  cli,
  fleetUp,
  joinMembers,
  kubectl,
  newFleetHome,
  startHub,
  waitFor,
  type HubProcess,
} from '../test/support/harness.ts';

const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 20);
const SERVICES = Number(process.env['BENCH_SERVICES'] ?? 1000);
const STEADY_S = Number(process.env['BENCH_STEADY_SECONDS'] ?? 60);
const HUB_PORT = 17943;
const HOLD_DOWN_MS = 3_000; // the mesh controller's default
const MEMBERS = ['eu-west', 'us-east', 'ap-south'] as const;
type Member = (typeof MEMBERS)[number];
/** Which two members export service i: every pair equally often. */
const PAIRS: readonly (readonly [Member, Member])[] = [
  ['eu-west', 'us-east'],
  ['us-east', 'ap-south'],
  ['eu-west', 'ap-south'],
];
const BENCH_NS = 'meshbench';
const REPLICAS = 3; // pods behind every bench Service in each exporting member
const MCS = 'multicluster.x-k8s.io/v1alpha1';
const SLICE_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';

interface Slice extends KubeObject {
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
}
interface Import extends KubeObject {
  status?: { clusters?: { cluster: string }[] };
}

const fleet = newFleetHome('127.94.0');
const client = (ctx: string): ClusterClient =>
  new ClusterClient(ctx, loadKubeConfig({ file: fleet.kubeconfig }, ctx));
const informers: Informer<KubeObject>[] = [];
const hubLogs: string[] = [];
let hub: HubProcess | undefined;

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};
const readyIn = (s: Slice | undefined): number =>
  (s?.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
const progress = (msg: string): void => {
  process.stderr.write(`[mesh bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

function watch<T extends KubeObject>(
  c: ClusterClient,
  apiVersion: string,
  kind: string,
  opts: { namespace?: string; labelSelector?: string } = {},
): Informer<T> {
  const inf = new Informer<T>(c, apiVersion, kind, {
    ...opts,
    onError: (err) => progress(`watch ${kind} in ${c.name} failed: ${err}`),
  });
  informers.push(inf as unknown as Informer<KubeObject>);
  return inf.start();
}

async function applyYaml(context: string, docs: readonly object[]): Promise<void> {
  const r = await kubectl(
    ['--context', context, 'apply', '-f', '-'],
    fleet,
    docs.map((d) => stringify(d)).join('---\n'),
  );
  if (r.code !== 0) throw new Error(`kubectl apply in ${context}: ${r.stderr}`);
}

async function kubectlOk(args: readonly string[]): Promise<void> {
  const r = await kubectl(args, fleet);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
}

/** Runs `f` over `items`, `n` at a time. */
async function pool<T>(items: readonly T[], n: number, f: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await f(items[next++]!);
    }),
  );
}

async function stopHub(h: HubProcess): Promise<void> {
  hubLogs.push(h.logs());
  const killer = setTimeout(() => h.child.kill('SIGKILL'), 20_000);
  await h.stop('SIGTERM'); // releases the leader lease, so the next hub leads at once
  clearTimeout(killer);
}

// ---------------------------------------------------------------------------------------------
// 1. PreferLocal failover and recovery of app2, watched in eu-west.

interface FailoverResult {
  readonly failoverMs: number[];
  readonly recoveryMs: number[];
  /** Recoveries in which eu-west's own endpoints went ready, then not ready again, before t3. */
  readonly ownFlaps: number;
}

/** kwok's meridian-pod-not-ready Stage turns annotated pods Ready=False. */
async function markNotReady(member: string): Promise<void> {
  await kubectlOk([
    '--context',
    member,
    'annotate',
    'pods',
    '-n',
    'shop',
    '-l',
    'app=app2',
    'meridian.dev/simulate=not-ready',
    '--overwrite',
  ]);
}

async function measureFailover(samples: number, label: string): Promise<FailoverResult> {
  const replicas = 2;
  const slices = watch<Slice>(client('eu-west'), 'discovery.k8s.io/v1', 'EndpointSlice', {
    namespace: 'shop',
    labelSelector: 'kubernetes.io/service-name=app2',
  });
  await slices.waitForSync();
  interface Point {
    readonly at: number;
    readonly own: number;
    readonly ownTotal: number;
    readonly remote: number;
  }
  const timeline: Point[] = [];
  const observe = (): void => {
    const all = slices.list();
    const own = all.filter(
      (s) => s.metadata.labels?.[SLICE_MANAGED_BY] === 'endpointslice-controller.k8s.io',
    );
    const p: Point = {
      at: performance.now(),
      own: own.reduce((n, s) => n + readyIn(s), 0),
      ownTotal: own.reduce((n, s) => n + (s.endpoints?.length ?? 0), 0),
      remote: readyIn(all.find((s) => s.metadata.name === 'app2-mcs-us-east')),
    };
    const last = timeline.at(-1);
    if (!last || last.own !== p.own || last.ownTotal !== p.ownTotal || last.remote !== p.remote)
      timeline.push(p);
  };
  slices.on(observe);
  observe();
  const now = (): Point => timeline.at(-1)!;
  const after = (mark: number, ok: (p: Point) => boolean): number =>
    timeline.findIndex((p, i) => i >= mark && ok(p));

  const failoverMs: number[] = [];
  const recoveryMs: number[] = [];
  let ownFlaps = 0;
  for (let i = 0; i < samples; i++) {
    await waitFor(
      `${label} #${i}: eu-west on its ${replicas} local app2 endpoints only (${JSON.stringify(now())})`,
      60_000,
      () => {
        const p = now();
        return p.own === replicas && p.ownTotal === replicas && p.remote === 0 ? true : undefined;
      },
      10,
    );
    // Failover: local endpoints not ready → remote ones published ready.
    const mark = timeline.length;
    await markNotReady('eu-west');
    await waitFor(
      `${label} #${i}: remote app2 endpoints ready in eu-west (${JSON.stringify(now())})`,
      15_000,
      () => (after(mark, (p) => p.remote > 0) >= 0 ? true : undefined),
      10,
    );
    const t0 = timeline[after(mark, (p) => p.own === 0)]?.at;
    const t1 = timeline[after(mark, (p) => p.remote > 0)]!.at;
    if (t0 === undefined) throw new Error(`${label} #${i}: failed over without seeing local endpoints go`);
    failoverMs.push(t1 - t0);
    // Recovery: delete the not-ready pods; their replacements are ready, and the remote slice goes
    // back after the hold-down. (Removing the annotation first, as the integration test does, makes
    // kwok mark the old pods ready again just before they go, so eu-west's own endpoints would flap
    // ready → not ready → ready and "ready again" would have no single moment.)
    const mark2 = timeline.length;
    await kubectlOk([
      '--context',
      'eu-west',
      'delete',
      'pods',
      '-n',
      'shop',
      '-l',
      'app=app2',
      '--wait=false',
    ]);
    await waitFor(
      `${label} #${i}: remote app2 endpoints not ready again in eu-west (${JSON.stringify(now())})`,
      30_000,
      () => (after(mark2, (p) => p.remote === 0) >= 0 ? true : undefined),
      10,
    );
    const i2 = after(mark2, (p) => p.own >= 1);
    const i3 = after(mark2, (p) => p.remote === 0);
    if (i2 < 0 || i2 > i3) throw new Error(`${label} #${i}: recovered without local endpoints`);
    if (timeline.slice(i2, i3 + 1).some((p) => p.own === 0)) ownFlaps++;
    recoveryMs.push(timeline[i3]!.at - timeline[i2]!.at);
    progress(
      `${label} #${i}: failover ${(t1 - t0).toFixed(0)} ms, recovery ${recoveryMs.at(-1)!.toFixed(0)} ms`,
    );
  }
  await slices.stop();
  return { failoverMs, recoveryMs, ownFlaps };
}

// ---------------------------------------------------------------------------------------------
// 2. N exported services from cold, then a quiet minute.

const svcName = (i: number): string => `bench-${String(i).padStart(4, '0')}`;
const pairOf = (i: number): readonly [Member, Member] => PAIRS[i % PAIRS.length]!;
const servicesIn = (m: Member): number[] =>
  Array.from({ length: SERVICES }, (_, i) => i).filter((i) => pairOf(i).includes(m));

/** Services, their pods and EndpointSlices, then ServiceExports in every exporting member. */
async function createServices(): Promise<void> {
  for (const m of MEMBERS) {
    await applyYaml(m, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: BENCH_NS } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'bench', namespace: BENCH_NS },
        spec: {
          replicas: REPLICAS,
          selector: { matchLabels: { app: 'bench' } },
          template: {
            metadata: { labels: { app: 'bench' } },
            spec: { containers: [{ name: 'c', image: 'example/bench:1', ports: [{ containerPort: 8080 }] }] },
          },
        },
      },
    ]);
  }
  const apply = (m: Member, obj: KubeObject): Promise<KubeObject> =>
    client(m).apply(obj, { fieldManager: 'bench', force: true });
  const started = performance.now();
  await Promise.all(
    MEMBERS.map((m) =>
      pool(servicesIn(m), 16, (i) =>
        apply(m, {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: svcName(i), namespace: BENCH_NS },
          spec: { selector: { app: 'bench' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
        }),
      ),
    ),
  );
  progress(`services created in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // Every Service's own EndpointSlice with its pods, before anything is exported.
  for (const m of MEMBERS) {
    const want = servicesIn(m).length;
    await waitFor(
      `${want} bench EndpointSlices with ${REPLICAS} ready endpoints in ${m}`,
      900_000,
      async () => {
        const l = await client(m).list<Slice>('discovery.k8s.io/v1', 'EndpointSlice', {
          namespace: BENCH_NS,
          labelSelector: `${SLICE_MANAGED_BY}=endpointslice-controller.k8s.io`,
          timeoutMs: 60_000,
        });
        return l.items.filter((s) => readyIn(s) === REPLICAS).length >= want ? true : undefined;
      },
      2_000,
    );
  }
  progress(`own EndpointSlices ready after ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await Promise.all(
    MEMBERS.map((m) =>
      pool(servicesIn(m), 16, (i) =>
        apply(m, {
          apiVersion: MCS,
          kind: 'ServiceExport',
          metadata: { name: svcName(i), namespace: BENCH_NS },
        }),
      ),
    ),
  );
  progress(`exports created after ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

interface MemberWatch {
  readonly member: Member;
  readonly imports: Informer<Import>;
  readonly slices: Informer<Slice>;
  readonly exports: Informer<KubeObject>;
  readonly derived: Informer<KubeObject>;
}

/** Watches, in every member, everything the mesh writes there; counts events once `counting`. */
function watchMeshWrites(): {
  watches: MemberWatch[];
  events: Map<string, number>;
  count: (on: boolean) => void;
} {
  const events = new Map<string, number>();
  let counting = false;
  const watches = MEMBERS.map((m): MemberWatch => {
    const c = client(m);
    const w: MemberWatch = {
      member: m,
      imports: watch<Import>(c, MCS, 'ServiceImport', { namespace: BENCH_NS }),
      slices: watch<Slice>(c, 'discovery.k8s.io/v1', 'EndpointSlice', {
        namespace: BENCH_NS,
        labelSelector: `${SLICE_MANAGED_BY}=meridian.dev`,
      }),
      exports: watch<KubeObject>(c, MCS, 'ServiceExport', { namespace: BENCH_NS }),
      derived: watch<KubeObject>(c, 'v1', 'Service', {
        namespace: BENCH_NS,
        labelSelector: 'meridian.dev/mcs-derived=true',
      }),
    };
    for (const [what, inf] of [
      ['ServiceImport', w.imports],
      ['EndpointSlice (meridian.dev)', w.slices],
      ['ServiceExport', w.exports],
      ['Service (derived)', w.derived],
    ] as const) {
      (inf as Informer<KubeObject>).on((e) => {
        if (!counting) return;
        const k = `${what} ${e}`;
        events.set(k, (events.get(k) ?? 0) + 1);
      });
    }
    return w;
  });
  return { watches, events, count: (on) => (counting = on) };
}

/** What is still missing in one member for every service to be imported there. */
function missingIn(w: MemberWatch): { imports: number; slices: number } {
  let imports = 0;
  let slices = 0;
  for (let i = 0; i < SERVICES; i++) {
    const pair = pairOf(i);
    const want = [...pair].sort().join(',');
    const imp = w.imports.get(svcName(i), BENCH_NS);
    const have = (imp?.status?.clusters ?? [])
      .map((c) => c.cluster)
      .sort()
      .join(',');
    if (have !== want) imports++;
    for (const src of pair) {
      if (src === w.member) continue;
      if (readyIn(w.slices.get(endpointSliceName(svcName(i), src), BENCH_NS)) !== REPLICAS) slices++;
    }
  }
  return { imports, slices };
}

interface WriteCounters {
  /** Write requests by resource (leases, nodes and auth reviews left out). */
  readonly writes: Map<string, number>;
  /** Server-side seconds spent on those writes to the mesh's kinds, and how many there were. */
  readonly meshSeconds: number;
  readonly meshRequests: number;
}

const WRITE_VERB = /verb="(POST|PUT|PATCH|DELETE|APPLY)"/;
const MESH_RESOURCE = /resource="(serviceimports|serviceexports|endpointslices|services|namespaces)"/;

/** The member API servers' write counters, summed over members. */
async function memberCounters(): Promise<WriteCounters> {
  const writes = new Map<string, number>();
  let meshSeconds = 0;
  let meshRequests = 0;
  for (const m of MEMBERS) {
    const text = await client(m).rest.get<string>('/metrics', { timeoutMs: 30_000 });
    for (const line of text.split('\n')) {
      if (!WRITE_VERB.test(line)) continue;
      const value = Number(line.split(' ').pop());
      if (line.startsWith('apiserver_request_duration_seconds_sum{') && MESH_RESOURCE.test(line))
        meshSeconds += value;
      if (line.startsWith('apiserver_request_duration_seconds_count{') && MESH_RESOURCE.test(line))
        meshRequests += value;
      if (!line.startsWith('apiserver_request_total{')) continue;
      const res = /resource="([^"]*)"/.exec(line)?.[1] ?? '';
      const sub = /subresource="([^"]*)"/.exec(line)?.[1] ?? '';
      if (/^(leases|nodes|tokenreviews|subjectaccessreviews)$/.test(res)) continue;
      const key = sub ? `${res}/${sub}` : res;
      writes.set(key, (writes.get(key) ?? 0) + value);
    }
  }
  return { writes, meshSeconds, meshRequests };
}
const memberWrites = async (): Promise<Map<string, number>> => (await memberCounters()).writes;

const cpuTicks = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
};
const rssMiB = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Per-resource increase between two counter readings, only what grew. */
function diff(before: Map<string, number>, after: Map<string, number>): [string, number][] {
  return [...after].map(([k, v]): [string, number] => [k, v - (before.get(k) ?? 0)]).filter(([, v]) => v > 0);
}

/** Milliseconds (relative to `since`, a Date.now()) of every hub log record whose message is `msg`. */
function loggedAll(h: HubProcess, msg: string, since: number): number[] {
  const out: number[] = [];
  for (const line of h.logs().split('\n')) {
    if (!line.includes(msg)) continue;
    try {
      const rec = JSON.parse(line) as { time?: string; msg?: string };
      if (rec.msg === msg && rec.time && Date.parse(rec.time) >= since)
        out.push(Date.parse(rec.time) - since);
    } catch {
      // not a log record
    }
  }
  return out;
}

/** Waits at least `minMs`, then until no mesh watch event for 10 s (at most 2 minutes more). */
async function settle(
  mesh: ReturnType<typeof watchMeshWrites>,
  minMs: number,
): Promise<{ events: number; ms: number }> {
  const started = performance.now();
  await new Promise((r) => setTimeout(r, minMs));
  const total = (): number => [...mesh.events.values()].reduce((a, b) => a + b, 0);
  let seen = total();
  let quietSince = performance.now();
  await waitFor(
    'mesh writes to stop',
    120_000,
    () => {
      if (total() !== seen) {
        seen = total();
        quietSince = performance.now();
      }
      return performance.now() - quietSince >= 10_000 ? true : undefined;
    },
    200,
  ).catch(() => progress('mesh writes did not stop within 2 minutes; going on'));
  return { events: seen, ms: performance.now() - started };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<string[]> {
  const load0 = loadavg();
  progress('fleet up (3 members, no hub process)');
  await fleetUp(fleet, MEMBERS.length);
  progress('hub 1 and joins');
  hub = await startHub(fleet, 'mesh-bench-1', HUB_PORT);
  await joinMembers(fleet, MEMBERS);

  // 1. Failover on an otherwise idle mesh.
  for (const m of ['eu-west', 'us-east'] as const) await applyYaml(m, app2Workload(2));
  for (const m of ['eu-west', 'us-east'] as const) await applyYaml(m, [app2Export]);
  await applyYaml('hub', [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    {
      apiVersion: 'meridian.dev/v1alpha1',
      kind: 'TrafficPolicy',
      metadata: { name: 'app2', namespace: 'shop' },
      spec: { service: 'app2', locality: 'PreferLocal', failover: { minReadyLocal: 1 } },
    },
  ]);
  await waitFor('app2-mcs-us-east in eu-west', 120_000, async () =>
    (await client('eu-west').get('discovery.k8s.io/v1', 'EndpointSlice', 'app2-mcs-us-east', 'shop'))
      ? true
      : undefined,
  );
  progress(`failover × ${SAMPLES}, idle mesh`);
  const idle = await measureFailover(SAMPLES, 'idle');

  // Unexport app2 and let hub 1 clean up, so hub 2 starts with no import anywhere.
  for (const m of ['eu-west', 'us-east'])
    await kubectlOk(['--context', m, 'delete', 'serviceexport', 'app2', '-n', 'shop']);
  for (const m of MEMBERS)
    await waitFor(`app2 import gone in ${m}`, 60_000, async () =>
      (await client(m).get(MCS, 'ServiceImport', 'app2', 'shop')) ? undefined : true,
    );
  await stopHub(hub);
  hub = undefined;

  // 2. N services from cold.
  progress(`creating ${SERVICES} services`);
  await createServices();
  const mesh = watchMeshWrites();
  await Promise.all(mesh.watches.flatMap((w) => [w.imports, w.slices].map((i) => i.waitForSync())));
  for (const w of mesh.watches) {
    if (w.imports.list().length || w.slices.list().length)
      throw new Error(`${w.member}: imports or meridian slices exist before the hub starts`);
  }
  progress('hub 2 (cold)');
  const cold0 = await memberCounters();
  const spawnedAt = Date.now();
  const t0 = performance.now();
  hub = await startHub(fleet, 'mesh-bench-2', HUB_PORT);
  const hubPid = hub.child.pid!;
  let lastReport = 0;
  let firstImport: number | undefined;
  await waitFor(
    `all ${SERVICES} services imported everywhere`,
    1_800_000,
    () => {
      const missing = mesh.watches.map(missingIn);
      if (firstImport === undefined && mesh.watches.some((w) => w.imports.list().length))
        firstImport = performance.now() - t0;
      if (performance.now() - lastReport > 15_000) {
        lastReport = performance.now();
        progress(
          `cold: ${((performance.now() - t0) / 1000).toFixed(0)} s, missing ${missing
            .map((x, k) => `${MEMBERS[k]} ${x.imports} imports/${x.slices} slices`)
            .join(', ')}`,
        );
      }
      return missing.every((x) => x.imports === 0 && x.slices === 0) ? true : undefined;
    },
    100,
  );
  const convergeS = (performance.now() - t0) / 1000;
  const coldCpuS = cpuTicks(hubPid) / 100;
  const cold1 = await memberCounters();
  const coldWrites = diff(cold0.writes, cold1.writes);
  const coldWriteMs =
    ((cold1.meshSeconds - cold0.meshSeconds) / (cold1.meshRequests - cold0.meshRequests)) * 1000;
  const controllersAt = loggedAll(hub, 'controllers started', spawnedAt)[0];
  const syncedAt = loggedAll(hub, 'mesh caches synced', spawnedAt);
  progress(`converged in ${convergeS.toFixed(1)} s`);

  // Let the cold start's last work drain before the quiet minute.
  mesh.count(true);
  const drained = await settle(mesh, 0);
  mesh.events.clear();

  progress(`quiet ${STEADY_S} s`);
  const c0 = cpuTicks(hubPid);
  const w0 = await memberWrites();
  await new Promise((r) => setTimeout(r, STEADY_S * 1000));
  const cpuPct = ((cpuTicks(hubPid) - c0) / 100 / STEADY_S) * 100;
  const apiWrites = diff(w0, await memberWrites()).map(([k, v]) => [k, v / (STEADY_S / 60)] as const);
  const rss = rssMiB(hubPid);
  const watchWrites = [...mesh.events].map(([k, v]) => [k, v / (STEADY_S / 60)] as const);
  mesh.events.clear();

  // 2b. A hub restart with everything in place should write nothing.
  progress('hub restart (3)');
  const r0 = await memberWrites();
  await stopHub(hub);
  const restartAt = Date.now();
  hub = await startHub(fleet, 'mesh-bench-3', HUB_PORT);
  await waitFor(
    'hub 3 mesh caches synced in every member',
    300_000,
    () => (loggedAll(hub!, 'mesh caches synced', restartAt).length >= MEMBERS.length ? true : undefined),
    200,
  );
  const restartSynced = loggedAll(hub, 'mesh caches synced', restartAt);
  await settle(mesh, 20_000);
  const restartWrites = diff(r0, await memberWrites());
  const restartEvents = [...mesh.events];
  mesh.count(false);

  // 3. Failover again, with the N services imported everywhere.
  for (const m of ['eu-west', 'us-east'] as const) await applyYaml(m, [app2Export]);
  await waitFor('app2-mcs-us-east in eu-west again', 120_000, async () =>
    (await client('eu-west').get('discovery.k8s.io/v1', 'EndpointSlice', 'app2-mcs-us-east', 'shop'))
      ? true
      : undefined,
  );
  progress(`failover × ${SAMPLES}, ${SERVICES} services imported`);
  const loaded = await measureFailover(SAMPLES, 'loaded');
  const load1 = loadavg();

  const f0 = (x: number): string => x.toFixed(0);
  const s1 = (ms: number | undefined): string => ((ms ?? NaN) / 1000).toFixed(1);
  const row = (what: string, xs: readonly number[], minus = 0): string =>
    `| ${what} | ${f0(pct(xs, 50) - minus)} | ${f0(pct(xs, 99) - minus)} | ${f0(Math.max(...xs) - minus)} |`;
  const byKind = (xs: readonly (readonly [string, number])[]): string =>
    `${f0(xs.reduce((a, [, v]) => a + v, 0))} (${xs.map(([k, v]) => `${k}: ${f0(v)}`).join(', ') || 'none'})`;
  // Fewest writes a cold start needs per service: in each exporting member the import, its status
  // and the other's slice; in the third the derived Service, import, status and two slices; and
  // the status of both exports.
  const minimum = SERVICES * (2 * 3 + 5 + 2);
  const meshResources = /^(serviceimports|serviceexports|endpointslices|services|namespaces)(\/status)?$/;
  const coldMesh = coldWrites.filter(([k]) => meshResources.test(k)).reduce((a, [, v]) => a + v, 0);
  return [
    `machine: nproc ${cpus().length} (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; load average ${load0.map((x) => x.toFixed(1)).join(' ')} at start, ${load1.map((x) => x.toFixed(1)).join(' ')} at end`,
    '',
    `| PreferLocal app2, eu-west (${SAMPLES} runs each) | p50 (ms) | p99 (ms) | max (ms) |`,
    '|---|---|---|---|',
    row('failover: own slice 0 ready → remote slice ready (idle mesh)', idle.failoverMs),
    row(`failover, ${SERVICES} services imported`, loaded.failoverMs),
    row('recovery: own slice ready → remote slice not ready (idle mesh)', idle.recoveryMs),
    row(`  same, minus the ${HOLD_DOWN_MS} ms hold-down`, idle.recoveryMs, HOLD_DOWN_MS),
    row(`recovery, ${SERVICES} services imported`, loaded.recoveryMs),
    row(`  same, minus the ${HOLD_DOWN_MS} ms hold-down`, loaded.recoveryMs, HOLD_DOWN_MS),
    '',
    `failover samples (idle, ms): ${idle.failoverMs.map(f0).join(', ')}`,
    `failover samples (loaded, ms): ${loaded.failoverMs.map(f0).join(', ')}`,
    `recovery samples (idle, ms): ${idle.recoveryMs.map(f0).join(', ')}`,
    `recovery samples (loaded, ms): ${loaded.recoveryMs.map(f0).join(', ')}`,
    `recoveries where own endpoints went ready and then not ready again before t3: idle ${idle.ownFlaps}/${SAMPLES}, loaded ${loaded.ownFlaps}/${SAMPLES}`,
    '',
    `${SERVICES} services × 3 members, each exported by 2 (${REPLICAS} pods behind each), from cold:`,
    `- hub start → controllers started ${s1(controllersAt)} s, mesh caches synced ${syncedAt.map(s1).join('/')} s, first ServiceImport ${s1(firstImport)} s, all ServiceImports (status.clusters) and meridian.dev EndpointSlices in place ${convergeS.toFixed(1)} s`,
    `- hub CPU time from start to convergence: ${coldCpuS.toFixed(1)} s`,
    `- writes served by the member API servers until convergence: ${byKind(coldWrites)}; of those to the mesh's kinds ${f0(coldMesh)}, against a minimum of ${minimum}; ${f0(coldMesh / (convergeS - (firstImport ?? 0) / 1000))} writes/s from the first ServiceImport on, ${coldWriteMs.toFixed(0)} ms mean server-side time per write`,
    `- after convergence: ${drained.events} more mesh watch events over ${(drained.ms / 1000).toFixed(0)} s before 10 s of quiet`,
    `- quiet ${STEADY_S} s: hub CPU ${cpuPct.toFixed(1)} % of one core, hub RSS ${f0(rss)} MiB`,
    `- watch events per minute on ServiceImports, meridian.dev EndpointSlices, ServiceExports and derived Services: ${byKind(watchWrites)}`,
    `- write requests per minute served by the 3 member API servers: ${byKind(apiWrites)}; leases and node heartbeats left out`,
    `hub restart with all ${SERVICES} imported (SIGTERM, new process): mesh caches synced ${restartSynced.map(s1).join('/')} s after start; writes served by the member API servers ${byKind(restartWrites)}; mesh watch events ${byKind(restartEvents)}`,
  ];
}

let stopping = false;
async function cleanup(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(informers.map((i) => i.stop()));
  if (hub) await stopHub(hub).catch(() => hub?.child.kill('SIGKILL'));
  const logFile = join(tmpdir(), 'meridian-bench-mesh-hub.log');
  writeFileSync(logFile, hubLogs.join('\n'));
  progress(`hub logs: ${logFile}`);
  const down = await cli(['fleet', 'down'], fleet.env).catch((e: unknown) => ({
    code: -1,
    stderr: String(e),
  }));
  if (down.code !== 0) progress(`fleet down failed: ${down.stderr}`);
  rmSync(fleet.home, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => void cleanup().finally(() => process.exit(130)));

let lines: string[] | undefined;
try {
  lines = await main();
} finally {
  await cleanup();
}
// Warnings every hub process logged (lost leadership, failed watches…), so a disturbed run shows.
const warnings = new Map<string, number>();
for (const line of hubLogs.join('\n').split('\n')) {
  try {
    const rec = JSON.parse(line) as { level?: number; msg?: string };
    if ((rec.level ?? 0) >= 40) warnings.set(rec.msg ?? '?', (warnings.get(rec.msg ?? '?') ?? 0) + 1);
  } catch {
    // not a log record
  }
}
lines.push(
  `hub warnings over the run (3 hub processes): ${[...warnings].map(([m, n]) => `"${m}" ×${n}`).join(', ') || 'none'}`,
);
process.stdout.write(`${lines.join('\n')}\n`);
