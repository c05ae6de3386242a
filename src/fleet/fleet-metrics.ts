// The cluster registry's metrics: member readiness and probe latency.
import { Gauge, Histogram, type Registry } from 'prom-client';

export interface FleetMetrics {
  readonly clusterReady: Gauge<'cluster' | 'region'>;
  readonly clusterProbeSeconds: Histogram<'cluster'>;
}

export function createFleetMetrics(registry: Registry): FleetMetrics {
  return {
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
  };
}
