// The contract between the Service proxy (which serves each member's Services on loopback with
// kube-proxy semantics) and what must find a Service the Kubernetes way: the pod runtime's
// service-link environment variables (`APP2_SERVICE_HOST`/`_PORT`) and cluster DNS names.
// Service ClusterIPs come from the same range in every cluster, so an address is per cluster.

/** One Service of one cluster, as served on loopback. */
export interface ServiceAddress {
  readonly cluster: string;
  readonly namespace: string;
  readonly name: string;
  /** The loopback address whose ports are the Service's ports (same numbers as spec.ports[].port). */
  readonly loopback: string;
  readonly ports: readonly { readonly name?: string; readonly port: number; readonly protocol: string }[];
}

/** Read side of the (cluster, namespace, name) → loopback map, owned by the Service proxy. */
export interface ServiceAddressMap {
  addressFor(cluster: string, namespace: string, name: string): ServiceAddress | undefined;
  /** Every served Service of one namespace of one cluster (for service links). */
  inNamespace(cluster: string, namespace: string): readonly ServiceAddress[];
  /** Called after every change of the map; returns a function that unsubscribes. */
  onChange(listener: () => void): () => void;
}
