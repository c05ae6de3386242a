// Writes a GlobalIngress's generated objects into one member and removes the ones it no longer
// needs there. Only objects carrying our label are ever deleted.
import type { GlobalIngress } from '../../api/global-ingress.ts';
import type { ClusterClient, KubeObject } from '../../kube/cluster-client.ts';
import { errorMessage } from '../../kube/errors.ts';
import { ensureNamespace, objectKey, objectRef } from '../../kube/objects.ts';
import { GLOBAL_INGRESS_LABEL, generateMemberObjects, globalIngressLabelValue } from './generate.ts';

interface Workload extends KubeObject {
  spec?: { selector?: { matchLabels?: Record<string, string> } };
}

/** Kinds a GlobalIngress may generate, for pruning. */
const GENERATED_KINDS: readonly (readonly [string, string])[] = [
  ['networking.k8s.io/v1', 'Ingress'],
  ['gateway.networking.k8s.io/v1', 'HTTPRoute'],
  ['v1', 'Service'],
];

export interface MemberSyncResult {
  readonly warnings: string[];
  readonly error?: string;
}

export async function syncMember(
  client: ClusterClient,
  gi: GlobalIngress,
  namespace: string,
): Promise<MemberSyncResult> {
  const owner = globalIngressLabelValue(gi);
  try {
    const gatewayApi = (await client.resourceInfo('gateway.networking.k8s.io/v1', 'HTTPRoute')) !== undefined;
    await ensureNamespace(client, namespace);
    const [services, deployments, statefulSets] = await Promise.all([
      client.list<KubeObject>('v1', 'Service', { namespace }),
      client.list<Workload>('apps/v1', 'Deployment', { namespace }),
      client.list<Workload>('apps/v1', 'StatefulSet', { namespace }),
    ]);
    const foreignServices = new Set(
      services.items
        .filter((s) => s.metadata.labels?.[GLOBAL_INGRESS_LABEL] !== owner)
        .map((s) => s.metadata.name),
    );
    const workloadSelectors = new Map<string, Record<string, string>>();
    for (const w of [...statefulSets.items, ...deployments.items]) {
      const sel = w.spec?.selector?.matchLabels;
      if (sel && Object.keys(sel).length > 0) workloadSelectors.set(w.metadata.name, sel);
    }
    const { objects, warnings } = generateMemberObjects(gi, {
      namespace,
      gatewayApi,
      foreignServices,
      workloadSelectors,
    });
    for (const o of objects) {
      try {
        // The generated objects are ours alone: take fields back from anyone who edited them.
        await client.apply(o, { force: true });
      } catch (e) {
        return { warnings, error: `${objectRef(o)}: ${errorMessage(e)}` };
      }
    }
    const error = await pruneMember(
      client,
      `${GLOBAL_INGRESS_LABEL}=${owner}`,
      new Set(objects.map(objectKey)),
    );
    return error ? { warnings, error } : { warnings };
  } catch (e) {
    return { warnings: [], error: errorMessage(e) };
  }
}

/** Deletes every object matching `selector` of the generated kinds, except those in `keep`. */
export async function pruneMember(
  client: ClusterClient,
  selector: string,
  keep: ReadonlySet<string> = new Set(),
): Promise<string | undefined> {
  try {
    for (const [apiVersion, kind] of GENERATED_KINDS) {
      if (!(await client.resourceInfo(apiVersion, kind))) continue;
      const list = await client.list<KubeObject>(apiVersion, kind, { labelSelector: selector });
      for (const item of list.items) {
        const o = { ...item, apiVersion, kind };
        if (keep.has(objectKey(o))) continue;
        await client.delete(apiVersion, kind, o.metadata.name, o.metadata.namespace);
      }
    }
    return undefined;
  } catch (e) {
    return errorMessage(e);
  }
}
