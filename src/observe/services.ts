// The observability services the hub serves on every replica: each contributes routes to the
// hub's HTTP API and may hold resources (stores, caches) that start and stop with the hub.
import type { ClusterClient } from '../kube/cluster-client.ts';
import type { Logger } from '../logging/logger.ts';
import type { Route } from '../http/route-contract.ts';
import type { Registry } from 'prom-client';
import type { AccessRequest } from '../http/route-contract.ts';
import type { FleetView } from './fleet-view.ts';
import { TopologyService } from './topology/topology-service.ts';
import type { WorkloadOf } from './topology/pod-topology-resolver.ts';
import { createLogsService } from './logs/logs-service.ts';
import { createTraceService } from './traces/trace-service.ts';
import { createMetricsService } from './metrics/metrics-service.ts';

/**
 * The API group the observability API is authorized under. RBAC on virtual resources (like an
 * aggregated API) rather than nonResourceURLs, because Kubernetes' default `system:discovery`
 * role lets every authenticated user `get` any `/api/*` path.
 */
export const OBSERVE_GROUP = 'observe.meridian.dev';

export type ObserveResource = 'topology' | 'logs' | 'metrics' | 'traces';

/** The SubjectAccessReview for reading (`get`) or ingesting (`create`) observability data. */
export function observeAccess(
  resource: ObserveResource,
  verb: 'get' | 'create' = 'get',
  name?: string,
): AccessRequest {
  return { kind: 'resource', verb, group: OBSERVE_GROUP, resource, ...(name ? { name } : {}) };
}

/** Settings from `meridian hub` flags; each service adds its own optional fields here. */
export interface ObserveOptions {
  /** Directory for embedded stores (traces); a temporary one when unset. */
  readonly dataDir?: string;
  /**
   * A PostgreSQL database (`postgres://user:password@host/db`) for traces, shared by every
   * replica; the embedded SQLite store in `dataDir` when unset.
   */
  readonly traceDatabaseUrl?: string;
  /** Traces older than this are deleted (ms; default 72 h). */
  readonly traceRetentionMs?: number;
  /** The trace store is kept under this many bytes, oldest spans deleted first (default 1 GiB). */
  readonly traceMaxBytes?: number;
  /** How often trace retention runs (ms; default 60 s). */
  readonly traceRetentionIntervalMs?: number;
  /** Largest OTLP request body, compressed or not (default 16 MiB). */
  readonly otlpMaxBodyBytes?: number;
  /** Most spans in one OTLP request (default 20,000). */
  readonly otlpMaxSpans?: number;
  /** Spans per second one writer (authenticated user) may send (default 20,000). */
  readonly otlpWriterSpansPerSecond?: number;
  /** How long the metrics API waits for each member's Prometheus (ms; default 10 s). */
  readonly metricsMemberTimeoutMs?: number;
  /** How long one PromQL engine call may run before the engine restarts and 503 (default 30 s). */
  readonly metricsQueryTimeoutMs?: number;
  /** Raw samples one centrally evaluated PromQL query may fetch (default 5 million). */
  readonly metricsMaxCentralSamples?: number;
  /**
   * Whether metrics answers leave out members that could not answer, with a warning (default
   * true), or fail with 503; a request's `partial_response` parameter overrides it.
   */
  readonly metricsPartialResponse?: boolean;
}

export interface ObserveDeps {
  readonly hub: ClusterClient;
  readonly fleet: FleetView;
  readonly log: Logger;
  /** Where the services register their own metrics (the hub serves it on /metrics). */
  readonly registry: Registry;
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
  const traces = createTraceService(deps, topology.resolver);
  topology.useGraph(
    async (startMs, endMs) => (await traces.graph({ startUs: startMs * 1000, endUs: endMs * 1000 })).edges,
  );
  const workloadOf: WorkloadOf = (cluster, namespace, pod) =>
    topology.resolver.resolve(cluster, namespace, pod);
  return [topology, traces, createMetricsService(deps, workloadOf), createLogsService(deps, workloadOf)];
}
