// Helpers for integration tests against the real local fleet: run the CLI, start hub processes,
// poll with deadlines. Each test file gets its own fleet home and loopback subnet, so files never
// share state and never touch a developer's own fleet.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Agent } from 'node:http';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { processesMentioning } from '../../src/localfleet/processes.ts';
import { stringify as stringifyYaml } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, cachedBinaries } from '../../src/toolchain/binaries.ts';
import { LOCAL_INGRESS_PORT, MEMBER_REGIONS } from '../../src/localfleet/layout.ts';
import { IngressEmulator } from '../../src/localfleet/ingress-emulator.ts';
import { ClusterClient, loadKubeConfig } from '../../src/kube/cluster-client.ts';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TestFleet {
  readonly home: string;
  readonly subnet: string;
  readonly env: Record<string, string>;
  readonly kubeconfig: string;
  readonly dir: string;
}

export const CLI = join(REPO_ROOT, 'bin', 'meridian.mjs');

export function newFleetHome(subnet: string): TestFleet {
  const home = mkdtempSync(join(tmpdir(), 'meridian-test-'));
  const dir = join(home, 'fleet');
  return {
    home,
    subnet,
    dir,
    kubeconfig: join(dir, 'kubeconfig'),
    env: { MERIDIAN_HOME: home, MERIDIAN_LOOPBACK_ONLY: '1', MERIDIAN_HUB_KUBECONFIG: '' },
  };
}

/** Runs `meridian …` to completion (bounded by `timeoutMs`). */
export function cli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`meridian ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** kubectl built with the fleet (the same pinned version as the API servers). */
export function kubectl(args: readonly string[], fleet: TestFleet, stdin?: string): Promise<CliResult> {
  const bins = cachedBinaries();
  if (!bins) throw new Error('binaries not built: run `meridian fleet build` first');
  return new Promise((resolve) => {
    const child = spawn(bins.path('kubectl'), ['--kubeconfig', fleet.kubeconfig, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

/** Polls `probe` until it returns a value other than undefined; fails with the last observation. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'nothing yet';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      last = 'not yet';
    } catch (e) {
      last = e instanceof Error ? e.message : e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${String(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface HubProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly identity: string;
  logs(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `meridian hub` for a test fleet and waits for its health endpoint. */
export async function startHub(
  fleet: TestFleet,
  identity: string,
  port: number,
  extraArgs: readonly string[] = [],
  /** How long the hub may take to answer /healthz (a loaded machine needs more than the default). */
  healthTimeoutMs = 60_000,
): Promise<HubProcess> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'hub',
      '--hub-kubeconfig',
      fleet.kubeconfig,
      '--hub-context',
      'hub',
      '--listen',
      `127.0.0.1:${port}`,
      // The tests speak http:// to loopback; test/hub-hardening covers the TLS default.
      '--plain-http',
      '--identity',
      identity,
      '--local-source-root',
      REPO_ROOT,
      ...extraArgs,
    ],
    { env: { ...process.env, ...fleet.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const hub: HubProcess = {
    child,
    port,
    identity,
    logs: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  try {
    await waitFor(`hub ${identity} health on :${port}`, healthTimeoutMs, async () => {
      if (child.exitCode !== null) throw new Error(`hub exited with ${child.exitCode}: ${out}`);
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      return r.ok ? true : undefined;
    });
  } catch (e) {
    // No caller holds this hub yet: it must not outlive the failure.
    await hub.stop('SIGKILL');
    throw e;
  }
  return hub;
}

export function readPidFile(path: string): number {
  return Number(readFileSync(path, 'utf8').trim());
}

/** `meridian fleet up --no-hub` for a test fleet; also restarts any component that was stopped. */
export async function fleetUp(fleet: TestFleet, members: number): Promise<void> {
  const up = await cli(
    ['fleet', 'up', '--members', String(members), '--subnet', fleet.subnet, '--no-hub'],
    fleet.env,
    600_000,
  );
  if (up.code !== 0) throw new Error(`fleet up failed (${up.code}): ${up.stderr}`);
}

/** Port of the members' ingress addresses (the local fleet's convention). */
export const INGRESS_PORT = LOCAL_INGRESS_PORT;

/** The loopback address standing in for a member's ingress, as the local fleet lays it out. */
export function memberIngressAddress(fleet: TestFleet, member: string): string {
  const i = (MEMBER_REGIONS as readonly string[]).indexOf(member);
  if (i < 0) throw new Error(`unknown member ${member}`);
  const [a, b, c] = fleet.subnet.split('.');
  return `${a}.${b}.${Number(c) + 1}.${i + 2}`;
}

/**
 * Registers members of a test fleet in its hub with `meridian cluster join`, each reached through
 * the kubeconfig context of its name (or `context(name)`), in the region of its name.
 */
export async function joinMembers(
  fleet: TestFleet,
  names: readonly string[],
  opts: {
    withIngress?: boolean;
    /** The member's Prometheus-compatible endpoint (`--prometheus-url`). */
    prometheusUrl?: (name: string) => string;
    context?: (name: string) => string;
  } = {},
): Promise<void> {
  for (const m of names) {
    const ingress = opts.withIngress
      ? ['--ingress-address', memberIngressAddress(fleet, m), '--ingress-port', String(INGRESS_PORT)]
      : [];
    const prometheus = opts.prometheusUrl ? ['--prometheus-url', opts.prometheusUrl(m)] : [];
    const j = await cli(
      [
        'cluster',
        'join',
        m,
        '--kubeconfig',
        fleet.kubeconfig,
        '--context',
        opts.context?.(m) ?? m,
        '--region',
        m,
        '--hub-kubeconfig',
        fleet.kubeconfig,
        '--hub-context',
        'hub',
        ...ingress,
        ...prometheus,
      ],
      fleet.env,
    );
    if (j.code !== 0) throw new Error(`cluster join ${m} failed: ${j.stderr}`);
  }
}

/** `kubectl get … -o jsonpath=PATH` in one context; an error text when kubectl fails. */
export async function jsonpath(
  fleet: TestFleet,
  context: string,
  args: readonly string[],
  path: string,
): Promise<string> {
  const r = await kubectl(['--context', context, ...args, '-o', `jsonpath=${path}`], fleet);
  return r.code === 0 ? r.stdout : `<error: ${r.stderr.trim()}>`;
}

/** The hub's Events in `default` matching a field selector, as kubectl's JSON text. */
export async function hubEvents(fleet: TestFleet, fieldSelector: string, output = 'json'): Promise<string> {
  const r = await kubectl(
    ['--context', 'hub', 'get', 'events', '-n', 'default', '--field-selector', fieldSelector, '-o', output],
    fleet,
  );
  return r.stdout;
}

/** Names of the ApplicationRevisions of one Application in the hub (`default` namespace). */
export async function revisionNames(fleet: TestFleet, app: string): Promise<string[]> {
  const r = await kubectl(
    [
      '--context',
      'hub',
      'get',
      'applicationrevisions',
      '-n',
      'default',
      '-l',
      `meridian.dev/application=${app}`,
      '-o',
      'name',
    ],
    fleet,
  );
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

/**
 * GET with an explicit Host header (fetch drops it), as a browser reaching a published host would
 * send it. Resolves with the status and body text; rejects on a connection error.
 */
export function getWithHost(
  url: string,
  host: string,
  agent?: Agent,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host }, agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * A bearer token for a new ServiceAccount `default/<name>` in the hub, bound to `clusterRole`
 * (none: a user the hub authenticates but RBAC allows nothing).
 */
export async function serviceAccountToken(
  fleet: TestFleet,
  name: string,
  clusterRole: string | undefined,
): Promise<string> {
  await kubectl(['--context', 'hub', 'create', 'serviceaccount', name, '-n', 'default'], fleet);
  if (clusterRole) {
    await kubectl(
      [
        '--context',
        'hub',
        'create',
        'clusterrolebinding',
        name,
        `--clusterrole=${clusterRole}`,
        `--serviceaccount=default:${name}`,
      ],
      fleet,
    );
  }
  const r = await kubectl(['--context', 'hub', 'create', 'token', name, '-n', 'default'], fleet);
  if (r.code !== 0) throw new Error(`token for ${name}: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * A bearer token that may read the hub's /metrics: a ServiceAccount bound to Kubernetes'
 * `system:monitoring` ClusterRole (the hub authorizes /metrics like an API server does).
 */
