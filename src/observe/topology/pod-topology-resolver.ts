// Resolves a pod to its app and Meridian revision from per-member caches of workloads, so logs,
// spans and the topology carry `app` and `revision` without a round trip per line or span. Runs
// on every hub replica beside the FleetView it follows.
import type { Cluster } from '../../api/cluster.ts';
import type { ClusterClient, KubeObject } from '../../kube/cluster-client.ts';
import { Informer } from '../../kube/informer.ts';
import type { Logger } from '../../logging/logger.ts';
import { APPLICATION_LABEL, REVISION_ANNOTATION } from '../../api/labels.ts';
import type { FleetView } from '../fleet-view.ts';
import { appOf, workloadOfPod, type WorkloadInfo } from './workload-of-pod.ts';

export interface PodTopology {
  readonly app?: string;
  readonly application?: string;
  readonly revision?: string;
  readonly workload?: string;
}

/**
 * `app` and `revision` of a pod the hub knows, else undefined: the resolver's `resolve`, as the
 * logs and metrics services take it.
 */
export type WorkloadOf = (cluster: string, namespace: string, pod: string) => PodTopology | undefined;

const KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;

interface MemberCaches {
  readonly client: ClusterClient;
  readonly informers: readonly Informer<KubeObject>[];
  /** Workloads by namespace, built on first use after any change (resolve runs once per span). */
  byNamespace?: Map<string, WorkloadInfo[]>;
}

function info(kind: WorkloadInfo['kind'], o: KubeObject): WorkloadInfo {
  const labels = o.metadata.labels;
  return {
    kind,
    name: o.metadata.name,
    app: appOf(o.metadata.name, labels),
    application: labels?.[APPLICATION_LABEL],
    revision: o.metadata.annotations?.[REVISION_ANNOTATION],
  };
}

export class PodTopologyResolver {
  private readonly members = new Map<string, MemberCaches>();

  constructor(
    private readonly fleet: FleetView,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.fleet.clusters.on((event, c: Cluster) => {
      if (event === 'delete') void this.drop(c.metadata.name);
      else this.ensure(c.metadata.name);
    });
    for (const m of this.fleet.members()) this.ensure(m.name);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.members.keys()].map((n) => this.drop(n)));
  }

  /**
   * Resolves once every member's workloads are listed or their first list has failed (a member
   * that is down refuses at once: no reason to wait for it), or after `timeoutMs` (one that hangs).
   */
  async synced(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.all([...this.members.values()].flatMap((m) => m.informers.map((i) => i.settled())));
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  private ensure(name: string): void {
    const client = this.fleet.client(name);
    if ('error' in client) return;
    if (this.members.get(name)?.client === client) return;
    void this.drop(name);
    const informers = KINDS.map((kind) =>
      new Informer<KubeObject>(client, 'apps/v1', kind, {
        onError: (err, attempt) => {
          if (attempt === 1 || attempt % 20 === 0)
            this.log.debug({ cluster: name, kind, err }, 'workload watch failed; retrying');
        },
      }).start(),
    );
    const caches: MemberCaches = { client, informers };
    for (const inf of informers) inf.on(() => delete caches.byNamespace);
    this.members.set(name, caches);
  }

  private async drop(name: string): Promise<void> {
    const m = this.members.get(name);
    if (!m) return;
    this.members.delete(name);
    await Promise.all(m.informers.map((i) => i.stop()));
  }

  /** App and revision of a pod, or undefined when no known workload owns a pod of that name. */
  resolve(cluster: string, namespace: string, pod: string): PodTopology | undefined {
    const m = this.members.get(cluster);
    if (!m) return undefined;
    if (!m.byNamespace) {
      m.byNamespace = new Map();
      for (const w of this.workloads(cluster)) {
        const list = m.byNamespace.get(w.namespace) ?? [];
        list.push(w);
        m.byNamespace.set(w.namespace, list);
      }
    }
    const w = workloadOfPod(pod, m.byNamespace.get(namespace) ?? []);
    return (
      w && { app: w.app, application: w.application, revision: w.revision, workload: `${w.kind}/${w.name}` }
    );
  }

  /** Workloads in a member, for the topology view: app and revision per namespace. */
  workloads(cluster: string): (WorkloadInfo & { namespace: string })[] {
    const m = this.members.get(cluster);
    if (!m) return [];
    return m.informers.flatMap((inf, i) =>
      inf.list().map((o) => ({ ...info(KINDS[i]!, o), namespace: o.metadata.namespace ?? '' })),
    );
  }
}
