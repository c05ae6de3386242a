// Applying a rendered revision to one member: validation by server-side dry-run (nothing changes),
// then server-side apply under Meridian's field manager in order (CRDs and Namespaces first), then
// pruning of what left the revision. Conflicts with other field managers are reported, and only
// forced when asked (self-heal asks).
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { KubeApiError } from '../kube/rest.ts';
import { MeridianError, errorMessage } from '../kube/errors.ts';
import {
  deleteFinishedHook,
  hookOf,
  isImmutableRefusal,
  recreateHook,
  releaseObjects,
  replaceAllowed,
  SYNC_OPTIONS_ANNOTATION,
} from './hooks.ts';
import { REVISION_ANNOTATION } from '../api/labels.ts';
import { foreignOwner } from './ownership.ts';
import type { DeployError } from './deploy-types.ts';
import { objectKey, objectRef } from '../kube/objects.ts';

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

/** Where objects of a namespace that does not exist yet are dry-run: every cluster has it. */
export const STAND_IN_NAMESPACE = 'default';

/**
 * Validates every object with a server-side dry-run apply in this cluster. An object in a
 * namespace that does not exist yet (the destination, or one the revision creates) is dry-run in
 * the `default` namespace instead, forced since nobody can own its fields yet: schema, defaulting
 * and admission still judge it, so a bad object anywhere means nothing is applied. Only custom
 * resources of CRDs the revision itself installs cannot be checked before those exist.
 */
export async function dryRun(
  client: ClusterClient,
  objects: readonly KubeObject[],
  ensureNamespace?: string,
  force = false,
  replace = false,
): Promise<DeployError[]> {
  const errors: DeployError[] = [];
  const definedHere = kindsDefinedHere(objects);
  const newNamespaces = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
  if (ensureNamespace) newNamespaces.add(ensureNamespace);
  for (const o of objects) {
    if (definedHere.has(`${o.apiVersion}|${o.kind}`)) continue;
    try {
      try {
        await client.apply(o, { dryRun: true, force });
      } catch (e) {
        const ns = o.metadata.namespace;
        if (!(e instanceof KubeApiError && e.status === 404 && ns && newNamespaces.has(ns))) throw e;
        const standIn = { ...o, metadata: { ...o.metadata, namespace: STAND_IN_NAMESPACE } };
        await client.apply(standIn, { dryRun: true, force: true });
      }
    } catch (e) {
      if (isImmutable(e)) {
        // Applied by delete-and-create when allowed (a hook of a new revision always is, by its
        // before-hook-creation policy); else the user learns the way out now.
        const recreated = hookOf(o)?.deletePolicies.includes('before-hook-creation') === true;
        if (!recreated && !replaceAllowed(o, replace)) errors.push(immutableError(client.name, o, e));
        continue;
      }
      const err = apiErrorToDeployError(client.name, o, e);
      const causes = e instanceof KubeApiError ? e.details?.causes : undefined;
      errors.push(causes?.[0]?.field ? { ...err, field: causes[0].field } : err);
    }
  }
  return errors;
}

/**
 * Objects of the revision that already exist in this cluster and belong to someone else (another
 * Application, or another tool by field manager): each a Conflict naming the owner. Nothing is
 * taken over unless the Application says `sync.adopt: true`.
 */
export async function ownershipConflicts(
  client: ClusterClient,
  objects: readonly KubeObject[],
  appLabel: string,
): Promise<DeployError[]> {
  const errors: DeployError[] = [];
  for (const o of objects) {
    const live = await client
      .get(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace)
      .catch(() => undefined);
    const owner = live ? foreignOwner(live, appLabel) : undefined;
    if (!owner) continue;
    errors.push({
      code: 'Conflict',
      cluster: client.name,
      object: objectRef(o),
      message: `already exists and is managed by ${owner}; set spec.sync.adopt: true to take it over`,
    });
  }
  return errors;
}

const isImmutable = (e: unknown): e is KubeApiError =>
  e instanceof KubeApiError && e.status === 422 && isImmutableRefusal(e.message);

function immutableError(cluster: string, o: KubeObject, e: KubeApiError): DeployError {
  return {
    code: 'Immutable',
    cluster,
    object: objectRef(o),
    message: `${e.message}; set spec.sync.replace: true, or annotate the object ${SYNC_OPTIONS_ANNOTATION}: Replace=true, to delete and re-create it`,
  };
}

