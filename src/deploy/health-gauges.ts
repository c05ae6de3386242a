// Keeps `meridian_application_cluster_healthy` equal to the Applications' current status: one
// series per (application, cluster) at the revision it runs, stale series (old revision, cluster
// left, Application deleted) removed so a dashboard never sums ghosts.
import type { Gauge } from 'prom-client';

type Labels = 'namespace' | 'application' | 'cluster' | 'region' | 'revision';

export interface ClusterHealthSample {
  readonly cluster: string;
  readonly region: string;
  readonly revision: number | undefined;
  readonly healthy: boolean;
}

export class ApplicationHealthGauges {
  private readonly current = new Map<string, Map<string, Record<Labels, string>>>();

  constructor(private readonly gauge: Gauge<Labels>) {}

  /** Replaces every series of the Application `namespace/name` with `samples`. */
  set(namespace: string, application: string, samples: readonly ClusterHealthSample[]): void {
    const key = `${namespace}/${application}`;
    const next = new Map<string, Record<Labels, string>>();
    for (const s of samples) {
      const labels = {
        namespace,
        application,
        cluster: s.cluster,
        region: s.region,
        revision: s.revision === undefined ? '' : String(s.revision),
      };
      next.set(JSON.stringify(labels), labels);
      this.gauge.set(labels, s.healthy ? 1 : 0);
    }
    for (const [id, labels] of this.current.get(key) ?? []) if (!next.has(id)) this.gauge.remove(labels);
    this.current.set(key, next);
  }

  /** Removes every series of a deleted Application. */
  delete(namespace: string, application: string): void {
    this.set(namespace, application, []);
    this.current.delete(`${namespace}/${application}`);
  }
}
