// Runs the health checks of every published GlobalIngress: on its interval, an active HTTP check
// of each placed cluster's ingress plus the passive count of ready endpoints behind it, folded
// into per-cluster state by the pure `nextHealth`. Reports transitions and rounds to the controller.
// Ready endpoints come from a watch cache of the member's EndpointSlices when one is synced (no
// request per round per GlobalIngress), else from a LIST bounded by the check's timeout.
import type { MemberConnections } from '../../fleet/member-connections.ts';
import type { KubeObject } from '../../kube/cluster-client.ts';
import type { Logger } from '../../logging/logger.ts';
import { errorMessage } from '../../kube/errors.ts';
import { probeIngress } from './health-check.ts';
import { initialHealth, nextHealth, type HealthState, type HealthThresholds } from './health-state.ts';

export interface MonitoredCluster {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export interface MonitorConfig extends HealthThresholds {
  readonly clusters: readonly MonitoredCluster[];
  readonly host: string;
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Namespace and Services whose EndpointSlices tell whether replicas are ready. */
  readonly namespace: string;
  readonly services: readonly string[];
}

export interface EndpointSlice extends KubeObject {
  endpoints?: { conditions?: { ready?: boolean } }[];
}

/** A member's EndpointSlices from a synced watch cache, or undefined when there is none. */
export type SliceCache = (cluster: string) => readonly EndpointSlice[] | undefined;

/**
 * Ready endpoints of the least-served of `services` in `namespace`, from the member's slices:
 * a path whose Service has nothing ready would fail there. Pure.
 */
export function readyOfLeastServed(
  slices: readonly EndpointSlice[],
  namespace: string,
  services: readonly string[],
): number {
  const ready = new Map(services.map((s) => [s, 0]));
  for (const s of slices) {
    if (s.metadata.namespace !== namespace) continue;
    // Remote endpoints imported by the mesh service are not this cluster's replicas.
    if (s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] === 'meridian.dev') continue;
    const svc = s.metadata.labels?.['kubernetes.io/service-name'] ?? '';
    const have = ready.get(svc);
    if (have === undefined) continue;
    let n = 0;
    for (const e of s.endpoints ?? []) if (e.conditions?.ready !== false) n++;
    ready.set(svc, have + n);
  }
  return Math.min(...ready.values());
}

interface Watched {
  config: MonitorConfig;
  configKey: string;
  states: Map<string, HealthState>;
  timer?: NodeJS.Timeout;
  running: boolean;
}

export type TransitionHandler = (key: string, cluster: string, prev: HealthState, next: HealthState) => void;

export class HealthMonitor {
  private readonly watched = new Map<string, Watched>();
  private stopped = false;

  constructor(
    private readonly members: MemberConnections,
    private readonly log: Logger,
    private readonly onTransition: TransitionHandler,
    private readonly onRound: (key: string) => void,
    private readonly sliceCache: SliceCache = () => undefined,
  ) {}

  /** Starts or re-configures the checks for one GlobalIngress; state of kept clusters survives. */
  set(key: string, config: MonitorConfig): void {
    const configKey = JSON.stringify(config);
    const w = this.watched.get(key);
    if (w && w.configKey === configKey) return;
    const states = new Map<string, HealthState>();
    const now = Date.now();
    for (const c of config.clusters) states.set(c.name, w?.states.get(c.name) ?? initialHealth(now));
    if (w?.timer) clearTimeout(w.timer);
    const next: Watched = { config, configKey, states, running: false };
    this.watched.set(key, next);
    this.schedule(key, next, 0);
  }

  remove(key: string): void {
    const w = this.watched.get(key);
    if (w?.timer) clearTimeout(w.timer);
    this.watched.delete(key);
  }

  states(key: string): ReadonlyMap<string, HealthState> | undefined {
    return this.watched.get(key)?.states;
  }

  stop(): void {
    this.stopped = true;
    for (const key of [...this.watched.keys()]) this.remove(key);
  }

  private schedule(key: string, w: Watched, delayMs: number): void {
    if (this.stopped) return;
    w.timer = setTimeout(() => void this.round(key, w), delayMs);
  }

  private async round(key: string, w: Watched): Promise<void> {
    if (this.watched.get(key) !== w) return;
    const started = Date.now();
    const { config } = w;
    await Promise.all(
      config.clusters.map(async (c) => {
        const [probe, readyEndpoints] = await Promise.all([
          probeIngress({
            address: c.address,
            port: c.port,
            host: config.host,
            path: config.path,
            timeoutMs: config.timeoutMs,
          }),
          this.readyEndpoints(c.name, config),
        ]);
        if (this.watched.get(key) !== w) return;
        const prev = w.states.get(c.name) ?? initialHealth(started);
        const next = nextHealth(prev, { ...probe, readyEndpoints }, config, Date.now());
        w.states.set(c.name, next);
        if (next.healthy !== prev.healthy) this.onTransition(key, c.name, prev, next);
      }),
    );
    if (this.watched.get(key) !== w) return;
    this.onRound(key);
    this.schedule(key, w, Math.max(0, config.intervalMs - (Date.now() - started)));
  }

  /**
   * Ready endpoints of the least-served backing Service (a path whose Service has nothing ready
   * would fail there), or undefined when the member cannot be read.
   */
  private async readyEndpoints(cluster: string, config: MonitorConfig): Promise<number | undefined> {
    if (config.services.length === 0) return undefined;
    const cached = this.sliceCache(cluster);
    if (cached) return readyOfLeastServed(cached, config.namespace, config.services);
    const conn = this.members.get(cluster);
    if (!conn) return undefined;
    try {
      const slices = await conn.client.list<EndpointSlice>('discovery.k8s.io/v1', 'EndpointSlice', {
        namespace: config.namespace,
        labelSelector: `kubernetes.io/service-name in (${config.services.join(',')})`,
        timeoutMs: config.timeoutMs,
      });
      return readyOfLeastServed(slices.items, config.namespace, config.services);
    } catch (e) {
      this.log.debug({ cluster, err: errorMessage(e) }, 'endpoint count failed');
      return undefined;
    }
  }
}
