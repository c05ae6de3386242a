// The hub's side of the trace worker thread (trace-worker.ts), which owns the embedded store and
// does every OTLP batch's decoding: a 100,000-span batch took 20 s of synchronous decoding and
// SQLite inserts, and on the hub's own event loop that stalled DNS, the API and the leader lease.
// Batches wait in a bounded queue: past `maxIngests` batches or `maxIngestBytes` bytes a new
// one is refused with 503 and Retry-After (OTLP exporters retry on it) instead of piling up.
// The store's queries go to the same thread, whichever store it opened (SQLite or PostgreSQL). A worker that dies is replaced at the next call.
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../../logging/logger.ts';
import { siblingModule, startWorkerThread } from '../worker-thread.ts';
import { GRPC, OtlpHttpError, type IngestJob, type TopologyAnswer, type TopologyAsk } from './otlp-ingest.ts';
import type { StoredSpan, TimeWindowUs } from './span-model.ts';
import type {
  RetentionPolicy,
  RetentionResult,
  ServiceCall,
  TraceSearch,
  TraceStore,
  TraceSummary,
} from './trace-store.ts';

/** The store's methods the worker answers, with their arguments and results. */
export interface StoreCalls {
  write: [[spans: readonly StoredSpan[]], { stored: number }];
  trace: [[traceId: string], StoredSpan[]];
  search: [[q: TraceSearch], TraceSummary[]];
  serviceCalls: [[window: TimeWindowUs], ServiceCall[]];
  enforceRetention: [[policy: RetentionPolicy, nowMs: number], RetentionResult];
  stats: [[], { spans: number; bytes: number }];
}
export type StoreMethod = keyof StoreCalls;

export interface IngestResult {
  /** Spans in the batch as decoded. */
  readonly received: number;
  readonly stored: number;
  readonly rejected: number;
  readonly duplicates: number;
  readonly reasons: readonly string[];
}

export type ToTraceWorker =
  | { readonly id: number; readonly op: 'ingest'; readonly job: IngestJob }
  | { readonly id: number; readonly op: 'topology'; readonly answer: TopologyAnswer }
  | { readonly id: number; readonly op: 'call'; readonly method: StoreMethod; readonly args: unknown[] }
  | { readonly id: number; readonly op: 'close' };

export type FromTraceWorker =
  | { readonly id: number; readonly op: 'ask'; readonly ask: TopologyAsk }
  | { readonly id: number; readonly op: 'done'; readonly value: unknown }
  | {
      readonly id: number;
      readonly op: 'failed';
      readonly error: { message: string; status?: number; grpcCode?: number };
    };

/**
 * The store the worker opens: the embedded SQLite file, or a PostgreSQL database that every hub
 * replica shares. PostgreSQL I/O is asynchronous and would not block the hub's event loop, but
 * its batches go through the worker all the same: decoding OTLP and building the rows is the
 * synchronous part of an ingest (most of its CPU), and the worker's bounded queue is what refuses
 * a flood with 503.
 */
export type TraceStoreLocation =
  { readonly kind: 'sqlite'; readonly file: string } | { readonly kind: 'postgres'; readonly url: string };

export interface TraceThreadOptions {
  readonly store: TraceStoreLocation;
  /** Regions of clusters and workloads of pods, from the hub's caches. */
  readonly topology: (ask: TopologyAsk) => TopologyAnswer;
  readonly log: Logger;
  /** Batches being decoded or stored, or waiting to be (default 4); one more gets a 503. */
  readonly maxIngests?: number;
  /** Their bytes as received (default 64 MiB). */
  readonly maxIngestBytes?: number;
}

export const INGEST_QUEUE_DEFAULTS = { maxIngests: 4, maxIngestBytes: 64 * 1024 ** 2 } as const;

