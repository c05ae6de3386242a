// Prometheus metrics of the hub process (prom-client), served on /metrics: its own (leadership,
// HTTP requests, the process) and those each service defines for itself, on one registry.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { createReconcileMetrics, type ReconcileMetrics } from '../kube/reconcile-metrics.ts';
import { createFleetMetrics, type FleetMetrics } from '../fleet/fleet-metrics.ts';
import { createDeployMetrics, type DeployMetrics } from '../deploy/deploy-metrics.ts';
import { createTrafficMetrics, type TrafficMetrics } from '../traffic/controller/traffic-metrics.ts';
import { createMeshMetrics, type MeshMetrics } from '../mesh/mesh-metrics.ts';

export interface HubMetrics
  extends ReconcileMetrics, FleetMetrics, DeployMetrics, TrafficMetrics, MeshMetrics {
  readonly registry: Registry;
  readonly isLeader: Gauge;
  readonly httpRequests: Counter<'route' | 'code'>;
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
    httpRequests: new Counter({
      name: 'meridian_http_requests_total',
      help: 'HTTP API requests by route and status code',
      labelNames: ['route', 'code'],
      registers: [registry],
    }),
    ...createReconcileMetrics(registry),
    ...createFleetMetrics(registry),
    ...createDeployMetrics(registry),
    ...createTrafficMetrics(registry),
    ...createMeshMetrics(registry),
  };
}
