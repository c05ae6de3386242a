// What a member's cluster DNS answers, as CoreDNS's kubernetes and multicluster plugins would, in
// loopback terms: `name.ns.svc.cluster.local` → the Service's loopback listener (a headless
// Service: its ready endpoints' pod processes), `name.ns.svc.clusterset.local` → the Service that
// serves the ServiceImport. Pure.
import type { ServiceObject } from './service-backends.ts';

export const CLUSTER_ZONE = 'cluster.local';
export const CLUSTERSET_ZONE = 'clusterset.local';
/** CoreDNS's default TTL for cluster names: short, so endpoint changes are seen soon. */
export const CLUSTER_DNS_TTL = 5;

/** A member's names: `name.ns` → addresses, for each zone. */
export interface DnsRecords {
  readonly cluster: ReadonlyMap<string, readonly string[]>;
  readonly clusterset: ReadonlyMap<string, readonly string[]>;
}

export const NO_RECORDS: DnsRecords = { cluster: new Map(), clusterset: new Map() };

/** The ServiceImport fields the clusterset lookup reads. */
export interface ImportLike {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: { readonly type?: string; readonly ips?: readonly string[] };
}

/** Where mcs-api implementations (Meridian's mesh included) name the Service serving an import. */
export const DERIVED_SERVICE_ANNOTATION = 'multicluster.kubernetes.io/derived-service';

/**
 * The Service (in the import's namespace) whose addresses `name.ns.svc.clusterset.local` answers
 * with: the Service the import names in its derived-service annotation (the only way to find a
 * Headless import's Service, which has no IP); else, for a ClusterSetIP import, the Service whose
 * clusterIP is the import's cluster-set IP
 * (Meridian sets it to the Service that carries the imported endpoints, whatever its name), else
 * the Service of the import's name; for a Headless import, the Service of its name.
 */
export function clustersetService(imp: ImportLike, services: readonly ServiceObject[]): string | undefined {
  const ns = imp.metadata.namespace;
  const inNs = services.filter((s) => s.metadata.namespace === ns);
  const derived = imp.metadata.annotations?.[DERIVED_SERVICE_ANNOTATION];
  // Named but not there yet: nothing, rather than a same-name local Service the KEP keeps apart.
  if (derived) return inNs.find((s) => s.metadata.name === derived)?.metadata.name;
  const ip = imp.spec?.type === 'Headless' ? undefined : imp.spec?.ips?.[0];
  const byIp = ip ? inNs.find((s) => s.spec?.clusterIP === ip) : undefined;
  if (byIp) return byIp.metadata.name;
  return inNs.find((s) => s.metadata.name === imp.metadata.name)?.metadata.name;
}

/**
 * Builds the records: `cluster` from each served Service's addresses (key `name.ns`), and
 * `clusterset` for each import whose Service has addresses.
 */
export function dnsRecords(
  serviceAddresses: ReadonlyMap<string, readonly string[]>,
  imports: readonly ImportLike[],
  services: readonly ServiceObject[],
): DnsRecords {
  const clusterset = new Map<string, readonly string[]>();
  for (const imp of imports) {
    const target = clustersetService(imp, services);
    const addrs = target ? serviceAddresses.get(`${target}.${imp.metadata.namespace}`) : undefined;
    if (addrs) clusterset.set(`${imp.metadata.name}.${imp.metadata.namespace}`, addrs);
  }
  return { cluster: serviceAddresses, clusterset };
}

export type DnsAnswer =
  | { readonly rcode: 'NOERROR'; readonly addresses: readonly string[] }
  | { readonly rcode: 'NXDOMAIN' | 'REFUSED' };

/**
 * The answer to one question. Names outside the two zones are refused (this server forwards
 * nothing; programs ask it only for cluster names). A known name answers its addresses for A (and
 * ANY) and nothing for other types; a name in a zone that is not a Service is NXDOMAIN, except the
 * zone's own structure (`svc.cluster.local`, `ns.svc.cluster.local`), which exists without records.
 */
export function clusterDnsAnswer(qname: string, qtype: string, records: DnsRecords): DnsAnswer {
  const name = qname.toLowerCase().replace(/\.$/, '');
  for (const [zone, table] of [
    [CLUSTER_ZONE, records.cluster],
    [CLUSTERSET_ZONE, records.clusterset],
  ] as const) {
    if (name !== zone && !name.endsWith(`.${zone}`)) continue;
    const labels = name === zone ? [] : name.slice(0, -zone.length - 1).split('.');
    if (labels.length === 0 || (labels.length <= 2 && labels[labels.length - 1] === 'svc'))
      return { rcode: 'NOERROR', addresses: [] };
    if (labels.length !== 3 || labels[2] !== 'svc') return { rcode: 'NXDOMAIN' };
    const addrs = table.get(`${labels[0]}.${labels[1]}`);
    if (!addrs || addrs.length === 0) return { rcode: 'NXDOMAIN' };
    return { rcode: 'NOERROR', addresses: qtype === 'A' || qtype === 'ANY' ? addrs : [] };
  }
  return { rcode: 'REFUSED' };
}
