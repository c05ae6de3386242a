// What a traffic worker process needs to answer exactly like the hub: the routes (with health and
// drain state) and the geo table, as plain JSON for the IPC channel, and back. Pure: no I/O.
// TLS material goes only where it is used: edge workers get it, DNS workers never do, so private
// keys travel no further than they must (and only over the hub's own IPC pipe).
import ipaddr from 'ipaddr.js';
import { EMPTY_GEO_TABLE, type GeoTable } from '../routing/geo-table.ts';
import {
  StaticRoutingTable,
  SwappableRoutingTable,
  type ClusterTarget,
  type HostRoute,
  type RoutingTable,
} from '../routing/routing.ts';

/** The JSON form of a routing table and geo table, as sent to worker processes on every change. */
export interface TableWire {
  /** Routes; `tls` only when encoded `withTls`. */
  readonly routes: readonly HostRoute[];
  /** CIDRs, most specific first (the order GeoTable keeps). */
  readonly geoNetworks: readonly { readonly cidr: string; readonly region: string }[];
  readonly geoNearest: readonly (readonly [string, readonly string[]])[];
}

/** The routes and geo table as JSON-safe data; TLS certificates and keys only `withTls`. */
export function encodeTable(
  routes: readonly HostRoute[],
  geo: GeoTable,
  { withTls }: { readonly withTls: boolean },
): TableWire {
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
      ...(withTls && r.tls ? { tls: { certPem: r.tls.certPem, keyPem: r.tls.keyPem } } : {}),
    })),
    geoNetworks: geo.networks.map((n) => ({
      cidr: `${n.range[0].toString()}/${n.range[1]}`,
      region: n.region,
    })),
    geoNearest: [...geo.nearest],
  };
}

/**
 * The tables a worker answers from. Routes of one GlobalIngress share their cluster objects (and
 * certificate) again, as the hub's do, so per-cluster memos stay as small as in the hub.
 */
export function decodeTable(wire: TableWire): { table: RoutingTable; geo: GeoTable } {
  const shared = new Map<string, object>();
  const share = <T extends object>(x: T): T => {
    const key = JSON.stringify(x);
    let t = shared.get(key) as T | undefined;
    if (!t) shared.set(key, (t = x));
    return t;
  };
  const routes: HostRoute[] = wire.routes.map((r) => ({
    ...r,
    clusters: r.clusters.map(share<ClusterTarget>),
    ...(r.tls ? { tls: share(r.tls) } : {}),
  }));
  return {
    table: new StaticRoutingTable(routes),
    geo: {
      networks: wire.geoNetworks.map((n) => ({ range: ipaddr.parseCIDR(n.cidr), region: n.region })),
      nearest: new Map(wire.geoNearest),
    },
  };
}

/** A worker's copy of the hub's tables: `apply` each wire form the hub sends, read `table` and `geo`. */
export function tableReplica(): {
  readonly table: SwappableRoutingTable;
  readonly geo: () => GeoTable;
  readonly apply: (wire: TableWire) => void;
} {
  const table = new SwappableRoutingTable();
  let geo = EMPTY_GEO_TABLE;
  return {
    table,
    geo: () => geo,
    apply: (wire) => {
      const decoded = decodeTable(wire);
      geo = decoded.geo;
      table.set(decoded.table);
    },
  };
}
