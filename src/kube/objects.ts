// Small helpers about objects in any cluster: how errors and events name them, the key that
// identifies one, and the namespace an apply needs first.
import type { ClusterClient, KubeObject } from './cluster-client.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../api/labels.ts';

/** `Kind namespace/name`, or `Kind name`, as errors and events name an object. */
export function objectRef(obj: { kind: string; metadata?: { name?: unknown; namespace?: unknown } }): string {
  const name = typeof obj.metadata?.name === 'string' ? obj.metadata.name : '';
  const namespace = typeof obj.metadata?.namespace === 'string' ? obj.metadata.namespace : '';
  return namespace ? `${obj.kind} ${namespace}/${name}` : `${obj.kind} ${name}`;
}

/** apiVersion, kind, namespace and name: what identifies an object in one cluster. */
export const objectKey = (o: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string =>
  `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name}`;

/** Creates the destination namespace when it is missing (never pruned: it may hold other things). */
export async function ensureNamespace(client: ClusterClient, name: string): Promise<void> {
  if (await client.get('v1', 'Namespace', name)) return;
  await client.apply({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
  });
}
