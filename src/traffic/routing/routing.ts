// The routing model shared by the GSLB DNS and the edge gateway: for each host name, the clusters
// that serve it (in placement order) with their ingress addresses and health. The controller builds
// it from GlobalIngresses and Clusters; the DNS and the gateway only read it.
import type { BalancingStrategy } from '../../api/global-ingress.ts';

/** One cluster serving a host, as the balancers see it. */
export interface ClusterTarget {
  readonly name: string;
  readonly region: string;
  readonly zone?: string;
  /** Ingress addresses (IPv4 and/or IPv6) from `Cluster.spec.ingress.addresses`. */
  readonly addresses: readonly string[];
  readonly port: number;
  /** Result of the active + passive health checks. */
  readonly healthy: boolean;
  /** Taken out of rotation by `meridian traffic drain`: no new DNS answers or gateway requests. */
  readonly drained: boolean;
}

/** One published host name. */
export interface HostRoute {
  /** Lower case, no trailing dot. */
  readonly host: string;
  /** The GlobalIngress that publishes it. */
  readonly owner: { readonly namespace: string; readonly name: string };
  readonly strategy: BalancingStrategy;
  readonly ttlSeconds: number;
  /** Path prefixes the gateway accepts for this host (longest match wins; '/' matches all). */
  readonly paths: readonly string[];
  /** Serving clusters in placement order (Failover uses `strategy.order` first, then this order). */
  readonly clusters: readonly ClusterTarget[];
  /** TLS certificate for the gateway, from the Secret named by the GlobalIngress. */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
}

/** Read side of the routing table; implementations swap the whole table atomically on change. */
export interface RoutingTable {
  /** The route for a host name (any case, trailing dot allowed), or undefined. */
  route(host: string): HostRoute | undefined;
  /** Every published route. */
  routes(): readonly HostRoute[];
}

/** Normalises a host name as a routing-table key: lower case, no trailing dot, no port. */
export function hostKey(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h; // bracketed IPv6 literal: never a published host
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** A routing table built once from a list of routes; the controller replaces it on every change. */
export class StaticRoutingTable implements RoutingTable {
  private readonly byHost: ReadonlyMap<string, HostRoute>;

  constructor(routes: readonly HostRoute[]) {
    this.byHost = new Map(routes.map((r) => [hostKey(r.host), r]));
  }

  route(host: string): HostRoute | undefined {
    return this.byHost.get(hostKey(host));
  }

  routes(): readonly HostRoute[] {
    return [...this.byHost.values()];
  }
}

/** A routing table whose contents can be swapped; readers always see one consistent snapshot. */
export class SwappableRoutingTable implements RoutingTable {
  private current: RoutingTable = new StaticRoutingTable([]);
  private readonly listeners = new Set<() => void>();

  set(table: RoutingTable): void {
    this.current = table;
    for (const f of this.listeners) f();
  }

  /** Calls `listener` after every set() (DNS worker processes copy the table); returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  route(host: string): HostRoute | undefined {
    return this.current.route(host);
  }

  routes(): readonly HostRoute[] {
    return this.current.routes();
  }
}
