// APP 1's settings, all from the environment (the Deployment's env in Kubernetes).

export interface App1Config {
  readonly port: number;
  /** Bind address; unset means every address (the local pod runtime pins it to the pod's loopback). */
  readonly host: string | undefined;
  /** The cluster this replica runs in, answered in `x-app1-cluster`. */
  readonly cluster: string;
  /** APP 2's base URL: its plain Service name by default, resolved by cluster DNS. */
  readonly app2Url: URL;
  /** Time allowed for one attempt of a call to APP 2 (connect + answer). */
  readonly app2TimeoutMs: number;
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

export function readConfig(env: NodeJS.ProcessEnv): App1Config {
  const app2Url = new URL(env['APP2_URL'] || 'http://app2');
  if (app2Url.protocol !== 'http:') throw new Error(`APP2_URL=${app2Url.href}: only http:// is supported`);
  return {
    port: intFrom(env, 'PORT', 8080),
    host: env['LISTEN_HOST'] || undefined,
    cluster: env['CLUSTER_NAME'] || 'local',
    app2Url,
    app2TimeoutMs: intFrom(env, 'APP2_TIMEOUT_MS', 1500),
    shutdownGraceMs: intFrom(env, 'SHUTDOWN_GRACE_MS', 10_000),
  };
}
