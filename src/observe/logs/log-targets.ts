// Which containers of a pod have logs, and the topology labels every line of it carries.
import type { ClusterClient, KubeObject } from '../../kube/cluster-client.ts';
import type { LogLine } from './log-event.ts';
import { appLabel } from '../topology/workload-of-pod.ts';
import type { WorkloadOf } from '../topology/pod-topology-resolver.ts';

export interface PodObject extends KubeObject {
  spec?: { nodeName?: string; containers?: { name: string }[] };
  status?: { phase?: string };
}

/** One member as the logs service reads it. */
export interface LogTarget {
  readonly cluster: string;
  readonly region: string;
  readonly client: ClusterClient;
}

/** App and revision of a pod from its workload (the topology's resolver), as series and spans get them. */
export type { WorkloadOf };

export const noWorkloads: WorkloadOf = () => undefined;

/** The labels of every line of one container, all but time and message. */
export type LineLabels = Omit<LogLine, 'kind' | 'time' | 'message'>;

/** Containers whose logs can be asked for: the pod must be on a node (the kubelet serves them). */
export function loggableContainers(pod: PodObject): string[] {
  if (!pod.spec?.nodeName || pod.metadata.deletionTimestamp) return [];
  return (pod.spec.containers ?? []).map((c) => c.name);
}

/** Whether the pod's containers are done for good (a follow can stop). */
export function podFinished(pod: PodObject): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

export function lineLabels(
  target: LogTarget,
  pod: PodObject,
  container: string,
  workloadOf: WorkloadOf,
): LineLabels {
  const w = workloadOf(target.cluster, pod.metadata.namespace ?? '', pod.metadata.name);
  // A pod no known workload owns still names its app in its own labels.
  const app = w?.app ?? appLabel(pod.metadata.labels);
  const revision = w?.revision;
  return {
    cluster: target.cluster,
    region: target.region,
    namespace: pod.metadata.namespace ?? '',
    pod: pod.metadata.name,
    container,
    ...(app !== undefined ? { app } : {}),
    ...(revision !== undefined ? { revision } : {}),
  };
}
