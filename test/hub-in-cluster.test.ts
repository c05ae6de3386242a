// The Helm chart installed into a local fleet's hub cluster (127.130.0.x; kwok plays its pods), and
// `meridian hub` run as that chart's pod runs it: no kubeconfig anywhere, only
// KUBERNETES_SERVICE_HOST/PORT and a token of the chart's ServiceAccount with the hub's CA
// (written here to a temporary directory, the one thing a real pod has that this machine lacks).
// The hub becomes ready, takes its Lease, deploys an Application to a joined member and imports a
// Service exported there, with nothing but the chart's RBAC, which refuses what it does not grant;
// a token replaced by a bad one fails its next requests, and a fresh one is used as soon as it is
// written (the projected token rotates while the hub runs). Not yet covered under this identity:
// a GlobalIngress (issue 24, item 5).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, cachedBinaries } from '../src/toolchain/binaries.ts';
import { freePort } from './support/free-port.ts';
import {
  applyApplication,
  deployment,
  fleetUp,
  joinMembers,
  kubectl,
  newFleetHome,
  waitFor,
  type TestFleet,
  tearDownFleet,
} from './support/harness.ts';

const fleet: TestFleet = newFleetHome('127.130.0');
// The chart's ServiceAccount for a release named `meridian`.
const SA = 'meridian';
const NS = 'meridian-system';
const IDENTITY = 'in-cluster-test';
// What a pod has and a developer's machine must not leak into: nothing but these.
const podHome = mkdtempSync(join(tmpdir(), 'meridian-pod-'));
const saDir = join(podHome, 'serviceaccount');
let hub: ChildProcess | undefined;
let logs = '';
let port = 0;
let installed = '';

