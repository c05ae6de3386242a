// What kube-proxy would program for one Service of one member, in loopback terms: for each TCP
// service port, the ready endpoints of every EndpointSlice of the Service (the member's own and
// Meridian's multi-cluster ones alike), each mapped to its pod process's loopback address. Pure.
//
// kube-proxy's rules kept here:
// - a slice port serves a service port when their names are equal (both empty for a single unnamed
//   port) and their protocols too; the slice carries the resolved target port, so a named
//   targetPort is already a number here;
// - an endpoint is used when `conditions.ready` is not false (unset means ready), and only its first
//   address (the EndpointSlice API says consumers use only that one);
// - duplicates across slices (the same address and port) count once;
// - headless Services (clusterIP None) and ExternalName Services get no virtual address.
// Endpoints whose pod runs no process here (no loopback mapping) are left out, as is any mapping
// that is not a loopback address: the local fleet never dials anything else.
import { isLoopbackHost } from '../../dial/dial-guard.ts';
import type { KubeObject } from '../../kube/cluster-client.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface ServiceObject extends KubeObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    ports?: readonly {
      name?: string;
      protocol?: string;
      port: number;
      targetPort?: number | string;
    }[];
  };
}

export interface EndpointSliceObject extends KubeObject {
  addressType?: string;
  endpoints?: readonly {
    addresses: readonly string[];
    conditions?: { ready?: boolean };
  }[];
  ports?: readonly { name?: string; port?: number; protocol?: string }[];
}

/** One connection target: a pod process's loopback address and the pod's port. */
export interface Backend {
  readonly host: string;
  readonly port: number;
}

export interface ServedPort {
  readonly name?: string;
  readonly port: number;
  readonly protocol: 'TCP';
  /** Ready, mapped endpoints, sorted; empty means connections are refused. */
  readonly backends: readonly Backend[];
}

export type ServiceKind = 'virtual' | 'headless' | 'none';

/** How a Service is reached: a virtual address (ClusterIP), its endpoints' addresses, or not at all. */
export function serviceKind(svc: ServiceObject): ServiceKind {
  if (svc.spec?.type === 'ExternalName') return 'none';
  if (svc.spec?.clusterIP === 'None') return 'headless';
  return 'virtual';
}

const tcp = (protocol: string | undefined): boolean => (protocol ?? 'TCP') === 'TCP';
const byHostPort = (a: Backend, b: Backend): number =>
  a.host < b.host ? -1 : a.host > b.host ? 1 : a.port - b.port;

/** The slices of `svc` among `slices` (same namespace, labelled with its name). */
export function slicesOf(svc: ServiceObject, slices: readonly EndpointSliceObject[]): EndpointSliceObject[] {
  return slices.filter(
    (s) =>
      s.metadata.namespace === svc.metadata.namespace &&
      s.metadata.labels?.[SERVICE_NAME_LABEL] === svc.metadata.name,
  );
}

/** Ready endpoints of one service port over `slices`, mapped through `loopbackFor`. */
function backendsFor(
  servicePort: { name?: string; protocol?: string },
  slices: readonly EndpointSliceObject[],
  loopbackFor: (podIp: string) => string | undefined,
): Backend[] {
  const seen = new Map<string, Backend>();
  for (const slice of slices) {
    if (slice.addressType === 'FQDN') continue;
    const port = (slice.ports ?? []).find(
      (p) => (p.name ?? '') === (servicePort.name ?? '') && tcp(p.protocol) === tcp(servicePort.protocol),
    );
    if (port?.port === undefined) continue;
    for (const e of slice.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      const ip = e.addresses[0];
      const host = ip === undefined ? undefined : loopbackFor(ip);
      if (host === undefined || !isLoopbackHost(host)) continue;
      seen.set(`${host}:${port.port}`, { host, port: port.port });
    }
  }
  return [...seen.values()].sort(byHostPort);
}

/** The TCP ports of a virtual Service with their backends; [] for headless, ExternalName or UDP-only. */
export function servedPorts(
  svc: ServiceObject,
  slices: readonly EndpointSliceObject[],
  loopbackFor: (podIp: string) => string | undefined,
): ServedPort[] {
  if (serviceKind(svc) !== 'virtual') return [];
  const own = slicesOf(svc, slices);
  return (svc.spec?.ports ?? [])
    .filter((p) => tcp(p.protocol))
    .map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      port: p.port,
      protocol: 'TCP' as const,
      backends: backendsFor(p, own, loopbackFor),
    }));
}

/**
 * The loopback addresses of a headless Service's ready endpoints (what cluster DNS answers for
 * it), sorted and without duplicates.
 */
export function headlessAddresses(
  svc: ServiceObject,
  slices: readonly EndpointSliceObject[],
  loopbackFor: (podIp: string) => string | undefined,
): string[] {
  const out = new Set<string>();
  for (const slice of slicesOf(svc, slices)) {
    if (slice.addressType === 'FQDN') continue;
    for (const e of slice.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      const ip = e.addresses[0];
      const host = ip === undefined ? undefined : loopbackFor(ip);
      if (host !== undefined && isLoopbackHost(host)) out.add(host);
    }
  }
  return [...out].sort();
}
