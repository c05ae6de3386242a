// Which cluster serves the next request for a host: one ranking used by both the GSLB DNS (which
// answers with the head of the list, or all of it for RoundRobin) and the edge gateway (which tries
// the head and retries down the list). Pure apart from the per-host counters it is given.
import { regionOf, type GeoTable } from './geo-table.ts';
import type { ClusterTarget, HostRoute } from './routing.ts';

export interface Ranking {
  /** Clusters in the order to use them. */
  readonly clusters: readonly ClusterTarget[];
  /**
   * True when no cluster is in rotation (all unhealthy or drained): the list then holds every
   * cluster, because answering with something that may work beats answering with nothing.
   */
  readonly degraded: boolean;
  /** The region the client was mapped to (Geo only). */
  readonly clientRegion?: string;
}

export interface SelectContext {
  /** Client address: the EDNS Client Subnet address, else the resolver's or HTTP client's. */
  readonly clientAddress?: string;
  readonly geo: GeoTable;
  /** Per-host rotation state; the caller keeps one per process. */
  readonly counters: BalancerCounters;
}

/** Rotation state for RoundRobin and smooth weighted round robin, per host. */
export class BalancerCounters {
  private readonly rr = new Map<string, number>();
  private readonly wrr = new Map<string, Map<string, number>>();

  /** Next RoundRobin offset for `host`. */
  next(host: string): number {
    const n = this.rr.get(host) ?? 0;
    this.rr.set(host, (n + 1) % 1_000_000_007);
    return n;
  }

  /**
   * Smooth weighted round robin (the nginx algorithm): deterministic, and spreads picks evenly
   * instead of in bursts.
   */
  pickWeighted(host: string, candidates: readonly { name: string; weight: number }[]): string | undefined {
    const state = this.wrr.get(host) ?? new Map<string, number>();
    this.wrr.set(host, state);
    let total = 0;
    let best: { name: string; current: number } | undefined;
    for (const c of candidates) {
      if (c.weight <= 0) continue;
      const current = (state.get(c.name) ?? 0) + c.weight;
      state.set(c.name, current);
      total += c.weight;
      if (!best || current > best.current) best = { name: c.name, current };
    }
    if (best) state.set(best.name, best.current - total);
    return best?.name;
  }
}

const inRotation = (c: ClusterTarget): boolean => c.healthy && !c.drained;

/**
 * Failover orders, per route: a route never changes (the table is swapped whole on any change,
 * health included), and the gateway ranks on every request, so the sort runs once per route.
 */
const failoverOrders = new WeakMap<HostRoute, readonly ClusterTarget[]>();

/** Clusters in preference order for Failover: `strategy.order` first, then placement order. */
function failoverOrder(route: HostRoute): readonly ClusterTarget[] {
  let ordered = failoverOrders.get(route);
  if (ordered === undefined) failoverOrders.set(route, (ordered = sortFailover(route)));
  return ordered;
}

function sortFailover(route: HostRoute): ClusterTarget[] {
  const order = route.strategy.order ?? [];
  const pos = (c: ClusterTarget): number => {
    const i = order.indexOf(c.name);
    return i < 0 ? order.length : i;
  };
  return route.clusters
    .map((c, i) => ({ c, i }))
    .sort((a, b) => pos(a.c) - pos(b.c) || a.i - b.i)
    .map((x) => x.c);
}

function rotate<T>(list: readonly T[], by: number): T[] {
  if (list.length === 0) return [];
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

function geoOrder(route: HostRoute, region: string | undefined, geo: GeoTable): readonly ClusterTarget[] {
  const base = failoverOrder(route);
  if (region === undefined) return base;
  const regions = geo.nearest.get(region) ?? [region];
  const rank = (c: ClusterTarget): number => {
    const i = regions.indexOf(c.region);
    return i < 0 ? regions.length : i;
  };
  return base
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i)
    .map((x) => x.c);
}

/** Orders `candidates` for one request by the route's strategy. */
function order(
  route: HostRoute,
  candidates: readonly ClusterTarget[],
  ctx: SelectContext,
  region?: string,
): readonly ClusterTarget[] {
  // `candidates` is a subset of the route's clusters: all of them (the usual case) needs no filter.
  const all = candidates.length === route.clusters.length;
  const keep = all ? undefined : new Set(candidates.map((c) => c.name));
  const only = (list: readonly ClusterTarget[]) => (keep ? list.filter((c) => keep.has(c.name)) : list);
  switch (route.strategy.type) {
    case 'Failover':
      return only(failoverOrder(route));
    case 'RoundRobin':
      return rotate(only(route.clusters), ctx.counters.next(route.host));
    case 'Weighted': {
      const weights = route.strategy.weights ?? {};
      const weighted = only(route.clusters).map((c) => ({ name: c.name, weight: weights[c.name] ?? 0 }));
      const first = ctx.counters.pickWeighted(route.host, weighted);
      // After the pick, heavier clusters first: they are the better retry targets.
      const rest = only(route.clusters)
        .filter((c) => c.name !== first)
        .sort((a, b) => (weights[b.name] ?? 0) - (weights[a.name] ?? 0));
      const head = only(route.clusters).filter((c) => c.name === first);
      return [...head, ...rest];
    }
    case 'Geo':
      return only(geoOrder(route, region, ctx.geo));
  }
}

/** Ranks the clusters of `route` for one DNS query or one gateway request. */
export function rankClusters(route: HostRoute, ctx: SelectContext): Ranking {
  const clientRegion =
    route.strategy.type === 'Geo' && ctx.clientAddress ? regionOf(ctx.geo, ctx.clientAddress) : undefined;
  const live = route.clusters.every(inRotation) ? route.clusters : route.clusters.filter(inRotation);
  if (live.length > 0) {
    return { clusters: order(route, live, ctx, clientRegion), degraded: false, clientRegion };
  }
  // Nothing in rotation: offer undrained clusters first, drained ones last, all by strategy.
  const all = order(route, route.clusters, ctx, clientRegion);
  const ranked = [...all.filter((c) => !c.drained), ...all.filter((c) => c.drained)];
  return { clusters: ranked, degraded: true, clientRegion };
}

/**
 * The clusters a DNS answer names: all in-rotation clusters (rotated) for RoundRobin, else the
 * single best one; when degraded, every cluster (documented: better a chance than nothing).
 */
export function dnsAnswerClusters(route: HostRoute, ctx: SelectContext): Ranking {
  const ranking = rankClusters(route, ctx);
  if (ranking.degraded || route.strategy.type === 'RoundRobin') return ranking;
  return { ...ranking, clusters: ranking.clusters.slice(0, 1) };
}
