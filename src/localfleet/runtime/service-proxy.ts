// The local fleet's kube-proxy and cluster DNS: per member, every ClusterIP Service is served on a
// loopback address of the member's Service /24 (loopback-ranges.ts), a connection to it going to
// a ready endpoint of any EndpointSlice of the Service (Meridian's multi-cluster slices included),
// mapped to its pod process through the PodAddressMap; and a DNS server on the same /24 answers the
// Services' cluster and clusterset names. Level-triggered: any change of a member's Services,
// EndpointSlices or ServiceImports, or of the pod map, recomputes that member's whole state from
// the caches and converges the listeners to it.
import type { ClusterClient, KubeObject } from '../../kube/cluster-client.ts';
import { Informer } from '../../kube/informer.ts';
import type { Logger } from '../../logging/logger.ts';
import type { FleetLayout } from '../layout.ts';
import { clusterDnsEnv } from './cluster-dns-env.ts';
import { NO_RECORDS, dnsRecords, type DnsRecords, type ImportLike } from './cluster-dns-answer.ts';
import { ClusterDnsServer } from './cluster-dns-server.ts';
import { serviceLoopbackPrefix } from './loopback-ranges.ts';
import type { PodAddressMap } from './pod-addresses.ts';
import { CLUSTER_DNS_PORT, clusterDnsAddress, planServiceAddresses } from './service-address-plan.ts';
import type { ServiceAddress, ServiceAddressMap } from './service-addresses.ts';
import {
  headlessAddresses,
  serviceKind,
  servedPorts,
  type EndpointSliceObject,
  type ServiceObject,
} from './service-backends.ts';
import { ConnectionBudget, ServiceListener } from './service-listener.ts';

const MCS_API_VERSION = 'multicluster.x-k8s.io/v1alpha1';

export interface ServiceProxyOptions {
  readonly layout: FleetLayout;
  /** The members to serve, each with its client (names as in the layout). */
  readonly members: readonly { readonly name: string; readonly client: ClusterClient }[];
  readonly pods: PodAddressMap;
  readonly log?: Logger;
  /** Open client connections over all members (default 4096); more are reset. */
  readonly maxConnections?: number;
  /** Port (UDP and TCP) of each member's DNS server (default 53). */
  readonly dnsPort?: number;
}

interface Member {
  readonly name: string;
  readonly prefix: string;
  readonly services: Informer<ServiceObject>;
  readonly slices: Informer<EndpointSliceObject>;
  readonly imports: Informer<ImportLike & KubeObject>;
  readonly listeners: Map<string, ServiceListener>;
  addresses: Map<string, string>;
  served: Map<string, ServiceAddress>;
  records: DnsRecords;
  dns: ClusterDnsServer;
  running: Promise<void> | undefined;
  again: boolean;
}

const keyOf = (o: KubeObject): string => `${o.metadata.namespace}/${o.metadata.name}`;

