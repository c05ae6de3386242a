// The service graph: who calls whom, how often, how slowly and how badly, per cluster. Built from
// parent/child client→server span pairs (the pairing Tempo's service-graph connector uses), with
// a node per service *in a cluster and namespace*, so app1@eu-west→app2@us-east is its own edge
// and can be marked as crossing clusters. Pure except serviceGraph(), which asks a store.
import type { TimeWindowUs } from './span-model.ts';
import type { CallEnd, ServiceCall, TraceStore } from './trace-store.ts';

export interface ServiceGraphNode {
  /** `cluster/namespace/service`, with empty parts when the spans did not say. */
  readonly id: string;
  readonly service: string;
  readonly cluster?: string;
  readonly region?: string;
  readonly namespace?: string;
  readonly app?: string;
}

// A type alias, not an interface, so edges fit consumers that index them by metric name.
export type ServiceGraphEdge = {
  /** The calling node (the same object as in `nodes`), so an edge reads on its own. */
  readonly source: ServiceGraphNode;
  readonly target: ServiceGraphNode;
  readonly calls: number;
  readonly callsPerSecond: number;
  readonly errors: number;
  readonly errorRate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The caller and the callee ran in different clusters. */
  readonly crossCluster: boolean;
};

export interface ServiceGraph {
  readonly start: string;
  readonly end: string;
  readonly nodes: readonly ServiceGraphNode[];
  readonly edges: readonly ServiceGraphEdge[];
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..100); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const nodeId = (e: CallEnd): string => `${e.cluster ?? ''}/${e.namespace ?? ''}/${e.service}`;

function node(nodes: Map<string, ServiceGraphNode>, end: CallEnd): ServiceGraphNode {
  const id = nodeId(end);
  let n = nodes.get(id);
  if (!n) {
    n = {
      id,
      service: end.service,
      cluster: end.cluster,
      region: end.region,
      namespace: end.namespace,
      app: end.app,
    };
    nodes.set(id, n);
  }
  return n;
}

const round = (n: number, digits: number): number => Number(n.toFixed(digits));

export function buildServiceGraph(calls: readonly ServiceCall[], window: TimeWindowUs): ServiceGraph {
  const nodes = new Map<string, ServiceGraphNode>();
  const edges = new Map<
    string,
    {
      source: ServiceGraphNode;
      target: ServiceGraphNode;
      crossCluster: boolean;
      ms: number[];
      errors: number;
    }
  >();
  const seconds = Math.max(window.endUs - window.startUs, 1) / 1e6;
  for (const c of calls) {
    const source = node(nodes, c.client);
    const target = node(nodes, c.server);
    const key = `${source.id}\n${target.id}`;
    let e = edges.get(key);
    if (!e) {
      e = {
        source,
        target,
        // Unknown clusters cannot be compared; only two named, different clusters cross.
        crossCluster: Boolean(c.client.cluster && c.server.cluster && c.client.cluster !== c.server.cluster),
        ms: [],
        errors: 0,
      };
      edges.set(key, e);
    }
    e.ms.push(c.durationUs / 1000);
    if (c.error) e.errors++;
  }
  const byId = (a: { id: string }, b: { id: string }): number => a.id.localeCompare(b.id);
  return {
    start: new Date(window.startUs / 1000).toISOString(),
    end: new Date(window.endUs / 1000).toISOString(),
    nodes: [...nodes.values()].sort(byId),
    edges: [...edges.values()]
      .map((e) => {
        const sorted = e.ms.sort((a, b) => a - b);
        return {
          source: e.source,
          target: e.target,
          calls: sorted.length,
          callsPerSecond: round(sorted.length / seconds, 6),
          errors: e.errors,
          errorRate: round(e.errors / sorted.length, 6),
          p50Ms: round(percentile(sorted, 50), 3),
          p99Ms: round(percentile(sorted, 99), 3),
          crossCluster: e.crossCluster,
        };
      })
      .sort((a, b) => a.source.id.localeCompare(b.source.id) || a.target.id.localeCompare(b.target.id)),
  };
}

/** The service graph of a time window, from whatever store holds the traces. */
export async function serviceGraph(store: TraceStore, window: TimeWindowUs): Promise<ServiceGraph> {
  return buildServiceGraph(await store.serviceCalls(window), window);
}