/** `helm install meridian deploy/helm/meridian` into one of the fleet's clusters. */
function helmInstall(context: string): { code: number; out: string } {
  const r = spawnSync(
    cachedBinaries()!.path('helm'),
    [
      'install',
      'meridian',
      join(REPO_ROOT, 'deploy', 'helm', 'meridian'),
      '--namespace',
      NS,
      '--create-namespace',
    ],
    {
      env: { ...process.env, KUBECONFIG: fleet.kubeconfig, HELM_KUBECONTEXT: context },
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** Writes the token the way the kubelet does: a new file renamed over the old one. */
function writeToken(token: string): void {
  writeFileSync(join(podHome, 'token.tmp'), token);
  renameSync(join(podHome, 'token.tmp'), join(saDir, 'token'));
}

async function lease(): Promise<{ holder: string; renewTime: number }> {
  const r = await kubectl(
    ['--context', 'hub', '-n', 'meridian-system', 'get', 'lease', 'meridian-hub', '-o', 'json'],
    fleet,
  );
  if (r.code !== 0) throw new Error(r.stderr);
  const spec = (JSON.parse(r.stdout) as { spec: { holderIdentity?: string; renewTime?: string } }).spec;
  return { holder: spec.holderIdentity ?? '', renewTime: Date.parse(spec.renewTime ?? '') };
}

describe('the hub with in-cluster configuration', { timeout: 900_000 }, () => {
  before(async () => {
    await fleetUp(fleet, 1);
    const helm = helmInstall('hub');
    installed = helm.out;
    assert.equal(helm.code, 0, installed);
    const created = await kubectl(['--context', 'hub', 'create', 'token', SA, '-n', NS], fleet);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    mkdirSync(saDir);
    copyFileSync(join(fleet.dir, 'hub', 'pki', 'ca.crt'), join(saDir, 'ca.crt'));
    writeFileSync(join(saDir, 'namespace'), 'default');
    writeToken(token);
    port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['KUBECONFIG', 'MERIDIAN_HUB_KUBECONFIG']) delete env[k];
    hub = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'bin', 'meridian.mjs'),
        'hub',
        '--listen',
        `127.0.0.1:${port}`,
        '--plain-http',
        '--identity',
        IDENTITY,
      ],
      {
        env: {
          ...env,
          HOME: podHome,
          MERIDIAN_HOME: join(podHome, '.meridian'),
          MERIDIAN_LOOPBACK_ONLY: '1',
          KUBERNETES_SERVICE_HOST: `${fleet.subnet}.1`,
          KUBERNETES_SERVICE_PORT: '6443',
          MERIDIAN_SERVICEACCOUNT_DIR: saDir,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    hub.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    hub.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  });

  after(async () => {
    if (hub && hub.exitCode === null && hub.signalCode === null) {
      const exited = new Promise((r) => hub!.once('exit', r));
      hub.kill('SIGKILL');
      await exited;
    }
    await tearDownFleet(fleet);
    rmSync(podHome, { recursive: true, force: true });
  });

  test('the chart installs; in a member, kwok runs its two pods on different nodes', async () => {
    assert.match(installed, /rollout status deployment\/meridian/);
    // The hub cluster runs no Deployment controller (src/localfleet/components.ts: it holds no
    // workloads), so the pods are played in a member, which runs every controller.
    const r = helmInstall('eu-west');
    assert.equal(r.code, 0, r.out);
    const nodes = await waitFor('two running pods of the chart in eu-west', 120_000, async () => {
      const p = await kubectl(
        [
          '--context',
          'eu-west',
          '-n',
          NS,
          'get',
          'pods',
          '-l',
          'app.kubernetes.io/name=meridian',
          '-o',
          'jsonpath={range .items[?(@.status.phase=="Running")]}{.spec.nodeName}{"\\n"}{end}',
        ],
        fleet,
      );
      const running = p.stdout.split('\n').filter(Boolean);
      return running.length === 2 ? running : undefined;
    });
    assert.notEqual(nodes[0], nodes[1], 'anti-affinity put both replicas on one node');
  });

  test('its RBAC refuses what the hub does not need', async () => {
    const can = async (...args: string[]): Promise<string> =>
      (
        await kubectl(
          ['--context', 'hub', 'auth', 'can-i', `--as=system:serviceaccount:${NS}:${SA}`, ...args],
          fleet,
        )
      ).stdout.trim();
    assert.equal(await can('list', 'pods', '-A'), 'no');
    assert.equal(await can('create', 'deployments', '-n', NS), 'no');
    assert.equal(await can('update', 'leases/meridian-hub', '-n', 'default'), 'no');
    assert.equal(await can('update', 'leases/other', '-n', NS), 'no');
    assert.equal(await can('delete', 'customresourcedefinitions'), 'no');
    assert.equal(await can('update', 'clusterroles/cluster-admin'), 'no');
    assert.equal(await can('update', 'leases/meridian-hub', '-n', NS), 'yes');
    assert.equal(await can('watch', 'applications.meridian.dev', '-A'), 'yes');
  });

  test("becomes ready and leads with only the chart's ServiceAccount, with no kubeconfig", async () => {
    await waitFor('the hub ready (CRDs installed)', 120_000, async () => {
      if (hub!.exitCode !== null) throw new Error(`hub exited ${hub!.exitCode}: ${logs}`);
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      return r.ok ? true : undefined;
    });
    await waitFor('the Lease held by the in-cluster hub', 60_000, async () =>
      (await lease()).holder === IDENTITY ? true : undefined,
    );
  });

  test("deploys an Application and imports an exported Service with only the chart's identity", async () => {
    await joinMembers(fleet, ['eu-west']);
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
    };
    await applyApplication(fleet, 'chart-identity', {
      destinationNamespace: 'chart-identity',
      placement: { clusters: ['eu-west'] },
      source: { manifests: [deployment('web', 1), service] },
    });
    await waitFor('Application chart-identity Healthy', 120_000, async () => {
      const r = await kubectl(
        ['--context', 'hub', '-n', 'default', 'get', 'application', 'chart-identity', '-o', 'json'],
        fleet,
      );
      const status =
        r.code === 0 ? (JSON.parse(r.stdout) as { status?: { phase?: string } }).status : undefined;
      if (status?.phase === 'Healthy') return true;
      throw new Error(JSON.stringify(status));
    });
    const exp = await kubectl(
      ['--context', 'eu-west', 'apply', '-f', '-'],
      fleet,
      JSON.stringify({
        apiVersion: 'multicluster.x-k8s.io/v1alpha1',
        kind: 'ServiceExport',
        metadata: { name: 'web', namespace: 'chart-identity' },
      }),
    );
    assert.equal(exp.code, 0, exp.stderr);
    await waitFor('ServiceImport chart-identity/web in eu-west', 60_000, async () => {
      const r = await kubectl(
        ['--context', 'eu-west', '-n', 'chart-identity', 'get', 'serviceimport', 'web', '-o', 'name'],
        fleet,
      );
      if (r.code === 0) return true;
      throw new Error(r.stderr);
    });
    assert.doesNotMatch(logs, /forbidden/i, 'the hub was refused something');
  });

  test('uses a rotated token from the next request on', async () => {
    writeToken('not-a-valid-token');
    const before = logs.length;
    await waitFor('a request refused with the bad token', 30_000, () =>
      /Unauthorized|401/.test(logs.slice(before)) ? true : undefined,
    );
    const fresh = await kubectl(['--context', 'hub', 'create', 'token', SA, '-n', NS], fleet);
    assert.equal(fresh.code, 0, fresh.stderr);
    const rotatedAt = Date.now();
    writeToken(fresh.stdout.trim());
    // Renewals come every 2 s: one after the rotation proves the new token was read at once
    // (the official client would keep the bad one for up to a minute).
    await waitFor('a lease renewal with the fresh token', 20_000, async () => {
      const l = await lease();
      return l.holder === IDENTITY && l.renewTime > rotatedAt ? true : undefined;
    });
    assert.ok(Date.now() - rotatedAt < 20_000);
  });
});
