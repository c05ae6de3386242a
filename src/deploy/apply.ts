// Applying a rendered revision to one member: validation by server-side dry-run (nothing changes),
// then server-side apply under Meridian's field manager in order (CRDs and Namespaces first), then
// pruning of what left the revision. Conflicts with other field managers are reported, and only
// forced when asked (self-heal asks).
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { KubeApiError } from '../kube/rest.ts';
import { MeridianError, errorMessage } from '../kube/errors.ts';
import type { DeployError } from './types.ts';

export const objectRef = (o: KubeObject): string =>
  `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

export const objectKey = (o: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string =>
  `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;

/** Turns an API error into a DeployError naming cluster, object and (when the server says) field. */
export function apiErrorToDeployError(cluster: string, obj: KubeObject, e: unknown): DeployError {
  if (e instanceof KubeApiError) {
    if (e.status === 409 && /conflict/i.test(e.message)) {
      return {
        code: 'Conflict',
        cluster,
        object: objectRef(obj),
        message: `conflicts with another field manager: ${e.message}`,
      };
    }
    return { code: e.reason || 'ApiError', cluster, object: objectRef(obj), message: e.message };
  }
  if (e instanceof MeridianError)
    return { code: e.code, cluster, object: objectRef(obj), message: e.message };
  return { code: 'ApiError', cluster, object: objectRef(obj), message: errorMessage(e) };
}

/** Kinds the revision itself defines through CRDs: the server cannot validate them before the CRD exists. */
function kindsDefinedHere(objects: readonly KubeObject[]): Set<string> {
  const out = new Set<string>();
  for (const o of objects) {
    if (o.kind !== 'CustomResourceDefinition') continue;
    const spec = o['spec'] as
      { group?: string; names?: { kind?: string }; versions?: { name: string }[] } | undefined;
    for (const v of spec?.versions ?? []) out.add(`${spec?.group}/${v.name}|${spec?.names?.kind}`);
  }
  return out;
}

/**
 * Validates every object with a server-side dry-run apply in this cluster. Objects in a namespace
 * the revision itself creates, and custom resources of CRDs the revision itself installs, cannot
 * be checked before those exist; they are skipped rather than failed.
 */
export async function dryRun(
  client: ClusterClient,
  objects: readonly KubeObject[],
  ensureNamespace?: string,
  force = false,
): Promise<DeployError[]> {
  const errors: DeployError[] = [];
  const definedHere = kindsDefinedHere(objects);
  const newNamespaces = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
  if (ensureNamespace) newNamespaces.add(ensureNamespace);
  for (const o of objects) {
    if (definedHere.has(`${o.apiVersion}|${o.kind}`)) continue;
    try {
      await client.apply(o, { dryRun: true, force });
    } catch (e) {
      if (
        e instanceof KubeApiError &&
        e.status === 404 &&
        o.metadata.namespace &&
        newNamespaces.has(o.metadata.namespace)
      ) {
        continue;
      }
      const err = apiErrorToDeployError(client.name, o, e);
      const causes = e instanceof KubeApiError ? e.details?.causes : undefined;
      errors.push(causes?.[0]?.field ? { ...err, field: causes[0].field } : err);
    }
  }
  return errors;
}

/** Creates the destination namespace when it is missing (never pruned: it may hold other things). */
export async function ensureNamespace(client: ClusterClient, name: string): Promise<void> {
  if (await client.get('v1', 'Namespace', name)) return;
  await client.apply({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'meridian' } },
  });
}

/** Applies every object in order; stops at the first error (later objects may depend on it). */
export async function applyAll(
  client: ClusterClient,
  objects: readonly KubeObject[],
  opts: { force: boolean },
): Promise<DeployError | undefined> {
  for (const o of objects) {
    try {
      await client.apply(o, { force: opts.force });
      if (o.kind === 'CustomResourceDefinition') client.forgetDiscovery();
    } catch (e) {
      return apiErrorToDeployError(client.name, o, e);
    }
  }
  return undefined;
}

/** Deletes objects of `previous` that are not in `next` (reverse apply order). Returns errors. */
export async function prune(
  client: ClusterClient,
  previous: readonly KubeObject[],
  next: readonly KubeObject[],
): Promise<DeployError[]> {
  const keep = new Set(next.map(objectKey));
  const errors: DeployError[] = [];
  for (const o of [...previous].reverse()) {
    if (keep.has(objectKey(o))) continue;
    try {
      await client.delete(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace);
    } catch (e) {
      errors.push(apiErrorToDeployError(client.name, o, e));
    }
  }
  return errors;
}
