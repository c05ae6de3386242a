// The plans of repeated queries, so a dashboard refresh (the same query texts with moving times)
// skips the planning call into the WebAssembly engine. A plan is a pure function of what its key
// holds: the query text, instant or range (the result type, and a range query's type check),
// and the members with their regions (what each is asked, its stamp). Times and steps change
// only a plan's raw-sample fetches (their windows come from a dry run at the query's times), so
// plans with fetches are never kept; nor are failures. The pod resolver is not read by planning:
// `app`/`revision` are resolved when the answers are evaluated or merged.
import type { EngineQuery, QueryPlan } from './promql-engine.ts';

/** Entries kept, and characters of keys and plan texts together (worst case ~2× in memory). */
export const PLAN_CACHE_ENTRIES = 512;
export const PLAN_CACHE_CHARS = 4 * 1024 * 1024;

/** A cached plan with the JSON text the engine wrote it as (evaluation sends it back as is). */
export interface CachedPlan {
  readonly plan: QueryPlan;
  readonly text: string;
}

/** The cache key: everything planning reads (see the file's header), nothing else. */
export function planKey(q: EngineQuery): string {
  // JSON holds no raw newline, so the query text, last, cannot be confused with the rest.
  const members = JSON.stringify(q.members.map((m) => [m.name, m.region, m.external ?? []]));
  return `${q.step === 0 ? 'instant' : 'range'}${q.legacyNames ? ' legacy' : ''}\n${members}\n${q.query}`;
}

/** Whether a plan depends on nothing but its key. */
export function timeFree(plan: QueryPlan): boolean {
  return plan.mode === 'pushdown' || !plan.fetches?.length;
}

/** A bounded least-recently-used map from planKey to plan. */
export class PlanCache {
  private readonly entries = new Map<string, CachedPlan>();
  private chars = 0;

  constructor(
    private readonly maxEntries = PLAN_CACHE_ENTRIES,
    private readonly maxChars = PLAN_CACHE_CHARS,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): CachedPlan | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Map keeps insertion order: re-inserting makes this the most recently used.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  /** Keeps a time-free plan; any other is ignored, as is one too large for the whole budget. */
  set(key: string, entry: CachedPlan): void {
    if (!timeFree(entry.plan)) return;
    const cost = key.length + entry.text.length;
    if (cost > this.maxChars) return;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.chars -= key.length + old.text.length;
    }
    this.entries.set(key, entry);
    this.chars += cost;
    for (const [k, v] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.chars <= this.maxChars) break;
      this.entries.delete(k);
      this.chars -= k.length + v.text.length;
    }
  }
}
