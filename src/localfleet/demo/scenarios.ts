// The demo's failure scenarios on the local fleet's reference system. Each breaks one thing the way
// it breaks in production, then watches the fleet react and says what happened, with timings:
// - a cluster: its ingress stops answering and its API server stops (SIGSTOP, like a partition);
// - a service in one cluster: its pods turn not ready (as failing readiness probes do);
// - a bad release: a new revision whose APP 1 crashes in one cluster;
// - a drain: the cluster leaves global rotation on purpose.
// `recover…` undoes each. What is broken on purpose is kept in the fleet's fault file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { API_VERSION } from '../../api/group.ts';
import type { Application } from '../../api/application.ts';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../../kube/cluster-client.ts';
import { MeridianError } from '../../kube/errors.ts';
import { sleep } from '../../kube/sleep.ts';
import { readFaults, writeFaults } from '../fault-file.ts';
import { readFleetState, type FleetState } from '../fleet.ts';
import { clusterFiles } from '../components.ts';
import { LOCAL_DNS_SERVER, LOCAL_EDGE, LOCAL_INGRESS_PORT } from '../layout.ts';
import { localHubClient } from '../register.ts';
import { isAlive, readPid } from '../processes.ts';
import { SIMULATE_ANNOTATION } from '../runtime/pod-status.ts';
import { REFERENCE_APP, REFERENCE_INGRESS, REFERENCE_NAMESPACE } from '../reference-system.ts';
import { dnsA, timeUntil, watchPath } from './probes.ts';
import { ShopClient, type ShopResult } from './shop-client.ts';
import { describeSummary, failed, summarize } from './traffic-stats.ts';

export interface DemoContext {
  readonly dir: string;
  readonly state: FleetState;
  readonly hub: ClusterClient;
  readonly member: (name: string) => ClusterClient;
  readonly say: (m: string) => void;
  /** The shop's published name and the hub's front doors. */
  readonly host: string;
  readonly dns: { host: string; port: number };
  readonly edge: URL;
}

/** What a scenario measured: the figures tests and benchmarks read. */
export interface ScenarioReport {
  /** ms from the fault to the first successful request on the new path. */
  readonly newPathMs?: number;
  /** ms from the fault until the GSLB DNS answer reflected it. */
  readonly dnsMs?: number;
  readonly results: readonly ShopResult[];
}

/** The shop's published name, from the GlobalIngress `fleet up` applies. */
export function referenceHost(): string {
  const gi = parse(readFileSync(REFERENCE_INGRESS, 'utf8')) as { spec: { hosts: string[] } };
  return gi.spec.hosts[0]!;
}

/** The context of the local fleet in `dir` (its hub, members and the hub's front doors). */
export function localDemoContext(dir: string, say: (m: string) => void): DemoContext {
  const state = readFleetState(dir);
  if (!state)
    throw new MeridianError('NoFleet', `no local fleet in ${dir}: run \`meridian fleet up\` first`, 3);
  return {
    dir,
    state,
    hub: localHubClient(dir),
    member: (name) =>
      new ClusterClient(name, loadKubeConfig({ file: clusterFiles(join(dir, name)).adminKubeconfig })),
    say,
    host: referenceHost(),
    dns: LOCAL_DNS_SERVER,
    edge: new URL(`http://${LOCAL_EDGE}`),
  };
}

const seconds = (ms: number | undefined): string =>
  ms === undefined ? 'never' : ms < 1_000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;

function memberOf(ctx: DemoContext, cluster: string): FleetState['layout']['members'][number] {
  const m = ctx.state.layout.members.find((c) => c.name === cluster);
  if (!m) {
    throw new MeridianError(
      'NotFound',
      `no member cluster ${cluster} (members: ${ctx.state.layout.members.map((c) => c.name).join(', ')})`,
      3,
    );
  }
  return m;
}

/** A client of the shop through one member's ingress address (what the edge would reach there). */
function ingressClient(ctx: DemoContext, cluster: string): ShopClient {
  return new ShopClient(
    new URL(`http://${memberOf(ctx, cluster).ingressAddress}:${LOCAL_INGRESS_PORT}`),
    ctx.host,
  );
}

/**
 * Requests through `cluster`'s ingress until APP 1 there answers with an APP 2 that `onPath`
 * accepts; `newPathMs` counts from `start` (the fault).
 */
async function watchIngress(
  ctx: DemoContext,
  cluster: string,
  start: number,
  onPath: (r: ShopResult) => boolean,
  opts: { timeoutMs: number; afterMs?: number },
): Promise<ScenarioReport> {
  const client = ingressClient(ctx, cluster);
  try {
    const w = await watchPath(client, (r) => r.app1Cluster === cluster && onPath(r), opts);
    const newPathMs =
      w.firstNewPathMs === undefined ? undefined : w.firstNewPathMs + (w.results[0]!.at - start);
    return { ...(newPathMs !== undefined ? { newPathMs } : {}), results: w.results };
  } finally {
    client.close();
  }
}

