// The edge gateway on more than one core (`meridian hub --edge-workers N`): N worker processes of
// the edge role (edge-worker.ts) accept from the HTTP (and TLS) listeners the hub shares with them
// (worker-pool.ts). The hub pushes its routing table (routes, health, drain, certificates, geo
// table) to every worker on each change, so they route exactly as the in-process EdgeGateway would;
// per worker are only the keep-alive pools, the passive outlier records and the RoundRobin/Weighted
// rotation. Their access log lines reach the hub's stderr through the hub, their metrics are summed
// into the hub's registry at each scrape, and `stop` lets in-flight requests finish.
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { MeridianError } from '../kube/errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { LineDestination } from '../logging/line-writer.ts';
import type { WorkerTimings } from './dns-workers.ts';
import { EDGE_METRICS } from './edge-metrics.ts';
import type { EdgeSettings, EdgeWorkerStart } from './edge-worker.ts';
import { EMPTY_GEO_TABLE, type GeoTable } from './geo-table.ts';
import type { SwappableRoutingTable } from './routing.ts';
import { encodeTable, type TableWire } from './table-wire.ts';
import { addressInUse, freeSharedPort, WorkerPool } from './worker-pool.ts';

export interface EdgeGatewayWorkersOptions extends EdgeSettings, WorkerTimings {
  /** Worker processes (≥ 1). */
  readonly workers: number;
  /** The hub's table; every set() is copied to the workers. */
  readonly table: SwappableRoutingTable;
  /** The geo table, sent with every table change. */
  readonly geo?: () => GeoTable;
  readonly logger: Logger;
  /** The `name` of the workers' log lines. Default `edge-gateway`. */
  readonly logName?: string;
  /** Registers the `meridian_edge_*` metrics, summed over the workers. */
  readonly registry?: Registry;
  /** Where the workers' access log lines go (whole lines, a chunk at a time). Default stderr. */
  readonly accessLogDestination?: LineDestination;
}

/** The hub side of the edge gateway worker processes; same lifecycle as EdgeGateway. */
export class EdgeGatewayWorkers {
  private readonly pool: WorkerPool<EdgeWorkerStart, TableWire>;
  private http: { host: string; port: number };
  private https?: { host: string; port: number };
  private unsubscribe?: () => void;

  constructor(private readonly options: EdgeGatewayWorkersOptions) {
    this.http = { ...options.http };
    this.https = options.https && { ...options.https };
    const geo = options.geo ?? (() => EMPTY_GEO_TABLE);
    // The rest are the gateway's own settings, as each worker's EdgeGateway takes them.
    const {
      workers: _workers,
      table: _table,
      geo: _geo,
      logger: _logger,
      registry: _registry,
      restartDelayMs: _restart,
      heartbeatIntervalMs: _interval,
      heartbeatTimeoutMs: _timeout,
      accessLogDestination,
      logName,
      ...settings
    } = options;
    const dest = accessLogDestination ?? process.stderr;
    this.pool = new WorkerPool({
      ...options,
      role: 'edge',
      label: 'edge gateway worker',
      start: () => ({
        settings: { ...settings, http: this.http, https: this.https },
        logName: logName ?? 'edge-gateway',
      }),
      state: () => encodeTable(options.table.routes(), geo(), { withTls: true }),
      failed: (index, reason) =>
        new MeridianError(
          'EdgeWorkerFailed',
          `edge: worker ${index} on ${this.http.host}:${this.http.port}` +
            `${this.https ? ` and ${this.https.host}:${this.https.port}` : ''}: ${reason}`,
        ),
      onLog: (chunk) => dest.write(chunk, () => {}),
      // In-flight requests get the gateway's grace period (default 10 s) and a little more.
      stopTimeoutMs: (options.shutdownGraceMs ?? 10_000) + 2_000,
    });
  }

  /** Starts every worker on the shared listeners; resolves with their addresses. */
  async start(): Promise<{ http: AddressInfo; https?: AddressInfo }> {
    if (this.unsubscribe) throw new Error('EdgeGatewayWorkers already started');
    this.unsubscribe = this.options.table.subscribe(() => this.pool.broadcast());
    let attempts = 0;
    // Workers bind a chosen port, never 0, so a restarted worker gets the same one.
    const pick = async (): Promise<void> => {
      const { http, https } = this.options;
      this.http = { ...http, port: http.port || (await freeSharedPort(http.host, false)) };
      if (https) this.https = { ...https, port: https.port || (await freeSharedPort(https.host, false)) };
    };
    await pick();
    try {
      await this.pool.start(async (e) => {
        const any0 = this.options.http.port === 0 || this.options.https?.port === 0;
        if (!any0 || !addressInUse(e) || ++attempts >= 20) return false;
        await pick();
        return true;
      });
    } catch (e) {
      this.unsubscribe();
      throw e;
    }
    if (this.options.registry) this.pool.registerMetrics(this.options.registry, Object.values(EDGE_METRICS));
    this.options.logger.info(
      { http: this.http, https: this.https, workers: this.options.workers },
      'edge gateway listening in worker processes',
    );
    const address = (a: { host: string; port: number }): AddressInfo => ({
      address: a.host,
      port: a.port,
      family: a.host.includes(':') ? 'IPv6' : 'IPv4',
    });
    return { http: address(this.http), https: this.https && address(this.https) };
  }

  /** Stops accepting, lets in-flight requests finish (the grace period), then stops every worker. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.pool.stop();
  }

  /** Resolves once every running worker routes by the hub's current table. */
  synced(): Promise<void> {
    return this.pool.synced();
  }

  /** PIDs of the running workers (tests, benchmarks). */
  pids(): number[] {
    return this.pool.pids();
  }

  /** Requests each running worker has answered (tests: proves they all serve). */
  answeredPerWorker(): Promise<number[]> {
    return this.pool.perWorker(EDGE_METRICS.requests.name);
  }

  /** Tests only: makes worker `index` busy-loop for `ms`, as if its event loop were stuck. */
  block(index: number, ms: number): void {
    this.pool.block(index, ms);
  }
}
