// How a pod process finds cluster names: the preload module (cluster-dns-preload.mjs) in
// NODE_OPTIONS, told where the member's cluster DNS server is and which namespace the pod is in.
import { fileURLToPath } from 'node:url';

/** Absolute path of the preload module, for NODE_OPTIONS=--import <path>. */
export const CLUSTER_DNS_PRELOAD = fileURLToPath(new URL('./cluster-dns-preload.mjs', import.meta.url));

/** The variables the preload reads: the member's DNS server and the pod's namespace. */
export function clusterDnsVariables(
  dns: { readonly host: string; readonly port: number },
  namespace: string,
): Record<string, string> {
  return { MERIDIAN_CLUSTER_DNS: `${dns.host}:${dns.port}`, MERIDIAN_POD_NAMESPACE: namespace };
}

/**
 * The environment a pod process needs for cluster DNS names: NODE_OPTIONS (appended to
 * `nodeOptions`, the value the process would otherwise get), the DNS server and the namespace.
 */
export function clusterDnsEnv(
  dns: { readonly host: string; readonly port: number },
  namespace: string,
  nodeOptions = '',
): Record<string, string> {
  const preload = `--import ${JSON.stringify(CLUSTER_DNS_PRELOAD)}`;
  return {
    NODE_OPTIONS: nodeOptions ? `${nodeOptions} ${preload}` : preload,
    ...clusterDnsVariables(dns, namespace),
  };
}
