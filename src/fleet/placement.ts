// Which clusters an Application (or one of its overrides or waves) targets: the named clusters
// plus the clusters its selector matches, in a stable order.
import type { LabelSelector, Placement } from '../api/common.ts';
import { matchesSelector } from './cluster-selector.ts';
import type { TargetCluster } from './targets.ts';

/** A placement naming what does not exist: the field and why (a DeployError to the deploy service). */
export interface PlacementError {
  readonly code: 'ClusterNotFound';
  readonly field: string;
  readonly message: string;
}

/** Anything that picks clusters by name and/or selector: placement, overrides, waves. */
export interface ClusterTarget {
  readonly clusters?: readonly string[];
  readonly clusterSelector?: LabelSelector;
}

export type PlacementResult =
  | { readonly ok: true; readonly targets: TargetCluster[] }
  | { readonly ok: false; readonly errors: PlacementError[] };

/** Whether `target` picks `cluster`, by name or by selector. */
export function targetsCluster(target: ClusterTarget, cluster: TargetCluster): boolean {
  if (target.clusters?.includes(cluster.name)) return true;
  return target.clusterSelector !== undefined && matchesSelector(cluster.labels, target.clusterSelector);
}

/**
 * The clusters `target` picks from `all`: named clusters in the order written, then selector
 * matches by name; each at most once. Names that are not in `all` are skipped (see
 * {@link resolvePlacement} for the strict variant).
 */
export function clustersFor(target: ClusterTarget, all: readonly TargetCluster[]): TargetCluster[] {
  const byName = new Map(all.map((c) => [c.name, c]));
  const picked = new Map<string, TargetCluster>();
  for (const name of target.clusters ?? []) {
    const cluster = byName.get(name);
    if (cluster && !picked.has(name)) picked.set(name, cluster);
  }
  if (target.clusterSelector) {
    const selector = target.clusterSelector;
    const matches = all
      .filter((c) => !picked.has(c.name) && matchesSelector(c.labels, selector))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const c of matches) picked.set(c.name, c);
  }
  return [...picked.values()];
}

/**
 * The clusters an Application is placed on. Naming a cluster that is not registered is an error
 * (a typo must not silently shrink the placement); a selector matching nothing is not.
 */
export function resolvePlacement(placement: Placement, clusters: readonly TargetCluster[]): PlacementResult {
  const known = new Set(clusters.map((c) => c.name));
  const errors: PlacementError[] = [];
  (placement.clusters ?? []).forEach((name, i) => {
    if (!known.has(name)) {
      errors.push({
        code: 'ClusterNotFound',
        field: `spec.placement.clusters[${i}]`,
        message: `cluster ${JSON.stringify(name)} does not exist`,
      });
    }
  });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, targets: clustersFor(placement, clusters) };
}
