// The far end of a call to something that sends no spans of its own — a database — named from the
// caller's client span, as Tempo's service graph names "virtual nodes" (OpenTelemetry semantic
// conventions: `db.system.name`, formerly `db.system`, and `server.address`). A Kubernetes
// Service address says which Service and namespace, and whether it is this cluster's
// (`name.ns.svc.cluster.local`, `name.ns.svc`, `name`) or the clusterset's
// (`name.ns.svc.clusterset.local`, any cluster that exports it). Pure.
import type { CallEnd } from './trace-store.ts';

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The callee of a database client span made by `caller`, or undefined when the span names no
 * database system. `address` is `server.address`; `peerService` is `peer.service` (wins).
 */
export function databasePeer(
  caller: CallEnd,
  system: string | undefined,
  address: string | undefined,
  peerService?: string,
): CallEnd | undefined {
  if (!system) return undefined;
  if (peerService) return { service: peerService, cluster: caller.cluster, region: caller.region };
  const host = (address ?? '').toLowerCase().replace(/\.$/, '');
  if (!host || IPV4.test(host) || host.includes(':')) {
    // An address without a name: the database system is all there is to show.
    return { service: system, cluster: caller.cluster, region: caller.region, namespace: caller.namespace };
  }
  const labels = host.split('.');
  const clusterset = host.endsWith('.svc.clusterset.local');
  const local =
    labels.length === 1 ||
    labels.length === 2 ||
    host.endsWith('.svc') ||
    host.endsWith('.svc.cluster.local');
  if (clusterset) return { service: labels[0]!, namespace: labels[1] };
  if (local) {
    return {
      service: labels[0]!,
      namespace: labels.length > 1 ? labels[1] : caller.namespace,
      cluster: caller.cluster,
      region: caller.region,
    };
  }
  // Outside the cluster (a managed database): its host name.
  return { service: host };
}
