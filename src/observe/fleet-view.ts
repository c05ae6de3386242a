// A read-only view of the fleet for the observability API. Every hub replica serves logs, metrics,
// traces and topology, leader or not, so this keeps its own Cluster and credential informers and
// opens member clients lazily from the stored credentials (the same ones the controllers use).
import type { Cluster, ClusterSpec } from '../api/cluster.ts';
import { API_VERSION } from '../api/group.ts';
import type { ClusterClient } from '../kube/cluster-client.ts';
import { Informer } from '../kube/informer.ts';
import { findCondition } from '../kube/conditions.ts';
import type { Logger } from '../logging/logger.ts';
import { CREDENTIALS_LABEL, CREDENTIALS_NAMESPACE } from '../fleet/cluster-controller.ts';
import { clientFromSecret, type SecretObject } from '../fleet/member-connections.ts';

/** One member as the observability API sees it. */
export interface FleetMember {
  readonly name: string;
  readonly region: string;
  readonly zone?: string;
  /** The Cluster's Ready condition as the cluster controller last wrote it. */
  readonly ready: boolean;
  readonly observability: NonNullable<ClusterSpec['observability']>;
}

export class FleetView {
  readonly clusters: Informer<Cluster>;
  private readonly secrets: Informer<SecretObject>;
  private readonly clients = new Map<string, { key: string; client: ClusterClient }>();

  constructor(
    hub: ClusterClient,
    private readonly log: Logger,
  ) {
    const onError = (what: string) => (err: string, attempt: number) => {
      if (attempt === 1 || attempt % 20 === 0) log.warn({ err, attempt }, `${what} watch failed; retrying`);
    };
    this.clusters = new Informer<Cluster>(hub, API_VERSION, 'Cluster', { onError: onError('cluster') });
    this.secrets = new Informer<SecretObject>(hub, 'v1', 'Secret', {
      namespace: CREDENTIALS_NAMESPACE,
      labelSelector: `${CREDENTIALS_LABEL}=true`,
      onError: onError('credentials'),
    });
  }

  async start(): Promise<void> {
    this.clusters.start();
    this.secrets.start();
    await Promise.all([this.clusters.waitForSync(), this.secrets.waitForSync()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.clusters.stop(), this.secrets.stop()]);
    for (const c of this.clients.values()) c.client.close();
    this.clients.clear();
  }

  /** Registered members, sorted by name. */
  members(): FleetMember[] {
    return this.clusters
      .list()
      .map((c) => ({
        name: c.metadata.name,
        region: c.spec.region,
        zone: c.spec.zone,
        ready: findCondition(c.status?.conditions, 'Ready')?.status === 'True',
        observability: c.spec.observability ?? {},
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  member(name: string): FleetMember | undefined {
    return this.members().find((m) => m.name === name);
  }

  /**
   * A client for the member, or why there is none (message names the field). Clients are kept
   * until the credentials change, so repeated queries reuse them.
   */
  client(name: string): ClusterClient | { error: string } {
    const cluster = this.clusters.get(name);
    if (!cluster) return { error: `cluster "${name}" is not registered` };
    const ref = cluster.spec.kubeconfigSecretRef;
    const secret = this.secrets.get(ref.name, ref.namespace);
    if (!secret)
      return { error: `spec.kubeconfigSecretRef: secret ${ref.namespace}/${ref.name} does not exist` };
    const key = `${secret.metadata.resourceVersion}/${ref.key}/${cluster.spec.context ?? ''}`;
    const hit = this.clients.get(name);
    if (hit?.key === key) return hit.client;
    hit?.client.close();
    const made = clientFromSecret(cluster, secret);
    if ('error' in made) return { error: made.error };
    this.clients.set(name, { key, client: made });
    this.log.debug({ cluster: name }, 'observability client opened');
    return made;
  }
}
