// Which loopback address of a member's Service /24 (loopback-ranges.ts) each of its Services gets,
// and the two addresses of that /24 kept for the member's own servers. Pure.
//
// An address, once given, stays with its Service for as long as the Service exists (a program
// holds the address it resolved, as it would a ClusterIP); a new Service takes the lowest free one.

/** Services take .1 to .250 of the member's Service /24. */
export const SERVICE_HOSTS = 250;
/** The member's cluster DNS server (UDP and TCP port CLUSTER_DNS_PORT). */
export const clusterDnsAddress = (prefix: string): string => `${prefix}.253`;
export const CLUSTER_DNS_PORT = 53;
/** The member's Prometheus (port MEMBER_PROMETHEUS_PORT). */
export const memberPrometheusAddress = (prefix: string): string => `${prefix}.254`;
export const MEMBER_PROMETHEUS_PORT = 9090;

export interface AddressPlan {
  /** Service key (`namespace/name`) → loopback address. */
  readonly addresses: ReadonlyMap<string, string>;
  /** Keys that found no free address (more than SERVICE_HOSTS Services), sorted. */
  readonly unplaced: readonly string[];
}

/**
 * Addresses for `keys` in `prefix`: those in `previous` keep theirs, the others take the lowest
 * free host in key order.
 */
export function planServiceAddresses(
  prefix: string,
  previous: ReadonlyMap<string, string>,
  keys: Iterable<string>,
): AddressPlan {
  const wanted = [...new Set(keys)].sort();
  const addresses = new Map<string, string>();
  const taken = new Set<string>();
  for (const k of wanted) {
    const a = previous.get(k);
    if (a !== undefined && a.startsWith(`${prefix}.`) && !taken.has(a)) {
      addresses.set(k, a);
      taken.add(a);
    }
  }
  const unplaced: string[] = [];
  let host = 1;
  for (const k of wanted) {
    if (addresses.has(k)) continue;
    while (host <= SERVICE_HOSTS && taken.has(`${prefix}.${host}`)) host++;
    if (host > SERVICE_HOSTS) {
      unplaced.push(k);
      continue;
    }
    const a = `${prefix}.${host}`;
    addresses.set(k, a);
    taken.add(a);
  }
  return { addresses, unplaced };
}
