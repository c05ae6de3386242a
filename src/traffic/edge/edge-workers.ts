// The edge gateway on more than one core (`meridian hub --edge-workers N`): N worker processes of
// the edge role (edge-worker.ts) accept from the HTTP (and TLS) listeners the hub shares with them
// (worker-pool.ts). The hub pushes its routing table (routes, health, drain, certificates, geo
// table) to every worker on each change (table-workers.ts), so they route exactly as the in-process
// EdgeGateway would; per worker are only the keep-alive pools, the passive outlier records and the
// RoundRobin/Weighted rotation. Their access log lines reach the hub's stderr through the hub,
// their metrics are summed into the hub's registry at each scrape, and `stop` lets in-flight
// requests finish.
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { MeridianError } from '../../kube/errors.ts';
import type { Logger } from '../../logging/logger.ts';
import type { LineDestination } from '../../logging/line-writer.ts';
import { EDGE_METRICS } from './edge-metrics.ts';
import type { EdgeSettings, EdgeWorkerStart } from './edge-worker.ts';
import { EMPTY_GEO_TABLE, type GeoTable } from '../routing/geo-table.ts';
import type { SwappableRoutingTable } from '../routing/routing.ts';
import { TableWorkers, type WorkerTimings } from '../workers/table-workers.ts';
import { freeSharedPort } from '../workers/worker-pool.ts';

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

type Listen = { host: string; port: number };

/** The hub side of the edge gateway worker processes; same lifecycle as EdgeGateway. */
export class EdgeGatewayWorkers extends TableWorkers<EdgeWorkerStart> {
  private http: Listen;
  private https?: Listen;

  constructor(private readonly edge: EdgeGatewayWorkersOptions) {
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
    } = edge;
    const dest = accessLogDestination ?? process.stderr;
    super({
      ...edge,
      role: 'edge',
      label: 'edge gateway worker',
      geo: edge.geo ?? (() => EMPTY_GEO_TABLE),
      withTls: true,
      metrics: [EDGE_METRICS.requests, EDGE_METRICS.duration, EDGE_METRICS.retries, EDGE_METRICS.ejections],
      start: () => ({
        settings: { ...settings, http: this.http, https: this.https },
        logName: logName ?? 'edge-gateway',
      }),
      failed: (index, reason) =>
        new MeridianError(
          'EdgeWorkerFailed',
          `edge: worker ${index} on ${this.http.host}:${this.http.port}` +
            `${this.https ? ` and ${this.https.host}:${this.https.port}` : ''}: ${reason}`,
        ),
      onLog: (chunk) => dest.write(chunk, () => {}),
      // In-flight requests get the gateway's grace period (default 10 s) and a little more.
      stopTimeoutMs: (edge.shutdownGraceMs ?? 10_000) + 2_000,
    });
    this.http = { ...edge.http };
    this.https = edge.https && { ...edge.https };
  }

  /** Starts every worker on the shared listeners; resolves with their addresses. */
  async start(): Promise<{ http: AddressInfo; https?: AddressInfo }> {
    const { http, https } = this.edge;
    // Workers bind chosen ports, never 0, so a restarted worker gets the same ones.
    await this.startWorkers(
      async () => {
        this.http = { ...http, port: http.port || (await freeSharedPort(http.host, false)) };
        if (https) this.https = { ...https, port: https.port || (await freeSharedPort(https.host, false)) };
      },
      http.port === 0 || https?.port === 0,
    );
    // (Each worker's gateway logs where it listens.)
    const address = (a: Listen): AddressInfo => ({
      address: a.host,
      port: a.port,
      family: a.host.includes(':') ? 'IPv6' : 'IPv4',
    });
    return { http: address(this.http), https: this.https && address(this.https) };
  }
}
