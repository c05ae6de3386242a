// The hub side of its traffic worker processes (`--dns-workers`, `--edge-workers`). Node 20 has no
// SO_REUSEPORT for dgram and no per-worker listener for HTTP, so the hub uses node:cluster, Node's
// own way to share a socket: the hub (the cluster primary) holds each bound UDP socket and TCP
// listener once, without reading from them, and N worker processes (worker-main.ts) all receive
// from them; the kernel gives each datagram and connection to whichever worker reads first.
//
// A pool forks its workers with a role (DNS or edge), sends each the role's start settings and the
// current state (routing table…), pushes every new state to all of them, sums their metrics at
// each scrape, checks they answer a heartbeat (a worker whose event loop is stuck is killed),
// restarts a worker that dies with backoff, and stops them gracefully. Workers die with the hub,
// even on `kill -9`: node:cluster exits a worker whose IPC channel closes.
import cluster, { type Worker } from 'node:cluster';
import { createSocket } from 'node:dgram';
import { createServer, isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, type Counter, type Registry } from 'prom-client';
import { MeridianError, errorMessage } from '../../kube/errors.ts';
import type { Logger } from '../../logging/logger.ts';
import {
  WORKER_ROLE_ENV,
  type FromWorker,
  type MetricsJson,
  type ToWorker,
  type WorkerRole,
} from './worker-protocol.ts';

export interface WorkerPoolOptions<Start, State> {
  readonly role: WorkerRole;
  /** What the logs call one worker, e.g. `GSLB DNS worker`. */
  readonly label: string;
  /** Worker processes (≥ 1). */
  readonly workers: number;
  readonly logger: Logger;
  /** The settings a (re)started worker gets, read at each start. */
  readonly start: () => Start;
  /** The state every worker serves from, read at each start and each `broadcast`. */
  readonly state: () => State;
  /** The error a worker that could not start is reported with. */
  readonly failed: (index: number, reason: string) => Error;
  /** Whole lines a worker hands over to be logged (its access log). */
  readonly onLog?: (chunk: string) => void;
  /** Delay before restarting a crashed worker, doubled per crash in a row up to 30 s (default 1 s). */
  readonly restartDelayMs?: number;
  /** How often each worker is pinged (default 1 s). */
  readonly heartbeatIntervalMs?: number;
  /** A worker silent for this long is killed and restarted (default 5 s). */
  readonly heartbeatTimeoutMs?: number;
  /** How long `stop` lets a worker finish before killing it (default 3 s). */
  readonly stopTimeoutMs?: number;
}

/** A metric the workers export, to be summed over them in the hub's registry. */
export interface SummedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
}

interface Slot {
  readonly index: number;
  worker?: Worker;
  ready: boolean;
  /** The last state version the worker confirmed. */
  applied: number;
  /** Its metrics at the last scrape (cumulative). */
  metrics?: MetricsJson;
  startedAt: number;
  /** When the oldest ping it has not answered yet was sent. */
  pingedAt?: number;
  /** Killed for not answering: it stays in the slot until its exit. */
  hung: boolean;
  /** Crashes in a row (reset once a worker has run for a minute). */
  crashes: number;
  restart?: NodeJS.Timeout;
}

/**
 * Workers run what the hub runs: the compiled build as is, the TypeScript sources through tsx
 * (wherever the hub was started from).
 */
const COMPILED = import.meta.url.endsWith('.js');
const WORKER_MODULE = fileURLToPath(new URL(`./worker-main${COMPILED ? '.js' : '.ts'}`, import.meta.url));
const WORKER_EXEC_ARGV = COMPILED ? [] : ['--import', import.meta.resolve('tsx')];
const MAX_RESTART_DELAY_MS = 30_000;
const STABLE_AFTER_MS = 60_000;
const COLLECT_TIMEOUT_MS = 1_000;

let primaryReady = false;
/**
 * node:cluster has one set of primary settings per process, frozen at the first fork: every pool
 * (DNS and edge may run at once) forks the same entry, which dispatches on the role.
 */
