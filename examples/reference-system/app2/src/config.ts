// APP 2's settings, all from the environment (the Deployment's env in Kubernetes).
import type { PoolConfig } from 'pg';
import type { DatabaseTarget } from './order-store.ts';

export interface App2Config {
  readonly port: number;
  /** Bind address; unset means every address (the local pod runtime pins it to the pod's loopback). */
  readonly host: string | undefined;
  /** The cluster this replica runs in, answered in `x-app2-cluster`. */
  readonly cluster: string;
  /** node-postgres pool settings; unset connection fields come from PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE. */
  readonly pool: PoolConfig;
  readonly database: DatabaseTarget;
  /** How long in-flight requests may take to finish after SIGTERM. */
  readonly shutdownGraceMs: number;
}

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${raw}: expected a non-negative integer`);
  return n;
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
    port: intFrom(env, 'PORT', 8080),
    host: env['LISTEN_HOST'] || undefined,
    cluster: env['CLUSTER_NAME'] || 'local',
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
    shutdownGraceMs: intFrom(env, 'SHUTDOWN_GRACE_MS', 10_000),
  };
}
