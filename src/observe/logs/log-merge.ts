// Puts lines from many containers in many clusters into one time order. A query merges finished
// streams exactly (k-way, so 300k lines cost n·log k, not a full sort); a live follow cannot know
// what a slower cluster will still send, so it holds each event briefly and releases in time order.
import type { LogEvent, LogLine } from './log-event.ts';

/** Time order; equal times fall back to source order so a merge is deterministic. */
export function compareEvents(a: LogEvent, b: LogEvent): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  const ka = a.kind === 'line' ? `${a.cluster}\0${a.namespace}\0${a.pod}\0${a.container}` : (a.cluster ?? '');
  const kb = b.kind === 'line' ? `${b.cluster}\0${b.namespace}\0${b.pod}\0${b.container}` : (b.cluster ?? '');
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

const isSorted = (lines: readonly LogLine[]): boolean => {
  for (let i = 1; i < lines.length; i++) if (lines[i - 1]!.time > lines[i]!.time) return false;
  return true;
};

/**
 * Merges per-container streams into one time-ordered list. Each stream keeps its own order for
 * equal times (a container writing two lines in one nanosecond meant that order).
 */
export function mergeByTime(streams: readonly (readonly LogLine[])[]): LogLine[] {
  const sources = streams
    .filter((s) => s.length > 0)
    .map((s) => (isSorted(s) ? s : [...s].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0))));
  const total = sources.reduce((n, s) => n + s.length, 0);
  const out: LogLine[] = new Array<LogLine>(total);
  // Binary heap of source indexes, ordered by each source's next line.
  const pos = new Array<number>(sources.length).fill(0);
  const heap: number[] = [];
  const less = (i: number, j: number): boolean => {
    const c = compareEvents(sources[i]![pos[i]!]!, sources[j]![pos[j]!]!);
    return c < 0 || (c === 0 && i < j);
  };
  const up = (k: number): void => {
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (!less(heap[k]!, heap[p]!)) break;
      [heap[k], heap[p]] = [heap[p]!, heap[k]!];
      k = p;
    }
  };
  const down = (k: number): void => {
    for (;;) {
      const l = 2 * k + 1;
      const r = l + 1;
      let m = k;
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
      if (m === k) return;
      [heap[k], heap[m]] = [heap[m]!, heap[k]!];
      k = m;
    }
  };
  for (let i = 0; i < sources.length; i++) {
    heap.push(i);
    up(heap.length - 1);
  }
  let n = 0;
  while (heap.length > 0) {
    const i = heap[0]!;
    out[n++] = sources[i]![pos[i]!]!;
    pos[i]!++;
    if (pos[i]! >= sources[i]!.length) {
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        down(0);
      }
    } else down(0);
  }
  return out;
}

/**
 * Orders live events: each is held `delayMs` after it arrived, then released together with every
 * held event not newer than it, in time order. An event arriving later than that with an older
 * time is released as soon as possible, out of order: a live view cannot wait forever.
 */
export class LiveMerger {
  private held: { ev: LogEvent; at: number }[] = [];

  constructor(private readonly delayMs: number) {}

  push(ev: LogEvent, nowMs: number): void {
    this.held.push({ ev, at: nowMs });
  }

  get size(): number {
    return this.held.length;
  }

  /** Events due at `nowMs` (all of them with `flush`), in time order. */
  drain(nowMs: number, flush = false): LogEvent[] {
    if (this.held.length === 0) return [];
    const due = this.held.filter((h) => flush || nowMs - h.at >= this.delayMs);
    if (due.length === 0) return [];
    // Release up to the newest due time: anything held that is older belongs before it.
    let horizon = due[0]!.ev.time;
    for (const h of due) if (h.ev.time > horizon) horizon = h.ev.time;
    const out: LogEvent[] = [];
    const keep: { ev: LogEvent; at: number }[] = [];
    for (const h of this.held) {
      if (flush || h.ev.time <= horizon || nowMs - h.at >= this.delayMs) out.push(h.ev);
      else keep.push(h);
    }
    this.held = keep;
    return out.sort(compareEvents);
  }
}

/** The newest `limit` lines of a time-ordered list. */
export function newest<T>(
  lines: readonly T[],
  limit: number | undefined,
): { lines: T[]; truncated: boolean } {
  if (limit === undefined || lines.length <= limit) return { lines: [...lines], truncated: false };
  return { lines: lines.slice(lines.length - limit), truncated: true };
}
