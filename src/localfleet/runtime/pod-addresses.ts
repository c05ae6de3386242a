// The contract between the local pod runtime (which gives each real pod process its own loopback
// address) and everything that must reach a pod by its Kubernetes pod IP (the Service proxy, the
// ingress stand-in, the member Prometheus): pod IPs are fake (kwok hands them out of each
// cluster's pod CIDR), so a connection to a pod IP is made to the loopback address mapped here.
// Pod CIDRs differ per cluster (layout.ts), so a pod IP is unique across the fleet.

/** One real pod process's address. */
export interface PodAddress {
  readonly cluster: string;
  readonly namespace: string;
  readonly pod: string;
  /** The pod IP kwok assigned (status.podIP). */
  readonly podIp: string;
  /** The loopback address the pod's container ports are bound to. */
  readonly loopback: string;
}

/** Read side of the pod-IP → loopback map, owned and written by the pod runtime. */
export interface PodAddressMap {
  /** The loopback address of the pod with this pod IP, if it runs as a real process. */
  loopbackFor(podIp: string): string | undefined;
  /** Every mapped pod, in no particular order. */
  list(): readonly PodAddress[];
  /** Called after every change of the map; returns a function that unsubscribes. */
  onChange(listener: () => void): () => void;
}
