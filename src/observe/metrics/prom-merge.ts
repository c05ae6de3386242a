// Merging the members' answers into one Prometheus answer. Pure: answers in, answer out.
import type { WorkloadOf } from '../topology/pod-topology-resolver.ts';

export type Labels = Readonly<Record<string, string>>;
export type Point = readonly [number, string];

export interface VectorSample {
  readonly metric: Labels;
  readonly value: Point;
}

export interface MatrixSeries {
  readonly metric: Labels;
  readonly values: readonly Point[];
}

/**
 * One member's `data.result` of a pushed-down query, and what the hub stamps on its series (null:
 * the member's query stamped them).
 */
export interface MemberResult {
  readonly cluster: string;
  readonly stamp: Readonly<Record<string, string>> | null;
  readonly result: readonly (VectorSample | MatrixSeries)[];
}

/**
 * How the hub sets `app` and `revision` on a member's series: resolved with `of` from the
 * series' `namespace` and `pod` in `cluster`, or (no `of`) not at all; any the member's own
 * series carry are removed either way.
 */
export interface WorkloadStamp {
  readonly cluster: string;
  readonly of: WorkloadOf | undefined;
}

/** Prometheus' labels.Compare: label by label in name order, names then values; shorter first. */
export function compareLabels(a: Labels, b: Labels): number {
  const ak = Object.keys(a).sort();
  const bk = Object.keys(b).sort();
  for (let i = 0; i < Math.min(ak.length, bk.length); i++) {
    const an = ak[i]!;
    const bn = bk[i]!;
    if (an !== bn) return an < bn ? -1 : 1;
    const av = a[an]!;
    const bv = b[bn]!;
    if (av !== bv) return av < bv ? -1 : 1;
  }
  return ak.length - bk.length;
}

const WORKLOAD_LABELS = new Set(['app', 'revision']);

/**
 * Sets the topology labels in `stamp` and removes the other ones (`cluster`, `region`), as
 * label_replace does: an empty value removes the label (a null stamp leaves them as they are).
 * With `workload`, does the same for `app` and `revision`.
 */
export function stampTopology(
  metric: Labels,
  stamp: Readonly<Record<string, string>> | null,
  workload?: WorkloadStamp,
): Labels {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metric)) {
    if (stamp && (k === 'cluster' || k === 'region')) continue;
    if (workload && WORKLOAD_LABELS.has(k)) continue;
    out[k] = v;
  }
  if (stamp) for (const k of ['cluster', 'region']) if (stamp[k]) out[k] = stamp[k];
  const pod = metric['pod'];
  if (workload?.of && pod) {
    const w = workload.of(workload.cluster, metric['namespace'] ?? '', pod);
    if (w?.app) out['app'] = w.app;
    if (w?.revision) out['revision'] = w.revision;
  }
  return out;
}

/**
 * Concatenates the members' results of a partitionable query, each stamped as its plan says, with
 * `app` and `revision` resolved by `workloadOf` (the plan's answer keeps them) or removed.
 * Matrices come out sorted by labels, as Prometheus sorts range-query results.
 */
export function mergeResults(
  resultType: 'vector' | 'matrix',
  parts: readonly MemberResult[],
  workloadOf?: WorkloadOf,
): (VectorSample | MatrixSeries)[] {
  const out: (VectorSample | MatrixSeries)[] = [];
  for (const p of parts) {
    const w = { cluster: p.cluster, of: workloadOf };
    for (const s of p.result) out.push({ ...s, metric: stampTopology(s.metric, p.stamp, w) });
  }
  if (resultType === 'matrix') out.sort((a, b) => compareLabels(a.metric, b.metric));
  return out;
}

/**
 * Series of the members (/api/v1/series) with every Meridian label set (`app` and `revision`
 * resolved by `workloadOf`), de-duplicated and sorted.
 */
export function mergeSeries(
  parts: readonly { cluster: string; region: string; series: readonly Labels[] }[],
  workloadOf: WorkloadOf | undefined,
): Labels[] {
  const seen = new Map<string, Labels>();
  for (const p of parts) {
    const w = { cluster: p.cluster, of: workloadOf };
    for (const s of p.series) {
      const l = stampTopology(s, { cluster: p.cluster, region: p.region }, w);
      seen.set(JSON.stringify(Object.entries(l).sort()), l);
    }
  }
  return [...seen.values()].sort(compareLabels);
}

/** The sorted union of the members' lists (label names or values). */
export function unionSorted(lists: readonly (readonly string[])[]): string[] {
  return [...new Set(lists.flat())].sort();
}

/** Prefixes a member's own warnings with its name, so the user knows whose they are. */
export function memberWarnings(cluster: string, warnings: readonly string[] | undefined): string[] {
  return (warnings ?? []).map((w) => `cluster "${cluster}": ${w}`);
}
