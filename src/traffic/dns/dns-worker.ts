// The GSLB DNS role of a traffic worker process (worker-main.ts runs it): it answers from the UDP
// socket and TCP listener the hub bound and shares with every worker, using the same GslbDnsServer
// as the in-process path over a copy of the hub's routing table, which the hub sends on every change.
import cluster from 'node:cluster';
import { Registry } from 'prom-client';
import { createLogger } from '../../logging/logger.ts';
import { GslbDnsServer } from './dns-server.ts';
import type { DnsZoneConfig } from './gslb-answer.ts';
import { tableReplica, type TableWire } from '../workers/table-wire.ts';
import type { WorkerService } from '../workers/worker-protocol.ts';

/** The hub's DNS settings, sent to each worker as it starts. */
export interface DnsWorkerStart {
  readonly host: string;
  readonly port: number;
  readonly zone: DnsZoneConfig;
  readonly tcpIdleTimeoutMs?: number;
  readonly maxTcpConnections?: number;
}

export function dnsWorkerService(): WorkerService<DnsWorkerStart, TableWire> {
  const log = createLogger('gslb-dns-worker').child({ worker: cluster.worker?.id });
  const { table, geo, apply } = tableReplica();
  const registry = new Registry();
  let server: GslbDnsServer | undefined;
  return {
    registry,
    apply,
    async start(start) {
      server = new GslbDnsServer({
        ...start,
        table,
        geo,
        logger: log,
        registry,
        sharedSockets: true,
      });
      await server.start();
    },
    stop: async () => server?.stop(),
  };
}
