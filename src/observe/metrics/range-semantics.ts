// Which range semantics answer a fleet query, from the Prometheus versions that evaluate it.
// Prometheus 3 made range selectors, subquery ranges and the lookback delta left-open
// (`(t - range, t]`); Prometheus 2 closes them (`[t - range, t]`). A sample exactly on a range's
// start therefore counts in one and not in the other: Grafana's step-aligned subqueries over
// scrape-aligned samples hit that case (e.g. max_over_time(sum(rate(x[1m]))[3m:20s]) 11.9127 vs
// 11.9200). The hub cannot switch its engine (Prometheus 3) to closed ranges, so the rule is:
//   - pushdown: the members evaluate everything; when they agree the answer is exactly one
//     Prometheus of their version, else a warning names who closes and who opens;
//   - central: the hub's engine evaluates ranges only where it reads raw samples (its pushed-down
//     parts are evaluated on the members); when it does and some member closes ranges, a warning
//     says the answer follows Prometheus 3 there; disagreeing members warn as for pushdown.
// A member whose version is unknown (no buildinfo, not Prometheus) is assumed to agree. Pure.

export type RangeSemantics = 'closed' | 'left-open';

/** The range semantics of a Prometheus version string (`2.42.0`, `v3.5.0`), if it reads as one. */
export function rangeSemantics(version: string | undefined): RangeSemantics | undefined {
  const m = /^v?(\d+)\.\d+/.exec(version ?? '');
  if (!m) return undefined;
  return Number(m[1]) >= 3 ? 'left-open' : 'closed';
}

export interface SemanticsInput {
  /** The Prometheus version of the hub's engine. */
  readonly hubVersion: string;
  /** Version of each member that evaluates some of the query (pushdown, parts or raw fetches). */
  readonly members: ReadonlyMap<string, string | undefined>;
  /** Whether the hub's engine evaluates ranges or lookbacks over raw samples for this query. */
  readonly hubEvaluatesRanges: boolean;
}

const list = (names: readonly [string, string | undefined][]): string =>
  names.map(([n, v]) => `${n} ${v ?? '?'}`).join(', ');

/** The warnings that say which parts of an answer may follow other range semantics; [] if none. */
export function semanticsWarnings(input: SemanticsInput): string[] {
  const by = new Map<RangeSemantics, [string, string | undefined][]>();
  for (const [name, version] of input.members) {
    const s = rangeSemantics(version);
    if (s) by.set(s, [...(by.get(s) ?? []), [name, version]]);
  }
  const closed = by.get('closed') ?? [];
  const open = by.get('left-open') ?? [];
  const out: string[] = [];
  if (closed.length > 0 && open.length > 0)
    out.push(
      `clusters run Prometheus versions with different range semantics (closed ranges: ${list(closed)}; ` +
        `left-open: ${list(open)}): a sample exactly on the start of a range or lookback window ` +
        'counts in the first clusters and not in the others',
    );
  if (input.hubEvaluatesRanges && rangeSemantics(input.hubVersion) === 'left-open' && closed.length > 0)
    out.push(
      `the hub's engine (Prometheus ${input.hubVersion}) evaluated ranges of this query with ` +
        `left-open ranges, while ${list(closed)} close them: a sample exactly on the start of a ` +
        'range or lookback window is left out here and would count in those clusters',
    );
  return out;
}
