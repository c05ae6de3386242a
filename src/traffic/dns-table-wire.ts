// What a GSLB DNS worker process needs to answer exactly like the hub: the routes (with health and
// drain state) and the geo table, as plain JSON for the IPC channel, and back. Pure: no I/O.
// TLS material is left out on purpose: DNS never uses it, and private keys should not travel.
import ipaddr from 'ipaddr.js';
import type { GeoTable } from './geo-table.ts';
import { StaticRoutingTable, type ClusterTarget, type HostRoute, type RoutingTable } from './routing.ts';

/** The JSON form of a routing table and geo table, as sent to DNS workers on every change. */
export interface DnsTableWire {
  readonly routes: readonly Omit<HostRoute, 'tls'>[];
  /** CIDRs, most specific first (the order GeoTable keeps). */
  readonly geoNetworks: readonly { readonly cidr: string; readonly region: string }[];
  readonly geoNearest: readonly (readonly [string, readonly string[]])[];
}

/** The routes and geo table as JSON-safe data, without TLS certificates and keys. */
export function encodeDnsTable(routes: readonly HostRoute[], geo: GeoTable): DnsTableWire {
  return {
    routes: routes.map((r) => ({
      host: r.host,
      owner: r.owner,
      strategy: r.strategy,
      ttlSeconds: r.ttlSeconds,
      paths: r.paths,
      clusters: r.clusters.map((c) => ({
        name: c.name,
        region: c.region,
        ...(c.zone === undefined ? {} : { zone: c.zone }),
        addresses: c.addresses,
        port: c.port,
        healthy: c.healthy,
        drained: c.drained,
      })),
    })),
    geoNetworks: geo.networks.map((n) => ({
      cidr: `${n.range[0].toString()}/${n.range[1]}`,
      region: n.region,
    })),
    geoNearest: [...geo.nearest],
  };
}

/**
 * The tables a worker answers from. Routes of one GlobalIngress share their cluster objects again
 * (as the hub's do), so per-cluster memos stay as small as in the hub.
 */
export function decodeDnsTable(wire: DnsTableWire): { table: RoutingTable; geo: GeoTable } {
  const targets = new Map<string, ClusterTarget>();
  const shared = (c: ClusterTarget): ClusterTarget => {
    const key = JSON.stringify(c);
    let t = targets.get(key);
    if (!t) targets.set(key, (t = c));
    return t;
  };
  const routes: HostRoute[] = wire.routes.map((r) => ({ ...r, clusters: r.clusters.map(shared) }));
  return {
    table: new StaticRoutingTable(routes),
    geo: {
      networks: wire.geoNetworks.map((n) => ({ range: ipaddr.parseCIDR(n.cidr), region: n.region })),
      nearest: new Map(wire.geoNearest),
    },
  };
}
