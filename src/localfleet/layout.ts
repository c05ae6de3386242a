// The shape of a local fleet: which clusters exist, their regions and zones, and the loopback
// address and ports each one uses. Pure: the same options always give the same layout.
import { MeridianError } from '../kube/errors.ts';

/** Regions given to members in order; the first three are the documented defaults. */
export const MEMBER_REGIONS = [
  'eu-west',
  'us-east',
  'ap-south',
  'eu-central',
  'us-west',
  'ap-east',
  'sa-east',
  'af-south',
] as const;

export const PORTS = {
  apiserver: 6443,
  etcdClient: 2379,
  etcdPeer: 2380,
  controllerManager: 10257,
  scheduler: 10259,
  kwok: 10247,
} as const;

/** Port of every member's stand-in ingress on its loopback ingress address. */
export const LOCAL_INGRESS_PORT = 8080;
/** The local fleet's hub process: HTTP API (with the console and OTLP), fixed on loopback. */
export const LOCAL_HUB_API = '127.0.0.1:7443';
/** The local fleet's GSLB DNS and edge gateway (unprivileged ports on loopback). */
export const LOCAL_DNS_SERVER = { host: '127.0.0.1', port: 8053 } as const;
export const LOCAL_DNS = `${LOCAL_DNS_SERVER.host}:${LOCAL_DNS_SERVER.port}`;
export const LOCAL_DNS_ZONE = 'meridian.local';
export const LOCAL_EDGE = '127.0.0.1:8000';

export interface ClusterLayout {
  readonly name: string;
  readonly role: 'hub' | 'member';
  readonly region: string;
  readonly zones: readonly string[];
  /** Loopback address every process of this cluster binds to. */
  readonly address: string;
  /** Loopback address standing in for this cluster's ingress (north–south traffic). */
  readonly ingressAddress: string;
  /** Pod CIDR kwok hands addresses from; distinct per cluster so addresses never collide. */
  readonly podCidr: string;
  readonly nodes: number;
}

export interface FleetLayout {
  readonly subnet: string;
  readonly hub: ClusterLayout;
  readonly members: readonly ClusterLayout[];
  readonly all: readonly ClusterLayout[];
}

export interface LayoutOptions {
  readonly members: number;
  /** First three octets of the loopback /24 the fleet lives in, e.g. 127.77.0 */
  readonly subnet: string;
  readonly nodesPerCluster?: number;
}

export const DEFAULT_SUBNET = '127.77.0';

/** Computes the fleet layout, rejecting options that cannot work on loopback. */
export function fleetLayout(opts: LayoutOptions): FleetLayout {
  if (!Number.isInteger(opts.members) || opts.members < 1 || opts.members > MEMBER_REGIONS.length) {
    throw new MeridianError(
      'InvalidArgument',
      `--members: must be a whole number from 1 to ${MEMBER_REGIONS.length}, got ${opts.members}`,
      2,
    );
  }
  const m = /^127\.(\d{1,3})\.(\d{1,3})$/.exec(opts.subnet);
  if (!m || Number(m[1]) > 255 || Number(m[2]) > 254) {
    throw new MeridianError(
      'InvalidArgument',
      `--subnet: must be the first three octets of a loopback /24 such as 127.77.0, got "${opts.subnet}"`,
      2,
    );
  }
  const nodes = opts.nodesPerCluster ?? 3;
  const [, b, c] = m;
  const ingressSubnet = `127.${b}.${Number(c) + 1}`;
  const cluster = (i: number, name: string, role: 'hub' | 'member', region: string): ClusterLayout => ({
    name,
    role,
    region,
    zones: ['a', 'b', 'c'].map((z) => `${region}-${z}`),
    address: `${opts.subnet}.${i + 1}`,
    ingressAddress: `${ingressSubnet}.${i + 1}`,
    podCidr: `10.${100 + i}.0.0/16`,
    nodes,
  });
  const hub = cluster(0, 'hub', 'hub', 'hub');
  const members = Array.from({ length: opts.members }, (_, i) => {
    const region = MEMBER_REGIONS[i]!;
    return cluster(i + 1, region, 'member', region);
  });
  return { subnet: opts.subnet, hub, members, all: [hub, ...members] };
}
