// GSLB DNS on more than one core (`meridian hub --dns-workers N`). Node 20's dgram has no
// SO_REUSEPORT, so the hub uses node:cluster, Node's own way to share a socket: the hub (the
// cluster primary) binds the UDP socket and TCP listener once, without reading from them, and hands
// them to N worker processes (dns-worker.ts), which all receive from them; the kernel gives each
// datagram and connection to whichever worker reads first. The hub pushes its routing table (routes,
// health, drain, geo table) to every worker on each change, so they answer exactly as the in-process
// GslbDnsServer would; only RoundRobin/Weighted rotation state is per worker. Workers die with the
// hub, are restarted with backoff when they crash, and report their query metrics on each scrape.
import cluster, { type Worker } from 'node:cluster';
import { createSocket } from 'node:dgram';
import { createServer, isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, type Counter, type Registry } from 'prom-client';
import { MeridianError, errorMessage } from '../kube/errors.ts';
import { createLogger, type Logger } from '../logging/logger.ts';
import { DNS_METRICS, validateDnsListen, type GslbDnsAddress } from './dns-server.ts';
import { encodeDnsTable, type DnsTableWire } from './dns-table-wire.ts';
import type { FromDnsWorker, MetricsJson, ToDnsWorker } from './dns-worker.ts';
import { EMPTY_GEO_TABLE, type GeoTable } from './geo-table.ts';
import { validateZoneConfig, type DnsZoneConfig } from './gslb-answer.ts';
import type { SwappableRoutingTable } from './routing.ts';

export interface GslbDnsWorkersOptions {
  readonly host: string;
  /** UDP and TCP port; 0 picks a free port (the same for both). */
  readonly port: number;
  /** Worker processes (≥ 1). */
  readonly workers: number;
  /** The hub's table; every set() is copied to the workers. */
  readonly table: SwappableRoutingTable;
  readonly zone: DnsZoneConfig;
  /** The geo table, sent with every table change. */
  readonly geo?: () => GeoTable;
  readonly logger?: Logger;
  /** Registers the DNS metrics, summed over the workers (and what crashed workers had counted). */
  readonly registry?: Registry;
  readonly tcpIdleTimeoutMs?: number;
  readonly maxTcpConnections?: number;
  /** Delay before restarting a crashed worker, doubled per crash in a row up to 30 s (default 1 s). */
  readonly restartDelayMs?: number;
}

interface Slot {
  readonly index: number;
  worker?: Worker;
  ready: boolean;
  /** The last table version the worker confirmed. */
  applied: number;
  /** Its metrics at the last scrape (cumulative). */
  metrics?: MetricsJson;
  startedAt: number;
  /** Crashes in a row (reset once a worker has run for a minute). */
  crashes: number;
  restart?: NodeJS.Timeout;
}

const WORKER_MODULE = fileURLToPath(new URL('./dns-worker.ts', import.meta.url));
/** Workers run the TypeScript sources through tsx like the hub, wherever the hub was started from. */
const TSX_LOADER = import.meta.resolve('tsx');
const MAX_RESTART_DELAY_MS = 30_000;
const STABLE_AFTER_MS = 60_000;
const COLLECT_TIMEOUT_MS = 1_000;
const STOP_TIMEOUT_MS = 3_000;

