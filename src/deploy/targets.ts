// Registered Clusters as the deploy service sees them: name, region, labels, version, readiness.
import type { Cluster } from '../api/cluster.ts';
import { findCondition } from '../kube/conditions.ts';
import type { TargetCluster } from './types.ts';

export function targetFromCluster(c: Cluster): TargetCluster {
  const ready = findCondition(c.status?.conditions as never, 'Ready')?.status === 'True';
  return {
    name: c.metadata.name,
    region: c.spec.region,
    zone: c.spec.zone,
    labels: {
      ...(c.metadata.labels ?? {}),
      'meridian.dev/cluster': c.metadata.name,
      'topology.kubernetes.io/region': c.spec.region,
    },
    kubernetesVersion: c.status?.kubernetesVersion,
    ready,
  };
}
