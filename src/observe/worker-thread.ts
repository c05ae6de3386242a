// Worker threads for the hub's observability work (trace ingest and store), so a heavy request
// holds a thread of its own and never the event loop that runs the controllers and the leader
// lease. From a checkout the hub runs its TypeScript through tsx, which a worker thread does not
// inherit: such a worker registers it first, then loads its module. The compiled build (dist/)
// loads its JavaScript module directly, without tsx.
import { Worker } from 'node:worker_threads';

/**
 * The module `stem` beside the module at `base` (an `import.meta.url`), in the same language:
 * `./x.ts` in the sources, `./x.js` in the compiled build, where the compiler rewrote imports
 * but not URLs.
 */
export function siblingModule(base: string, stem: string): URL {
  return new URL(`./${stem}${base.endsWith('.js') ? '.js' : '.ts'}`, base);
}

/** Starts `module` (a .ts or .js file URL) in a worker thread with `workerData`. */
export function startWorkerThread(module: URL, workerData: unknown): Worker {
  if (module.pathname.endsWith('.js')) return new Worker(module, { workerData });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(module.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}
