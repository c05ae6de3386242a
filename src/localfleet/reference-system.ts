// The reference system (APP 1 → APP 2 → database) on the local fleet: `fleet up` applies its
// Application from examples/ and waits until every member runs it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { API_VERSION } from '../api/group.ts';
import type { Application } from '../api/application.ts';
import type { GlobalIngress } from '../api/global-ingress.ts';
import { ClusterClient, loadKubeConfig, type KubeObject } from '../kube/cluster-client.ts';
import { MeridianError } from '../kube/errors.ts';
import { sleep } from '../kube/sleep.ts';
import { REPO_ROOT } from './binaries.ts';
import { localHubClient } from './register.ts';
import { clusterFiles } from './components.ts';
import { fleetDir, readFleetState } from './fleet.ts';

export const REFERENCE_APP = join(REPO_ROOT, 'examples', 'reference-system', 'application.yaml');
export const REFERENCE_INGRESS = join(REPO_ROOT, 'examples', 'reference-system', 'global-ingress.yaml');

/**
 * Publishes app1 with the reference GlobalIngress and waits until it is Ready (every member's
 * ingress health-checked). Returns the host name.
 */
export async function publishReferenceSystem(timeoutMs: number, say: (m: string) => void): Promise<string> {
  const hub = localHubClient();
  const gi = parse(readFileSync(REFERENCE_INGRESS, 'utf8')) as GlobalIngress & KubeObject;
  await hub.apply(gi, { fieldManager: 'meridian-cli', force: true });
  const host = gi.spec.hosts[0]!;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = await hub.get<GlobalIngress & KubeObject>(
      API_VERSION,
      'GlobalIngress',
      gi.metadata.name,
      gi.metadata.namespace,
    );
    const healthy = (live?.status?.clusters ?? []).filter((c) => c.healthy && c.reason === 'Healthy');
    if (live?.status?.clusters?.length && healthy.length === live.status.clusters.length) {
      say(
        `${host} published through GSLB DNS and the edge gateway, served by ${healthy.map((c) => c.name).join(', ')}`,
      );
      return host;
    }
    if (Date.now() > deadline) {
      throw new MeridianError(
        'NotReady',
        `GlobalIngress ${gi.metadata.name} is not healthy everywhere after ${timeoutMs / 1000} s (see \`meridian traffic status ${host}\`)`,
        3,
      );
    }
    await sleep(500);
  }
}

export async function deployReferenceSystem(
  timeoutMs: number,
  say: (m: string) => void,
): Promise<Application> {
  const hub = localHubClient();
  const app = parse(readFileSync(REFERENCE_APP, 'utf8')) as Application & KubeObject;
  await hub.apply(app, { fieldManager: 'meridian-cli', force: true });
  say(`reference system applied (Application ${app.metadata.namespace}/${app.metadata.name}); rolling out…`);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const live = await hub.get<Application & KubeObject>(
      API_VERSION,
      'Application',
      app.metadata.name,
      app.metadata.namespace,
    );
    const st = live?.status;
    const line = `  revision ${st?.revision ?? '-'}: ${st?.phase ?? 'Pending'}, ready ${st?.readyClusters ?? '0/0'} ${(st?.clusters ?? []).map((c) => `${c.name}=${c.phase}`).join(' ')}`;
    if (line !== last) say((last = line));
    if (st?.phase === 'Healthy') return live!;
    if (st?.phase === 'Failed' || st?.phase === 'RolledBack') {
      throw new MeridianError(
        'DeployFailed',
        `the reference system ended in phase ${st.phase}: ${st.conditions?.find((c) => c.type === 'Ready')?.message ?? ''}`,
      );
    }
    if (Date.now() > deadline) {
      throw new MeridianError(
        'NotReady',
        `the reference system is not Healthy after ${timeoutMs / 1000} s (see \`meridian app status reference-system\`)`,
        3,
      );
    }
    await sleep(500);
  }
}

/** Access-log lines a reference-system container "wrote" over the last ten minutes (CRI format). */
export function referenceLogLines(cluster: string, now: number): string {
  const paths = ['/items', '/items/42', '/cart', '/checkout'];
  const lines: string[] = [];
  for (let i = 20; i > 0; i--) {
    const at = new Date(now - i * 30_000 + (cluster.length % 7) * 1_000).toISOString();
    const path = paths[i % paths.length]!;
    const status = i % 9 === 0 ? 503 : 200;
    lines.push(`${at} stdout F GET ${path} ${status} ${5 + ((i * 7) % 40)}ms cluster=${cluster}\n`);
  }
  return lines.join('');
}

/**
 * Pods in the local fleet are simulated by kwok, which serves a pod's logs from a file named by a
 * kwok `ClusterLogs` object. Gives every container in namespace shop of each member such a file,
 * so `meridian logs` and the hub's logs API have the reference system's lines to merge.
 */
export async function seedReferenceLogs(say: (m: string) => void): Promise<void> {
  const dir = fleetDir();
  const members = readFleetState(dir)?.layout.members ?? [];
  const now = Date.now();
  for (const m of members) {
    const file = join(dir, m.name, 'reference-system.log');
    writeFileSync(file, referenceLogLines(m.name, now));
    const client = new ClusterClient(
      m.name,
      loadKubeConfig({ file: clusterFiles(join(dir, m.name)).adminKubeconfig }),
    );
    await client.apply(
      {
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'ClusterLogs',
        metadata: { name: 'meridian-reference-system' },
        spec: { selector: { matchNamespaces: ['shop'] }, logs: [{ logsFile: file, follow: true }] },
      },
      { fieldManager: 'meridian-cli', force: true },
    );
  }
  say(`reference system logs seeded in ${members.length} members (kwok ClusterLogs, namespace shop)`);
}
