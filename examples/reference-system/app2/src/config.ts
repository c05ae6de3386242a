// APP 2's settings, all from the environment (the Deployment's env in Kubernetes).
import { intFrom, readServiceConfig, type ServiceConfig } from '@reference-system/service-kit';
import type { PoolConfig } from 'pg';
import type { DatabaseTarget } from './order-store.ts';

export interface App2Config extends ServiceConfig {
  /** node-postgres pool settings; unset connection fields come from PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE. */
  readonly pool: PoolConfig;
  readonly database: DatabaseTarget;
}

export function readConfig(env: NodeJS.ProcessEnv): App2Config {
  const url = env['DATABASE_URL'] ? new URL(env['DATABASE_URL']) : undefined;
  const database: DatabaseTarget = url
    ? {
        host: decodeURIComponent(url.hostname) || 'localhost',
        port: Number(url.port || 5432),
        database: decodeURIComponent(url.pathname.slice(1)),
      }
    : {
        host: env['PGHOST'] || 'localhost',
        port: Number(env['PGPORT'] || 5432),
        database: env['PGDATABASE'] || env['PGUSER'] || 'postgres',
      };
  return {
    ...readServiceConfig(env),
    database,
    pool: {
      ...(url ? { connectionString: url.toString() } : {}),
      max: intFrom(env, 'PG_POOL_MAX', 10),
      // Fail fast when the database is away: readiness must turn false within a probe period.
      connectionTimeoutMillis: intFrom(env, 'PG_CONNECT_TIMEOUT_MS', 2000),
      idleTimeoutMillis: 30_000,
      query_timeout: intFrom(env, 'PG_QUERY_TIMEOUT_MS', 5000),
      application_name: 'app2',
    },
  };
}
