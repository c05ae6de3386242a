// A controller work queue in the controller-runtime discipline: keys are de-duplicated, one key is
// never processed twice at once (a key added while it runs is processed again right after), and
// failures retry with per-key exponential backoff.

export type ReconcileResult = { requeueAfterMs?: number } | void;

export interface WorkQueueOptions {
  readonly concurrency: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly onError?: (key: string, err: unknown, attempt: number) => void;
}

export class WorkQueue {
  private readonly pending = new Set<string>();
  private readonly order: string[] = [];
  private readonly running = new Set<string>();
  private readonly dirtyWhileRunning = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private active = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly reconcile: (key: string) => Promise<ReconcileResult>,
    private readonly opts: WorkQueueOptions,
  ) {}

  /** Queues `key` now (a pending delayed add is superseded). */
  add(key: string): void {
    if (this.stopped) return;
    const t = this.timers.get(key);
    if (t) {
      clearTimeout(t);
      this.timers.delete(key);
    }
    if (this.running.has(key)) {
      this.dirtyWhileRunning.add(key);
      return;
    }
    if (this.pending.has(key)) return;
    this.pending.add(key);
    this.order.push(key);
    this.pump();
  }

  /** Queues `key` after `ms`, unless an earlier add is already scheduled. */
  addAfter(key: string, ms: number): void {
    if (this.stopped || this.timers.has(key) || this.pending.has(key)) return;
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.add(key);
      }, ms),
    );
  }

  private pump(): void {
    while (!this.stopped && this.active < this.opts.concurrency && this.order.length > 0) {
      const key = this.order.shift()!;
      this.pending.delete(key);
      this.running.add(key);
      this.active++;
      void this.process(key);
    }
    if (this.active === 0 && this.order.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private async process(key: string): Promise<void> {
    let requeueAfter: number | undefined;
    try {
      const res = await this.reconcile(key);
      this.failures.delete(key);
      requeueAfter = res?.requeueAfterMs;
    } catch (e) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.opts.onError?.(key, e, n);
      requeueAfter = Math.min(
        this.opts.maxBackoffMs ?? 30_000,
        (this.opts.minBackoffMs ?? 200) * 2 ** Math.min(n - 1, 12),
      );
    } finally {
      this.running.delete(key);
      this.active--;
    }
    if (this.dirtyWhileRunning.delete(key)) this.add(key);
    else if (requeueAfter !== undefined) this.addAfter(key, requeueAfter);
    this.pump();
  }

  /** Resolves when nothing is queued or running (tests). */
  idle(): Promise<void> {
    if (this.active === 0 && this.order.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.order.length = 0;
    this.pending.clear();
  }
}
