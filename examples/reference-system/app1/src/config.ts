// APP 1's settings, all from the environment (the Deployment's env in Kubernetes).
import { intFrom, readServiceConfig, type ServiceConfig } from '@reference-system/service-kit';

export interface App1Config extends ServiceConfig {
  /** APP 2's base URL: its plain Service name by default, resolved by cluster DNS. */
  readonly app2Url: URL;
  /** Time allowed for one attempt of a call to APP 2 (connect + answer). */
  readonly app2TimeoutMs: number;
}

export function readConfig(env: NodeJS.ProcessEnv): App1Config {
  const app2Url = new URL(env['APP2_URL'] || 'http://app2');
  if (app2Url.protocol !== 'http:') throw new Error(`APP2_URL=${app2Url.href}: only http:// is supported`);
  return {
    ...readServiceConfig(env),
    app2Url,
    app2TimeoutMs: intFrom(env, 'APP2_TIMEOUT_MS', 1500),
  };
}
