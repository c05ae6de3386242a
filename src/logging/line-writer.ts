// A buffered, asynchronous writer of log lines, for logs written on every request (the edge
// gateway's access log): each line is encoded as UTF-8 straight into one buffer, which is handed
// to the destination in large chunks, at most one chunk at a time, like nginx's
// `access_log … buffer=… flush=…`. A line waits at most `flushIntervalMs`; `flush` (and `close`)
// hand on everything buffered and resolve once the destination has taken it, so a graceful stop
// loses nothing. Lines are encoded into the buffer rather than appended to a string because the
// string was a rope of thousands of small pieces that the stream then had to flatten and encode:
// under load that cost more than formatting the lines.
import { Writable } from 'node:stream';

export interface LineWriterOptions {
  /** Hand the buffer on once it holds this many bytes. Default 64 KiB. */
  readonly chunkBytes?: number;
  /** Longest a line waits in the buffer. Default 1 s. */
  readonly flushIntervalMs?: number;
  /**
   * Most bytes buffered while the destination is still busy with the last chunk; lines beyond it
   * are dropped and counted (`dropped`) rather than growing memory without bound. Default 16 MiB.
   */
  readonly maxBufferedBytes?: number;
}

/** A destination that takes each chunk as a string (the edge workers' IPC channel to the hub). */
export interface TextLineDestination {
  write(chunk: string, callback: (err?: Error | null) => void): boolean;
}

/**
 * Where the lines go; a chunk is always whole lines. A byte stream (a `stream.Writable` not in
 * object mode, such as process.stderr or a file) gets each chunk as a Buffer, any other
 * destination as a string.
 */
export type LineDestination = Writable | TextLineDestination;

/**
 * Writes one line of `item` (with its newline) as UTF-8 into `buf` from `at` and returns where it
 * ends, or returns -1 when it does not fit (bytes written after `at` are then ignored).
 */
export type LineEncoder<T> = (item: T, buf: Buffer, at: number) => number;

/** Room beyond a chunk, so that the line that fills a chunk rarely has to grow the buffer. */
const SLACK_BYTES = 16 * 1024;

export class BufferedLineWriter<T> {
  /** Lines dropped because the destination fell too far behind. */
  dropped = 0;
  /** The destination's last write error, if any (the lines of that chunk are lost). */
  lastError: Error | undefined;
  private readonly chunkBytes: number;
  private readonly flushIntervalMs: number;
  private readonly maxBufferedBytes: number;
  /** The buffer's first size: a chunk and some room. */
  private readonly bufferBytes: number;
  /** The destination takes Buffers (else strings). */
  private readonly bytes: Writable | undefined;
  /** The lines not yet handed on: `buf[0, len)`. */
  private buf: Buffer;
  private len = 0;
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
    if (this.len >= this.chunkBytes || (this.urgent && this.len > 0)) this.handOn();
    else if (this.len > 0) this.arm();
    else this.settle();
  };

  constructor(
    private readonly dest: LineDestination,
    private readonly encode: LineEncoder<T>,
    opts: LineWriterOptions = {},
  ) {
    this.chunkBytes = opts.chunkBytes ?? 64 * 1024;
    this.flushIntervalMs = opts.flushIntervalMs ?? 1_000;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 16 * 1024 * 1024;
    this.bytes = dest instanceof Writable && !dest.writableObjectMode ? dest : undefined;
    this.bufferBytes = this.chunkBytes + SLACK_BYTES;
    this.buf = Buffer.allocUnsafe(this.bufferBytes);
  }

  /** Appends the line of `item`. */
  write(item: T): void {
    let end = this.encode(item, this.buf, this.len);
    while (end < 0) {
      // Past the limit the buffer does not grow: a line that does not fit is over it.
      if (this.buf.length >= this.maxBufferedBytes) break;
      const bigger = Buffer.allocUnsafe(Math.min(this.buf.length * 2, this.maxBufferedBytes + SLACK_BYTES));
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
      end = this.encode(item, this.buf, this.len);
    }
    if (end < 0 || end > this.maxBufferedBytes) {
      this.dropped++;
      return;
    }
    this.len = end;
    if (this.len >= this.chunkBytes) this.handOn();
    else this.arm();
  }

  /** Hands on everything buffered; resolves when the destination has taken it. */
  flush(): Promise<void> {
    if (this.len === 0 && !this.writing) return Promise.resolve();
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
    if (this.len === 0) {
      this.settle();
      return;
    }
    const filled = this.buf.subarray(0, this.len);
    const text = this.bytes ? '' : filled.toString();
    // A stream keeps the Buffer it is given, so the next lines need one of their own; a string is
    // a copy, so the buffer is kept (at its first size, if it grew).
    if (this.bytes || this.buf.length > this.bufferBytes) this.buf = Buffer.allocUnsafe(this.bufferBytes);
    this.len = 0;
    this.writing = true;
    try {
      if (this.bytes) this.bytes.write(filled, this.onWritten);
      else (this.dest as TextLineDestination).write(text, this.onWritten);
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
