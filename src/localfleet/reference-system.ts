// The reference system (APP 1 → APP 2 → database) on the local fleet: `fleet up` applies its
// Application from examples/ and waits until every member runs it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { API_VERSION } from '../api/group.ts';
import type { Application } from '../api/application.ts';
import type { KubeObject } from '../kube/cluster-client.ts';
import { MeridianError } from '../kube/errors.ts';
import { sleep } from '../kube/sleep.ts';
import { REPO_ROOT } from './binaries.ts';
import { localHubClient } from './register.ts';

export const REFERENCE_APP = join(REPO_ROOT, 'examples', 'reference-system', 'application.yaml');

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
