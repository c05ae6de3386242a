// Follows every matching container of one cluster until aborted, across restarts of its API
// server: pods come from an informer (so pods that appear later are followed too), each container
// has one stream that reconnects with its cursor (sinceTime + repeats dropped), and the cluster
// gets a marker when its streams break (lines may be missing from here) and when they resume.
import { errorMessage } from '../../kube/errors.ts';
import { Informer } from '../../kube/informer.ts';
import { KubeApiError } from '../../kube/rest.ts';
import { sleep } from '../../kube/sleep.ts';
import { streamPodLog } from '../../kube/pod-logs.ts';
import type { LogEvent } from './log-event.ts';
import type { LogQuery } from './log-query.ts';
import { ResumeCursor } from './log-resume.ts';
import { splitTimestamped, timeOfMs } from './log-timestamp.ts';
import { containerKey, warning } from './cluster-log-reader.ts';
import {
  lineLabels,
  loggableContainers,
  podFinished,
  type LogTarget,
  type PodObject,
  type WorkloadOf,
} from './log-targets.ts';

export interface FollowerOptions {
  readonly target: LogTarget;
  readonly query: LogQuery;
  readonly workloadOf: WorkloadOf;
  /** Cursors by container key, shared with the backlog read that came before. */
  readonly cursors: Map<string, ResumeCursor>;
  readonly emit: (ev: LogEvent) => void;
}

/** Failures to open a stream that mean "the cluster is not answering", not "this pod has no logs". */
function isOutage(e: unknown): boolean {
  if (!(e instanceof KubeApiError)) return false;
  if (e.status === 0) return e.reason !== 'Aborted';
  return e.status >= 500 || e.status === 429;
}

const backoffMs = (failures: number): number => Math.min(200 * 2 ** Math.max(0, failures - 1), 2_000);

/** Consecutive failures of one container before it is worth a warning (a new pod takes a moment). */
const WARN_AFTER = 3;

export class ClusterLogFollower {
  private readonly pods: Informer<PodObject>;
  private readonly abort = new AbortController();
  private readonly streams = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private outage: { since: number } | undefined;

  constructor(private readonly o: FollowerOptions) {
    this.pods = new Informer<PodObject>(o.target.client, 'v1', 'Pod', {
      namespace: o.query.namespace,
      labelSelector: o.query.selector,
      maxBackoffMs: 2_000,
    });
    this.pods.on((event, pod) => {
      if (event === 'delete') this.stopPod(pod);
      else this.ensureStreams(pod);
    });
  }

  start(): void {
    this.pods.start();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.pods.stop();
    await Promise.all([...this.streams.values()].map((s) => s.done));
  }

  private ensureStreams(pod: PodObject): void {
    for (const container of loggableContainers(pod)) {
      const key = containerKey(this.o.target.cluster, pod, container);
      if (this.streams.has(key) || this.abort.signal.aborted) continue;
      const abort = new AbortController();
      const signal = AbortSignal.any([this.abort.signal, abort.signal]);
      const done = this.follow(pod, container, key, signal).finally(() => this.streams.delete(key));
      this.streams.set(key, { abort, done });
    }
  }

  private stopPod(pod: PodObject): void {
    const prefix = containerKey(this.o.target.cluster, pod, '');
    for (const [key, s] of this.streams) if (key.startsWith(prefix)) s.abort.abort();
  }

  private markDown(reason: string): void {
    if (this.outage) return;
    this.outage = { since: Date.now() };
    this.o.emit({
      kind: 'marker',
      time: timeOfMs(Date.now()),
      cluster: this.o.target.cluster,
      reason: 'Interrupted',
      message: `log streams from ${this.o.target.cluster} interrupted (${reason}); retrying — lines may be missing from here until they resume`,
    });
  }

  private markUp(): void {
    if (!this.outage) return;
    const secs = ((Date.now() - this.outage.since) / 1000).toFixed(1);
    this.outage = undefined;
    this.o.emit({
      kind: 'marker',
      time: timeOfMs(Date.now()),
      cluster: this.o.target.cluster,
      reason: 'Resumed',
      message: `log streams from ${this.o.target.cluster} resumed after ${secs} s; lines written meanwhile are read again from the last one seen, repeats dropped`,
    });
  }

  /** One container, until its pod goes away, it finishes, or the follow is aborted. */
  private async follow(first: PodObject, container: string, key: string, signal: AbortSignal): Promise<void> {
    const { target, query, workloadOf, cursors, emit } = this.o;
    let cursor = cursors.get(key);
    if (!cursor) {
      cursor = new ResumeCursor(query.since);
      cursors.set(key, cursor);
    }
    const c = cursor;
    const labels = lineLabels(target, first, container, workloadOf);
    let failures = 0;
    let warned = false;
    while (!signal.aborted) {
      const pod = this.pods.get(first.metadata.name, first.metadata.namespace) ?? first;
      let opened = false;
      c.beginReplay();
      try {
        await streamPodLog(
          target.client,
          {
            namespace: labels.namespace,
            pod: pod.metadata.name,
            container,
            follow: true,
            sinceTime: c.sinceTime(),
            signal,
            onOpen: () => {
              opened = true;
              failures = 0;
              warned = false;
              this.markUp();
            },
          },
          (raw) => {
            const p = splitTimestamped(raw);
            if (!p || !c.accept(p.time, p.message)) return;
            if (query.grep && !query.grep.test(p.message)) return;
            emit({ kind: 'line', time: p.time, ...labels, message: p.message });
          },
        );
        // The server ended the stream: the container stopped, or the server is going away.
        if (podFinished(pod)) return;
      } catch (e) {
        if (signal.aborted) return;
        if (!opened) {
          failures++;
          if (isOutage(e)) this.markDown(errorMessage(e));
          else if (failures >= WARN_AFTER && !warned) {
            warned = true;
            emit(
              warning(
                target.cluster,
                `${labels.namespace}/${pod.metadata.name}/${container}: ${errorMessage(e)}; retrying`,
              ),
            );
          }
        }
      }
      await sleep(opened ? 0 : backoffMs(failures), signal);
    }
  }
}
