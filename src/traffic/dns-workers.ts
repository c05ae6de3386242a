// GSLB DNS on more than one core (`meridian hub --dns-workers N`): N worker processes of the DNS
// role (dns-worker.ts) answer from the UDP socket and TCP listener the hub shares with them
// (worker-pool.ts). The hub pushes its routing table (routes, health, drain, geo table) to every
// worker on each change, so they answer exactly as the in-process GslbDnsServer would; only
// RoundRobin/Weighted rotation state is per worker.
import { MeridianError } from '../kube/errors.ts';
import { createLogger } from '../logging/logger.ts';
import type { Logger } from '../logging/logger.ts';
import type { Registry } from 'prom-client';
import { DNS_METRICS, validateDnsListen, type GslbDnsAddress } from './dns-server.ts';
import type { DnsWorkerStart } from './dns-worker.ts';
import { EMPTY_GEO_TABLE, type GeoTable } from './geo-table.ts';
import { validateZoneConfig, type DnsZoneConfig } from './gslb-answer.ts';
import type { SwappableRoutingTable } from './routing.ts';
import { encodeTable, type TableWire } from './table-wire.ts';
import { addressInUse, freeSharedPort, WorkerPool, type WorkerPoolOptions } from './worker-pool.ts';

/** The liveness and restart settings of a pool, as each kind of worker takes them. */
export type WorkerTimings = Pick<
  WorkerPoolOptions<unknown, unknown>,
  'restartDelayMs' | 'heartbeatIntervalMs' | 'heartbeatTimeoutMs'
>;

export interface GslbDnsWorkersOptions extends WorkerTimings {
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
}

/** The hub side of the GSLB DNS worker processes; same lifecycle as GslbDnsServer. */
export class GslbDnsWorkers {
  private readonly log: Logger;
  private readonly zone: DnsZoneConfig;
  private readonly pool: WorkerPool<DnsWorkerStart, TableWire>;
  private port = 0;
  private unsubscribe?: () => void;

  constructor(private readonly options: GslbDnsWorkersOptions) {
    validateDnsListen(options.host, options.port);
    if (!Number.isInteger(options.workers) || options.workers < 1)
      throw new MeridianError(
        'InvalidDnsWorkers',
        `dns: workers: ${options.workers} is not a positive integer`,
      );
    this.zone = validateZoneConfig(options.zone);
    this.log = options.logger ?? createLogger('gslb-dns');
    const geo = options.geo ?? (() => EMPTY_GEO_TABLE);
    this.pool = new WorkerPool({
      ...options,
      role: 'dns',
      label: 'GSLB DNS worker',
      logger: this.log,
      start: () => ({
        host: options.host,
        port: this.port,
        zone: this.zone,
        tcpIdleTimeoutMs: options.tcpIdleTimeoutMs,
        maxTcpConnections: options.maxTcpConnections,
      }),
      // TLS keys never go to DNS workers: DNS does not use them.
      state: () => encodeTable(options.table.routes(), geo(), { withTls: false }),
      failed: (index, reason) =>
        new MeridianError(
          'DnsWorkerFailed',
          `dns: worker ${index} on ${options.host}:${this.port}: ${reason}`,
        ),
    });
  }

  /** Binds UDP and TCP (through the first worker) and starts every worker. */
  async start(): Promise<GslbDnsAddress> {
    if (this.unsubscribe) throw new Error('GslbDnsWorkers already started');
    this.unsubscribe = this.options.table.subscribe(() => this.pool.broadcast());
    const { host } = this.options;
    let attempts = 0;
    // The workers bind the port itself, never 0, so a restarted worker gets the same one.
    const pick = async (): Promise<void> => {
      this.port = this.options.port || (await freeSharedPort(host, true));
    };
    await pick();
    try {
      await this.pool.start(async (e) => {
        if (this.options.port !== 0 || !addressInUse(e) || ++attempts >= 20) return false;
        await pick();
        return true;
      });
    } catch (e) {
      this.unsubscribe();
      throw e;
    }
    if (this.options.registry)
      this.pool.registerMetrics(this.options.registry, [
        { ...DNS_METRICS.queries, type: 'counter' },
        { ...DNS_METRICS.duration, type: 'histogram' },
      ]);
    this.log.info(
      { host, port: this.port, zones: this.zone.zones, workers: this.options.workers },
      'GSLB DNS listening (UDP and TCP) in worker processes',
    );
    return { host, udpPort: this.port, tcpPort: this.port };
  }

  /** Stops every worker (they close the sockets), killing any that does not exit within 3 s. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.pool.stop();
  }

  /** Resolves once every running worker answers from the hub's current table. */
  synced(): Promise<void> {
    return this.pool.synced();
  }

  /** PIDs of the running workers (tests, benchmarks). */
  pids(): number[] {
    return this.pool.pids();
  }

  /** Queries each running worker has answered (tests: proves they all answer). */
  answeredPerWorker(): Promise<number[]> {
    return this.pool.perWorker(DNS_METRICS.queries.name);
  }
}