export class ServiceProxy implements ServiceAddressMap {
  private readonly members = new Map<string, Member>();
  private readonly listeners = new Set<() => void>();
  private readonly budget: ConnectionBudget;
  private unsubscribePods: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly opts: ServiceProxyOptions) {
    this.budget = new ConnectionBudget(opts.maxConnections ?? 4096);
  }

  /** Starts the caches, DNS servers and listeners; resolves once every member has been served once. */
  async start(): Promise<void> {
    const { layout, log } = this.opts;
    for (const { name, client } of this.opts.members) {
      const index = layout.all.findIndex((c) => c.name === name);
      const prefix = serviceLoopbackPrefix(layout.subnet, index);
      const onError = (kind: string) => (err: string, attempt: number) => {
        if (attempt === 1 || attempt % 20 === 0)
          log?.warn({ cluster: name, kind, err, attempt }, 'service proxy watch failed; retrying');
      };
      const m: Member = {
        name,
        prefix,
        services: new Informer(client, 'v1', 'Service', { onError: onError('Service') }),
        slices: new Informer(client, 'discovery.k8s.io/v1', 'EndpointSlice', {
          onError: onError('EndpointSlice'),
        }),
        // The MCS CRDs appear when the hub's mesh service installs them; until then this retries.
        imports: new Informer(client, MCS_API_VERSION, 'ServiceImport', { maxBackoffMs: 2_000 }),
        listeners: new Map(),
        addresses: new Map(),
        served: new Map(),
        records: NO_RECORDS,
        dns: new ClusterDnsServer(clusterDnsAddress(prefix), this.opts.dnsPort ?? CLUSTER_DNS_PORT, () =>
          this.members.get(name) === m ? m.records : NO_RECORDS,
        ),
        running: undefined,
        again: false,
      };
      this.members.set(name, m);
      for (const inf of [m.services, m.slices, m.imports]) inf.on(() => this.schedule(m));
    }
    this.unsubscribePods = this.opts.pods.onChange(() => {
      for (const m of this.members.values()) this.schedule(m);
    });
    await Promise.all(
      [...this.members.values()].map(async (m) => {
        await m.dns.start();
        for (const inf of [m.services, m.slices, m.imports]) inf.start();
        await Promise.all([m.services.settled(), m.slices.settled(), m.imports.settled()]);
        this.schedule(m);
        while (m.running) await m.running;
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribePods?.();
    await Promise.all(
      [...this.members.values()].map(async (m) => {
        await Promise.all([m.services.stop(), m.slices.stop(), m.imports.stop()]);
        await m.running;
        await Promise.all([...m.listeners.values()].map((l) => l.close()));
        m.listeners.clear();
        await m.dns.stop();
      }),
    );
  }

  /** host:port of a member's cluster DNS server. */
  dnsServer(cluster: string): { host: string; port: number } | undefined {
    const m = this.members.get(cluster);
    return m ? { host: m.dns.address, port: m.dns.port } : undefined;
  }

  /** Environment a pod process of `cluster`/`namespace` needs to resolve cluster names. */
  dnsEnv(cluster: string, namespace: string): Record<string, string> {
    const dns = this.dnsServer(cluster);
    return dns ? clusterDnsEnv(dns, namespace) : {};
  }

  /** The member's current DNS records (what its server answers). */
  records(cluster: string): DnsRecords {
    return this.members.get(cluster)?.records ?? NO_RECORDS;
  }

  /** Open client connections through every listener. */
  get openConnections(): number {
    return this.budget.inUse;
  }

  addressFor(cluster: string, namespace: string, name: string): ServiceAddress | undefined {
    return this.members.get(cluster)?.served.get(`${namespace}/${name}`);
  }

  inNamespace(cluster: string, namespace: string): readonly ServiceAddress[] {
    const m = this.members.get(cluster);
    return m ? [...m.served.values()].filter((s) => s.namespace === namespace) : [];
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `sync(m)` soon; one at a time per member, again if anything changed meanwhile. */
  private schedule(m: Member): void {
    if (this.stopped) return;
    if (m.running) {
      m.again = true;
      return;
    }
    m.running = (async () => {
      await new Promise((r) => setImmediate(r)); // a burst of events is served once
      do {
        m.again = false;
        await this.sync(m);
      } while (m.again && !this.stopped);
      m.running = undefined;
    })();
  }

  private async sync(m: Member): Promise<void> {
    if (this.stopped) return;
    const { pods, log } = this.opts;
    const loopbackFor = (ip: string): string | undefined => pods.loopbackFor(ip);
    const services = m.services.list();
    const slices = m.slices.list();
    const virtual = services.filter((s) => serviceKind(s) === 'virtual');
    const plan = planServiceAddresses(m.prefix, m.addresses, virtual.map(keyOf));
    if (plan.unplaced.length)
      log?.warn({ cluster: m.name, services: plan.unplaced }, 'no loopback address left for these Services');
    m.addresses = new Map(plan.addresses);
    const served = new Map<string, ServiceAddress>();
    const cluster = new Map<string, readonly string[]>();
    const updates: Promise<void>[] = [];
    for (const svc of virtual) {
      const key = keyOf(svc);
      const host = plan.addresses.get(key);
      if (host === undefined) continue;
      const ports = servedPorts(svc, slices, loopbackFor);
      if (ports.length === 0) continue;
      let l = m.listeners.get(key);
      if (!l) {
        l = new ServiceListener(host, this.budget, {
          onListenError: (port, err) =>
            log?.warn(
              { cluster: m.name, service: key, address: host, port, err: err.message },
              'cannot listen for a Service port',
            ),
        });
        m.listeners.set(key, l);
      }
      updates.push(l.update(ports));
      served.set(key, {
        cluster: m.name,
        namespace: svc.metadata.namespace ?? 'default',
        name: svc.metadata.name,
        loopback: host,
        ports: ports.map((p) => ({
          ...(p.name ? { name: p.name } : {}),
          port: p.port,
          protocol: p.protocol,
        })),
      });
      cluster.set(`${svc.metadata.name}.${svc.metadata.namespace}`, [host]);
    }
    for (const [key, l] of m.listeners) {
      if (!served.has(key)) {
        m.listeners.delete(key);
        updates.push(l.close());
      }
    }
    for (const svc of services) {
      if (serviceKind(svc) !== 'headless') continue;
      const addrs = headlessAddresses(svc, slices, loopbackFor);
      if (addrs.length) cluster.set(`${svc.metadata.name}.${svc.metadata.namespace}`, addrs);
    }
    await Promise.all(updates);
    m.records = dnsRecords(cluster, m.imports.list(), services);
    const before = JSON.stringify([...m.served]);
    m.served = served;
    if (JSON.stringify([...served]) !== before) {
      for (const l of this.listeners) {
        try {
          l();
        } catch (e) {
          log?.warn({ cluster: m.name, err: String(e) }, 'service address listener failed');
        }
      }
    }
  }
}
