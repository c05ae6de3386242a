// Prometheus metrics about the hub process itself (prom-client), served on /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface HubMetrics {
  readonly registry: Registry;
  readonly isLeader: Gauge;
  readonly clusterReady: Gauge<'cluster' | 'region'>;
  readonly clusterProbeSeconds: Histogram<'cluster'>;
  readonly reconciles: Counter<'controller' | 'result'>;
  readonly httpRequests: Counter<'route' | 'code'>;
  readonly gslbFailovers: Counter<'cluster' | 'direction'>;
  readonly gslbClusterHealthy: Gauge<'namespace' | 'globalingress' | 'cluster'>;
  readonly meshFailovers: Counter<'cluster' | 'direction'>;
  readonly applicationClusterHealthy: Gauge<'namespace' | 'application' | 'cluster' | 'region' | 'revision'>;
  readonly rollouts: Counter<'namespace' | 'application' | 'outcome'>;
  readonly rollbacks: Counter<'namespace' | 'application'>;
}

export function createHubMetrics(): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'meridian_hub_' });
  return {
    registry,
    isLeader: new Gauge({
      name: 'meridian_hub_leader',
      help: '1 when this hub process holds the leader lease',
      registers: [registry],
    }),
    clusterReady: new Gauge({
      name: 'meridian_cluster_ready',
      help: '1 when the member cluster answers its health probe',
      labelNames: ['cluster', 'region'],
      registers: [registry],
    }),
    clusterProbeSeconds: new Histogram({
      name: 'meridian_cluster_probe_duration_seconds',
      help: 'Latency of the member API server health probe',
      labelNames: ['cluster'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    reconciles: new Counter({
      name: 'meridian_reconcile_total',
      help: 'Reconciles by controller and result',
      labelNames: ['controller', 'result'],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'meridian_http_requests_total',
      help: 'HTTP API requests by route and status code',
      labelNames: ['route', 'code'],
      registers: [registry],
    }),
    gslbFailovers: new Counter({
      name: 'meridian_gslb_health_transitions_total',
      help: 'Clusters leaving (failed) or re-entering (recovered) the rotation of a GlobalIngress',
      labelNames: ['cluster', 'direction'],
      registers: [registry],
    }),
    gslbClusterHealthy: new Gauge({
      name: 'meridian_gslb_cluster_healthy',
      help: '1 when the cluster is in rotation for the GlobalIngress',
      labelNames: ['namespace', 'globalingress', 'cluster'],
      registers: [registry],
    }),
    meshFailovers: new Counter({
      name: 'meridian_mesh_failovers_total',
      help: 'East–west failovers (and recoveries) of an importing cluster to another endpoint group',
      labelNames: ['cluster', 'direction'],
      registers: [registry],
    }),
    applicationClusterHealthy: new Gauge({
      name: 'meridian_application_cluster_healthy',
      help: '1 when the Application runs its current revision Healthy in the cluster, 0 otherwise',
      labelNames: ['namespace', 'application', 'cluster', 'region', 'revision'],
      registers: [registry],
    }),
    rollouts: new Counter({
      name: 'meridian_rollouts_total',
      help: 'Finished rollouts of an Application revision by outcome (Succeeded, RolledBack, Failed)',
      labelNames: ['namespace', 'application', 'outcome'],
      registers: [registry],
    }),
    rollbacks: new Counter({
      name: 'meridian_rollbacks_total',
      help: 'Fleet-wide rollbacks of an Application (automatic or manual)',
      labelNames: ['namespace', 'application'],
      registers: [registry],
    }),
  };
}
