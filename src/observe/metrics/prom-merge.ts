// Merging the members' answers into one Prometheus answer. Pure: answers in, answer out.

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
  readonly stamp: Readonly<Record<string, string>> | null;
  readonly result: readonly (VectorSample | MatrixSeries)[];
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

/**
 * Sets the topology labels in `stamp` and removes the other ones (`cluster`, `region`), as
 * label_replace does: an empty value removes the label.
 */
export function stampTopology(metric: Labels, stamp: Readonly<Record<string, string>>): Labels {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metric)) if (k !== 'cluster' && k !== 'region') out[k] = v;
  for (const k of ['cluster', 'region']) if (stamp[k]) out[k] = stamp[k];
  return out;
}

/**
 * Concatenates the members' results of a partitionable query, each stamped as its plan says.
 * Matrices come out sorted by labels, as Prometheus sorts range-query results.
 */
export function mergeResults(
  resultType: 'vector' | 'matrix',
  parts: readonly MemberResult[],
): (VectorSample | MatrixSeries)[] {
  const out: (VectorSample | MatrixSeries)[] = [];
  for (const p of parts) {
    const stamp = p.stamp;
    for (const s of p.result) out.push(stamp ? { ...s, metric: stampTopology(s.metric, stamp) } : s);
  }
  if (resultType === 'matrix') out.sort((a, b) => compareLabels(a.metric, b.metric));
  return out;
}

/** Series of the members (/api/v1/series), stamped, de-duplicated and sorted. */
export function mergeSeries(
  parts: readonly { cluster: string; region: string; series: readonly Labels[] }[],
): Labels[] {
  const seen = new Map<string, Labels>();
  for (const p of parts) {
    for (const s of p.series) {
      const l = stampTopology(s, { cluster: p.cluster, region: p.region });
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
