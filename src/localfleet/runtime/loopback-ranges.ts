// Where the local fleet's real data plane lives on loopback. A fleet owns 127.B.C.0/24 for its
// clusters' API servers and 127.B.(C+1).0/24 for their ingress addresses (layout.ts); its pod
// processes and Service listeners take further /24s of the same 127.B.0.0/16, one per cluster, so
// two fleets on different subnets (the tests run several) never share an address.
import { MeridianError } from '../../kube/errors.ts';

const POD_OFFSET = 16;
const SERVICE_OFFSET = 64;
/** layout.ts allows at most the hub and 8 members. */
const MAX_CLUSTERS = 9;

function thirdOctet(subnet: string, offset: number, clusterIndex: number): string {
  const m = /^127\.(\d{1,3})\.(\d{1,3})$/.exec(subnet);
  if (!m || !Number.isInteger(clusterIndex) || clusterIndex < 0 || clusterIndex >= MAX_CLUSTERS)
    throw new MeridianError(
      'InvalidArgument',
      `no loopback range for subnet ${subnet} cluster ${clusterIndex}`,
      2,
    );
  const c = Number(m[2]) + offset + clusterIndex;
  if (c > 255)
    throw new MeridianError(
      'InvalidArgument',
      `--subnet: ${subnet} leaves no room for pod and Service addresses (third octet must be ≤ ${255 - SERVICE_OFFSET - MAX_CLUSTERS + 1})`,
      2,
    );
  return `127.${m[1]}.${c}`;
}

/**
 * The /24 (first three octets) whose .1–.254 are the loopback addresses of the real pod processes
 * of the cluster at `clusterIndex` in `FleetLayout.all` (hub 0, members from 1).
 */
export const podLoopbackPrefix = (subnet: string, clusterIndex: number): string =>
  thirdOctet(subnet, POD_OFFSET, clusterIndex);

/** The /24 whose .1–.254 are the loopback listeners of that cluster's Services. */
export const serviceLoopbackPrefix = (subnet: string, clusterIndex: number): string =>
  thirdOctet(subnet, SERVICE_OFFSET, clusterIndex);