/** Sends GET /items through the edge every `everyMs` while `until` is pending. */
async function edgeTraffic(ctx: DemoContext, until: Promise<unknown>, everyMs = 50): Promise<ShopResult[]> {
  const client = new ShopClient(ctx.edge, ctx.host);
  const out: ShopResult[] = [];
  let over = false;
  void until.finally(() => (over = true));
  try {
    while (!over) {
      out.push(await client.send('GET', '/items'));
      await sleep(everyMs);
    }
  } finally {
    client.close();
  }
  return out;
}

// ——— a cluster ———

export async function failCluster(
  ctx: DemoContext,
  cluster: string,
  timeoutMs = 60_000,
): Promise<ScenarioReport> {
  const m = memberOf(ctx, cluster);
  const faults = readFaults(ctx.dir);
  if (faults.ingressDown.includes(cluster))
    throw new MeridianError('AlreadyFailed', `${cluster} is already failed`, 3);
  const pid = readPid({ dir: join(ctx.dir, cluster), name: 'kube-apiserver' });
  const apiPid = pid !== undefined && isAlive(pid) ? pid : undefined;
  const start = Date.now();
  writeFaults(ctx.dir, {
    ingressDown: [...faults.ingressDown, cluster],
    apiStopped: apiPid !== undefined ? [...faults.apiStopped, { cluster, pid: apiPid }] : faults.apiStopped,
  });
  if (apiPid !== undefined) process.kill(apiPid, 'SIGSTOP');
  ctx.say(
    `${cluster}: ingress ${m.ingressAddress}:${LOCAL_INGRESS_PORT} down, API server stopped (pid ${apiPid ?? '-'})`,
  );
  ctx.say(`  watch: meridian traffic status ${ctx.host}   ·   console: Topology`);
  const dnsGone = timeUntil(
    async () => !(await dnsA(ctx.dns, ctx.host)).includes(m.ingressAddress),
    timeoutMs,
    200,
  );
  const results = await edgeTraffic(
    ctx,
    dnsGone.then(() => sleep(1_000)),
  );
  const dnsMs = await dnsGone;
  const s = summarize(results, start);
  ctx.say(
    `  GSLB DNS stopped answering ${m.ingressAddress} after ${seconds(dnsMs)} (health checks: interval × unhealthy threshold)`,
  );
  ctx.say(`  through the edge meanwhile: ${describeSummary(s)}`);
  ctx.say(`  undo: meridian demo recover cluster ${cluster}`);
  // Through the edge the new path is any other cluster: the first answer after the fault.
  const first = results.find((r) => !failed(r) && r.app1Cluster !== cluster);
  return { dnsMs, results, ...(first ? { newPathMs: first.at + first.ms - start } : {}) };
}

export async function recoverCluster(
  ctx: DemoContext,
  cluster: string,
  timeoutMs = 60_000,
): Promise<ScenarioReport> {
  const m = memberOf(ctx, cluster);
  const faults = readFaults(ctx.dir);
  for (const a of faults.apiStopped.filter((x) => x.cluster === cluster)) {
    if (isAlive(a.pid)) process.kill(a.pid, 'SIGCONT');
  }
  writeFaults(ctx.dir, {
    ingressDown: faults.ingressDown.filter((c) => c !== cluster),
    apiStopped: faults.apiStopped.filter((a) => a.cluster !== cluster),
  });
  ctx.say(`${cluster}: API server continued, ingress answering again`);
  const dnsMs = await timeUntil(
    async () => (await dnsA(ctx.dns, ctx.host)).includes(m.ingressAddress),
    timeoutMs,
    200,
  );
  ctx.say(`  GSLB DNS answers ${m.ingressAddress} again after ${seconds(dnsMs)} (healthy threshold met)`);
  return { dnsMs, results: [] };
}

// ——— a service in one cluster ———

interface ServiceObject extends KubeObject {
  spec?: { selector?: Record<string, string> };
}

