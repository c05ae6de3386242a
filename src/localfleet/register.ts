// Registers the local fleet's members in its hub (the same path as `meridian cluster join`: the
// admin kubeconfig creates the hub's least-privilege ServiceAccount, the hub stores only its token)
// and waits for the hub process to report them Ready.
import { join } from 'node:path';
import { API_VERSION } from '../api/group.ts';
import type { Cluster } from '../api/cluster.ts';
import { ClusterClient, loadKubeConfig } from '../kube/cluster-client.ts';
import { findCondition } from '../kube/conditions.ts';
import { MeridianError } from '../kube/errors.ts';
import { joinCluster } from '../fleet/cluster-join.ts';
import { installCrds, installHubBasics } from '../hub/crd-install.ts';
import { clusterFiles } from './components.ts';
import { fleetDir, mergedKubeconfigPath } from './fleet.ts';
import { LOCAL_INGRESS_PORT, type FleetLayout } from './layout.ts';
import { sleep } from '../kube/sleep.ts';

/** The local hub's client (context `hub` of the merged kubeconfig). */
export function localHubClient(dir = fleetDir()): ClusterClient {
  return new ClusterClient('hub', loadKubeConfig({ file: mergedKubeconfigPath(dir) }, 'hub'));
}

export async function registerLocalMembers(
  layout: FleetLayout,
  dir: string,
  say: (m: string) => void,
): Promise<void> {
  const hub = localHubClient(dir);
  await installHubBasics(hub);
  await installCrds(hub);
  for (const m of layout.members) {
    await joinCluster(hub, {
      name: m.name,
      kubeConfig: loadKubeConfig({ file: clusterFiles(join(dir, m.name)).adminKubeconfig }),
      region: m.region,
      zone: m.zones[0],
      ingress: { addresses: [m.ingressAddress], port: LOCAL_INGRESS_PORT },
    });
    say(`  registered ${m.name} (region ${m.region})`);
  }
}

/** Polls the hub until every Cluster is Ready=True; fails naming the ones that are not. */
export async function waitForReadyClusters(
  timeoutMs: number,
  say: (m: string) => void,
  dir = fleetDir(),
): Promise<Cluster[]> {
  const hub = localHubClient(dir);
  const deadline = Date.now() + timeoutMs;
  let last: string[] = [];
  for (;;) {
    const list = await hub.list<Cluster>(API_VERSION, 'Cluster', { timeoutMs: 5_000 });
    const notReady = list.items.filter(
      (c) => findCondition(c.status?.conditions as never, 'Ready')?.status !== 'True',
    );
    if (notReady.length === 0 && list.items.length > 0) {
      say(
        `all ${list.items.length} member clusters Ready: ${list.items.map((c) => c.metadata.name).join(', ')}`,
      );
      return list.items;
    }
    last = notReady.map((c) => {
      const r = findCondition(c.status?.conditions as never, 'Ready');
      return `${c.metadata.name} (${r ? `${r.reason}: ${r.message}` : 'not probed yet'})`;
    });
    if (Date.now() > deadline) {
      throw new MeridianError(
        'NotReady',
        `clusters not Ready after ${timeoutMs / 1000} s: ${last.join('; ')}`,
        3,
      );
    }
    await sleep(250);
  }
}
