// GSLB DNS on more than one core (`meridian hub --dns-workers N`): N worker processes of the DNS
// role (dns-worker.ts) answer from the UDP socket and TCP listener the hub shares with them
// (worker-pool.ts). The hub pushes its routing table (routes, health, drain, geo table) to every
// worker on each change (table-workers.ts), so they answer exactly as the in-process
// GslbDnsServer would; only RoundRobin/Weighted rotation state is per worker.
import type { Registry } from 'prom-client';
import { MeridianError } from '../../kube/errors.ts';
import { createLogger, type Logger } from '../../logging/logger.ts';
import { DNS_METRICS, validateDnsListen, type GslbDnsAddress } from './dns-server.ts';
import type { DnsWorkerStart } from './dns-worker.ts';
import { EMPTY_GEO_TABLE, type GeoTable } from '../routing/geo-table.ts';
import { validateZoneConfig, type DnsZoneConfig } from './gslb-answer.ts';
import type { SwappableRoutingTable } from '../routing/routing.ts';
import { TableWorkers, type WorkerTimings } from '../workers/table-workers.ts';
import { freeSharedPort } from '../workers/worker-pool.ts';

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
export class GslbDnsWorkers extends TableWorkers<DnsWorkerStart> {
  private readonly log: Logger;
  private readonly zone: DnsZoneConfig;
  private port = 0;

  constructor(private readonly dns: GslbDnsWorkersOptions) {
    validateDnsListen(dns.host, dns.port);
    if (!Number.isInteger(dns.workers) || dns.workers < 1)
      throw new MeridianError('InvalidDnsWorkers', `dns: workers: ${dns.workers} is not a positive integer`);
    const zone = validateZoneConfig(dns.zone);
    const log = dns.logger ?? createLogger('gslb-dns');
    super({
      ...dns,
      role: 'dns',
      label: 'GSLB DNS worker',
      logger: log,
      geo: dns.geo ?? (() => EMPTY_GEO_TABLE),
      // TLS keys never go to DNS workers: DNS does not use them.
      withTls: false,
      metrics: [
        { ...DNS_METRICS.queries, type: 'counter' },
        { ...DNS_METRICS.duration, type: 'histogram' },
        { ...DNS_METRICS.junkDropped, type: 'counter' },
      ],
      start: () => ({
        host: dns.host,
        port: this.port,
        zone,
        tcpIdleTimeoutMs: dns.tcpIdleTimeoutMs,
        maxTcpConnections: dns.maxTcpConnections,
      }),
      failed: (index, reason) =>
        new MeridianError('DnsWorkerFailed', `dns: worker ${index} on ${dns.host}:${this.port}: ${reason}`),
    });
    this.zone = zone;
    this.log = log;
  }

  /** Binds UDP and TCP (through the first worker) and starts every worker. */
  async start(): Promise<GslbDnsAddress> {
    const { host, port } = this.dns;
    // The workers bind the port itself, never 0, so a restarted worker gets the same one.
    await this.startWorkers(async () => {
      this.port = port || (await freeSharedPort(host, true));
    }, port === 0);
    this.log.info(
      { host, port: this.port, zones: this.zone.zones, workers: this.dns.workers },
      'GSLB DNS listening (UDP and TCP) in worker processes',
    );
    return { host, udpPort: this.port, tcpPort: this.port };
  }
}
