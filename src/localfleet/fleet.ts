// `meridian fleet up|status|down`: real clusters (etcd + kube-apiserver + controller-manager +
// scheduler + kwok) on loopback, one directory per cluster under the fleet home.
import { createServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ClusterClient, loadKubeConfig } from '../kube/cluster-client.ts';
import { MeridianError, errorMessage } from '../kube/errors.ts';
import { ensureBinaries, type BinaryPaths, type BuildProgress } from '../toolchain/binaries.ts';
import { generateClusterPki } from '../tls/certificates.ts';
import {
  COMPONENT_ORDER,
  clusterFiles,
  componentSpecs,
  fakeNodes,
  type ComponentName,
} from './components.ts';
import { renderKubeconfig, type KubeconfigEntry } from './kubeconfig.ts';
import { installKwokCrds } from './kwok-crds.ts';
import { PORTS, fleetLayout, type ClusterLayout, type FleetLayout, type LayoutOptions } from './layout.ts';
import { isAlive, logTail, processesMentioning, readPid, startProcess, stopPids } from './processes.ts';
import { waitForApiserver, waitForEtcd } from './readiness.ts';
import { podProcessesOf } from './runtime/process-sweep.ts';
import { sleep } from '../kube/sleep.ts';

export function fleetHome(): string {
  return process.env['MERIDIAN_HOME'] ?? join(homedir(), '.meridian');
}

export function fleetDir(home = fleetHome()): string {
  return join(home, 'fleet');
}

export interface FleetState {
  readonly layout: FleetLayout;
  readonly binDir: string;
  readonly createdAt: string;
}

const STATE_FILE = 'fleet.json';

/** Name (pid and log file) of the demo's traffic generator (`meridian demo traffic`). */
export const DEMO_TRAFFIC = 'meridian-demo-traffic';
/** Name (pid and log file) of the fleet's pod runtime process (`meridian fleet pod-runtime`). */
export const POD_RUNTIME = 'meridian-pod-runtime';

export function readFleetState(dir = fleetDir()): FleetState | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as FleetState;
  } catch {
    return undefined;
  }
}

export function mergedKubeconfigPath(dir = fleetDir()): string {
  return join(dir, 'kubeconfig');
}

export type Reporter = (msg: string) => void;

export interface UpOptions extends LayoutOptions {
  readonly onBuild: BuildProgress;
  readonly report: Reporter;
  readonly signal?: AbortSignal;
  /** Called once every cluster answers, before `up` returns (registers members in the hub). */
  readonly afterClusters?: (layout: FleetLayout, dir: string) => Promise<void>;
}

async function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

const clusterDir = (dir: string, c: ClusterLayout): string => join(dir, c.name);

/** Whether every process of the cluster runs (from its pid files). */
function runningComponents(dir: string, c: ClusterLayout): Record<ComponentName, boolean> {
  const d = clusterDir(dir, c);
  const out = {} as Record<ComponentName, boolean>;
  for (const name of COMPONENT_ORDER) {
    const pid = readPid({ dir: d, name });
    out[name] = pid !== undefined && isAlive(pid);
  }
  return out;
}

async function writePki(dir: string, c: ClusterLayout): Promise<void> {
  const files = clusterFiles(clusterDir(dir, c));
  if (existsSync(files.saPub)) return; // Keep the PKI across restarts: kubeconfigs stay valid.
  mkdirSync(files.pki, { recursive: true, mode: 0o700 });
  const pki = await generateClusterPki(c.name, c.address);
  const w = (p: string, s: string): void => writeFileSync(p, s, { mode: 0o600 });
  w(files.caCert, pki.ca.cert);
  w(files.caKey, pki.ca.key);
  w(files.servingCert, pki.serving.cert);
  w(files.servingKey, pki.serving.key);
  w(files.saKey, pki.serviceAccount.key);
  w(files.saPub, pki.serviceAccount.pub);
  const server = `https://${c.address}:${PORTS.apiserver}`;
  const entry = (p: { cert: string; key: string }, user: string): KubeconfigEntry => ({
    name: c.name,
    server,
    caPem: pki.ca.cert,
    certPem: p.cert,
    keyPem: p.key,
    user,
  });
  w(files.adminKubeconfig, renderKubeconfig([entry(pki.admin, `${c.name}-admin`)]));
  w(
    files.controllerManagerKubeconfig,
    renderKubeconfig([entry(pki.controllerManager, 'kube-controller-manager')]),
  );
  w(files.schedulerKubeconfig, renderKubeconfig([entry(pki.scheduler, 'kube-scheduler')]));
}

