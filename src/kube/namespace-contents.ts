// Lists everything a namespace holds, of every namespaced kind the API server serves (built-in
// kinds, CRDs, aggregated APIs), found through discovery. For deciding whether a namespace may be
// deleted: an answer is `complete` only when every group answered and no kind had more objects
// than `limitPerKind`, so a caller can refuse whenever it cannot see everything.
import type { ClusterClient, KubeList, KubeObject } from './cluster-client.ts';

/** What a namespace holds: identity of each object (apiVersion, kind, metadata). */
export interface NamespaceContents {
  readonly objects: readonly KubeObject[];
  /** False when a group's discovery or a list failed, or a kind had more than the limit. */
  readonly complete: boolean;
  /** Why the answer is incomplete (for logs and status). */
  readonly gaps: readonly string[];
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs?: string[];
}

interface GroupList {
  groups: { name: string; preferredVersion?: { groupVersion: string } }[];
}

/** Every object in namespace `ns`, of every namespaced, listable kind (preferred version of each group). */
export async function listNamespaceContents(
  client: ClusterClient,
  ns: string,
  limitPerKind = 100,
): Promise<NamespaceContents> {
  const gaps: string[] = [];
  const groupVersions = ['v1'];
  try {
    const groups = await client.rest.get<GroupList>('/apis', { timeoutMs: 10_000 });
    for (const g of groups.groups)
      if (g.preferredVersion) groupVersions.push(g.preferredVersion.groupVersion);
  } catch (e) {
    return { objects: [], complete: false, gaps: [`discovery /apis: ${(e as Error).message}`] };
  }
  const objects: KubeObject[] = [];
  await Promise.all(
    groupVersions.map(async (gv) => {
      const base = gv === 'v1' ? '/api/v1' : `/apis/${gv}`;
      let resources: ApiResource[];
      try {
        resources = (await client.rest.get<{ resources: ApiResource[] }>(base, { timeoutMs: 10_000 }))
          .resources;
      } catch (e) {
        gaps.push(`discovery ${gv}: ${(e as Error).message}`);
        return;
      }
      for (const r of resources) {
        if (r.name.includes('/') || !r.namespaced || !(r.verbs ?? []).includes('list')) continue;
        try {
          const list = await client.rest.get<KubeList<KubeObject>>(
            `${base}/namespaces/${encodeURIComponent(ns)}/${r.name}`,
            { query: { limit: limitPerKind }, timeoutMs: 10_000 },
          );
          if (list.metadata.continue) gaps.push(`${r.name}.${gv}: more than ${limitPerKind} objects`);
          for (const o of list.items) objects.push({ ...o, apiVersion: gv, kind: r.kind });
        } catch (e) {
          gaps.push(`list ${r.name}.${gv}: ${(e as Error).message}`);
        }
      }
    }),
  );
  return { objects, complete: gaps.length === 0, gaps };
}
