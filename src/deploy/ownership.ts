// Marks rendered objects as Meridian's, places them in the destination namespace, orders them for
// apply and fingerprints them.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../kube/cluster-client.ts';
import { isJsonMap } from './merge.ts';
import { objectRef } from '../kube/objects.ts';
import type { DeployError } from './deploy-types.ts';

import { APPLICATION_LABEL, MANAGED_BY, MANAGED_BY_LABEL, REVISION_ANNOTATION } from '../api/labels.ts';

const LABEL_VALUE_MAX = 63;

/**
 * `<namespace>.<name>` of the Application. A label value holds at most 63 characters; longer
 * ones keep a readable prefix and end in a hash of the whole, so they stay unique.
 */
export function applicationLabelValue(namespace: string, name: string): string {
  const full = `${namespace}.${name}`;
  if (full.length <= LABEL_VALUE_MAX) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 10);
  return `${full.slice(0, LABEL_VALUE_MAX - hash.length - 1)}-${hash}`;
}

export interface OwnershipContext {
  readonly application: { readonly namespace: string; readonly name: string };
  readonly destinationNamespace: string;
  readonly cluster: string;
  /** Whether the cluster serves this kind as namespaced; undefined when it does not know the kind. */
  readonly isNamespaced: (apiVersion: string, kind: string) => boolean | undefined;
}

export interface OwnershipOutcome {
  /** Stamped objects in apply order. */
  readonly objects: KubeObject[];
  readonly errors: DeployError[];
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash >= 0 ? apiVersion.slice(0, slash) : '';
}

// Scopes declared by CRDs in the same render, so a CRD and its first custom resources can ship
// together before the cluster knows the kind.
function renderedCrdScopes(objects: readonly KubeObject[]): Map<string, boolean> {
  const scopes = new Map<string, boolean>();
  for (const obj of objects) {
    if (obj.kind !== 'CustomResourceDefinition' || groupOf(obj.apiVersion) !== 'apiextensions.k8s.io')
      continue;
    const spec = obj['spec'];
    if (!isJsonMap(spec) || !isJsonMap(spec['names'])) continue;
    const { group } = spec;
    const { kind } = spec['names'];
    if (typeof group === 'string' && typeof kind === 'string') {
      scopes.set(`${group}/${kind}`, spec['scope'] !== 'Cluster');
    }
  }
  return scopes;
}

/**
 * Labels every object as managed by Meridian for this Application, gives namespaced objects
 * without a namespace the destination namespace, drops the namespace of cluster-scoped objects
 * (the API server ignores it; keeping it would only make digests and drift noisy), and returns the
 * objects in apply order. A kind the cluster does not serve (and no rendered CRD defines) is an
 * UnknownKind error; two objects with the same identity are a DuplicateObject error.
 */
export function stampOwnership(objects: readonly KubeObject[], ctx: OwnershipContext): OwnershipOutcome {
  const crdScopes = renderedCrdScopes(objects);
  const appLabel = applicationLabelValue(ctx.application.namespace, ctx.application.name);
  const errors: DeployError[] = [];
  const stamped: KubeObject[] = [];
  const seen = new Set<string>();
  for (const obj of objects) {
    const namespaced =
      ctx.isNamespaced(obj.apiVersion, obj.kind) ?? crdScopes.get(`${groupOf(obj.apiVersion)}/${obj.kind}`);
    if (namespaced === undefined) {
      errors.push({
        code: 'UnknownKind',
        cluster: ctx.cluster,
        object: objectRef(obj),
        message: `unknown kind ${obj.kind} (apiVersion ${obj.apiVersion}) in cluster ${ctx.cluster}`,
      });
      continue;
    }
    const metadata = { ...obj.metadata };
    if (namespaced) metadata.namespace = metadata.namespace || ctx.destinationNamespace;
    else delete metadata.namespace;
    metadata.labels = { ...metadata.labels, [MANAGED_BY_LABEL]: MANAGED_BY, [APPLICATION_LABEL]: appLabel };
    const out: KubeObject = { ...obj, metadata };
    const identity = `${groupOf(out.apiVersion)}/${out.kind}/${metadata.namespace ?? ''}/${metadata.name}`;
    if (seen.has(identity)) {
      errors.push({
        code: 'DuplicateObject',
        cluster: ctx.cluster,
        object: objectRef(out),
        message: `${objectRef(out)} (apiVersion ${out.apiVersion}) is rendered more than once for cluster ${ctx.cluster}`,
      });
      continue;
    }
    seen.add(identity);
    stamped.push(out);
  }
  return { objects: sortForApply(stamped), errors };
}

