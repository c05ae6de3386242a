// The IPC protocol between the hub and its traffic worker processes (worker-pool.ts on the hub
// side, worker-main.ts in each worker), whatever the worker's role: the GSLB DNS (dns-worker.ts)
// or the edge gateway (edge-worker.ts). A role only brings its start settings, the state the hub
// pushes on every change, and a service that serves from them; the rest is shared.
import type { Registry } from 'prom-client';

/** What a worker process serves. */
export type WorkerRole = 'dns' | 'edge';

/** The environment variable that tells a forked worker its role. */
export const WORKER_ROLE_ENV = 'MERIDIAN_WORKER_ROLE';

/** A registry's metrics as JSON (prom-client does not export the type by name). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Hub → worker. `version` grows with every state the hub sends. */
export type ToWorker<Start, State> =
  | { readonly type: 'start'; readonly start: Start; readonly state: State; readonly version: number }
  | { readonly type: 'state'; readonly state: State; readonly version: number }
  | { readonly type: 'collect'; readonly id: number }
  /** Liveness: a worker that does not answer in time is killed and restarted. */
  | { readonly type: 'ping'; readonly id: number }
  /** Tests only: keep the event loop busy for `ms`, as a worker stuck in a loop would. */
  | { readonly type: 'block'; readonly ms: number }
  | { readonly type: 'stop' };

/** Worker → hub. */
export type FromWorker =
  /** Loaded and listening for messages: the hub sends 'start' then (earlier ones would be lost). */
  | { readonly type: 'loaded' }
  | { readonly type: 'listening' }
  | { readonly type: 'failed'; readonly code?: string; readonly message: string }
  | { readonly type: 'applied'; readonly version: number }
  | {
      readonly type: 'metrics';
      readonly id: number;
      /** Cumulative since this worker started (the hub adds up workers, and what dead ones counted). */
      readonly metrics: MetricsJson;
    }
  | { readonly type: 'pong'; readonly id: number }
  /** Whole log lines (the edge access log) for the hub to write, so workers never interleave. */
  | { readonly type: 'log'; readonly chunk: string };

/** What a role runs inside a worker process. */
export interface WorkerService<Start, State> {
  /** Holds the role's metrics; the hub sums them over its workers at each scrape. */
  readonly registry: Registry;
  /** Starts serving from the sockets the hub shares (after a first `apply`); resolves once listening. */
  start(start: Start): Promise<void>;
  /** Serves from a new state from now on. */
  apply(state: State): void;
  /** Stops serving (finishing what is in flight) and flushes what it buffered. */
  stop(): Promise<void>;
}
