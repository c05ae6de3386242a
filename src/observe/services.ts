// The observability services the hub serves on every replica: each contributes routes to the
// hub's HTTP API and may hold resources (stores, caches) that start and stop with the hub.
import type { ClusterClient } from '../kube/cluster-client.ts';
import type { Logger } from '../logging/logger.ts';
import type { Route } from '../hub/http-server.ts';
import type { HubMetrics } from '../hub/metrics.ts';
import type { FleetView } from './fleet-view.ts';
import { TopologyService } from './topology/topology-service.ts';

/** Settings from `meridian hub` flags; each service adds its own optional fields here. */
export interface ObserveOptions {
  /** Directory for embedded stores (traces); a temporary one when unset. */
  readonly dataDir?: string;
}

export interface ObserveDeps {
  readonly hub: ClusterClient;
  readonly fleet: FleetView;
  readonly log: Logger;
  readonly metrics: HubMetrics;
  readonly options: ObserveOptions;
}

export interface ObserveService {
  readonly routes: readonly Route[];
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

/** Every observability service, in the order their routes are matched. */
export function createObserveServices(deps: ObserveDeps): ObserveService[] {
  const topology = new TopologyService(deps);
  return [topology];
}
