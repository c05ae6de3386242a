// Worker threads for the hub's observability work (trace ingest and store), so a heavy request
// holds a thread of its own and never the event loop that runs the controllers and the leader
// lease. The hub runs its TypeScript through tsx, which a worker thread does not inherit: each
// worker registers it first, then loads its module.
import { Worker } from 'node:worker_threads';

const TSX_API = import.meta.resolve('tsx/esm/api');

/** Starts `module` (a .ts file URL) in a worker thread with `workerData`. */
export function startWorkerThread(module: URL, workerData: unknown): Worker {
  const boot =
    `import(${JSON.stringify(TSX_API)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(module.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}