/** Writes the merged kubeconfig: contexts `hub` and one per member, hub current. */
function writeMergedKubeconfig(dir: string, layout: FleetLayout): void {
  const entries: KubeconfigEntry[] = layout.all.map((c) => {
    const kc = loadKubeConfig({ file: clusterFiles(clusterDir(dir, c)).adminKubeconfig });
    const user = kc.getCurrentUser()!;
    const cluster = kc.getCurrentCluster()!;
    return {
      name: c.name,
      server: cluster.server,
      caPem: Buffer.from(cluster.caData!, 'base64').toString(),
      certPem: Buffer.from(user.certData!, 'base64').toString(),
      keyPem: Buffer.from(user.keyData!, 'base64').toString(),
    };
  });
  writeFileSync(mergedKubeconfigPath(dir), renderKubeconfig(entries, 'hub'), { mode: 0o600 });
}

async function startCluster(
  dir: string,
  c: ClusterLayout,
  bins: BinaryPaths,
  report: Reporter,
): Promise<void> {
  const files = clusterFiles(clusterDir(dir, c));
  const specs = componentSpecs(c, files, bins);
  const running = runningComponents(dir, c);
  const fail = (name: ComponentName, why: string): never => {
    throw new MeridianError(
      'ComponentFailed',
      `cluster ${c.name}: ${name} ${why}\n--- last lines of ${join(files.dir, `${name}.log`)} ---\n${logTail(specs[name])}`,
    );
  };
  const checkAlive = (name: ComponentName, pid: number): void => {
    if (!isAlive(pid)) fail(name, 'exited right after start');
  };
  if (!running.etcd) {
    const pid = await startProcess(specs.etcd);
    await waitForEtcd(c.address, 30_000, () => checkAlive('etcd', pid)).catch((e: unknown) =>
      fail('etcd', errorMessage(e)),
    );
  }
  if (!running['kube-apiserver']) {
    const pid = await startProcess(specs['kube-apiserver']);
    await waitForApiserver(files, c.address, 60_000, () => checkAlive('kube-apiserver', pid)).catch(
      (e: unknown) => fail('kube-apiserver', errorMessage(e)),
    );
  }
  report(`  ${c.name}: API server ready at https://${c.address}:${PORTS.apiserver}`);
  const client = new ClusterClient(c.name, loadKubeConfig({ file: files.adminKubeconfig }));
  for (const node of fakeNodes(c)) {
    await client.apply(node as never, { force: true });
  }
  if (!running.kwok) await installKwokCrds(client);
  const pids: [ComponentName, number][] = [];
  for (const name of ['kube-controller-manager', 'kube-scheduler', 'kwok'] as const) {
    if (!running[name]) pids.push([name, await startProcess(specs[name])]);
  }
  // Components that crash on bad flags do so within a second; catch that here, not later.
  await sleep(1_000);
  for (const [name, pid] of pids) checkAlive(name, pid);
}

