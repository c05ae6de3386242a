// The cross-cluster service mesh's metrics: east–west failovers of importing clusters.
import { Counter, type Registry } from 'prom-client';

export interface MeshMetrics {
  readonly meshFailovers: Counter<'cluster' | 'direction'>;
}

export function createMeshMetrics(registry: Registry): MeshMetrics {
  return {
    meshFailovers: new Counter({
      name: 'meridian_mesh_failovers_total',
      help: 'East–west failovers (and recoveries) of an importing cluster to another endpoint group',
      labelNames: ['cluster', 'direction'],
      registers: [registry],
    }),
  };
}