/** The hub side of the GSLB DNS worker processes; same lifecycle as GslbDnsServer. */
export class GslbDnsWorkers {
  private readonly log: Logger;
  private readonly zone: DnsZoneConfig;
  private readonly geo: () => GeoTable;
  private readonly slots: Slot[];
  private port = 0;
  private version = 0;
  private wire?: DnsTableWire;
  private lastGeo?: GeoTable;
  private stopping = false;
  private unsubscribe?: () => void;
  private nextCollectId = 0;
  private readonly collects = new Map<number, { done: () => void; timer: NodeJS.Timeout }>();
  private collecting?: Promise<MetricsJson>;
  /** Final metrics of workers that exited. */
  private retired: MetricsJson[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(private readonly options: GslbDnsWorkersOptions) {
    validateDnsListen(options.host, options.port);
    if (!Number.isInteger(options.workers) || options.workers < 1)
      throw new MeridianError(
        'InvalidDnsWorkers',
        `dns: workers: ${options.workers} is not a positive integer`,
      );
    this.zone = validateZoneConfig(options.zone);
    this.log = options.logger ?? createLogger('gslb-dns');
    this.geo = options.geo ?? (() => EMPTY_GEO_TABLE);
    this.slots = Array.from({ length: options.workers }, (_, index) => ({
      index,
      ready: false,
      applied: 0,
      startedAt: 0,
      crashes: 0,
    }));
  }

  /** Binds UDP and TCP (through the first worker) and starts every worker. */
  async start(): Promise<GslbDnsAddress> {
    if (this.unsubscribe) throw new Error('GslbDnsWorkers already started');
    // The policy is per process and frozen at the first fork; nothing else in the hub uses cluster.
    // SCHED_NONE: workers accept TCP connections themselves instead of the hub handing each one over.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: WORKER_MODULE, execArgv: ['--import', TSX_LOADER], args: [] });
    this.unsubscribe = this.options.table.subscribe(() => this.push());
    this.encode();
    const { host } = this.options;
    try {
      for (let attempt = 1; ; attempt++) {
        // The workers bind the port itself, never 0, so a restarted worker gets the same one.
        this.port = this.options.port || (await freeUdpTcpPort(host));
        try {
          await this.startWorker(this.slots[0]!);
          break;
        } catch (e) {
          const inUse = e instanceof MeridianError && e.message.includes('EADDRINUSE');
          if (this.options.port !== 0 || !inUse || attempt >= 20) throw e;
          // Not a crash: the retry below replaces the worker, not a restart.
          clearTimeout(this.slots[0]!.restart);
          this.slots[0]!.crashes = 0;
        }
      }
      await Promise.all(this.slots.slice(1).map((s) => this.startWorker(s)));
    } catch (e) {
      await this.stop();
      throw e;
    }
    if (this.options.registry) this.registerMetrics(this.options.registry);
    this.log.info(
      { host, port: this.port, zones: this.zone.zones, workers: this.slots.length },
      'GSLB DNS listening (UDP and TCP) in worker processes',
    );
    return { host, udpPort: this.port, tcpPort: this.port };
  }

  /** Stops every worker (they close the sockets), killing any that does not exit within 3 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
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
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        if (worker.isConnected()) worker.send({ type: 'stop' } satisfies ToDnsWorker);
        const timer = setTimeout(() => worker.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  /** Resolves once every running worker answers from the hub's current table. */
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

  /** PIDs of the running workers (tests, benchmarks). */
  pids(): number[] {
    return this.slots.flatMap((s) => (s.ready && s.worker?.process.pid ? [s.worker.process.pid] : []));
  }

  /** Queries each running worker has answered (tests: proves they all answer). */
  async answeredPerWorker(): Promise<number[]> {
    await this.collect();
    return this.slots.map((s) => {
      const m = s.metrics?.find((x) => x.name === DNS_METRICS.queries.name);
      return (m?.values ?? []).reduce((n, v) => n + v.value, 0);
    });
  }

  private encode(): void {
    const geo = this.geo();
    this.lastGeo = geo;
    this.version++;
    this.wire = encodeDnsTable(this.options.table.routes(), geo);
  }

  /** Sends the current table to every worker; IPC keeps the order, so the last table wins. */
  private push(): void {
    if (this.stopping) return;
    this.encode();
    const message: ToDnsWorker = { type: 'table', table: this.wire!, version: this.version };
    for (const s of this.slots) if (s.worker?.isConnected()) s.worker.send(message);
  }

  private startWorker(slot: Slot): Promise<void> {
    if (this.lastGeo !== this.geo()) this.encode();
    const worker = cluster.fork();
    slot.worker = worker;
    slot.ready = false;
    slot.applied = 0;
    slot.metrics = undefined;
    slot.startedAt = Date.now();
    const log = this.log.child({ dnsWorker: slot.index, pid: worker.process.pid });
    return new Promise<void>((resolve, reject) => {
      let failure = 'exited before listening';
      const start: ToDnsWorker = {
        type: 'start',
        host: this.options.host,
        port: this.port,
        zone: this.zone,
        table: this.wire!,
        version: this.version,
        tcpIdleTimeoutMs: this.options.tcpIdleTimeoutMs,
        maxTcpConnections: this.options.maxTcpConnections,
      };
      // An IPC send to a worker that just died emits 'error'; the 'exit' that follows restarts it.
      worker.on('error', (e) => log.warn({ err: errorMessage(e) }, 'GSLB DNS worker IPC error'));
      worker.on('message', (raw: unknown) => {
        const m = raw as FromDnsWorker;
        switch (m.type) {
          case 'loaded':
            worker.send(start);
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
        if (!wasReady)
          reject(
            new MeridianError(
              'DnsWorkerFailed',
              `dns: worker ${slot.index} on ${this.options.host}:${this.port}: ${failure}`,
            ),
          );
        if (this.stopping) return;
        if (Date.now() - slot.startedAt > STABLE_AFTER_MS) slot.crashes = 0;
        slot.crashes++;
        const delay = Math.min(
          MAX_RESTART_DELAY_MS,
          (this.options.restartDelayMs ?? 1_000) * 2 ** (slot.crashes - 1),
        );
        log.error(
          { code, signal, failure: wasReady ? undefined : failure, restartInMs: delay },
          'GSLB DNS worker exited; restarting it',
        );
        slot.restart = setTimeout(() => {
          // A worker may fill the slot meanwhile (start() retrying on another port): never two.
          if (this.stopping || slot.worker) return;
          this.startWorker(slot).then(
            () => log.info({ pid: slot.worker?.process.pid }, 'GSLB DNS worker restarted'),
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
        const id = this.nextCollectId++;
        // A worker that does not answer in time contributes what it reported last time.
        return new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(this.collects.get(id)?.timer);
            this.collects.delete(id);
            resolve();
          };
          this.collects.set(id, { done, timer: setTimeout(done, COLLECT_TIMEOUT_MS) });
          worker.send({ type: 'collect', id } satisfies ToDnsWorker);
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

  private registerMetrics(registry: Registry): void {
    const metric = (name: string, help: string, type: 'counter' | 'histogram') => ({
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () =>
        (await this.collect()).find((m) => m.name === name) ?? {
          name,
          help,
          type,
          aggregator: 'sum',
          values: [],
        },
    });
    // prom-client's registry takes any object with a name and get(), as AggregatorRegistry's
    // own merged metrics are; its types only name its classes.
    registry.registerMetric(
      metric(DNS_METRICS.queries.name, DNS_METRICS.queries.help, 'counter') as never as Counter,
    );
    registry.registerMetric(
      metric(DNS_METRICS.duration.name, DNS_METRICS.duration.help, 'histogram') as never as Counter,
    );
  }
}

/** A port free for both UDP and TCP on `host` right now (the workers then bind it). */
async function freeUdpTcpPort(host: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const udp = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, host, () => resolve(udp.address().port));
    });
    const tcp = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen({ host, port, exclusive: true }, () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (ok) await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (ok) return port;
    if (attempt >= 20) throw new MeridianError('InvalidDnsListen', `dns: no free UDP+TCP port on ${host}`);
  }
}