export function metricsToken(fleet: TestFleet): Promise<string> {
  return serviceAccountToken(fleet, 'metrics-reader', 'system:monitoring');
}

/** One Deployment of `replicas` kwok pods labelled `app: <name>`. */
export function deployment(name: string, replicas: number, extra: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, ...extra },
        spec: { containers: [{ name: 'c', image: `example/${name}:1` }] },
      },
    },
  };
}

/** The local fleet's ingress emulator for some members of a test fleet (not started). */
export function localIngressEmulator(fleet: TestFleet, members: readonly string[]): IngressEmulator {
  return new IngressEmulator(
    members.map((m) => ({
      name: m,
      region: m,
      client: new ClusterClient(m, loadKubeConfig({ file: fleet.kubeconfig }, m)),
      address: memberIngressAddress(fleet, m),
      port: INGRESS_PORT,
    })),
  );
}

/** Gateway API release whose CRDs the tests install in a member (from the Go module proxy). */
const GATEWAY_API_MODULE = 'sigs.k8s.io/gateway-api@v1.6.3';
const MCS_API_MODULE = 'sigs.k8s.io/mcs-api@v0.5.2';

/** The directory of `module@version` in the Go module cache, downloaded through the proxy if missing. */
function goModuleDir(module: string): string {
  const out = spawnSync('go', ['mod', 'download', '-json', module], {
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '-mod=mod' },
  });
  if (out.status !== 0) throw new Error(`go mod download ${module}: ${out.stderr || out.stdout}`);
  return (JSON.parse(out.stdout) as { Dir: string }).Dir;
}

/**
 * Paths of the real Gateway API CRDs (standard channel: GatewayClass, Gateway, HTTPRoute,
 * ReferenceGrant), fetched once into the Go module cache like the local fleet's binaries.
 */
