// ApplicationRevisions: the fully rendered, per-cluster manifests of each revision, stored in the
// hub and owned by their Application, so a rollback re-applies exactly what ran before.
import { API_VERSION } from '../api/group.ts';
import type { Application } from '../api/application.ts';
import type { ApplicationRevision } from '../api/application-revision.ts';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import type { RenderedCluster } from './types.ts';

export const revisionName = (app: string, revision: number): string => `${app}-${revision}`;

/** Revisions of `app` among `all`, newest first. */
export function revisionsOf(app: Application, all: readonly ApplicationRevision[]): ApplicationRevision[] {
  return all
    .filter(
      (r) => r.metadata.namespace === app.metadata.namespace && r.spec.application === app.metadata.name,
    )
    .sort((a, b) => b.spec.revision - a.spec.revision);
}

export async function createRevision(
  hub: ClusterClient,
  app: Application,
  revision: number,
  digest: string,
  clusters: readonly RenderedCluster[],
  sourceCommit: string | undefined,
): Promise<ApplicationRevision> {
  const obj = {
    apiVersion: API_VERSION,
    kind: 'ApplicationRevision',
    metadata: {
      name: revisionName(app.metadata.name, revision),
      namespace: app.metadata.namespace,
      labels: { 'meridian.dev/application': app.metadata.name },
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: 'Application',
          name: app.metadata.name,
          uid: app.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      application: app.metadata.name,
      revision,
      digest,
      ...(sourceCommit ? { sourceCommit } : {}),
      clusters: Object.fromEntries(clusters.map((c) => [c.cluster, c.objects])),
    },
  };
  return hub.apply(obj as unknown as KubeObject & ApplicationRevision, { force: true });
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