/** A message to the worker before `send` gives it an id. */
type Unsent = ToTraceWorker extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class TraceThread implements TraceStore {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private ingests = 0;
  private ingestBytes = 0;
  private closed = false;
  private readonly maxIngests: number;
  private readonly maxIngestBytes: number;

  constructor(private readonly opts: TraceThreadOptions) {
    this.maxIngests = opts.maxIngests ?? INGEST_QUEUE_DEFAULTS.maxIngests;
    this.maxIngestBytes = opts.maxIngestBytes ?? INGEST_QUEUE_DEFAULTS.maxIngestBytes;
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    if (this.closed) throw new Error('the trace store is closed');
    const w = startWorkerThread(siblingModule(import.meta.url, 'trace-worker'), this.opts.store);
    w.on('message', (m: FromTraceWorker) => this.onMessage(w, m));
    w.on('error', (e) => this.opts.log.error({ err: e }, 'trace worker failed'));
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = undefined;
      const gone = new Error(`the trace worker exited (code ${code})`);
      for (const p of this.pending.values()) p.reject(gone);
      this.pending.clear();
      if (!this.closed) this.opts.log.error({ code }, 'trace worker exited; the next call starts another');
    });
    this.worker = w;
    return w;
  }

  private onMessage(w: Worker, m: FromTraceWorker): void {
    if (m.op === 'ask') {
      let answer: TopologyAnswer;
      try {
        answer = this.opts.topology(m.ask);
      } catch (e) {
        this.opts.log.error({ err: e }, 'trace topology lookup failed');
        answer = { regions: m.ask.clusters.map(() => null), pods: m.ask.pods.map(() => null) };
      }
      w.postMessage({ id: m.id, op: 'topology', answer } satisfies ToTraceWorker);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.op === 'done') p.resolve(m.value);
    else if (m.error.status !== undefined && m.error.grpcCode !== undefined)
      p.reject(new OtlpHttpError(m.error.status, m.error.grpcCode, m.error.message));
    else p.reject(new Error(m.error.message));
  }

  private send<T>(message: Unsent, transfer: ArrayBuffer[] = []): Promise<T> {
    const w = this.started();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ ...message, id }, transfer);
    });
  }

  private call<M extends StoreMethod>(method: M, ...args: StoreCalls[M][0]): Promise<StoreCalls[M][1]> {
    return this.send({ op: 'call', method, args });
  }

  /** Decodes and stores one batch in the worker; a full queue throws a 503 OtlpHttpError. */
  async ingest(job: IngestJob): Promise<IngestResult> {
    const bytes = job.body.length;
    if (this.ingests >= this.maxIngests || this.ingestBytes + bytes > this.maxIngestBytes)
      throw new OtlpHttpError(
        503,
        GRPC.unavailable,
        `trace ingest is busy (${this.ingests} batches, ${this.ingestBytes} bytes queued); retry later`,
        1,
      );
    this.ingests++;
    this.ingestBytes += bytes;
    try {
      // A body in an ArrayBuffer of its own moves to the worker without a copy.
      const b = job.body;
      const own = b.byteOffset === 0 && b.buffer.byteLength === b.length && b.buffer instanceof ArrayBuffer;
      return await this.send<IngestResult>({ op: 'ingest', job }, own ? [b.buffer as ArrayBuffer] : []);
    } finally {
      this.ingests--;
      this.ingestBytes -= bytes;
    }
  }

  write(spans: readonly StoredSpan[]): Promise<{ stored: number }> {
    return this.call('write', spans);
  }
  trace(traceId: string): Promise<StoredSpan[]> {
    return this.call('trace', traceId);
  }
  search(q: TraceSearch): Promise<TraceSummary[]> {
    return this.call('search', q);
  }
  serviceCalls(window: TimeWindowUs): Promise<ServiceCall[]> {
    return this.call('serviceCalls', window);
  }
  enforceRetention(policy: RetentionPolicy, nowMs: number): Promise<RetentionResult> {
    return this.call('enforceRetention', policy, nowMs);
  }
  stats(): Promise<{ spans: number; bytes: number }> {
    return this.call('stats');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const w = this.worker;
    if (w) {
      // The worker closes the database (a WAL checkpoint, or the pool's connections) before it stops.
      await this.send({ op: 'close' }).catch(() => undefined);
      this.closed = true;
      await w.terminate();
    }
    this.closed = true;
  }
}