export function gatewayApiCrdFiles(): string[] {
  const dir = goModuleDir(GATEWAY_API_MODULE);
  return ['gatewayclasses', 'gateways', 'httproutes', 'referencegrants'].map((k) =>
    join(dir, 'config', 'crd', 'standard', `gateway.networking.k8s.io_${k}.yaml`),
  );
}

/**
 * The upstream MCS CRD manifests (ServiceExport, ServiceImport) of mcs-api v0.5.2, from the Go
 * module cache, never copied into this tree.
 */
export function mcsApiCrdFiles(): string[] {
  const dir = goModuleDir(MCS_API_MODULE);
  return ['serviceexports', 'serviceimports'].map((k) =>
    join(dir, 'config', 'crd', `multicluster.x-k8s.io_${k}.yaml`),
  );
}

/** `kubectl apply` of `docs` in one context of the test fleet; throws with kubectl's stderr on failure. */
export async function applyDocs(fleet: TestFleet, context: string, docs: readonly object[]): Promise<void> {
  const r = await kubectl(
    ['--context', context, 'apply', '-f', '-'],
    fleet,
    docs.map((d) => stringifyYaml(d)).join('---\n'),
  );
  if (r.code !== 0) throw new Error(`kubectl --context ${context} apply: ${r.stderr}`);
  // A Namespace is usable for pods only once the ServiceAccount controller made its `default`
  // ServiceAccount (admission refuses pods before that): wait, so the next apply does not race it.
  for (const d of docs as { kind?: string; metadata?: { name?: string } }[]) {
    if (d.kind !== 'Namespace' || !d.metadata?.name) continue;
    const ns = d.metadata.name;
    await waitFor(`ServiceAccount ${ns}/default in ${context}`, 30_000, async () => {
      const sa = await kubectl(['--context', context, 'get', 'serviceaccount', 'default', '-n', ns], fleet);
      return sa.code === 0 ? true : undefined;
    });
  }
}

/**
 * Applies an Application `default/<name>` with `spec` through `meridian app apply -f` (the path a
 * user takes), against the test fleet's hub cluster.
 */
export async function applyApplication(fleet: TestFleet, name: string, spec: object): Promise<void> {
  const file = join(fleet.home, `${name}-application.yaml`);
  writeFileSync(
    file,
    stringifyYaml({
      apiVersion: 'meridian.dev/v1alpha1',
      kind: 'Application',
      metadata: { name, namespace: 'default' },
      spec,
    }),
  );
  const r = await cli(
    ['app', 'apply', '-f', file, '--hub-kubeconfig', fleet.kubeconfig, '--hub-context', 'hub'],
    fleet.env,
  );
  if (r.code !== 0) throw new Error(`app apply ${name}: ${r.stderr}`);
}

/**
 * The end of a test file's fleet: its hubs killed, `fleet down`, no process of it left behind,
 * its home removed.
 */
export async function tearDownFleet(fleet: TestFleet, ...hubs: (HubProcess | undefined)[]): Promise<void> {
  for (const hub of hubs) await hub?.stop('SIGKILL');
  await cli(['fleet', 'down'], fleet.env);
  assert.deepEqual(processesMentioning(fleet.dir + '/'), []);
  rmSync(fleet.home, { recursive: true, force: true });
}

/** An Application's status in the hub (the caller says which fields it reads); undefined when absent. */
export async function applicationStatus<T>(fleet: TestFleet, name: string): Promise<T | undefined> {
  const r = await kubectl(
    ['--context', 'hub', 'get', 'application', name, '-n', 'default', '-o', 'json'],
    fleet,
  );
  return r.code === 0 ? (JSON.parse(r.stdout) as { status?: T }).status : undefined;
}

/** The status fields every wait on an Application reports while it waits. */
interface ApplicationProgress {
  readonly phase?: string;
  readonly revision?: number;
  readonly clusters?: readonly unknown[];
  readonly conditions?: readonly { type: string }[];
}

/** Waits until `ok` holds for the Application's status; while it does not, says where it stands. */
export function waitApplication<T extends ApplicationProgress>(
  fleet: TestFleet,
  name: string,
  what: string,
  ok: (s: T) => boolean,
  timeoutMs = 90_000,
): Promise<T> {
  return waitFor(
    `${name}: ${what}`,
    timeoutMs,
    async () => {
      const s = await applicationStatus<T>(fleet, name);
      if (s && ok(s)) return s;
      const ready = s?.conditions?.find((c) => c.type === 'Ready');
      if (s)
        throw new Error(
          JSON.stringify({ phase: s.phase, revision: s.revision, clusters: s.clusters, ready }),
        );
      return undefined;
    },
    250,
  );
}

/** The messages of an Application's Events of one reason, in the hub's default namespace. */
export async function applicationEvents(fleet: TestFleet, name: string, reason: string): Promise<string[]> {
  const out = await hubEvents(fleet, `involvedObject.name=${name},reason=${reason}`);
  return (
    (JSON.parse(out || '{"items":[]}') as { items: { message?: string; note?: string }[] }).items ?? []
  ).map((e) => e.message ?? e.note ?? '');
}
