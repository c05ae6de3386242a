// A buffered, asynchronous writer of log lines, for logs written on every request (the edge
// gateway's access log): lines are appended to one string and handed to the destination in large
// chunks, at most one chunk at a time, like nginx's `access_log … buffer=… flush=…`. A line waits
// at most `flushIntervalMs`; `flush` (and `close`) hand on everything buffered and resolve once
// the destination has taken it, so a graceful stop loses nothing.

export interface LineWriterOptions {
  /** Hand the buffer on once it holds this many characters. Default 64 KiB. */
  readonly chunkChars?: number;
  /** Longest a line waits in the buffer. Default 1 s. */
  readonly flushIntervalMs?: number;
  /**
   * Most characters buffered while the destination is still busy with the last chunk; lines
   * beyond it are dropped and counted (`dropped`) rather than growing memory without bound.
   * Default 16 MiB.
   */
  readonly maxBufferedChars?: number;
}

/** What the writer needs of a destination: a stream's `write` with a completion callback. */
export interface LineDestination {
  write(chunk: string, callback: (err?: Error | null) => void): boolean;
}

export class BufferedLineWriter {
  /** Lines dropped because the destination fell too far behind. */
  dropped = 0;
  /** The destination's last write error, if any (the lines of that chunk are lost). */
  lastError: Error | undefined;
  private readonly chunkChars: number;
  private readonly flushIntervalMs: number;
  private readonly maxBufferedChars: number;
  private pending = '';
  /** A chunk is with the destination. */
  private writing = false;
  /** A `flush` is waiting: hand on whatever is buffered, not only full chunks. */
  private urgent = false;
  private timer: NodeJS.Timeout | undefined;
  private waiters: (() => void)[] = [];
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.handOn();
  };
  private readonly onWritten = (err?: Error | null): void => {
    this.writing = false;
    if (err) this.lastError = err;
    if (this.pending.length >= this.chunkChars || (this.urgent && this.pending !== '')) this.handOn();
    else if (this.pending !== '') this.arm();
    else this.settle();
  };

  constructor(
    private readonly dest: LineDestination,
    opts: LineWriterOptions = {},
  ) {
    this.chunkChars = opts.chunkChars ?? 64 * 1024;
    this.flushIntervalMs = opts.flushIntervalMs ?? 1_000;
    this.maxBufferedChars = opts.maxBufferedChars ?? 16 * 1024 * 1024;
  }

  /** Appends one line (with its newline). */
  write(line: string): void {
    if (this.pending.length + line.length > this.maxBufferedChars) {
      this.dropped++;
      return;
    }
    this.pending += line;
    if (this.pending.length >= this.chunkChars) this.handOn();
    else this.arm();
  }

  /** Hands on everything buffered; resolves when the destination has taken it. */
  flush(): Promise<void> {
    if (this.pending === '' && !this.writing) return Promise.resolve();
    this.urgent = true;
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.handOn();
    return done;
  }

  /** Flushes and stops the timer; the destination stays open (it belongs to the caller). */
  async close(): Promise<void> {
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer === undefined && !this.writing) {
      this.timer = setTimeout(this.onTimer, this.flushIntervalMs);
      this.timer.unref();
    }
  }

  private handOn(): void {
    if (this.writing) return; // `onWritten` takes over
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending === '') {
      this.settle();
      return;
    }
    const chunk = this.pending;
    this.pending = '';
    this.writing = true;
    try {
      this.dest.write(chunk, this.onWritten);
    } catch (err) {
      // A destination that throws (already ended) instead of calling back.
      this.onWritten(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private settle(): void {
    this.urgent = false;
    if (this.waiters.length > 0) for (const w of this.waiters.splice(0)) w();
  }
}
