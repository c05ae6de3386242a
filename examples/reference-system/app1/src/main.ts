// APP 1: `node --import tsx src/main.ts`. Reads its settings from the environment (config.ts),
// serves, and stops cleanly on SIGTERM.
import { createLogger, createMetrics, onTerminate, startTracing } from '@reference-system/service-kit';
import { createApp1 } from './app.ts';
import { App2Client } from './app2-client.ts';
import { readConfig } from './config.ts';

const config = readConfig(process.env);
const log = createLogger('app1', config.cluster);
const tracing = startTracing({ serviceName: 'app1', cluster: config.cluster });
const metrics = createMetrics();
const app2 = new App2Client(config.app2Url, config.app2TimeoutMs, tracing, metrics);
const app = createApp1({ cluster: config.cluster, version: config.version, app2, tracing, metrics, log });
const port = await app.listen(config.port, config.host);
log.info({ port, app2: config.app2Url.href, tracing: tracing.enabled }, 'listening');

onTerminate(async () => {
  await app.close(config.shutdownGraceMs);
  await tracing.shutdown();
}, log);
