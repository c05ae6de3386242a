// The GlobalIngress controller's metrics: which clusters are in rotation, and their transitions.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface TrafficMetrics {
  readonly gslbFailovers: Counter<'cluster' | 'direction'>;
  readonly gslbClusterHealthy: Gauge<'namespace' | 'globalingress' | 'cluster'>;
}

export function createTrafficMetrics(registry: Registry): TrafficMetrics {
  return {
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
  };
}
