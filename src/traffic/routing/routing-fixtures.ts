// Routing-table data for the traffic tests (unit and integration): one way to write a cluster
// target and a published host, so the DNS tests describe the same fleet the same way.
import type { ClusterTarget, HostRoute } from './routing.ts';

/** A healthy, undrained cluster on port 443 whose region is its name, unless `state` says otherwise. */
export const clusterTarget = (
  name: string,
  addresses: string[],
  state: Partial<ClusterTarget> = {},
): ClusterTarget => ({
  name,
  region: name,
  addresses,
  port: 443,
  healthy: true,
  drained: false,
  ...state,
});

/** A host published under `zone` by team-a at `/`, with the given strategy and clusters. */
export const publishedRoute = (
  host: string,
  zone: string,
  strategy: HostRoute['strategy'],
  clusters: readonly ClusterTarget[],
  ttlSeconds: number,
): HostRoute => ({
  host: `${host}.${zone}`,
  owner: { namespace: 'team-a', name: host },
  strategy,
  ttlSeconds,
  paths: ['/'],
  clusters,
});
