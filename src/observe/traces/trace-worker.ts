// The trace worker thread (started by trace-thread.ts): owns the store (embedded SQLite, or a
// PostgreSQL pool), decodes and stores OTLP batches, and answers the store's queries, all off the
// hub's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { OtlpHttpError, prepareBatch, type IngestJob, type TopologyAnswer } from './otlp-ingest.ts';
import { PostgresTraceStore } from './postgres-trace-store.ts';
import { SqliteTraceStore } from './sqlite-trace-store.ts';
import type {
  FromTraceWorker,
  IngestResult,
  StoreMethod,
  ToTraceWorker,
  TraceStoreLocation,
} from './trace-thread.ts';
import type { TraceStore } from './trace-store.ts';

const port = parentPort!;
const where = workerData as TraceStoreLocation;
const store: TraceStore =
  where.kind === 'postgres' ? new PostgresTraceStore(where.url) : new SqliteTraceStore(where.file);
/** Batches waiting for the hub's topology answer, by request id. */
const asks = new Map<number, (a: TopologyAnswer) => void>();

const reply = (m: FromTraceWorker): void => port.postMessage(m);

async function ingest(id: number, job: IngestJob): Promise<IngestResult> {
  // A transferred body arrives as a Uint8Array; the decoders take a Buffer.
  const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength);
  const batch = await prepareBatch({ ...job, body }, (ask) => {
    reply({ id, op: 'ask', ask });
    return new Promise((resolve) => asks.set(id, resolve));
  });
  const { stored } = batch.spans.length ? await store.write(batch.spans) : { stored: 0 };
  return {
    received: batch.received,
    stored,
    rejected: batch.rejected,
    duplicates: batch.spans.length - stored,
    reasons: batch.reasons,
  };
}

function call(method: StoreMethod, args: unknown[]): Promise<unknown> {
  const f = store[method] as (...a: unknown[]) => Promise<unknown>;
  return f.apply(store, args);
}

function run(id: number, work: () => Promise<unknown>): void {
  work().then(
    (value) => reply({ id, op: 'done', value }),
    (e: unknown) =>
      reply({
        id,
        op: 'failed',
        error:
          e instanceof OtlpHttpError
            ? { message: e.message, status: e.status, grpcCode: e.grpcCode }
            : { message: e instanceof Error ? e.message : String(e) },
      }),
  );
}

port.on('message', (m: ToTraceWorker) => {
  switch (m.op) {
    case 'ingest':
      return run(m.id, () => ingest(m.id, m.job));
    case 'topology': {
      const resolve = asks.get(m.id);
      asks.delete(m.id);
      return resolve?.(m.answer);
    }
    case 'call':
      return run(m.id, () => call(m.method, m.args));
    case 'close':
      return run(m.id, () => store.close());
  }
});
