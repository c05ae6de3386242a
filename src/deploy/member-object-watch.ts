// Watches, in every member, the kinds Meridian has applied there (only objects labelled as
// Meridian's), so the deploy controller hears at once about rollout progress, manual edits and
// deletions, and reads health from caches instead of polling. In a member joined with
// `--namespaces` the hub may not list a kind cluster-wide, so namespaced objects are watched in
// their own namespace there (as Argo CD does for a namespaced cluster).
import type { KubeObject } from '../kube/cluster-client.ts';
import { Informer, type InformerEvent } from '../kube/informer.ts';
import type { Logger } from '../logging/logger.ts';
import type { MemberConnections } from '../fleet/member-connections.ts';

export const MANAGED_BY_SELECTOR = 'app.kubernetes.io/managed-by=meridian';

interface Watched {
  readonly credentialKey: string;
  readonly informer: Informer<KubeObject>;
}

export type MemberObjectHandler = (cluster: string, event: InformerEvent, obj: KubeObject) => void;

export class MemberObjectWatch {
  private readonly watches = new Map<string, Watched>();

  constructor(
    private readonly members: MemberConnections,
    private readonly log: Logger,
    private readonly onChange: MemberObjectHandler,
  ) {}

  private key(cluster: string, apiVersion: string, kind: string, namespace: string | undefined): string {
    return `${cluster}|${apiVersion}|${kind}|${namespace ?? ''}`;
  }

  /**
   * Makes sure `kind` is watched in `cluster` (in `namespace` only when the member limits the hub
   * to some namespaces); returns its informer (undefined if not connected).
   */
  ensure(
    cluster: string,
    apiVersion: string,
    kind: string,
    namespace?: string,
  ): Informer<KubeObject> | undefined {
    const conn = this.members.get(cluster);
    if (!conn) return undefined;
    const ns = conn.namespaces && namespace ? namespace : undefined;
    const k = this.key(cluster, apiVersion, kind, ns);
    const existing = this.watches.get(k);
    if (existing && existing.credentialKey === conn.credentialKey) return existing.informer;
    if (existing) void existing.informer.stop();
    const informer = new Informer<KubeObject>(conn.client, apiVersion, kind, {
      labelSelector: MANAGED_BY_SELECTOR,
      ...(ns ? { namespace: ns } : {}),
      onError: (err, attempt) => {
        if (attempt === 1 || attempt % 20 === 0)
          this.log.warn({ cluster, kind, err, attempt }, 'member watch failed; retrying');
      },
    });
    informer.on((ev, obj) => this.onChange(cluster, ev, obj));
    informer.start();
    this.watches.set(k, { credentialKey: conn.credentialKey, informer });
    return informer;
  }

  /**
   * The live object from the cache: the object, `null` when the cache is synced and it does not
   * exist, or `undefined` when the cache cannot tell (not connected or not synced yet).
   */
  get(
    cluster: string,
    ref: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>,
  ): KubeObject | null | undefined {
    const inf = this.ensure(cluster, ref.apiVersion, ref.kind, ref.metadata.namespace);
    if (!inf || !inf.synced) return undefined;
    return inf.get(ref.metadata.name, ref.metadata.namespace) ?? null;
  }

  /** Whether the watch on this cluster currently fails (its API server is not answering). */
  failing(cluster: string): boolean {
    for (const [k, w] of this.watches)
      if (k.startsWith(`${cluster}|`) && w.informer.failures > 0) return true;
    return false;
  }

  async stopAll(): Promise<void> {
    const all = [...this.watches.values()];
    this.watches.clear();
    await Promise.all(all.map((w) => w.informer.stop()));
  }
}
