// Per-cluster overrides: pick the ones that target a cluster and layer them, in order, over the
// rendered source: Helm values, strategic-merge patches, image rewrites.
import type { ApplicationSpec, Override } from '../api/application.ts';
import type { KubeObject } from '../kube/cluster-client.ts';
import { objectRef } from '../kube/objects.ts';
import { applyImageOverrides, effectiveImages } from './images.ts';
import { deepMergeValues, strategicMerge } from './merge.ts';
import type { JsonMap } from './merge.ts';
import { targetsCluster } from '../fleet/placement.ts';
import type { DeployError } from './deploy-types.ts';
import type { TargetCluster } from '../fleet/targets.ts';

/** An override that applies to a cluster, with its index in spec.overrides (for error fields). */
export interface MatchedOverride {
  readonly index: number;
  readonly override: Override;
}

/** The overrides that target `cluster`, in spec order (later ones win). */
export function overridesFor(
  overrides: readonly Override[] | undefined,
  cluster: TargetCluster,
): MatchedOverride[] {
  return (overrides ?? []).flatMap((override, index) =>
    targetsCluster(override, cluster) ? [{ index, override }] : [],
  );
}

/**
 * Helm values for one cluster: `base` (the source's values) with each matched override's values
 * merged over it in order. Nulls are kept so that Helm deletes the chart default too.
 */
export function clusterValues(base: JsonMap | undefined, matched: readonly MatchedOverride[]): JsonMap {
  let values: JsonMap = base ?? {};
  for (const { override } of matched) {
    if (override.values) values = deepMergeValues(values, override.values, { nulls: 'keep' });
  }
  return values;
}

export interface PatchOutcome {
  readonly objects: KubeObject[];
  readonly errors: DeployError[];
}

/**
 * Merges each patch of the matched overrides into the rendered objects with the same apiVersion,
 * kind and metadata.name (and metadata.namespace, when the patch gives one; an object without a
 * namespace counts as being in `defaultNamespace`). A patch that matches nothing is an error: it is
 * almost always a typo, and silently ignoring it would ship the unpatched object.
 */
export function applyPatches(
  objects: readonly KubeObject[],
  matched: readonly MatchedOverride[],
  cluster: string,
  defaultNamespace: string,
): PatchOutcome {
  let out = [...objects];
  const errors: DeployError[] = [];
  for (const { index, override } of matched) {
    (override.patches ?? []).forEach((patch, j) => {
      const field = `spec.overrides[${index}].patches[${j}]`;
      const name = patch.metadata?.name;
      if (typeof name !== 'string' || name === '') {
        errors.push({
          code: 'InvalidPatch',
          cluster,
          field: `${field}.metadata.name`,
          message: 'a patch must name the object it patches (metadata.name)',
        });
        return;
      }
      const namespace = typeof patch.metadata?.namespace === 'string' ? patch.metadata.namespace : undefined;
      let hits = 0;
      out = out.map((obj) => {
        const matches =
          obj.apiVersion === patch.apiVersion &&
          obj.kind === patch.kind &&
          obj.metadata.name === name &&
          (namespace === undefined || (obj.metadata.namespace ?? defaultNamespace) === namespace);
        if (!matches) return obj;
        hits++;
        return strategicMerge(obj, patch as JsonMap) as KubeObject;
      });
      if (hits === 0) {
        errors.push({
          code: 'PatchTargetNotFound',
          cluster,
          object: objectRef(patch),
          field,
          message: `patch matches no rendered object: no ${patch.apiVersion} ${objectRef(patch)} in cluster ${cluster}`,
        });
      }
    });
  }
  return { objects: out, errors };
}

/**
 * Everything an Application layers over its rendered objects for one cluster: override patches,
 * then `spec.images` combined with the matched overrides' `images`. (Values are applied earlier,
 * at Helm render time, with {@link clusterValues}.)
 */
export function applyOverrides(
  objects: readonly KubeObject[],
  spec: Pick<ApplicationSpec, 'images'>,
  matched: readonly MatchedOverride[],
  cluster: string,
  defaultNamespace: string,
): PatchOutcome {
  const patched = applyPatches(objects, matched, cluster, defaultNamespace);
  const images = effectiveImages(
    spec.images,
    matched.map((m) => m.override.images),
  );
  return { objects: applyImageOverrides(patched.objects, images), errors: patched.errors };
}
