// Reads the logs of every matching container in one cluster once (no follow): pods by selector,
// then each container's log in parallel (bounded, like kubectl's --max-log-requests), each line
// parsed, filtered and labelled. A container that cannot be read is a warning, not a failure.
import { errorMessage } from '../../kube/errors.ts';
import { streamPodLog } from '../../kube/pod-logs.ts';
import type { LogLine, LogWarning } from './log-event.ts';
import type { LogQuery } from './log-query.ts';
import { ResumeCursor } from './log-resume.ts';
import { splitTimestamped, timeOfMs } from './log-timestamp.ts';
import {
  lineLabels,
  loggableContainers,
  type LogTarget,
  type PodObject,
  type WorkloadOf,
} from './log-targets.ts';

/** Log requests in flight per cluster. */
const PARALLEL_PER_CLUSTER = 8;

export interface ContainerLog {
  readonly key: string;
  readonly cursor: ResumeCursor;
  readonly lines: LogLine[];
}

export interface ClusterRead {
  readonly containers: ContainerLog[];
  readonly warnings: LogWarning[];
  readonly pods: PodObject[];
}

export const containerKey = (cluster: string, pod: PodObject, container: string): string =>
  `${cluster}/${pod.metadata.namespace ?? ''}/${pod.metadata.name}/${container}`;

export function listPods(target: LogTarget, query: LogQuery, signal?: AbortSignal): Promise<PodObject[]> {
  return target.client
    .list<PodObject>('v1', 'Pod', {
      namespace: query.namespace,
      labelSelector: query.selector,
      timeoutMs: 10_000,
      signal,
    })
    .then((l) => l.items);
}

export const warning = (cluster: string | undefined, message: string): LogWarning => ({
  kind: 'warning',
  time: timeOfMs(Date.now()),
  ...(cluster !== undefined ? { cluster } : {}),
  message,
});

/** Reads one container's log once; lines go through its cursor (since, repeats) and grep. */
export async function readContainer(
  target: LogTarget,
  pod: PodObject,
  container: string,
  query: LogQuery,
  cursor: ResumeCursor,
  workloadOf: WorkloadOf,
  signal?: AbortSignal,
): Promise<LogLine[]> {
  const labels = lineLabels(target, pod, container, workloadOf);
  const out: LogLine[] = [];
  cursor.beginReplay();
  await streamPodLog(
    target.client,
    {
      namespace: labels.namespace,
      pod: pod.metadata.name,
      container,
      sinceTime: cursor.sinceTime(),
      // The newest N lines overall are among each container's newest N: fetch no more.
      tailLines: query.limit,
      signal,
      idleTimeoutMs: 30_000,
    },
    (raw) => {
      const p = splitTimestamped(raw);
      if (!p || !cursor.accept(p.time, p.message)) return;
      if (query.grep && !query.grep.test(p.message)) return;
      out.push({ kind: 'line', time: p.time, ...labels, message: p.message });
    },
  );
  return out;
}

/** Runs `tasks` with at most `n` in flight. */
async function bounded<T>(n: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
  return results;
}

/** Every matching container of one cluster, read once. Throws only when the pods cannot be listed. */
export async function readCluster(
  target: LogTarget,
  query: LogQuery,
  workloadOf: WorkloadOf,
  signal?: AbortSignal,
): Promise<ClusterRead> {
  const pods = await listPods(target, query, signal);
  const warnings: LogWarning[] = [];
  const jobs = pods.flatMap((pod) =>
    loggableContainers(pod).map((container) => async (): Promise<ContainerLog> => {
      const cursor = new ResumeCursor(query.since);
      const key = containerKey(target.cluster, pod, container);
      try {
        return {
          key,
          cursor,
          lines: await readContainer(target, pod, container, query, cursor, workloadOf, signal),
        };
      } catch (e) {
        if (signal?.aborted) throw e;
        warnings.push(
          warning(
            target.cluster,
            `${pod.metadata.namespace}/${pod.metadata.name}/${container}: ${errorMessage(e)}`,
          ),
        );
        return { key, cursor, lines: [] };
      }
    }),
  );
  return { containers: await bounded(PARALLEL_PER_CLUSTER, jobs), warnings, pods };
}
