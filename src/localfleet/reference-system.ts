// The reference system (APP 1 → APP 2 → database) on the local fleet: `fleet up` applies its
// Application from examples/ and waits until every member runs it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { API_VERSION } from '../api/group.ts';
import type { Application } from '../api/application.ts';
import type { GlobalIngress } from '../api/global-ingress.ts';
import type { KubeObject } from '../kube/cluster-client.ts';
import { MeridianError } from '../kube/errors.ts';
import { sleep } from '../kube/sleep.ts';
import { REPO_ROOT } from './binaries.ts';
import { localHubClient } from './register.ts';

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