/** Sets (or clears) the simulated-fault annotation on every pod behind `service` in `cluster`. */
async function markPods(
  ctx: DemoContext,
  cluster: string,
  service: string,
  value: string | null,
): Promise<string[]> {
  const client = ctx.member(cluster);
  const svc = await client.get<ServiceObject>('v1', 'Service', service, REFERENCE_NAMESPACE);
  const selector = svc?.spec?.selector;
  if (!svc || !selector || Object.keys(selector).length === 0) {
    throw new MeridianError(
      'NotFound',
      `no Service ${REFERENCE_NAMESPACE}/${service} with a selector in ${cluster}`,
      3,
    );
  }
  const { items: pods } = await client.list<KubeObject>('v1', 'Pod', {
    namespace: REFERENCE_NAMESPACE,
    labelSelector: Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  });
  for (const p of pods) {
    await client.mergePatch(
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: p.metadata.name, namespace: REFERENCE_NAMESPACE } },
      { metadata: { annotations: { [SIMULATE_ANNOTATION]: value } } },
      'meridian-demo',
    );
  }
  return pods.map((p) => p.metadata.name);
}

export async function failService(
  ctx: DemoContext,
  service: string,
  cluster: string,
  timeoutMs = 30_000,
): Promise<ScenarioReport> {
  memberOf(ctx, cluster);
  const start = Date.now();
  const pods = await markPods(ctx, cluster, service, 'not-ready');
  ctx.say(`${cluster}: ${pods.length} pod(s) of ${service} fail readiness (${pods.join(', ')})`);
  if (service !== 'app2') return { results: [] };
  ctx.say(`  watch: meridian services show ${REFERENCE_NAMESPACE}/app2   ·   console: Topology, Traces`);
  const w = await watchIngress(ctx, cluster, start, (r) => r.app2Cluster !== cluster, {
    timeoutMs,
    afterMs: 1_000,
  });
  const remote = w.results.find((r) => !failed(r) && r.app2Cluster !== cluster)?.app2Cluster;
  ctx.say(
    `  APP 1 in ${cluster} is served by APP 2 in ${remote ?? '(none yet)'} ${seconds(w.newPathMs)} after the fault`,
  );
  ctx.say(`  requests to ${cluster}'s ingress meanwhile: ${describeSummary(summarize(w.results, start))}`);
  ctx.say(`  undo: meridian demo recover service ${service} --cluster ${cluster}`);
  return w;
}

export async function recoverService(
  ctx: DemoContext,
  service: string,
  cluster: string,
  timeoutMs = 30_000,
): Promise<ScenarioReport> {
  memberOf(ctx, cluster);
  const start = Date.now();
  const pods = await markPods(ctx, cluster, service, null);
  ctx.say(`${cluster}: ${pods.length} pod(s) of ${service} pass readiness again`);
  if (service !== 'app2') return { results: [] };
  const w = await watchIngress(ctx, cluster, start, (r) => r.app2Cluster === cluster, { timeoutMs });
  ctx.say(`  APP 1 in ${cluster} calls its local APP 2 again ${seconds(w.newPathMs)} later`);
  return w;
}

// ——— a bad release ———

type App = Application & KubeObject;

async function getApp(ctx: DemoContext): Promise<App> {
  const good = parse(readFileSync(REFERENCE_APP, 'utf8')) as App;
  const live = await ctx.hub.get<App>(
    API_VERSION,
    'Application',
    good.metadata.name,
    good.metadata.namespace,
  );
  if (!live)
    throw new MeridianError('NotFound', 'the reference system is not deployed (run `meridian fleet up`)', 3);
  return live;
}

/** The reference Application with APP 1 at version `tag` and, in `brokenIn`, a configuration APP 1 cannot start with. */
export function badRelease(good: App, tag: string, brokenIn: string): App {
  const spec = structuredClone(good.spec);
  if (!('helm' in spec.source))
    throw new MeridianError('Invalid', 'the reference system is not a Helm release');
  const values = (spec.source.helm.values ??= {}) as { app1?: { image?: string } };
  const image = values.app1?.image ?? 'meridian.local/app1';
  values.app1 = { ...values.app1, image: `${image.replace(/:[^:/]+$/, '')}:${tag}` };
  spec.overrides = [
    ...(spec.overrides ?? []),
    // APP 1 refuses a non-http APP2_URL at start: the process exits, the pod crash-loops.
    { clusters: [brokenIn], values: { app1: { app2URL: 'ftp://app2.invalid' } } },
  ];
  return {
    apiVersion: good.apiVersion,
    kind: good.kind,
    metadata: { name: good.metadata.name, namespace: good.metadata.namespace },
    spec,
  } as App;
}

/** The cluster a bad release breaks in: the first cluster of the second wave (the canary), else the first member. */
function canaryOf(app: App, members: readonly string[]): string {
  const waves = app.spec.rollout?.waves ?? [];
  return waves[1]?.clusters?.[0] ?? waves[0]?.clusters?.[0] ?? members[0]!;
}

