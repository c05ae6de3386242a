// The edge gateway role of a traffic worker process (worker-main.ts runs it): the same EdgeGateway
// as the in-process path, listening on the HTTP (and TLS) listeners the hub shares with every
// worker, over a copy of the hub's routing table (with the certificates), which the hub sends on
// every change. Per worker: connection pools, passive outlier records, RoundRobin/Weighted rotation.
// Access log lines go to the hub in whole-line chunks, which writes them to its stderr, so the
// lines of several workers never interleave.
import cluster from 'node:cluster';
import { Registry } from 'prom-client';
import { createLogger } from '../../logging/logger.ts';
import type { TextLineDestination } from '../../logging/line-writer.ts';
import { EdgeAccessLog } from './edge-access-log.ts';
import { EdgeGateway, type EdgeGatewayOptions } from './edge-gateway.ts';
import { tableReplica, type TableWire } from '../workers/table-wire.ts';
import type { FromWorker, WorkerService } from '../workers/worker-protocol.ts';

/** The gateway's settings as the hub runs it: everything but the table, logs and metrics. */
export type EdgeSettings = Omit<
  EdgeGatewayOptions,
  'table' | 'geo' | 'counters' | 'logger' | 'registry' | 'accessLogger'
>;

/** The hub's edge settings, sent to each worker as it starts. */
export interface EdgeWorkerStart {
  readonly settings: EdgeSettings;
  /** The `name` of log lines (the hub's). */
  readonly logName: string;
}

/** Hands each chunk of whole lines to the hub over IPC. */
const toHub: TextLineDestination = {
  write(chunk, callback) {
    const m: FromWorker = { type: 'log', chunk };
    if (!process.send) callback(new Error('no IPC channel to the hub'));
    else process.send(m, undefined, {}, (err) => callback(err));
    return true;
  },
};

export function edgeWorkerService(): WorkerService<EdgeWorkerStart, TableWire> {
  const { table, geo, apply } = tableReplica();
  const registry = new Registry();
  let gateway: EdgeGateway | undefined;
  let accessLog: EdgeAccessLog | undefined;
  return {
    registry,
    apply,
    async start({ settings, logName }) {
      const logger = createLogger(logName).child({ edgeWorker: cluster.worker?.id });
      accessLog = new EdgeAccessLog(toHub, { name: logName });
      gateway = new EdgeGateway({
        ...settings,
        table,
        geo,
        logger,
        accessLogger: accessLog,
        registry,
      });
      await gateway.start();
    },
    async stop() {
      await gateway?.stop(); // lets in-flight requests finish, then flushes the access log
      await accessLog?.close();
    },
  };
}
