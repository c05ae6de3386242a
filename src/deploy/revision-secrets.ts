// Secret values kept out of ApplicationRevisions. Whoever may read Meridian's resources (the
// `meridian-viewer` role: the console, Grafana) may read revisions, so a revision keeps each
// rendered Secret only in a redacted form: its values replaced by keyed digests (HMAC-SHA256
// under a key only the hub reads, so a guessable value cannot be confirmed offline; the same
// value gives the same digest in every revision, so a change shows without the value). The
// Secrets themselves, exactly as rendered, go to a hub Secret beside the revision (see
// revisions.ts), and are put back before anything is applied: rollback and drift correction
// re-apply exactly what was rendered. Pure.
import { createHmac } from 'node:crypto';
import type { KubeObject } from '../kube/cluster-client.ts';

/** Marks a revision's copy of a Secret whose values are stored elsewhere. */
export const REDACTED_ANNOTATION = 'meridian.dev/redacted';
const DIGEST_PREFIX = 'hmac-sha256:';

type ValueMap = Record<string, string>;

export function isSecret(o: Pick<KubeObject, 'apiVersion' | 'kind'>): boolean {
  return o.kind === 'Secret' && o.apiVersion === 'v1';
}

export function isRedacted(o: KubeObject): boolean {
  return isSecret(o) && o.metadata.annotations?.[REDACTED_ANNOTATION] === 'true';
}

/** A Secret with values in it (a redacted copy has none). */
function holdsValues(o: KubeObject): boolean {
  return isSecret(o) && !isRedacted(o);
}

/** The keyed digest of one value's bytes (`data` is base64, `stringData` UTF-8: same bytes, same digest). */
export function valueDigest(key: Buffer, bytes: Buffer): string {
  return DIGEST_PREFIX + createHmac('sha256', key).update(bytes).digest('hex');
}

function digests(key: Buffer, values: unknown, encoding: 'base64' | 'utf8'): ValueMap | undefined {
  if (values === undefined || values === null || typeof values !== 'object') return undefined;
  const out: ValueMap = {};
  for (const [k, v] of Object.entries(values as Record<string, unknown>))
    out[k] = valueDigest(key, Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), encoding));
  return out;
}

/** The copy of a Secret a revision keeps: identity, type and labels as rendered, values as digests. */
export function redactSecret(o: KubeObject, key: Buffer): KubeObject {
  const { data, stringData, ...rest } = o as KubeObject & { data?: unknown; stringData?: unknown };
  const out: Record<string, unknown> = {
    ...rest,
    metadata: {
      ...o.metadata,
      annotations: { ...o.metadata.annotations, [REDACTED_ANNOTATION]: 'true' },
    },
  };
  const d = digests(key, data, 'base64');
  const s = digests(key, stringData, 'utf8');
  if (d) out['data'] = d;
  if (s) out['stringData'] = s;
  return out as KubeObject;
}

/** Per cluster, the objects of a revision. */
export type ClusterObjects = Readonly<Record<string, readonly KubeObject[]>>;

export interface SplitRevision {
  /** What the ApplicationRevision keeps: every Secret redacted. */
  readonly redacted: Record<string, KubeObject[]>;
  /** The Secrets as rendered, per cluster (clusters without any are left out). */
  readonly secrets: Record<string, KubeObject[]>;
  readonly secretCount: number;
}

/** Splits a revision's objects into what the revision keeps and the Secrets stored beside it. */
export function splitSecrets(clusters: ClusterObjects, key: Buffer): SplitRevision {
  const redacted: Record<string, KubeObject[]> = {};
  const secrets: Record<string, KubeObject[]> = {};
  let secretCount = 0;
  for (const [cluster, objects] of Object.entries(clusters)) {
    redacted[cluster] = objects.map((o) => {
      if (!holdsValues(o)) return o;
      (secrets[cluster] ??= []).push(o);
      secretCount++;
      return redactSecret(o, key);
    });
  }
  return { redacted, secrets, secretCount };
}

/** Whether any cluster of a revision holds a Secret with its values (a revision from before redaction). */
export function holdsSecretValues(clusters: ClusterObjects): boolean {
  return Object.values(clusters).some((objects) => objects.some(holdsValues));
}

const identity = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/**
 * The revision's objects with every redacted Secret replaced by the one stored for it (same cluster,
 * namespace and name). Throws naming the first Secret that has no stored counterpart.
 */
export function restoreSecrets(
  clusters: ClusterObjects,
  stored: ClusterObjects,
): Record<string, KubeObject[]> {
  const out: Record<string, KubeObject[]> = {};
  for (const [cluster, objects] of Object.entries(clusters)) {
    const byId = new Map((stored[cluster] ?? []).map((s) => [identity(s), s]));
    out[cluster] = objects.map((o) => {
      if (!isRedacted(o)) return o;
      const s = byId.get(identity(o));
      if (!s) throw new Error(`cluster ${cluster}: Secret ${identity(o)} is not in the stored Secrets`);
      return s;
    });
  }
  return out;
}

/**
 * Secrets whose values differ between two revisions, as `cluster: namespace/name (keys)` — the
 * keys whose digest changed, was added or removed; never a value. Secrets only in one of the two
 * are listed as added or removed. Compares redacted copies (digests) only.
 */
export function changedSecrets(before: ClusterObjects | undefined, after: ClusterObjects): string[] {
  const out: string[] = [];
  const secretsOf = (c: ClusterObjects | undefined, cluster: string): Map<string, KubeObject> =>
    new Map((c?.[cluster] ?? []).filter(isSecret).map((s) => [identity(s), s]));
  const clusters = new Set([...Object.keys(before ?? {}), ...Object.keys(after)]);
  for (const cluster of [...clusters].sort()) {
    const old = secretsOf(before, cluster);
    const now = secretsOf(after, cluster);
    for (const id of [...new Set([...old.keys(), ...now.keys()])].sort()) {
      const a = old.get(id);
      const b = now.get(id);
      if (!a) {
        if (before) out.push(`${cluster}: ${id} added`);
        continue;
      }
      if (!b) {
        out.push(`${cluster}: ${id} removed`);
        continue;
      }
      const keys = changedKeys(values(a), values(b));
      if (keys.length > 0) out.push(`${cluster}: ${id} (${keys.join(', ')})`);
    }
  }
  return out;
}

/** A redacted Secret's digests by key (`data` and `stringData` together, as the API server merges them). */
function values(o: KubeObject): ValueMap {
  const s = o as KubeObject & { data?: ValueMap; stringData?: ValueMap };
  return { ...s.data, ...s.stringData };
}

function changedKeys(a: ValueMap, b: ValueMap): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();
}
