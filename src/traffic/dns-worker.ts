// A GSLB DNS worker process: started by the hub (dns-workers.ts) through node:cluster, it answers
// from the UDP socket and TCP listener the hub bound and shares with every worker, using the same
// GslbDnsServer as the in-process path over a copy of the hub's routing table, which the hub sends
// on every change. It dies with the hub: node:cluster exits a worker whose IPC channel closes.
import cluster from 'node:cluster';
import { Registry } from 'prom-client';
import { errorMessage } from '../kube/errors.ts';
import { createLogger } from '../logging/logger.ts';
import { GslbDnsServer } from './dns-server.ts';
import { decodeDnsTable, type DnsTableWire } from './dns-table-wire.ts';
import type { GeoTable } from './geo-table.ts';
import type { DnsZoneConfig } from './gslb-answer.ts';
import { SwappableRoutingTable } from './routing.ts';

/** A registry's metrics as JSON (prom-client does not export the type by name). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Hub → worker. `version` grows with every table the hub sends. */
export type ToDnsWorker =
  | {
      readonly type: 'start';
      readonly host: string;
      readonly port: number;
      readonly zone: DnsZoneConfig;
      readonly table: DnsTableWire;
      readonly version: number;
      readonly tcpIdleTimeoutMs?: number;
      readonly maxTcpConnections?: number;
    }
  | { readonly type: 'table'; readonly table: DnsTableWire; readonly version: number }
  | { readonly type: 'collect'; readonly id: number }
  | { readonly type: 'stop' };

/** Worker → hub. */
export type FromDnsWorker =
  /** Loaded and listening for messages: the hub sends 'start' then (earlier ones would be lost). */
  | { readonly type: 'loaded' }
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'failed'; readonly code?: string; readonly message: string }
  | { readonly type: 'applied'; readonly version: number }
  | {
      readonly type: 'metrics';
      readonly id: number;
      /** Cumulative since this worker started (the hub adds up workers, and what dead ones counted). */
      readonly metrics: MetricsJson;
    };

function runWorker(): void {
  const log = createLogger('gslb-dns-worker').child({ worker: cluster.worker?.id });
  const send = (m: FromDnsWorker): void => void process.send?.(m);
  const table = new SwappableRoutingTable();
  const registry = new Registry();
  let geo: GeoTable | undefined;
  let server: GslbDnsServer | undefined;
  const apply = (wire: DnsTableWire, version: number): void => {
    const decoded = decodeDnsTable(wire);
    geo = decoded.geo;
    table.set(decoded.table);
    send({ type: 'applied', version });
  };
  // Ctrl-C reaches the whole process group: the hub decides when its workers stop.
  process.on('SIGINT', () => {});
  process.on('message', (raw: unknown) => {
    const m = raw as ToDnsWorker;
    switch (m.type) {
      case 'start': {
        if (server) return;
        apply(m.table, m.version);
        server = new GslbDnsServer({
          host: m.host,
          port: m.port,
          table,
          zone: m.zone,
          geo: () => geo!,
          logger: log,
          registry,
          tcpIdleTimeoutMs: m.tcpIdleTimeoutMs,
          maxTcpConnections: m.maxTcpConnections,
          sharedSockets: true,
        });
        server.start().then(
          (a) => send({ type: 'listening', port: a.udpPort }),
          (e: unknown) => {
            const failed: FromDnsWorker = {
              type: 'failed',
              code: (e as NodeJS.ErrnoException).code,
              message: errorMessage(e),
            };
            process.send?.(failed, undefined, {}, () => process.exit(1));
          },
        );
        return;
      }
      case 'table':
        apply(m.table, m.version);
        return;
      case 'collect':
        void registry.getMetricsAsJSON().then((metrics) => send({ type: 'metrics', id: m.id, metrics }));
        return;
      case 'stop':
        void (server?.stop() ?? Promise.resolve()).then(() => process.exit(0));
        return;
    }
  });
  send({ type: 'loaded' });
}

if (cluster.isWorker) runWorker();
