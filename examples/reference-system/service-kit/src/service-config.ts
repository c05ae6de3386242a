// The settings every reference service reads from its environment (the Deployment's env in
// Kubernetes), and the integer reader both apps use for their own.

export interface ServiceConfig {
  readonly port: number;
  /** Bind address; unset means every address (the local pod runtime pins it to the pod's loopback). */
  readonly host: string | undefined;
  /** The cluster this replica runs in, answered in `x-app1-cluster` / `x-app2-cluster`. */
  readonly cluster: string;
  /** How long in-flight requests may take to finish after SIGTERM. */
  readonly shutdownGraceMs: number;
  /** The release this process runs (SERVICE_VERSION, as OpenTelemetry's service.version), if set. */
  readonly version: string | undefined;
}

/** A non-negative integer from `env[name]`, or `fallback` when unset; a clear error otherwise. */
export function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${raw}: expected a non-negative integer`);
  return n;
}

/** PORT, LISTEN_HOST, CLUSTER_NAME, SHUTDOWN_GRACE_MS and SERVICE_VERSION. */
export function readServiceConfig(env: NodeJS.ProcessEnv): ServiceConfig {
  return {
    port: intFrom(env, 'PORT', 8080),
    host: env['LISTEN_HOST'] || undefined,
    cluster: env['CLUSTER_NAME'] || 'local',
    shutdownGraceMs: intFrom(env, 'SHUTDOWN_GRACE_MS', 10_000),
    version: env['SERVICE_VERSION'] || undefined,
  };
}
