// APP 2: `node --import tsx src/main.ts`. Reads its settings from the environment (config.ts),
// creates the schema (retrying until the database answers), serves, and stops cleanly on SIGTERM.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createLogger, createMetrics, onTerminate, startTracing } from '@reference-system/service-kit';
import { createApp2 } from './app.ts';
import { readConfig } from './config.ts';
import { OrderStore } from './order-store.ts';

const config = readConfig(process.env);
const log = createLogger('app2', config.cluster);
const tracing = startTracing({ serviceName: 'app2', cluster: config.cluster });
const metrics = createMetrics();
const pool = new pg.Pool(config.pool);
// An idle client whose server went away must not crash the process; the next query reconnects.
pool.on('error', (err) => log.warn({ err }, 'idle database connection failed'));
const store = new OrderStore(pool, tracing.tracer, config.database);
let schemaReady = false;
const stopping = new AbortController();

async function createSchema(): Promise<void> {
  for (let attempt = 1; !stopping.signal.aborted; attempt++) {
    try {
      await store.migrate();
      schemaReady = true;
      log.info({ database: config.database }, 'schema ready');
      return;
    } catch (err) {
      log.warn({ err, attempt, database: config.database }, 'cannot create the schema yet; retrying');
      await sleep(Math.min(5000, 500 * attempt), undefined, { signal: stopping.signal }).catch(() => {});
    }
  }
}

const app = createApp2({
  cluster: config.cluster,
  store,
  tracing,
  metrics,
  log,
  schemaReady: () => schemaReady,
});
const port = await app.listen(config.port, config.host);
log.info({ port, tracing: tracing.enabled }, 'listening');
const schema = createSchema();

onTerminate(async () => {
  stopping.abort();
  await app.close(config.shutdownGraceMs);
  await schema;
  await pool.end();
  await tracing.shutdown();
}, log);
