// Registered Clusters as placement, rendering and planning see them: name, region, labels,
// version, readiness.
import type { Cluster } from '../api/cluster.ts';
import { findCondition } from '../kube/conditions.ts';

/** A member cluster as rendering and planning see it (from its Cluster object and probe). */
export interface TargetCluster {
  readonly name: string;
  readonly region: string;
  readonly zone?: string;
  /** metadata.labels of the Cluster object, for clusterSelector matching. */
  readonly labels: Readonly<Record<string, string>>;
  /** status.kubernetesVersion, e.g. v1.35.4 (Helm's --kube-version). */
  readonly kubernetesVersion?: string;
  /** Served group/versions and group/version/Kind (Helm's --api-versions). */
  readonly apiVersions?: readonly string[];
  /** Whether the cluster is Ready now. */
  readonly ready: boolean;
}

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
