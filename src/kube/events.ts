// Kubernetes Events, so user-visible changes show in `kubectl describe` and `kubectl get events`.
import { randomBytes } from 'node:crypto';
import type { ClusterClient, KubeObject } from './cluster-client.ts';

export interface EventInput {
  readonly regarding: Pick<KubeObject, 'apiVersion' | 'kind'> & {
    metadata: { name: string; namespace?: string; uid?: string };
  };
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/** Records an Event; events for cluster-scoped objects go to the `default` namespace, as kubectl expects. */
export async function recordEvent(
  client: ClusterClient,
  e: EventInput,
  component = 'meridian-hub',
): Promise<void> {
  const ns = e.regarding.metadata.namespace ?? 'default';
  const now = new Date().toISOString();
  await client.rest.request('POST', `/api/v1/namespaces/${ns}/events`, {
    timeoutMs: 5_000,
    body: {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${e.regarding.metadata.name}.${randomBytes(6).toString('hex')}`, namespace: ns },
      involvedObject: {
        apiVersion: e.regarding.apiVersion,
        kind: e.regarding.kind,
        name: e.regarding.metadata.name,
        namespace: e.regarding.metadata.namespace,
        uid: e.regarding.metadata.uid,
      },
      type: e.type,
      reason: e.reason,
      message: e.message,
      source: { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    },
  });
}
