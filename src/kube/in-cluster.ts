// In-cluster configuration: how a process running as a pod reaches its own cluster's API server,
// as every controller does (client-go's rest.InClusterConfig): the address from
// KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT, the CA and the ServiceAccount token from the
// files the kubelet mounts. The token is a projected, rotating one (about hourly), so it is
// re-read whenever the file changes rather than once at start; the CA file is read per connection
// by the official client already.
import { readFileSync, statSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import { KubeConfig, type User } from '@kubernetes/client-node';
import { MeridianError } from './errors.ts';

/** Where the kubelet mounts a pod's ServiceAccount credentials. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Overrides SERVICE_ACCOUNT_DIR (tests, and pods that mount the credentials elsewhere). */
export const SERVICE_ACCOUNT_DIR_ENV = 'MERIDIAN_SERVICEACCOUNT_DIR';

export interface InClusterSource {
  readonly server: string;
  readonly caFile: string;
  readonly tokenFile: string;
  readonly namespaceFile: string;
}

/** True when the environment says this process runs in a pod (the variables every pod gets). */
export function inClusterEnvironment(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env['KUBERNETES_SERVICE_HOST']);
}

/**
 * The API server and credential files the environment names. Pure: no file is read. Throws a
 * MeridianError naming the variable that is missing or invalid.
 */
export function inClusterSource(env: NodeJS.ProcessEnv): InClusterSource {
  const host = env['KUBERNETES_SERVICE_HOST']?.trim();
  const portText = env['KUBERNETES_SERVICE_PORT']?.trim();
  if (!host) {
    throw new MeridianError(
      'InClusterConfigMissing',
      'in-cluster configuration: KUBERNETES_SERVICE_HOST is not set (not running in a pod? give a kubeconfig with --hub-kubeconfig)',
    );
  }
  if (!portText) {
    throw new MeridianError(
      'InClusterConfigMissing',
      'in-cluster configuration: KUBERNETES_SERVICE_PORT is not set',
    );
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new MeridianError(
      'InClusterConfigInvalid',
      `in-cluster configuration: KUBERNETES_SERVICE_PORT must be a port number from 1 to 65535, not "${portText}"`,
    );
  }
  if (/[\s/?#@]/.test(host) || (host.includes(':') && !isIPv6(host))) {
    throw new MeridianError(
      'InClusterConfigInvalid',
      `in-cluster configuration: KUBERNETES_SERVICE_HOST must be a host name or IP address, not "${host}"`,
    );
  }
  const dir = env[SERVICE_ACCOUNT_DIR_ENV] || SERVICE_ACCOUNT_DIR;
  return {
    // The API server always speaks TLS to pods (the client library's plain-HTTP guess for ports
    // 80/8080 is a local-proxy habit, not in-cluster behaviour).
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    caFile: join(dir, 'ca.crt'),
    tokenFile: join(dir, 'token'),
    namespaceFile: join(dir, 'namespace'),
  };
}

const AUTH_PROVIDER = 'meridian-service-account-token';
// Its config names the file `path`: the client's own FileAuth claims any provider whose config
// has a `tokenFile`, and it is asked first.
/** The official client's authenticator contract (not exported by name). */
type Authenticator = Parameters<KubeConfig['addAuthenticator']>[0];

/**
 * Bearer token from a file, re-read when the file changes (size or modification time, one stat per
 * request), so a rotated token is used from the next request on. client-go and the official
 * Node.js client re-read it once a minute instead, which leaves a window with a revoked token.
 */
export class ServiceAccountTokenAuth implements Authenticator {
  private cached?: { token: string; mtimeMs: number; size: number };

  isAuthProvider(user: User): boolean {
    return user.authProvider?.name === AUTH_PROVIDER;
  }

  async applyAuthentication(
    user: User,
    opts: Parameters<Authenticator['applyAuthentication']>[1],
  ): Promise<void> {
    const file = (user.authProvider?.config as { path?: string } | undefined)?.path;
    if (!file) return;
    // The client hands over an object of headers (never the raw array form).
    const headers = (opts.headers ??= {}) as Record<string, string>;
    headers['Authorization'] = `Bearer ${this.token(file)}`;
  }

  private token(file: string): string {
    let st;
    try {
      st = statSync(file);
    } catch (e) {
      throw new MeridianError(
        'InClusterConfigMissing',
        `in-cluster configuration: the ServiceAccount token ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      );
    }
    const c = this.cached;
    if (c && c.mtimeMs === st.mtimeMs && c.size === st.size) return c.token;
    const token = readFileSync(file, 'utf8').trim();
    if (!token) {
      throw new MeridianError(
        'InClusterConfigInvalid',
        `in-cluster configuration: the ServiceAccount token ${file} is empty`,
      );
    }
    this.cached = { token, mtimeMs: st.mtimeMs, size: st.size };
    return token;
  }
}

/**
 * A KubeConfig for the in-cluster API server of `env` (process.env by default), checked: the
 * CA and token files must be readable now (they are re-read later as they rotate).
 */
export function loadInClusterKubeConfig(env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const src = inClusterSource(env);
  for (const [what, file] of [
    ['CA certificate', src.caFile],
    ['ServiceAccount token', src.tokenFile],
  ] as const) {
    try {
      readFileSync(file);
    } catch (e) {
      throw new MeridianError(
        'InClusterConfigMissing',
        `in-cluster configuration: the ${what} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}); ` +
          `is the ServiceAccount token mounted (automountServiceAccountToken)?`,
      );
    }
  }
  const kc = new KubeConfig();
  kc.addAuthenticator(new ServiceAccountTokenAuth());
  kc.loadFromOptions({
    clusters: [{ name: 'in-cluster', server: src.server, caFile: src.caFile, skipTLSVerify: false }],
    users: [{ name: 'in-cluster', authProvider: { name: AUTH_PROVIDER, config: { path: src.tokenFile } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster' }],
    currentContext: 'in-cluster',
  });
  return kc;
}
