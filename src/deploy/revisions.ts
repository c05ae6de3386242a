// ApplicationRevisions: the fully rendered, per-cluster manifests of each revision, stored in the
// hub and owned by their Application, so a rollback re-applies exactly what ran before. Secrets
// are the exception (revision-secrets.ts): the revision keeps them redacted, and their rendered
// form lives in a hub Secret `<revision>-secrets` beside it (owned by the revision, so it goes
// with it), which only those who may read Secrets in that namespace can read.
import { APPLICATION_LABEL } from '../api/labels.ts';
import { randomBytes } from 'node:crypto';
import { API_VERSION } from '../api/group.ts';
import type { Application } from '../api/application.ts';
import type { ApplicationRevision } from '../api/application-revision.ts';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { MeridianError } from '../kube/errors.ts';
import { restoreSecrets, splitSecrets, type ClusterObjects } from './revision-secrets.ts';
import type { RenderedCluster } from './deploy-types.ts';

export const revisionName = (app: string, revision: number): string => `${app}-${revision}`;

/** The hub Secret holding a revision's rendered Secrets. */
export const revisionSecretsName = (revision: string): string => `${revision}-secrets`;
export const REVISION_SECRETS_TYPE = 'meridian.dev/revision-secrets';
const SECRETS_KEY = 'secrets.json';
/** Labels a revision and its Secrets with the Application's name. */

/** The key of the digests that stand in for Secret values in revisions (one per hub). */
export const DIGEST_KEY_SECRET = { namespace: 'meridian-system', name: 'meridian-revision-digest-key' };

/** Revisions of `app` among `all`, newest first. */
export function revisionsOf(app: Application, all: readonly ApplicationRevision[]): ApplicationRevision[] {
  return all
    .filter(
      (r) => r.metadata.namespace === app.metadata.namespace && r.spec.application === app.metadata.name,
    )
    .sort((a, b) => b.spec.revision - a.spec.revision);
}

/** The hub's digest key, created (32 random bytes) by the first hub that needs it. */
export async function revisionDigestKey(hub: ClusterClient): Promise<Buffer> {
  const { namespace, name } = DIGEST_KEY_SECRET;
  for (let attempt = 0; ; attempt++) {
    const found = await hub.get<KubeObject & { data?: Record<string, string> }>(
      'v1',
      'Secret',
      name,
      namespace,
    );
    const key = found?.data?.['key'];
    if (key) return Buffer.from(key, 'base64');
    try {
      await hub.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'meridian' } },
        type: 'Opaque',
        data: { key: randomBytes(32).toString('base64') },
      } as KubeObject);
    } catch (e) {
      // Another hub created it meanwhile: read theirs.
      if (attempt >= 2) throw e;
    }
  }
}

const ownerRef = (apiVersion: string, kind: string, name: string, uid: string | undefined) => ({
  apiVersion,
  kind,
  name,
  uid,
  blockOwnerDeletion: true,
});

/** Writes a revision's rendered Secrets to its hub Secret, owned by `owners`. */
async function storeSecrets(
  hub: ClusterClient,
  namespace: string,
  revision: string,
  application: string,
  secrets: ClusterObjects,
  owners: readonly ReturnType<typeof ownerRef>[],
): Promise<void> {
  await hub.apply(
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: revisionSecretsName(revision),
        namespace,
        labels: { [APPLICATION_LABEL]: application },
        ownerReferences: [...owners],
      },
      type: REVISION_SECRETS_TYPE,
      data: { [SECRETS_KEY]: Buffer.from(JSON.stringify(secrets)).toString('base64') },
    } as KubeObject,
    { force: true },
  );
}

/**
 * Creates (or rewrites) revision `revision` of `app` from its rendered objects: Secrets go to the
 * revision's hub Secret first (so a revision never names a store that was not written), then the
 * revision with the Secrets redacted, then the store is given the revision as its owner.
 * Returns the revision as stored (redacted).
 */
export async function createRevision(
  hub: ClusterClient,
  app: Application,
  revision: number,
  digest: string,
  clusters: readonly Pick<RenderedCluster, 'cluster' | 'objects'>[],
  sourceCommit: string | undefined,
  digestKey: Buffer,
): Promise<ApplicationRevision> {
  const name = revisionName(app.metadata.name, revision);
  const namespace = app.metadata.namespace!;
  const split = splitSecrets(Object.fromEntries(clusters.map((c) => [c.cluster, c.objects])), digestKey);
  const appOwner = ownerRef(API_VERSION, 'Application', app.metadata.name, app.metadata.uid);
  if (split.secretCount > 0)
    await storeSecrets(hub, namespace, name, app.metadata.name, split.secrets, [appOwner]);
  const obj = {
    apiVersion: API_VERSION,
    kind: 'ApplicationRevision',
    metadata: {
      name,
      namespace,
      labels: { [APPLICATION_LABEL]: app.metadata.name },
      ownerReferences: [{ ...appOwner, controller: true }],
    },
    spec: {
      application: app.metadata.name,
      revision,
      digest,
      ...(sourceCommit ? { sourceCommit } : {}),
      clusters: split.redacted,
      ...(split.secretCount > 0 ? { secretsRef: { name: revisionSecretsName(name) } } : {}),
    },
  };
  const created = await hub.apply(obj as unknown as KubeObject & ApplicationRevision, { force: true });
  if (split.secretCount > 0)
    await storeSecrets(hub, namespace, name, app.metadata.name, split.secrets, [
      appOwner,
      ownerRef(API_VERSION, 'ApplicationRevision', name, created.metadata.uid),
    ]);
  return created;
}

/**
 * The revision with its Secrets as rendered (from its hub Secret), for applying, drift checks and
 * diffs. A revision without `secretsRef` is returned as it is. Throws a MeridianError naming the
 * hub Secret when it is missing or does not hold every redacted Secret.
 */
export async function withStoredSecrets(
  hub: ClusterClient,
  rev: ApplicationRevision,
): Promise<ApplicationRevision> {
  const ref = rev.spec.secretsRef;
  if (!ref) return rev;
  const where = `Secret ${rev.metadata.namespace}/${ref.name} (the Secrets of revision ${rev.metadata.name})`;
  const s = await hub.get<KubeObject & { data?: Record<string, string> }>(
    'v1',
    'Secret',
    ref.name,
    rev.metadata.namespace,
  );
  const raw = s?.data?.[SECRETS_KEY];
  if (raw === undefined) throw new MeridianError('NotFound', `${where} is missing`, 3);
  let stored: ClusterObjects;
  try {
    stored = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as ClusterObjects;
    const clusters = restoreSecrets(rev.spec.clusters as unknown as ClusterObjects, stored);
    return { ...rev, spec: { ...rev.spec, clusters: clusters as ApplicationRevision['spec']['clusters'] } };
  } catch (e) {
    throw new MeridianError('Invalid', `${where}: ${e instanceof Error ? e.message : String(e)}`, 1);
  }
}

/** Revisions to delete to respect revisionHistoryLimit, never the ones still in use. */
export function revisionsToPrune(
  revs: readonly ApplicationRevision[],
  limit: number,
  inUse: ReadonlySet<number>,
): ApplicationRevision[] {
  const sorted = [...revs].sort((a, b) => b.spec.revision - a.spec.revision);
  return sorted.slice(limit).filter((r) => !inUse.has(r.spec.revision));
}
