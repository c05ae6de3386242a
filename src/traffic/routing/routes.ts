// The routing table as a function of hub state alone: each GlobalIngress's hosts, the clusters
// its status lists with their health, the Clusters' ingress addresses and drain flags, and the TLS
// Secret. Every hub replica builds the same table, leader or not, so DNS and the edge gateway can
// run on all of them.
import type { Cluster } from '../../api/cluster.ts';
import type { GlobalIngress } from '../../api/global-ingress.ts';
import { findCondition } from '../../kube/conditions.ts';
import type { KubeObject } from '../../kube/cluster-client.ts';
import type { ClusterTarget, HostRoute } from './routing.ts';

export interface TlsSecret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

export const DEFAULT_TTL_SECONDS = 30;

/** Whether a GlobalIngress currently publishes its hosts (accepted, no conflict). */
export function publishes(gi: GlobalIngress): boolean {
  if (gi.metadata.deletionTimestamp) return false;
  return findCondition(gi.status?.conditions as never, 'Conflict')?.status !== 'True';
}

/** One HostRoute per host of every publishing GlobalIngress. */
export function buildRoutes(
  ingresses: readonly GlobalIngress[],
  clusters: readonly Cluster[],
  secret: (namespace: string, name: string) => TlsSecret | undefined,
): HostRoute[] {
  const byName = new Map(clusters.map((c) => [c.metadata.name, c]));
  const routes: HostRoute[] = [];
  for (const gi of ingresses) {
    if (!publishes(gi)) continue;
    const targets: ClusterTarget[] = [];
    for (const cs of gi.status?.clusters ?? []) {
      const c = byName.get(cs.name);
      if (!c?.spec.ingress) continue;
      targets.push({
        name: c.metadata.name,
        region: c.spec.region,
        zone: c.spec.zone,
        addresses: c.spec.ingress.addresses,
        port: c.spec.ingress.port ?? 443,
        healthy: cs.healthy,
        drained: c.spec.traffic?.drained === true,
      });
    }
    const ns = gi.metadata.namespace ?? 'default';
    let tls: HostRoute['tls'];
    if (gi.spec.tls) {
      const s = secret(ns, gi.spec.tls.secretName);
      const crt = s?.data?.['tls.crt'];
      const key = s?.data?.['tls.key'];
      if (crt && key) {
        tls = {
          certPem: Buffer.from(crt, 'base64').toString('utf8'),
          keyPem: Buffer.from(key, 'base64').toString('utf8'),
        };
      }
    }
    for (const host of gi.spec.hosts) {
      routes.push({
        host,
        owner: { namespace: ns, name: gi.metadata.name },
        strategy: gi.spec.strategy ?? { type: 'RoundRobin' },
        ttlSeconds: gi.spec.dns?.ttlSeconds ?? DEFAULT_TTL_SECONDS,
        paths: [...new Set(gi.spec.rules.map((r) => r.path))],
        clusters: targets,
        tls,
      });
    }
  }
  return routes;
}
