// Logs of the whole fleet, for the CLI and the HTTP API alike (both call these two functions):
// a query reads every selected cluster in parallel and merges exactly in time order; a follow
// first does the same for the backlog, then follows every cluster live until aborted.
import type { ClusterClient } from '../../kube/cluster-client.ts';
import { errorMessage } from '../../kube/errors.ts';
import { ClusterLogFollower } from './cluster-log-follower.ts';
import { readCluster, warning } from './cluster-log-reader.ts';
import type { LogEvent, LogLine, LogWarning } from './log-event.ts';
import { LiveMerger, mergeByTime, newest } from './log-merge.ts';
import { selectClusters, type LogQuery, type ParamNames } from './log-query.ts';
import type { ResumeCursor } from './log-resume.ts';
import { noWorkloads, type LogTarget, type WorkloadOf } from './log-targets.ts';

/** Where member clients come from: the hub's FleetView, in the hub and in the CLI. */
export interface LogSources {
  members(): readonly { readonly name: string; readonly region: string }[];
  client(name: string): ClusterClient | { error: string };
}

export interface LogsOptions {
  /** How the caller spells the query's inputs, for errors (unknown cluster). */
  readonly names: ParamNames;
  readonly workloadOf?: WorkloadOf;
  readonly signal?: AbortSignal;
}

export interface LogsResult {
  readonly lines: LogLine[];
  readonly warnings: LogWarning[];
  /** True when `limit` cut older lines. */
  readonly truncated: boolean;
  /** Clusters asked, and those whose pods could not even be listed. */
  readonly clusters: string[];
  readonly failed: string[];
}

/** Live events are held this long so lines of different clusters come out in time order. */
export const LIVE_ORDER_DELAY_MS = 250;

function targets(
  sources: LogSources,
  query: LogQuery,
  names: ParamNames,
): { targets: LogTarget[]; warnings: LogWarning[] } {
  const members = sources.members();
  const chosen = selectClusters(
    query,
    members.map((m) => m.name),
    names,
  );
  const out: LogTarget[] = [];
  const warnings: LogWarning[] = [];
  for (const name of chosen) {
    const client = sources.client(name);
    if ('error' in client) warnings.push(warning(name, `no client: ${client.error}`));
    else out.push({ cluster: name, region: members.find((m) => m.name === name)?.region ?? '', client });
  }
  return { targets: out, warnings };
}

async function readAll(
  list: readonly LogTarget[],
  query: LogQuery,
  workloadOf: WorkloadOf,
  signal: AbortSignal | undefined,
): Promise<{
  lines: LogLine[];
  warnings: LogWarning[];
  cursors: Map<string, ResumeCursor>;
  failed: string[];
}> {
  const reads = await Promise.all(
    list.map((t) =>
      readCluster(t, query, workloadOf, signal).catch((e: unknown) => {
        if (signal?.aborted) throw e;
        return { error: `cannot list pods: ${errorMessage(e)}`, cluster: t.cluster };
      }),
    ),
  );
  const warnings: LogWarning[] = [];
  const streams: LogLine[][] = [];
  const cursors = new Map<string, ResumeCursor>();
  const failed: string[] = [];
  for (const r of reads) {
    if ('error' in r) {
      failed.push(r.cluster);
      warnings.push(warning(r.cluster, r.error));
      continue;
    }
    warnings.push(...r.warnings);
    for (const c of r.containers) {
      streams.push(c.lines);
      cursors.set(c.key, c.cursor);
    }
  }
  return { lines: mergeByTime(streams), warnings, cursors, failed };
}

/** Lines of every selected cluster, merged in time order; failing clusters become warnings. */
export async function queryLogs(
  sources: LogSources,
  query: LogQuery,
  opts: LogsOptions,
): Promise<LogsResult> {
  const t = targets(sources, query, opts.names);
  const r = await readAll(t.targets, query, opts.workloadOf ?? noWorkloads, opts.signal);
  const cut = newest(r.lines, query.limit);
  return {
    lines: cut.lines,
    warnings: [...t.warnings, ...r.warnings],
    truncated: cut.truncated,
    clusters: t.targets.map((x) => x.cluster),
    failed: [...t.warnings.map((w) => w.cluster ?? ''), ...r.failed],
  };
}

/**
 * The backlog (as `queryLogs`), then every new line of every selected cluster until `signal`
 * aborts: across API server restarts (markers where lines may be missing, no repeats) and for
 * pods that appear meanwhile.
 */
export async function followLogs(
  sources: LogSources,
  query: LogQuery,
  opts: LogsOptions & { signal: AbortSignal },
  emit: (ev: LogEvent) => void,
): Promise<void> {
  const { signal } = opts;
  const workloadOf = opts.workloadOf ?? noWorkloads;
  const t = targets(sources, query, opts.names);
  for (const w of t.warnings) emit(w);
  const backlog = await readAll(t.targets, query, workloadOf, signal);
  if (signal.aborted) return;
  for (const w of backlog.warnings) emit(w);
  for (const l of newest(backlog.lines, query.limit).lines) emit(l);

  const merger = new LiveMerger(LIVE_ORDER_DELAY_MS);
  const followers = t.targets.map(
    (target) =>
      new ClusterLogFollower({
        target,
        query,
        workloadOf,
        cursors: backlog.cursors,
        emit: (ev) => merger.push(ev, Date.now()),
      }),
  );
  const tick = setInterval(() => {
    for (const ev of merger.drain(Date.now())) emit(ev);
  }, 50);
  for (const f of followers) f.start();
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(tick);
  await Promise.all(followers.map((f) => f.stop()));
  for (const ev of merger.drain(Date.now(), true)) emit(ev);
}