/** Adds the revision annotation. Kept apart from the rest so digests do not depend on it. */
export function stampRevision(objects: readonly KubeObject[], revision: number): KubeObject[] {
  return objects.map((obj) => ({
    ...obj,
    metadata: {
      ...obj.metadata,
      annotations: { ...obj.metadata.annotations, [REVISION_ANNOTATION]: String(revision) },
    },
  }));
}

function applyRank(obj: KubeObject): number {
  if (obj.kind === 'CustomResourceDefinition' && groupOf(obj.apiVersion) === 'apiextensions.k8s.io') return 0;
  if (obj.kind === 'Namespace' && obj.apiVersion === 'v1') return 1;
  // After stampOwnership, exactly the cluster-scoped objects have no namespace.
  return obj.metadata.namespace ? 3 : 2;
}

/**
 * Namespaced kinds that pods consume, applied before the workloads that mount or call them (as
 * Helm's install order does): a Deployment applied before its Secret gets pods waiting in
 * CreateContainerConfigError until the Secret lands. Unlisted kinds come after these.
 */
const CONSUMED_FIRST = [
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'PersistentVolumeClaim',
  'Role',
  'RoleBinding',
  'Service',
];

function kindRank(obj: KubeObject): number {
  const i = CONSUMED_FIRST.indexOf(obj.kind);
  return i === -1 ? CONSUMED_FIRST.length : i;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** By kind, namespace, name and apiVersion: a total, deterministic order of distinct objects. */
function compareIdentity(a: KubeObject, b: KubeObject): number {
  return (
    compare(a.kind, b.kind) ||
    compare(a.metadata.namespace ?? '', b.metadata.namespace ?? '') ||
    compare(a.metadata.name, b.metadata.name) ||
    compare(a.apiVersion, b.apiVersion)
  );
}

/**
 * Apply order: CustomResourceDefinitions, Namespaces, other cluster-scoped objects, then namespaced
 * ones, those pods consume (ServiceAccounts, Secrets, ConfigMaps, claims, RBAC, Services) first;
 * within each, by kind, namespace, name (and apiVersion), so the order is deterministic.
 */
export function sortForApply(objects: readonly KubeObject[]): KubeObject[] {
  return [...objects].sort(
    (a, b) => applyRank(a) - applyRank(b) || kindRank(a) - kindRank(b) || compareIdentity(a, b),
  );
}

/** JSON with object keys sorted at every level and undefined members dropped. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (!isJsonMap(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) sorted[key] = v[key];
    return sorted;
  });
}

/** sha256 (hex) of the canonical JSON of `objects` in apply order. */
export function digestObjects(objects: readonly KubeObject[]): string {
  return (
    createHash('sha256')
      // Its own order, not the apply order: tuning the apply order must not change the digest of
      // an unchanged revision (that would read as a change to every Application).
      .update(
        canonicalJson([...objects].sort((a, b) => applyRank(a) - applyRank(b) || compareIdentity(a, b))),
      )
      .digest('hex')
  );
}

/**
 * Who else manages `live`, when it is not this Application's: another Application (by its label),
 * or the other tools that wrote it (by field manager). Undefined when it is ours to manage.
 */
export function foreignOwner(live: KubeObject, appLabel: string): string | undefined {
  const label = live.metadata.labels?.[APPLICATION_LABEL];
  if (label === appLabel) return undefined;
  if (label) return `Application ${label.replace('.', '/')}`;
  const managers = [
    ...new Set(
      ((live.metadata['managedFields'] as { manager?: string }[] | undefined) ?? [])
        .map((f) => f.manager ?? '')
        .filter((m) => m !== '' && m !== 'meridian'),
    ),
  ];
  // Fields only Meridian (or nobody) wrote: an object Meridian made before labels, or a server default.
  if (managers.length === 0) return undefined;
  return `field manager${managers.length > 1 ? 's' : ''} ${managers.join(', ')}`;
}
