// Prometheus metrics of the edge gateway, per host and cluster. Label children are looked up once
// per (host, cluster, code) and kept: prom-client hashes the label set on every call otherwise, and
// this runs on every proxied request.
import { Counter, Histogram, type Registry } from 'prom-client';

/** Label value for requests that matched no route (an unknown Host must not mint new series). */
export const NO_ROUTE = '(none)';
/** Cluster label when no cluster was tried (404, no cluster in the route). */
export const NO_CLUSTER = '';

/** The edge metrics (also summed by the hub over its edge worker processes, edge-workers.ts). */
export const EDGE_METRICS = {
  requests: {
    name: 'meridian_edge_requests_total',
    help: 'Requests answered by the edge gateway, by host, serving cluster and status code',
    type: 'counter',
  },
  duration: {
    name: 'meridian_edge_request_duration_seconds',
    help: 'Edge gateway request duration until the response ended, retries included',
    type: 'histogram',
  },
  retries: {
    name: 'meridian_edge_retries_total',
    help: 'Requests the edge gateway retried on another cluster, by the cluster that failed',
    type: 'counter',
  },
  ejections: {
    name: 'meridian_edge_ejections_total',
    help: 'Passive outlier ejections of a cluster from a host (consecutive failures)',
    type: 'counter',
  },
} as const;

interface TargetSeries {
  readonly codes: Map<number, Counter.Internal>;
  readonly duration: { observe(seconds: number): void };
  readonly retries: Counter.Internal;
}

export class EdgeMetrics {
  private readonly requests: Counter<'host' | 'cluster' | 'code'>;
  private readonly duration: Histogram<'host' | 'cluster'>;
  private readonly retries: Counter<'host' | 'cluster'>;
  private readonly ejections: Counter<'cluster'>;
  private readonly series = new Map<string, Map<string, TargetSeries>>();

  constructor(registry: Registry) {
    this.requests = new Counter({
      ...EDGE_METRICS.requests,
      labelNames: ['host', 'cluster', 'code'],
      registers: [registry],
    });
    this.duration = new Histogram({
      ...EDGE_METRICS.duration,
      labelNames: ['host', 'cluster'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.retries = new Counter({
      ...EDGE_METRICS.retries,
      labelNames: ['host', 'cluster'],
      registers: [registry],
    });
    this.ejections = new Counter({
      ...EDGE_METRICS.ejections,
      labelNames: ['cluster'],
      registers: [registry],
    });
  }

  private target(host: string, cluster: string): TargetSeries {
    let byCluster = this.series.get(host);
    if (!byCluster) this.series.set(host, (byCluster = new Map()));
    let s = byCluster.get(cluster);
    if (!s) {
      s = {
        codes: new Map(),
        duration: this.duration.labels(host, cluster),
        retries: this.retries.labels(host, cluster),
      };
      byCluster.set(cluster, s);
    }
    return s;
  }

  /** One answered request. */
  request(host: string, cluster: string, code: number, seconds: number): void {
    const s = this.target(host, cluster);
    let c = s.codes.get(code);
    if (!c) s.codes.set(code, (c = this.requests.labels(host, cluster, String(code))));
    c.inc();
    s.duration.observe(seconds);
  }

  /** A request moved on from `cluster` to the next one. */
  retry(host: string, cluster: string): void {
    this.target(host, cluster).retries.inc();
  }

  ejection(cluster: string): void {
    this.ejections.labels(cluster).inc();
  }
}
