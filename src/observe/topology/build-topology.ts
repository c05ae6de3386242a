// The fleet's topology in one answer (`GET /api/v1/topology`): regions → clusters → apps and the
// revisions they run, joined with north–south health (GlobalIngress status), east–west imports
// (ServiceImports in members) and the service graph from traces. Pure: the service gathers the
// inputs, this decides the shape.
import type { FleetMember } from '../fleet-view.ts';
import type { WorkloadInfo } from './workload-of-pod.ts';

export interface ApplicationFacts {
  readonly namespace: string;
  readonly name: string;
  readonly phase?: string;
  readonly clusters: readonly { name: string; revision?: number; phase?: string }[];
}

export interface ImportFacts {
  readonly cluster: string;
  readonly namespace: string;
  readonly name: string;
  readonly type?: string;
  readonly sourceClusters: readonly string[];
  readonly activeGroup?: string;
  readonly reason?: string;
}

export interface GlobalIngressFacts {
  readonly namespace: string;
  readonly name: string;
  readonly hosts: readonly string[];
  readonly strategy?: string;
  readonly clusters: readonly { name: string; healthy: boolean; reason?: string; drained?: boolean }[];
}

export interface GraphEndpoint {
  readonly service: string;
  readonly cluster?: string;
  readonly namespace?: string;
}

export interface GraphEdgeFacts {
  readonly source: GraphEndpoint;
  readonly target: GraphEndpoint;
  readonly crossCluster: boolean;
}

export interface TopologyInput {
  readonly members: readonly FleetMember[];
  readonly workloads: ReadonlyMap<string, readonly (WorkloadInfo & { namespace: string })[]>;
  readonly applications: readonly ApplicationFacts[];
  readonly imports: readonly ImportFacts[];
  readonly globalIngresses: readonly GlobalIngressFacts[];
  readonly graphEdges: readonly GraphEdgeFacts[];
  /** Members that did not answer (imports or workloads unknown there). */
  readonly unreachable: readonly string[];
}

export interface Topology {
  readonly regions: { name: string; clusters: string[] }[];
  readonly clusters: {
    name: string;
    region: string;
    zone?: string;
    ready: boolean;
    reachable: boolean;
    apps: { namespace: string; app: string; workload: string; application?: string; revision?: string }[];
    applications: { namespace: string; name: string; revision?: number; phase?: string }[];
    imports: Omit<ImportFacts, 'cluster'>[];
    globalTraffic: {
      namespace: string;
      name: string;
      hosts: readonly string[];
      healthy: boolean;
      reason?: string;
      drained?: boolean;
    }[];
  }[];
  readonly serviceGraph: {
    nodes: { id: string; service: string; cluster?: string; region?: string; namespace?: string }[];
    /** The edges as given (their metrics included) plus whether they went through the mesh. */
    edges: (GraphEdgeFacts & { eastWest: boolean })[];
  };
}

const nodeId = (e: GraphEndpoint): string => `${e.cluster ?? '?'}/${e.namespace ?? '?'}/${e.service}`;

export function buildTopology(input: TopologyInput): Topology {
  const regionOf = new Map(input.members.map((m) => [m.name, m.region]));
  const regions = new Map<string, string[]>();
  for (const m of input.members) regions.set(m.region, [...(regions.get(m.region) ?? []), m.name]);
  const unreachable = new Set(input.unreachable);

  const clusters = input.members.map((m) => ({
    name: m.name,
    region: m.region,
    ...(m.zone ? { zone: m.zone } : {}),
    ready: m.ready,
    reachable: !unreachable.has(m.name),
    apps: (input.workloads.get(m.name) ?? [])
      .map((w) => ({
        namespace: w.namespace,
        app: w.app,
        workload: `${w.kind}/${w.name}`,
        ...(w.application ? { application: w.application } : {}),
        ...(w.revision ? { revision: w.revision } : {}),
      }))
      .sort((a, b) =>
        `${a.namespace}/${a.app}/${a.workload}`.localeCompare(`${b.namespace}/${b.app}/${b.workload}`),
      ),
    applications: input.applications.flatMap((a) =>
      a.clusters
        .filter((c) => c.name === m.name)
        .map((c) => ({ namespace: a.namespace, name: a.name, revision: c.revision, phase: c.phase })),
    ),
    imports: input.imports.filter((i) => i.cluster === m.name).map(({ cluster: _c, ...rest }) => rest),
    globalTraffic: input.globalIngresses.flatMap((g) =>
      g.clusters
        .filter((c) => c.name === m.name)
        .map((c) => ({
          namespace: g.namespace,
          name: g.name,
          hosts: g.hosts,
          healthy: c.healthy,
          ...(c.reason ? { reason: c.reason } : {}),
          ...(c.drained ? { drained: true } : {}),
        })),
    ),
  }));

  // A cross-cluster call whose callee is imported (MCS) in the caller's cluster went east–west
  // through Meridian's mesh rather than out through some public address.
  const imported = new Set(input.imports.map((i) => `${i.cluster}/${i.namespace}/${i.name}`));
  // A callee named by its clusterset address (`db.shop.svc.clusterset.local`, a database that sends
  // no spans) ran in some exporting cluster; when the caller's import has one source, it ran there.
  const soleSource = new Map(
    input.imports
      .filter((i) => i.sourceClusters.length === 1)
      .map((i) => [`${i.cluster}/${i.namespace}/${i.name}`, i.sourceClusters[0]!]),
  );
  const nodes = new Map<string, Topology['serviceGraph']['nodes'][number]>();
  const edges = input.graphEdges.map((edge) => {
    const resolved =
      edge.target.cluster === undefined && edge.source.cluster !== undefined
        ? soleSource.get(`${edge.source.cluster}/${edge.target.namespace ?? ''}/${edge.target.service}`)
        : undefined;
    const e: GraphEdgeFacts = resolved
      ? {
          ...edge,
          target: { ...edge.target, cluster: resolved },
          crossCluster: resolved !== edge.source.cluster,
        }
      : edge;
    for (const end of [e.source, e.target]) {
      const region = end.cluster ? regionOf.get(end.cluster) : undefined;
      nodes.set(nodeId(end), { ...end, id: nodeId(end), ...(region ? { region } : {}) });
    }
    const eastWest =
      e.crossCluster &&
      e.source.cluster !== undefined &&
      imported.has(
        `${e.source.cluster}/${e.target.namespace ?? e.source.namespace ?? ''}/${e.target.service}`,
      );
    return { ...e, eastWest };
  });

  return {
    regions: [...regions]
      .map(([name, cs]) => ({ name, clusters: cs.sort() }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    clusters,
    serviceGraph: { nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)), edges },
  };
}
