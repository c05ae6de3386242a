// The deploy service's metrics: per-cluster health of each Application, rollouts and rollbacks.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface DeployMetrics {
  readonly applicationClusterHealthy: Gauge<'namespace' | 'application' | 'cluster' | 'region' | 'revision'>;
  readonly rollouts: Counter<'namespace' | 'application' | 'outcome'>;
  readonly rollbacks: Counter<'namespace' | 'application'>;
}

export function createDeployMetrics(registry: Registry): DeployMetrics {
  return {
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
