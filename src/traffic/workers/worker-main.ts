// The entry of every traffic worker process the hub forks (worker-pool.ts): it loads the service of
// its role (MERIDIAN_WORKER_ROLE) and runs the protocol that every role shares (worker-protocol.ts):
// start, new state, metrics, heartbeat, graceful stop. It dies with the hub: node:cluster exits a
// worker whose IPC channel closes.
import cluster from 'node:cluster';
import { errorMessage } from '../../kube/errors.ts';
import {
  WORKER_ROLE_ENV,
  type FromWorker,
  type ToWorker,
  type WorkerRole,
  type WorkerService,
} from './worker-protocol.ts';

const send = (m: FromWorker): void => void process.send?.(m);

function serve<Start, State>(service: WorkerService<Start, State>): void {
  let started = false;
  // Ctrl-C reaches the whole process group: the hub decides when its workers stop.
  process.on('SIGINT', () => {});
  process.on('message', (raw: unknown) => {
    const m = raw as ToWorker<Start, State>;
    switch (m.type) {
      case 'start':
        if (started) return;
        started = true;
        service.apply(m.state);
        service.start(m.start).then(
          () => {
            send({ type: 'applied', version: m.version });
            send({ type: 'listening' });
          },
          (e: unknown) => {
            const failed: FromWorker = {
              type: 'failed',
              code: (e as NodeJS.ErrnoException).code,
              message: errorMessage(e),
            };
            process.send?.(failed, undefined, {}, () => process.exit(1));
          },
        );
        return;
      case 'state':
        service.apply(m.state);
        send({ type: 'applied', version: m.version });
        return;
      case 'collect':
        void service.registry
          .getMetricsAsJSON()
          .then((metrics) => send({ type: 'metrics', id: m.id, metrics }));
        return;
      case 'ping':
        send({ type: 'pong', id: m.id });
        return;
      case 'block': {
        const until = Date.now() + m.ms;
        let spins = 0;
        while (Date.now() < until) spins++;
        return void spins;
      }
      case 'stop':
        void service.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
        return;
    }
  });
  send({ type: 'loaded' });
}

async function main(role: WorkerRole): Promise<void> {
  switch (role) {
    case 'dns':
      return serve((await import('../dns/dns-worker.ts')).dnsWorkerService());
    case 'edge':
      return serve((await import('../edge/edge-worker.ts')).edgeWorkerService());
  }
}

if (cluster.isWorker) {
  const role = process.env[WORKER_ROLE_ENV];
  if (role !== 'dns' && role !== 'edge') {
    process.stderr.write(`traffic worker: unknown ${WORKER_ROLE_ENV} ${JSON.stringify(role)}\n`);
    process.exit(2);
  }
  await main(role);
}
