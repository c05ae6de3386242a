// Orders a trace's spans for the waterfall view: depth-first from the roots, children by start
// time, each row placed on the trace's time axis in percent. Spans whose parent is missing (not
// received yet, or dropped by a collector) are shown as roots rather than hidden.

export interface WaterfallSpanIn {
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly startUnixMicros: number;
  readonly durationMs: number;
}

export interface WaterfallRow<S> {
  readonly span: S;
  readonly depth: number;
  /** Start and width on the trace's time axis, 0–100. */
  readonly offsetPct: number;
  readonly widthPct: number;
}

export function waterfall<S extends WaterfallSpanIn>(spans: readonly S[]): WaterfallRow<S>[] {
  if (spans.length === 0) return [];
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, S[]>();
  const roots: S[] = [];
  for (const s of spans) {
    if (s.parentSpanId && ids.has(s.parentSpanId) && s.parentSpanId !== s.spanId) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else roots.push(s);
  }
  const byStart = (a: S, b: S): number =>
    a.startUnixMicros - b.startUnixMicros || a.spanId.localeCompare(b.spanId);
  const start = Math.min(...spans.map((s) => s.startUnixMicros));
  const end = Math.max(...spans.map((s) => s.startUnixMicros + s.durationMs * 1000));
  const total = Math.max(1, end - start);
  const rows: WaterfallRow<S>[] = [];
  const seen = new Set<string>();
  const visit = (s: S, depth: number): void => {
    if (seen.has(s.spanId)) return; // a parent cycle in bad data must not loop forever
    seen.add(s.spanId);
    rows.push({
      span: s,
      depth,
      offsetPct: ((s.startUnixMicros - start) / total) * 100,
      widthPct: Math.max(0.3, ((s.durationMs * 1000) / total) * 100),
    });
    for (const c of [...(children.get(s.spanId) ?? [])].sort(byStart)) visit(c, depth + 1);
  };
  for (const r of [...roots].sort(byStart)) visit(r, 0);
  // Spans only reachable through a cycle: list them at the end rather than lose them.
  for (const s of [...spans].sort(byStart)) visit(s, 0);
  return rows;
}