function setupPrimary(): void {
  if (primaryReady) return;
  // SCHED_NONE: workers accept TCP connections themselves instead of the hub handing each one over
  // (which would put every new connection through the hub's event loop). Node's own
  // NODE_CLUSTER_SCHED_POLICY=rr still chooses that: evenly spread connections, for a hub whose
  // clients keep few long-lived ones (docs/benchmarks.md, p99 with two workers).
  if (!process.env['NODE_CLUSTER_SCHED_POLICY']) cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ exec: WORKER_MODULE, execArgv: WORKER_EXEC_ARGV, args: [] });
  primaryReady = true;
}

/** N worker processes of one role; see the module comment. */
export class WorkerPool<Start, State> {
  private readonly log: Logger;
  private readonly slots: Slot[];
  private version = 0;
  private current?: State;
  private stopping = false;
  private heartbeat?: NodeJS.Timeout;
  private nextId = 0;
  private readonly collects = new Map<number, { done: () => void; timer: NodeJS.Timeout }>();
  private collecting?: Promise<MetricsJson>;
  /** Final metrics of workers that exited. */
  private retired: MetricsJson[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(private readonly options: WorkerPoolOptions<Start, State>) {
    if (!Number.isInteger(options.workers) || options.workers < 1)
      throw new MeridianError(
        'InvalidWorkers',
        `${options.role}: workers: ${options.workers} is not a positive integer`,
      );
    this.log = options.logger;
    this.slots = Array.from({ length: options.workers }, (_, index) => ({
      index,
      ready: false,
      applied: 0,
      startedAt: 0,
      hung: false,
      crashes: 0,
    }));
  }

  /**
   * Starts the first worker (it binds the shared sockets), then the others. When the first fails,
   * `retry(error)` may choose other settings (another free port) and return true to try again.
   */
  async start(retry?: (e: unknown) => Promise<boolean>): Promise<void> {
    if (this.heartbeat) throw new Error(`${this.options.label}s already started`);
    setupPrimary();
    const first = this.slots[0]!;
    try {
      for (;;) {
        try {
          await this.startWorker(first);
          break;
        } catch (e) {
          if (!retry || !(await retry(e))) throw e;
          // Not a crash: the retry replaces the worker, not a restart.
          clearTimeout(first.restart);
          first.crashes = 0;
        }
      }
      await Promise.all(this.slots.slice(1).map((s) => this.startWorker(s)));
    } catch (e) {
      await this.stop();
      throw e;
    }
    const every = this.options.heartbeatIntervalMs ?? 1_000;
    this.heartbeat = setInterval(() => this.checkLiveness(), every);
  }

  /** Stops every worker (they finish what is in flight), killing any still running after the timeout. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.heartbeat);
    for (const { done, timer } of this.collects.values()) {
      clearTimeout(timer);
      done();
    }
    this.collects.clear();
    for (const w of this.waiters) w();
    await Promise.all(
      this.slots.map(async (slot) => {
        clearTimeout(slot.restart);
        const worker = slot.worker;
        if (!worker) return;
        // 'disconnect' too: every message the worker sent before exiting (its last log lines) is read.
        const gone = Promise.all([
          new Promise<void>((resolve) => worker.once('exit', () => resolve())),
          new Promise<void>((resolve) =>
            worker.isConnected() ? worker.once('disconnect', () => resolve()) : resolve(),
          ),
        ]);
        if (worker.isConnected()) worker.send({ type: 'stop' } satisfies ToWorker<Start, State>);
        const timer = setTimeout(() => worker.process.kill('SIGKILL'), this.options.stopTimeoutMs ?? 3_000);
        await gone;
        clearTimeout(timer);
      }),
    );
  }

  /** Sends the current state to every worker; IPC keeps the order, so the last state wins. */
  broadcast(): void {
    if (this.stopping) return;
    const message = this.nextState();
    for (const s of this.slots) if (s.worker?.isConnected()) s.worker.send(message);
  }

  /** Resolves once every running worker serves from the latest state. */
  synced(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.stopping || this.slots.every((s) => !s.ready || s.applied >= this.version)) {
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** PIDs of the running workers, by slot (tests, benchmarks). */
  pids(): number[] {
    return this.slots.flatMap((s) => (s.ready && s.worker?.process.pid ? [s.worker.process.pid] : []));
  }

  /** The sum of one metric's values in each worker's last report, by slot (tests). */
  async perWorker(name: string): Promise<number[]> {
    await this.collect();
    return this.slots.map((s) => {
      const m = s.metrics?.find((x) => x.name === name);
      return (m?.values ?? []).reduce((n, v) => n + v.value, 0);
    });
  }

  /** Tests only: makes worker `index` busy-loop for `ms`, as if its event loop were stuck. */
  block(index: number, ms: number): void {
    this.slots[index]?.worker?.send({ type: 'block', ms } satisfies ToWorker<Start, State>);
  }

  /**
   * Registers `metrics` in the hub's registry, each summed over the workers (and what crashed
   * workers had counted) at every scrape.
   */
  registerMetrics(registry: Registry, metrics: readonly SummedMetric[]): void {
    for (const { name, help, type } of metrics) {
      const empty = { name, help, type, aggregator: 'sum', values: [] };
      // prom-client's registry takes any object with a name and get(), as AggregatorRegistry's
      // own merged metrics are; its types only name its classes.
      const summed = {
        name,
        help,
        type,
        aggregator: 'sum',
        get: async () => (await this.collect()).find((m) => m.name === name) ?? empty,
      };
      registry.registerMetric(summed as never as Counter);
    }
  }

  private nextState(): ToWorker<Start, State> & { type: 'state' } {
    this.version++;
    this.current = this.options.state();
    return { type: 'state', state: this.current, version: this.version };
  }

  /** Kills a worker that left a ping unanswered for the timeout; pings the others. */
  private checkLiveness(): void {
    const now = Date.now();
    const timeout = this.options.heartbeatTimeoutMs ?? 5_000;
    for (const s of this.slots) {
      const worker = s.worker;
      if (!s.ready || s.hung || !worker?.isConnected()) continue;
      if (s.pingedAt !== undefined && now - s.pingedAt > timeout) {
        this.log.error(
          { role: this.options.role, worker: s.index, pid: worker.process.pid, silentMs: now - s.pingedAt },
          `${this.options.label} stopped answering its heartbeat; killing it`,
        );
        s.hung = true;
        worker.process.kill('SIGKILL'); // its exit restarts it
        continue;
      }
      s.pingedAt ??= now;
      worker.send({ type: 'ping', id: this.nextId++ } satisfies ToWorker<Start, State>);
    }
  }

  private startWorker(slot: Slot): Promise<void> {
    if (this.current === undefined) this.nextState();
    const worker = cluster.fork({ [WORKER_ROLE_ENV]: this.options.role });
    slot.worker = worker;
    slot.ready = false;
    slot.applied = 0;
    slot.metrics = undefined;
    slot.pingedAt = undefined;
    slot.hung = false;
    slot.startedAt = Date.now();
    const { label } = this.options;
    const log = this.log.child({ role: this.options.role, worker: slot.index, pid: worker.process.pid });
    return new Promise<void>((resolve, reject) => {
      let failure = 'exited before listening';
      // An IPC send to a worker that just died emits 'error'; the 'exit' that follows restarts it.
      worker.on('error', (e) => log.warn({ err: errorMessage(e) }, `${label} IPC error`));
      worker.on('message', (raw: unknown) => {
        const m = raw as FromWorker;
        switch (m.type) {
          case 'loaded':
            // The latest state, whatever was broadcast while the worker loaded.
            worker.send({
              type: 'start',
              start: this.options.start(),
              state: this.current!,
              version: this.version,
            } satisfies ToWorker<Start, State>);
            return;
          case 'listening':
            slot.ready = true;
            resolve();
            this.notify();
            return;
          case 'failed':
            failure = `${m.code ?? 'error'}: ${m.message}`;
            return;
          case 'applied':
            slot.applied = m.version;
            this.notify();
            return;
          case 'metrics':
            slot.metrics = m.metrics;
            this.collects.get(m.id)?.done();
            return;
          case 'pong':
            slot.pingedAt = undefined;
            return;
          case 'log':
            this.options.onLog?.(m.chunk);
            return;
        }
      });
      worker.once('exit', (code, signal) => {
        const wasReady = slot.ready;
        if (slot.worker === worker) {
          slot.worker = undefined;
          slot.ready = false;
        }
        if (slot.metrics) this.retired.push(slot.metrics);
        slot.metrics = undefined;
        this.notify();
        if (!wasReady) reject(this.options.failed(slot.index, failure));
        if (this.stopping) return;
        if (Date.now() - slot.startedAt > STABLE_AFTER_MS) slot.crashes = 0;
        slot.crashes++;
        const delay = Math.min(
          MAX_RESTART_DELAY_MS,
          (this.options.restartDelayMs ?? 1_000) * 2 ** (slot.crashes - 1),
        );
        log.error(
          { code, signal, failure: wasReady ? undefined : failure, restartInMs: delay },
          `${label} exited; restarting it`,
        );
        slot.restart = setTimeout(() => {
          // A worker may fill the slot meanwhile (start() retrying on another port): never two.
          if (this.stopping || slot.worker) return;
          this.startWorker(slot).then(
            () => log.info({ newPid: slot.worker?.process.pid }, `${label} restarted`),
            () => {}, // its exit was logged and schedules the next attempt
          );
        }, delay);
      });
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Asks every running worker for its metrics (one round trip shared by concurrent callers). */
  private collect(): Promise<MetricsJson> {
    this.collecting ??= this.collectOnce().finally(() => (this.collecting = undefined));
    return this.collecting;
  }

  private async collectOnce(): Promise<MetricsJson> {
    await Promise.all(
      this.slots.map((s) => {
        const worker = s.worker;
        if (!s.ready || !worker?.isConnected()) return undefined;
        const id = this.nextId++;
        // A worker that does not answer in time contributes what it reported last time.
        return new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(this.collects.get(id)?.timer);
            this.collects.delete(id);
            resolve();
          };
          this.collects.set(id, { done, timer: setTimeout(done, COLLECT_TIMEOUT_MS) });
          worker.send({ type: 'collect', id } satisfies ToWorker<Start, State>);
        });
      }),
    );
    const parts = [...this.retired, ...this.slots.flatMap((s) => (s.metrics ? [s.metrics] : []))];
    if (parts.length === 0) return [];
    const total = await AggregatorRegistry.aggregate(parts).getMetricsAsJSON();
    if (this.retired.length > 1)
      this.retired = [await AggregatorRegistry.aggregate(this.retired).getMetricsAsJSON()];
    return total;
  }
}

/** Whether a worker failed to start because its port was taken (worth another free port). */
export const addressInUse = (e: unknown): boolean => e instanceof Error && e.message.includes('EADDRINUSE');

/** A port free on `host` right now for TCP (and UDP when `udp`); the workers then bind it. */
export async function freeSharedPort(host: string, udp: boolean): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const sock = udp ? createSocket(isIP(host) === 6 ? 'udp6' : 'udp4') : undefined;
    const chosen = sock
      ? await new Promise<number>((resolve, reject) => {
          sock.once('error', reject);
          sock.bind(0, host, () => resolve(sock.address().port));
        })
      : 0;
    const tcp = createServer();
    const port = await new Promise<number | undefined>((resolve) => {
      tcp.once('error', () => resolve(undefined));
      tcp.listen({ host, port: chosen, exclusive: true }, () => {
        const a = tcp.address();
        resolve(typeof a === 'object' && a ? a.port : undefined);
      });
    });
    if (sock) await new Promise<void>((resolve) => sock.close(() => resolve()));
    if (port !== undefined) await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (port !== undefined) return port;
    if (attempt >= 20)
      throw new MeridianError('InvalidListen', `no free ${udp ? 'UDP+TCP' : 'TCP'} port on ${host}`);
  }
}
