// `GET /api/v1/topology`: gathers hub state (Applications, GlobalIngresses), member state
// (workloads from the resolver's caches, ServiceImports asked of each member in parallel with its
// own timeout) and the traces' service graph, and hands them to buildTopology. A member's
// `reachable` is decided by that live ask, on every request: never by a cache or the Cluster's
// Ready condition, which lag behind a member that just stopped answering.
import { API_VERSION } from '../../api/group.ts';
import type { Application } from '../../api/application.ts';
import type { GlobalIngress } from '../../api/global-ingress.ts';
import { MCS_API_VERSION, type ServiceImport } from '../../api/mcs.ts';
import type { ClusterClient } from '../../kube/cluster-client.ts';
import { MeridianError, errorMessage } from '../../kube/errors.ts';
import { KubeApiError } from '../../kube/rest.ts';
import type { Route } from '../../http/route-contract.ts';
import { ACTIVE_GROUP_ANNOTATION, REASON_ANNOTATION } from '../../api/labels.ts';
import { observeAccess, type ObserveDeps, type ObserveService } from '../services.ts';
import { buildTopology, type GraphEdgeFacts, type ImportFacts, type Topology } from './build-topology.ts';
import { PodTopologyResolver } from './pod-topology-resolver.ts';

/** Service-graph edges observed between start and end (epoch ms); from the traces service. */
export type GraphSource = (startMs: number, endMs: number) => Promise<readonly GraphEdgeFacts[]>;

const MEMBER_TIMEOUT_MS = 3_000;

/** The longest service-graph window: a year and a day (more reaches past what any store keeps). */
export const MAX_WINDOW_MS = 366 * 86_400_000;

/** Parses a Prometheus-style duration (`90s`, `5m`, `1h`) in ms, or undefined. Pure. */
export function parseWindow(text: string): number | undefined {
  const m = /^(\d{1,15})(ms|s|m|h|d)$/.exec(text);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Number(m[1]) * unit;
}

/**
 * Whether a failed ask still got an answer from the member (an HTTP status, e.g. 403, or discovery
 * saying the MCS kinds are not served yet): such a member is reachable, only its imports are
 * unknown. Timeouts, refused or reset connections and missing credentials are not answers. Pure.
 */
export function answered(e: unknown): boolean {
  if (e instanceof KubeApiError) return e.status > 0;
  return e instanceof MeridianError && e.code === 'UnknownKind';
}

/**
 * A member's ServiceImports, asked live. `timeoutMs` bounds the whole ask, discovery included (as
 * every `list` does): a member whose discovery is not cached yet (first ask, new credentials) must
 * not hold the answer for discovery's own, longer timeout.
 */
export async function memberImports(client: ClusterClient, timeoutMs: number): Promise<ImportFacts[]> {
  const name = client.name;
  const list = await client.list<ServiceImport>(MCS_API_VERSION, 'ServiceImport', { timeoutMs });
  return list.items.map((i) => ({
    cluster: name,
    namespace: i.metadata.namespace ?? '',
    name: i.metadata.name,
    type: i.spec?.type,
    sourceClusters: (i.status?.clusters ?? []).map((c) => c.cluster),
    activeGroup: i.metadata.annotations?.[ACTIVE_GROUP_ANNOTATION],
    reason: i.metadata.annotations?.[REASON_ANNOTATION],
  }));
}

export class TopologyService implements ObserveService {
  readonly resolver: PodTopologyResolver;
  readonly routes: readonly Route[];
  private graph: GraphSource | undefined;

  constructor(private readonly deps: ObserveDeps) {
    this.resolver = new PodTopologyResolver(deps.fleet, deps.log);
    this.routes = [
      {
        method: 'GET',
        path: '/api/v1/topology',
        access: () => observeAccess('topology'),
        handle: async ({ url }) => {
          const text = url.searchParams.get('window') ?? '5m';
          const windowMs = parseWindow(text);
          if (windowMs === undefined || windowMs <= 0)
            return {
              status: 400,
              body: {
                error: `window: "${text.slice(0, 100)}" is not a duration like 30s, 5m or 1h`,
                param: 'window',
              },
            };
          if (windowMs > MAX_WINDOW_MS)
            return {
              status: 400,
              body: { error: `window: "${text.slice(0, 100)}" is longer than 366d`, param: 'window' },
            };
          return { body: await this.topology(windowMs) };
        },
        doc: {
          summary:
            'Regions, clusters, apps and revisions, GSLB health, east–west imports and the service graph',
          tags: ['topology'],
          params: [{ name: 'window', description: 'Service-graph window, e.g. 5m (default) or 1h' }],
        },
      },
    ];
  }

  /** Lets the traces service feed the service graph once it exists. */
  useGraph(source: GraphSource): void {
    this.graph = source;
  }

  async start(): Promise<void> {
    this.resolver.start();
  }

  async stop(): Promise<void> {
    await this.resolver.stop();
  }

  private async imports(name: string): Promise<ImportFacts[]> {
    const client = this.deps.fleet.client(name);
    if ('error' in client) throw new Error(client.error);
    return memberImports(client, MEMBER_TIMEOUT_MS);
  }

  async topology(windowMs: number): Promise<Topology & { window: string; warnings: string[] }> {
    const { hub, fleet } = this.deps;
    const members = fleet.members();
    const now = Date.now();
    const warnings: string[] = [];
    const unreachable: string[] = [];
    const [apps, gis, imports, graphEdges] = await Promise.all([
      hub.list<Application>(API_VERSION, 'Application'),
      hub.list<GlobalIngress>(API_VERSION, 'GlobalIngress'),
      Promise.all(
        members.map((m) =>
          this.imports(m.name).catch((e: unknown) => {
            if (!answered(e)) unreachable.push(m.name);
            warnings.push(`cluster ${m.name}: ${errorMessage(e)}`);
            return [];
          }),
        ),
      ),
      this.graph ? this.graph(now - windowMs, now) : Promise.resolve([]),
    ]);
    const topology = buildTopology({
      members,
      workloads: new Map(members.map((m) => [m.name, this.resolver.workloads(m.name)])),
      applications: apps.items.map((a) => ({
        namespace: a.metadata.namespace ?? '',
        name: a.metadata.name,
        phase: a.status?.phase,
        clusters: (a.status?.clusters ?? []).map((c) => ({
          name: c.name,
          revision: c.revision,
          phase: c.phase,
        })),
      })),
      imports: imports.flat(),
      globalIngresses: gis.items.map((g) => ({
        namespace: g.metadata.namespace ?? '',
        name: g.metadata.name,
        hosts: g.spec.hosts,
        strategy: g.spec.strategy?.type,
        clusters: (g.status?.clusters ?? []).map((c) => ({
          name: c.name,
          healthy: c.healthy,
          reason: c.reason,
          drained: c.drained,
        })),
      })),
      graphEdges,
      unreachable,
    });
    return { window: `${Math.round(windowMs / 1000)}s`, ...topology, warnings };
  }
}