/** Deletes `o` (with its dependents) and waits, briefly, until it is gone. */
async function deleteAndWait(client: ClusterClient, o: KubeObject, timeoutMs = 15_000): Promise<void> {
  const { apiVersion, kind, metadata } = o;
  await client.delete(apiVersion, kind, metadata.name, metadata.namespace, {
    propagationPolicy: 'Background',
  });
  const deadline = Date.now() + timeoutMs;
  while (await client.get(apiVersion, kind, metadata.name, metadata.namespace)) {
    if (Date.now() > deadline)
      throw new MeridianError('DeleteTimeout', `${objectRef(o)} is still being deleted`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Applies one object; an immutable-field refusal is resolved by delete-and-create when allowed. */
async function applyOne(
  client: ClusterClient,
  o: KubeObject,
  opts: { force: boolean; replace?: boolean },
): Promise<DeployError | undefined> {
  try {
    try {
      await client.apply(o, { force: opts.force });
    } catch (e) {
      if (!isImmutable(e)) throw e;
      if (!replaceAllowed(o, opts.replace)) return immutableError(client.name, o, e);
      await deleteAndWait(client, o);
      await client.apply(o, { force: opts.force });
    }
    if (o.kind === 'CustomResourceDefinition') client.forgetDiscovery();
  } catch (e) {
    return apiErrorToDeployError(client.name, o, e);
  }
  return undefined;
}

/**
 * Applies the release's objects (never its hooks: see applyHook) in order, CRDs and Namespaces
 * first; stops at the first error (later objects may depend on it). A change the server refuses as
 * immutable (a Job's template, a Service's clusterIP, a StatefulSet's selector…) is done by
 * delete-and-create when `replace` (sync.replace) or the object's `meridian.dev/sync-options:
 * Replace=true` allows it, else reported as Immutable.
 */
export async function applyAll(
  client: ClusterClient,
  objects: readonly KubeObject[],
  opts: { force: boolean; replace?: boolean },
): Promise<DeployError | undefined> {
  for (const o of releaseObjects(objects)) {
    const err = await applyOne(client, o, opts);
    if (err) return err;
  }
  return undefined;
}

/**
 * Creates one hook. A copy from an earlier revision is deleted first (before-hook-creation), so a
 * Job runs again rather than being patched.
 */
export async function applyHook(
  client: ClusterClient,
  hook: KubeObject,
  opts: { force: boolean; replace?: boolean },
): Promise<DeployError | undefined> {
  try {
    const { apiVersion, kind, metadata } = hook;
    const live = await client.get(apiVersion, kind, metadata.name, metadata.namespace);
    if (recreateHook(hook, live ?? null, REVISION_ANNOTATION)) await deleteAndWait(client, hook);
  } catch (e) {
    return apiErrorToDeployError(client.name, hook, e);
  }
  return applyOne(client, hook, opts);
}

/** Deletes the finished hooks whose hook-succeeded / hook-failed policy says so. */
export async function deleteFinishedHooks(
  client: ClusterClient,
  pairs: readonly { desired: KubeObject; live: KubeObject }[],
): Promise<string[]> {
  const deleted: string[] = [];
  for (const { desired, live } of pairs) {
    if (!deleteFinishedHook(desired, live)) continue;
    await client
      .delete(desired.apiVersion, desired.kind, live.metadata.name, live.metadata.namespace, {
        propagationPolicy: 'Background',
      })
      .then(() => deleted.push(objectRef(desired)))
      .catch(() => undefined);
  }
  return deleted;
}

/**
 * Deletes objects of `previous` that are not in `next` (reverse apply order). Returns errors. With
 * `owned`, only objects still labelled as this Application's and that `stillRendered` (other
 * Applications' current revisions) does not hold are deleted: an object another one manages or
 * renders is left alone.
 */
export async function prune(
  client: ClusterClient,
  previous: readonly KubeObject[],
  next: readonly KubeObject[],
  owned?: { readonly appLabel: string; readonly stillRendered?: ReadonlySet<string> },
): Promise<DeployError[]> {
  const keep = new Set(next.map(objectKey));
  const errors: DeployError[] = [];
  for (const o of [...previous].reverse()) {
    if (keep.has(objectKey(o))) continue;
    if (owned?.stillRendered?.has(objectKey(o))) continue;
    try {
      if (owned) {
        const live = await client.get(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace);
        if (!live || foreignOwner(live, owned.appLabel) !== undefined) continue;
      }
      await client.delete(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace);
    } catch (e) {
      errors.push(apiErrorToDeployError(client.name, o, e));
    }
  }
  return errors;
}