export async function releaseBad(
  ctx: DemoContext,
  timeoutMs = 300_000,
): Promise<ScenarioReport & { rolledBackMs?: number }> {
  const live = await getApp(ctx);
  const from = live.status?.revision;
  if (live.status?.phase !== 'Healthy') {
    throw new MeridianError(
      'NotReady',
      `the reference system is ${live.status?.phase ?? 'Pending'}; release when it is Healthy`,
      3,
    );
  }
  const good = parse(readFileSync(REFERENCE_APP, 'utf8')) as App;
  const broken = canaryOf(
    good,
    ctx.state.layout.members.map((m) => m.name),
  );
  const start = Date.now();
  await ctx.hub.apply(badRelease(good, '2', broken), { fieldManager: 'meridian-cli', force: true });
  ctx.say(
    `released APP 1 version 2 (revision ${(from ?? 0) + 1}); its configuration in ${broken} is broken: APP 1 will crash there`,
  );
  ctx.say('  watch: meridian app status reference-system   ·   console: Topology');
  let last = '';
  let rolledBackMs: number | undefined;
  const deadline = start + timeoutMs;
  for (;;) {
    const app = await getApp(ctx);
    const st = app.status;
    const line = `revision ${st?.revision ?? '-'} ${st?.phase ?? 'Pending'}: ${(st?.clusters ?? []).map((c) => `${c.name}=r${c.revision ?? '-'} ${c.phase}`).join(', ')}`;
    if (line !== last) ctx.say(`  ${seconds(Date.now() - start)}: ${(last = line)}`);
    const target = st?.lastGoodRevision;
    const done =
      st?.phase === 'RolledBack' &&
      (st.clusters ?? []).every((c) => c.revision === target && c.phase === 'Healthy');
    if (done) {
      rolledBackMs = Date.now() - start;
      break;
    }
    if (st?.phase === 'Healthy' && st.revision !== from) {
      ctx.say('  the release turned Healthy: nothing to roll back (was the broken cluster placed?)');
      return { results: [] };
    }
    if (Date.now() > deadline) {
      throw new MeridianError(
        'Timeout',
        `no rollback within ${timeoutMs / 1000} s (see \`meridian app status reference-system\`)`,
        3,
      );
    }
    await sleep(500);
  }
  ctx.say(
    `  rolled back everywhere after ${seconds(rolledBackMs)}: every cluster on revision ${from ?? '-'} again`,
  );
  const client = new ShopClient(ctx.edge, ctx.host);
  const results: ShopResult[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      results.push(await client.send('GET', '/items'));
      await sleep(50);
    }
  } finally {
    client.close();
  }
  const bad = results.filter((r) => r.app1Version === '2').length;
  ctx.say(`  ${results.length} requests through the edge after the rollback: ${bad} answered by version 2`);
  ctx.say('  undo (re-apply the good release): meridian demo recover release bad');
  return { rolledBackMs, results };
}

/** Applies the reference Application as shipped again and waits for it to be Healthy. */
export async function recoverRelease(ctx: DemoContext, timeoutMs = 300_000): Promise<void> {
  const good = parse(readFileSync(REFERENCE_APP, 'utf8')) as App;
  await ctx.hub.apply(good, { fieldManager: 'meridian-cli', force: true });
  const ok = await timeUntil(async () => (await getApp(ctx)).status?.phase === 'Healthy', timeoutMs, 500);
  const app = await getApp(ctx);
  ctx.say(
    ok === undefined
      ? `the reference system is ${app.status?.phase ?? 'Pending'} after ${timeoutMs / 1000} s (see \`meridian app status reference-system\`)`
      : `the reference system as shipped is Healthy again (revision ${app.status?.revision})`,
  );
}

// ——— drain ———

export async function drain(
  ctx: DemoContext,
  cluster: string,
  undo: boolean,
  timeoutMs = 60_000,
): Promise<ScenarioReport> {
  const m = memberOf(ctx, cluster);
  const start = Date.now();
  await ctx.hub.mergePatch(
    { apiVersion: API_VERSION, kind: 'Cluster', metadata: { name: cluster } },
    { spec: { traffic: { drained: !undo } } },
    'meridian-cli',
  );
  ctx.say(`${cluster} ${undo ? 'back in rotation' : 'drained: no new DNS answers or edge requests'}`);
  const dnsMs = await timeUntil(
    async () => (await dnsA(ctx.dns, ctx.host)).includes(m.ingressAddress) === undo,
    timeoutMs,
    100,
  );
  ctx.say(`  GSLB DNS ${undo ? 'answers' : 'stopped answering'} ${m.ingressAddress} after ${seconds(dnsMs)}`);
  if (!undo) ctx.say(`  undo: meridian demo undrain ${cluster}`);
  const results = await edgeTraffic(ctx, sleep(2_000));
  const s = summarize(results, start);
  ctx.say(`  through the edge: ${describeSummary(s)}`);
  return { dnsMs, results };
}
