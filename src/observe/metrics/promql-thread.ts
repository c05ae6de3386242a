// The PromQL engine in a worker thread (promql-worker.ts): Prometheus' parser, planner and
// evaluator are synchronous WebAssembly, and a costly query planned or evaluated on the hub's
// event loop held the controllers and the leader lease with it. Here a query holds the worker
// only; calls wait in a bounded queue (past `maxPending` a call is refused at once, 503 with
// Retry-After), and a call that runs past `callTimeoutMs` has the worker terminated (the only way
// to stop WebAssembly) and answers 503 timeout; the next call starts a fresh worker.
//
// Evaluation resolves `app`/`revision` of pods through a callback the engine calls synchronously
// for each series; the worker asks the hub and blocks on a shared buffer until the hub has
// written the answer (Atomics), which the hub does from its event loop, never blocking it.
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../../logging/logger.ts';
import { siblingModule, startWorkerThread } from '../worker-thread.ts';
import type { ResolveWorkload, PromqlEngine } from './promql-engine.ts';

type Method = keyof PromqlEngine;

/** The engine as the fleet API calls it: in this thread (PromqlEngine) or in the worker. */
export type EngineApi = {
  [K in Method]: (
    ...args: Parameters<PromqlEngine[K]>
  ) => ReturnType<PromqlEngine[K]> | Promise<ReturnType<PromqlEngine[K]>>;
};

/** A call the engine could not take: the queue was full or the call ran too long. */
export class EngineBusyError extends Error {
  constructor(
    readonly reason: 'busy' | 'timeout',
    message: string,
  ) {
    super(message);
    this.name = 'EngineBusyError';
  }
}

/** Bytes of the buffer one resolve answer is written into (an answer is two short names). */
export const RESOLVE_BYTES = 4096;

export type ToPromqlWorker = {
  readonly id: number;
  readonly method: Method;
  readonly args: unknown[];
  /** evaluate only: its `resolve` asks the hub. */
  readonly resolve?: boolean;
  /** evaluate only: the worker's own copy of the plan, when it still has it. */
  readonly ref?: number;
};

export type FromPromqlWorker =
  | { readonly id: number; readonly op: 'done'; readonly value: unknown; readonly ref?: number }
  | { readonly id: number; readonly op: 'failed'; readonly message: string }
  | { readonly id: number; readonly op: 'resolve'; readonly key: readonly [string, string, string] }
  /** The engine is loaded (a cold cache builds it first, which no call's deadline counts). */
  | { readonly op: 'ready' };

export interface PromqlThreadOptions {
  readonly log: Logger;
  /** Calls running or waiting (default 16); one more is refused. */
  readonly maxPending?: number;
  /** A call running longer has the worker stopped (default 30 s). */
  readonly callTimeoutMs?: number;
}

