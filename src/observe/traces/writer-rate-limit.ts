// Spans per second per writer (the authenticated user behind an OTLP request): a token bucket
// holding one second's worth. A batch's spans are only known once the worker has decoded it, so
// a batch is admitted while its writer's bucket is not empty and charged afterwards; a writer in
// debt waits (429 with Retry-After) until the refill has paid it back. Writers are kept in LRU
// order, at most `maxWriters` of them.

interface Bucket {
  tokens: number;
  at: number;
}

export class WriterRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly maxWriters = 10_000,
  ) {}

  private bucket(writer: string): Bucket {
    const t = this.now();
    let b = this.buckets.get(writer);
    if (b) {
      this.buckets.delete(writer);
      b.tokens = Math.min(this.perSecond, b.tokens + ((t - b.at) / 1000) * this.perSecond);
      b.at = t;
    } else {
      b = { tokens: this.perSecond, at: t };
      if (this.buckets.size >= this.maxWriters) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
    }
    this.buckets.set(writer, b);
    return b;
  }

  /** Whole seconds `writer` must wait before its next batch; 0 when it may send now. */
  retryAfterS(writer: string): number {
    const b = this.bucket(writer);
    return b.tokens > 0 ? 0 : Math.max(1, Math.ceil(-b.tokens / this.perSecond));
  }

  /** Takes a stored batch's spans from the writer's bucket (it may go into debt). */
  charge(writer: string, spans: number): void {
    this.bucket(writer).tokens -= spans;
  }

  get writers(): number {
    return this.buckets.size;
  }
}
