// Keeps a routing table current from hub state: GlobalIngresses (with the health their status
// carries), Clusters (addresses, drain) and TLS Secrets. Runs on every hub replica, so the GSLB
// DNS and the edge gateway answer the same whichever replica a client reaches.
import { API_VERSION } from '../../api/group.ts';
import type { Cluster } from '../../api/cluster.ts';
import type { GlobalIngress } from '../../api/global-ingress.ts';
import type { ClusterClient } from '../../kube/cluster-client.ts';
import { Informer } from '../../kube/informer.ts';
import type { Logger } from '../../logging/logger.ts';
import { buildRoutes, type TlsSecret } from './routes.ts';
import { StaticRoutingTable, SwappableRoutingTable } from './routing.ts';

export class TrafficTableSync {
  readonly table = new SwappableRoutingTable();
  readonly ingresses: Informer<GlobalIngress>;
  readonly clusters: Informer<Cluster>;
  readonly secrets: Informer<TlsSecret>;
  private scheduled = false;
  private readonly listeners: (() => void)[] = [];

  constructor(hub: ClusterClient, log: Logger) {
    const onError = (what: string) => (err: string) => log.warn({ err }, `${what} watch failed; retrying`);
    this.ingresses = new Informer<GlobalIngress>(hub, API_VERSION, 'GlobalIngress', {
      onError: onError('globalingress'),
    });
    this.clusters = new Informer<Cluster>(hub, API_VERSION, 'Cluster', { onError: onError('cluster') });
    this.secrets = new Informer<TlsSecret>(hub, 'v1', 'Secret', {
      fieldSelector: 'type=kubernetes.io/tls',
      onError: onError('tls secret'),
    });
  }

  async start(): Promise<void> {
    for (const inf of [this.ingresses, this.clusters, this.secrets]) {
      inf.start();
      inf.on(() => this.schedule());
    }
    await Promise.all([
      this.ingresses.waitForSync(),
      this.clusters.waitForSync(),
      this.secrets.waitForSync(),
    ]);
    this.rebuild();
  }

  /** Called after every rebuild (metrics, tests). */
  onChange(f: () => void): void {
    this.listeners.push(f);
  }

  async stop(): Promise<void> {
    await Promise.all([this.ingresses.stop(), this.clusters.stop(), this.secrets.stop()]);
  }

  /** Coalesces a burst of events (a list, a status write touching many objects) into one rebuild. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.rebuild();
    });
  }

  private rebuild(): void {
    const routes = buildRoutes(this.ingresses.list(), this.clusters.list(), (ns, name) =>
      this.secrets.get(name, ns),
    );
    this.table.set(new StaticRoutingTable(routes));
    for (const f of this.listeners) f();
  }
}