/** Brings the fleet up (idempotent). On failure, stops everything it started. */
export async function fleetUp(opts: UpOptions): Promise<FleetState> {
  const dir = fleetDir();
  const previous = readFleetState(dir);
  const layout = previous?.layout ?? fleetLayout(opts);
  if (previous && previous.layout.members.length !== opts.members) {
    opts.report(
      `a fleet with ${previous.layout.members.length} member(s) already exists in ${dir}; keeping it (run \`meridian fleet down\` first to change its size)`,
    );
  }
  opts.report('step 1/4: Kubernetes binaries (built once from the Go module proxy, then cached)');
  const bins = await ensureBinaries(opts.onBuild, opts.signal);

  const fullyRunning = layout.all.filter((c) => Object.values(runningComponents(dir, c)).every(Boolean));
  const toStart = layout.all.filter((c) => !fullyRunning.includes(c));
  opts.report(`step 2/4: ports and certificates for ${layout.all.length} clusters`);
  for (const c of toStart) {
    const running = runningComponents(dir, c);
    const checks: [string, number, ComponentName][] = [
      [c.address, PORTS.etcdClient, 'etcd'],
      [c.address, PORTS.etcdPeer, 'etcd'],
      [c.address, PORTS.apiserver, 'kube-apiserver'],
      [c.address, PORTS.controllerManager, 'kube-controller-manager'],
      [c.address, PORTS.scheduler, 'kube-scheduler'],
      [c.address, PORTS.kwok, 'kwok'],
    ];
    for (const [host, port, owner] of checks) {
      if (!running[owner] && !(await portFree(host, port))) {
        throw new MeridianError(
          'PortInUse',
          `cluster ${c.name}: ${host}:${port} (for ${owner}) is already in use by another process; stop it, or run \`meridian fleet down\`, or choose another --subnet`,
        );
      }
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const c of layout.all) await writePki(dir, c);
  writeMergedKubeconfig(dir, layout);
  const state: FleetState = {
    layout,
    binDir: bins.dir,
    createdAt: previous?.createdAt ?? new Date().toISOString(),
  };
  writeFileSync(join(dir, STATE_FILE), JSON.stringify(state, null, 2));

  opts.report(
    `step 3/4: control planes (${toStart.length} to start, ${fullyRunning.length} already running)`,
  );
  try {
    await Promise.all(toStart.map((c) => startCluster(dir, c, bins, opts.report)));
    opts.report('step 4/4: registering members in the hub');
    await opts.afterClusters?.(layout, dir);
  } catch (e) {
    if (!previous) {
      opts.report('fleet up failed; stopping everything it started');
      await fleetDown({ report: () => undefined, keepData: true });
    }
    throw e;
  }
  return state;
}

export interface ComponentStatus {
  readonly name: ComponentName;
  readonly pid?: number;
  readonly running: boolean;
}

export interface ClusterStatus {
  readonly name: string;
  readonly role: 'hub' | 'member';
  readonly region: string;
  readonly server: string;
  readonly components: readonly ComponentStatus[];
  readonly apiReachable: boolean;
  readonly version?: string;
  readonly nodesReady?: number;
  readonly error?: string;
}

/** Status of every cluster: processes from pid files, reachability from the API server itself. */
export async function fleetStatus(): Promise<{ state?: FleetState; clusters: ClusterStatus[] }> {
  const dir = fleetDir();
  const state = readFleetState(dir);
  if (!state) return { clusters: [] };
  const clusters = await Promise.all(
    state.layout.all.map(async (c): Promise<ClusterStatus> => {
      const d = clusterDir(dir, c);
      const components = COMPONENT_ORDER.map((name) => {
        const pid = readPid({ dir: d, name });
        return { name, pid, running: pid !== undefined && isAlive(pid) };
      });
      const base = {
        name: c.name,
        role: c.role,
        region: c.region,
        server: `https://${c.address}:${PORTS.apiserver}`,
        components,
      };
      try {
        const client = new ClusterClient(c.name, loadKubeConfig({ file: clusterFiles(d).adminKubeconfig }));
        const v = await client.version(3_000);
        const nodes = await client.list<{
          apiVersion: string;
          kind: string;
          metadata: { name: string };
          status?: { conditions?: { type: string; status: string }[] };
        }>('v1', 'Node', { timeoutMs: 3_000 });
        const ready = nodes.items.filter((n) =>
          n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'),
        ).length;
        return { ...base, apiReachable: true, version: v.gitVersion, nodesReady: ready };
      } catch (e) {
        return { ...base, apiReachable: false, error: errorMessage(e) };
      }
    }),
  );
  return { state, clusters };
}

/** Stops every process of the fleet (and anything else running from its directory). */
export async function fleetDown(opts: { report: Reporter; keepData?: boolean }): Promise<number> {
  const dir = fleetDir();
  const state = readFleetState(dir);
  const pids = new Set<number>();
  if (state) {
    // The traffic first: requests to a fleet going down would only count as errors.
    const trafficPid = readPid({ dir, name: DEMO_TRAFFIC });
    if (trafficPid !== undefined) await stopPids([trafficPid], 2_000);
    // The hub process next, so it does not see members vanish and write failure statuses.
    const hubPid = readPid({ dir, name: 'meridian-hub' });
    if (hubPid !== undefined) await stopPids([hubPid]);
    // The pod runtime next: it stops its pod processes itself, gracefully (a short grace).
    const runtimePid = readPid({ dir, name: POD_RUNTIME });
    if (runtimePid !== undefined) await stopPids([runtimePid], 8_000);
    for (const c of state.layout.all) {
      for (const name of COMPONENT_ORDER) {
        const pid = readPid({ dir: clusterDir(dir, c), name });
        if (pid !== undefined) pids.add(pid);
      }
    }
  }
  for (const pid of processesMentioning(dir + '/')) pids.add(pid);
  // Pod processes a killed runtime left behind (their command lines need not name the fleet).
  for (const pid of podProcessesOf(dir)) pids.add(pid);
  await stopPids([...pids]);
  const left = [...processesMentioning(dir + '/'), ...podProcessesOf(dir)].filter(isAlive);
  if (left.length > 0) {
    throw new MeridianError('StopFailed', `processes still running after fleet down: ${left.join(', ')}`);
  }
  opts.report(`stopped ${pids.size} process(es)`);
  if (!opts.keepData && existsSync(dir)) {
    rmSync(dir, { recursive: true, force: true });
    opts.report(`removed ${dir}`);
  }
  return pids.size;
}
