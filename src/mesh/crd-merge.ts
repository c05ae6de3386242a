// Decides how Meridian installs the MCS CRDs in a member without fighting whoever else installs
// them (another MCS implementation, the upstream manifests, a newer Meridian): start from the live
// CRD, never drop a version it has (so no stored version is ever lost and no served version another
// installer added disappears), add what Meridian needs, and leave a foreign CRD that already serves
// Meridian's version exactly as it is. Pure: the live CRD in, what to write and what to report out.
import { FIELD_MANAGER, type KubeObject } from '../kube/cluster-client.ts';

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  [k: string]: unknown;
}

export interface CrdObject extends KubeObject {
  spec: {
    group: string;
    names: { kind: string; shortNames?: string[]; [k: string]: unknown };
    versions: CrdVersion[];
    [k: string]: unknown;
  };
  status?: { storedVersions?: string[]; [k: string]: unknown };
}

export interface CrdPlan {
  /** The CRD to create (no live one) or update to; undefined when the live one is used as it is. */
  readonly write: CrdObject | undefined;
  /** Another installer owns the live CRD (a field manager that is not Meridian's, or upstream's labels). */
  readonly foreign: boolean;
  /** For the Cluster's status: which CRD is used and what Meridian changed. */
  readonly message: string;
}

const versionNames = (c: CrdObject): string[] => c.spec.versions.map((v) => v.name);
const storageOf = (c: CrdObject): string | undefined => c.spec.versions.find((v) => v.storage)?.name;

/** Some other installer wrote the CRD's spec (status is the API server's own). */
export function isForeignCrd(live: CrdObject): boolean {
  if (Object.keys(live.metadata.labels ?? {}).some((k) => k.startsWith('multicluster.x-k8s.io/')))
    return true;
  const entries = (live.metadata['managedFields'] ?? []) as { manager?: string; subresource?: string }[];
  return entries.some((e) => e.subresource !== 'status' && e.manager !== FIELD_MANAGER);
}

/**
 * Plans the install of `ours` over `live`. Meridian's own CRD is brought to `ours` (other versions
 * it has are kept); a foreign CRD is left alone when it serves `need`, else `need` is added to it
 * (and made the storage version when the stored one is older than what Meridian knows).
 */
export function planCrd(live: CrdObject | undefined, ours: CrdObject, need: string): CrdPlan {
  const name = ours.metadata.name;
  if (!live) return { write: ours, foreign: false, message: `${name}: installed` };
  const foreign = isForeignCrd(live);
  const liveNames = versionNames(live);
  const serves = (v: string) => live.spec.versions.some((x) => x.name === v && x.served);
  if (foreign && serves(need)) {
    return {
      write: undefined,
      foreign,
      message: `${name}: using the CRD another installer put there as it is (versions ${liveNames.join(', ')}; storage ${storageOf(live) ?? '?'})`,
    };
  }
  const ourNames = versionNames(ours);
  const liveStorage = storageOf(live);
  // Meridian moves storage to its own version unless another installer stores a version Meridian
  // does not know (a newer one), which stays stored.
  const storage =
    !foreign || liveStorage === undefined || ourNames.includes(liveStorage) ? storageOf(ours) : liveStorage;
  const merged: CrdVersion[] = live.spec.versions.map((v) => {
    const mine = ours.spec.versions.find((o) => o.name === v.name);
    // A foreign version of the same name keeps its schema; ours are brought up to date.
    const base = mine && !(foreign && v.served) ? { ...mine } : { ...v };
    return { ...base, served: mine ? true : v.served, storage: v.name === storage };
  });
  for (const mine of ours.spec.versions)
    if (!liveNames.includes(mine.name)) merged.push({ ...mine, storage: mine.name === storage });
  const order = (v: CrdVersion) => {
    const i = ourNames.indexOf(v.name);
    return i < 0 ? ourNames.length : i;
  };
  merged.sort((a, b) => order(a) - order(b));
  const shortNames = [
    ...new Set([...(live.spec.names.shortNames ?? []), ...(ours.spec.names.shortNames ?? [])]),
  ];
  const write: CrdObject = {
    apiVersion: live.apiVersion,
    kind: live.kind,
    metadata: {
      name,
      resourceVersion: live.metadata.resourceVersion,
      labels: { ...(live.metadata.labels ?? {}), ...(foreign ? {} : (ours.metadata.labels ?? {})) },
      ...(live.metadata.annotations ? { annotations: live.metadata.annotations } : {}),
    },
    spec: {
      ...live.spec,
      ...(foreign ? {} : ours.spec),
      names: { ...live.spec.names, ...(foreign ? {} : ours.spec.names), shortNames },
      versions: merged,
    },
  };
  const added = ourNames.filter((v) => !liveNames.includes(v));
  const same =
    contains(live.spec, write.spec) && contains(live.metadata.labels ?? {}, write.metadata.labels ?? {});
  const kept = liveNames.filter((v) => !ourNames.includes(v));
  return {
    write: same ? undefined : write,
    foreign,
    message:
      `${name}: ${foreign ? 'merged into the CRD another installer put there' : 'installed'}` +
      (added.length ? `; added ${added.join(', ')}` : '') +
      (kept.length ? `; kept ${kept.join(', ')}` : '') +
      `; storage ${storage ?? '?'}`,
  };
}

// A write would change nothing: every label and spec field it sets already has that value live
// (fields the API server defaulted, which the write leaves as they are, do not count).
function contains(live: unknown, want: unknown): boolean {
  if (Array.isArray(want))
    return Array.isArray(live) && live.length === want.length && want.every((w, i) => contains(live[i], w));
  if (want && typeof want === 'object') {
    if (!live || typeof live !== 'object' || Array.isArray(live)) return false;
    return Object.entries(want as Record<string, unknown>).every(
      ([k, w]) => w === undefined || contains((live as Record<string, unknown>)[k], w),
    );
  }
  return live === want;
}