interface Pending {
  readonly method: Method;
  /** Started once the worker's engine is loaded. */
  readonly arm: () => void;
  timer?: NodeJS.Timeout;
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class PromqlThread implements EngineApi {
  private worker: Worker | undefined;
  private workerReady = false;
  /** [0]: 1 when an answer is written, [1]: its length; the answer's bytes follow in `data`. */
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  private readonly data = new Uint8Array(new SharedArrayBuffer(RESOLVE_BYTES));
  private readonly pending = new Map<number, Pending>();
  /** The resolvers of evaluations sent, by call id. */
  private readonly resolvers = new Map<number, ResolveWorkload | undefined>();
  /** Plans the worker made, by its reference for them (evaluate sends it back). */
  private readonly planRefs = new WeakMap<object, { worker: Worker; ref: number }>();
  private nextId = 1;
  private closed = false;
  private readonly maxPending: number;
  /** Read at each call (settings may change while the hub runs). */
  callTimeoutMs: number;

  constructor(private readonly opts: PromqlThreadOptions) {
    this.maxPending = opts.maxPending ?? 16;
    this.callTimeoutMs = opts.callTimeoutMs ?? 30_000;
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const w = startWorkerThread(siblingModule(import.meta.url, 'promql-worker'), {
      control: this.control,
      data: this.data,
    });
    w.on('message', (m: FromPromqlWorker) => this.onMessage(w, m));
    w.on('error', (e) => this.opts.log.error({ err: e }, 'PromQL worker failed'));
    w.on('exit', (code) => {
      // A worker stopped for a timeout had its calls failed then; its successor's are not its own.
      if (this.worker !== w) return;
      this.worker = undefined;
      this.failAll(new Error(`the PromQL worker exited (code ${code})`));
    });
    this.worker = w;
    this.workerReady = false;
    return w;
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    this.resolvers.clear();
  }

  private onMessage(w: Worker, m: FromPromqlWorker): void {
    if (m.op === 'ready') {
      this.workerReady = true;
      for (const p of this.pending.values()) p.arm();
      return;
    }
    if (m.op === 'resolve') {
      // The worker is blocked until this is written: answer whatever happens.
      let answer: readonly [string, string] | null = null;
      try {
        answer = this.resolvers.get(m.id)?.(...m.key) ?? null;
      } catch (e) {
        this.opts.log.error({ err: e }, 'PromQL workload lookup failed');
      }
      let bytes = new TextEncoder().encode(JSON.stringify(answer));
      if (bytes.length > this.data.length) bytes = new TextEncoder().encode('null');
      this.data.set(bytes);
      Atomics.store(this.control, 1, bytes.length);
      Atomics.store(this.control, 0, 1);
      Atomics.notify(this.control, 0);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.resolvers.delete(m.id);
    clearTimeout(p.timer);
    if (m.op === 'done') {
      if (m.ref !== undefined && typeof m.value === 'object' && m.value !== null)
        this.planRefs.set(m.value, { worker: w, ref: m.ref });
      p.resolve(m.value);
    } else p.reject(new Error(m.message));
  }

  private call<K extends Method>(
    method: K,
    args: unknown[],
    resolve?: ResolveWorkload,
  ): Promise<ReturnType<PromqlEngine[K]>> {
    if (this.closed) return Promise.reject(new Error('the PromQL engine is stopped'));
    if (this.pending.size >= this.maxPending)
      return Promise.reject(
        new EngineBusyError(
          'busy',
          `the PromQL engine is busy (${this.pending.size} queries queued); retry later`,
        ),
      );
    const w = this.started();
    const id = this.nextId++;
    return new Promise((ok, fail) => {
      const expire = (): void => {
        this.opts.log.warn(
          { method, timeoutMs: this.callTimeoutMs },
          'PromQL call timed out; restarting the engine',
        );
        this.failAll(
          new EngineBusyError('timeout', `query timed out in ${method} after ${this.callTimeoutMs / 1000} s`),
        );
        if (this.worker === w) this.worker = undefined;
        void w.terminate();
      };
      const pending: Pending = {
        method,
        arm: () => (pending.timer ??= setTimeout(expire, this.callTimeoutMs)),
        resolve: ok as (v: unknown) => void,
        reject: fail,
      };
      this.pending.set(id, pending);
      if (this.workerReady) pending.arm();
      let ref: number | undefined;
      if (method === 'evaluate') {
        this.resolvers.set(id, resolve);
        const known = this.planRefs.get(args[1] as object);
        if (known?.worker === w) ref = known.ref;
      }
      w.postMessage({ id, method, args, resolve: resolve !== undefined, ref } satisfies ToPromqlWorker);
    });
  }

  plan(...a: Parameters<PromqlEngine['plan']>): Promise<ReturnType<PromqlEngine['plan']>> {
    return this.call('plan', a);
  }
  evaluate(
    ...[q, plan, inputs, maxSamples, resolve]: Parameters<PromqlEngine['evaluate']>
  ): Promise<ReturnType<PromqlEngine['evaluate']>> {
    return this.call('evaluate', [q, plan, inputs, maxSamples], resolve);
  }
  selectors(...a: Parameters<PromqlEngine['selectors']>): Promise<ReturnType<PromqlEngine['selectors']>> {
    return this.call('selectors', a);
  }
  matchSeries(
    ...a: Parameters<PromqlEngine['matchSeries']>
  ): Promise<ReturnType<PromqlEngine['matchSeries']>> {
    return this.call('matchSeries', a);
  }

  /** Loads the engine in the worker (a build first if the cache lacks it). */
  async warm(): Promise<void> {
    await this.call('plan', [{ query: 'up', start: 0, end: 0, step: 0, members: [] }]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error('the PromQL engine is stopped'));
    await this.worker?.terminate();
    this.worker = undefined;
  }
}
