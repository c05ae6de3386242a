// Prometheus metrics of the edge gateway, per host and cluster. Requests are counted in plain
// per-series numbers and turned into prom-client's metric form only at a scrape: prom-client's own
// counters and histograms build, hash and look up a label-set string on every call (its label
// children too), which showed as string hashing and megamorphic lookups in the gateway's profile,
// and this runs on every proxied request. The exported series, names and label order are the
// ones prom-client's Counter and Histogram would give, so the hub's sum over edge workers
// (AggregatorRegistry) and every scraper read them unchanged.
import { Counter, type Registry } from 'prom-client';

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

const DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** One (host, cluster) pair's counts since the start. */
class TargetSeries {
  /** Requests by status code. */
  readonly codes = new Map<number, number>();
  /** Durations per bucket (not cumulative); the last slot is above the largest bound. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  sum = 0;
  count = 0;
  retries = 0;

  constructor(
    readonly host: string,
    readonly cluster: string,
  ) {}
}

/** One value in prom-client's metric form (`get()`), as its Counter and Histogram give it. */
interface MetricValue {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

export class EdgeMetrics {
  private readonly ejections: Counter<'cluster'>;
  private series = new Map<string, Map<string, TargetSeries>>();

  constructor(registry: Registry) {
    const { requests, duration, retries } = EDGE_METRICS;
    this.register(registry, requests, () =>
      this.all().flatMap((s) =>
        [...s.codes].map(([code, value]) => ({
          labels: { host: s.host, cluster: s.cluster, code: String(code) },
          value,
        })),
      ),
    );
    this.register(registry, duration, () => this.all().flatMap((s) => histogramValues(duration.name, s)));
    this.register(registry, retries, () =>
      this.all()
        .filter((s) => s.retries > 0)
        .map((s) => ({ labels: { host: s.host, cluster: s.cluster }, value: s.retries })),
    );
    this.ejections = new Counter({
      ...EDGE_METRICS.ejections,
      labelNames: ['cluster'],
      registers: [registry],
    });
  }

  /**
   * Registers a metric computed at each scrape. prom-client's registry takes any object with a
   * name and get() (as its AggregatorRegistry's merged metrics are); its types only name its classes.
   */
  private register(
    registry: Registry,
    meta: { readonly name: string; readonly help: string; readonly type: string },
    values: () => MetricValue[],
  ): void {
    const metric = {
      ...meta,
      aggregator: 'sum',
      get: () => Promise.resolve({ ...meta, aggregator: 'sum', values: values() }),
      reset: () => {
        this.series = new Map();
      },
    };
    registry.registerMetric(metric as never as Counter);
  }

  private all(): TargetSeries[] {
    return [...this.series.values()].flatMap((byCluster) => [...byCluster.values()]);
  }

  private target(host: string, cluster: string): TargetSeries {
    let byCluster = this.series.get(host);
    if (!byCluster) this.series.set(host, (byCluster = new Map()));
    let s = byCluster.get(cluster);
    if (!s) byCluster.set(cluster, (s = new TargetSeries(host, cluster)));
    return s;
  }

  /** One answered request. */
  request(host: string, cluster: string, code: number, seconds: number): void {
    const s = this.target(host, cluster);
    s.codes.set(code, (s.codes.get(code) ?? 0) + 1);
    let b = 0;
    while (b < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[b]!) b++;
    s.buckets[b]!++;
    s.sum += seconds;
    s.count++;
  }

  /** A request moved on from `cluster` to the next one. */
  retry(host: string, cluster: string): void {
    this.target(host, cluster).retries++;
  }

  ejection(cluster: string): void {
    this.ejections.labels(cluster).inc();
  }
}

/** A histogram series as prom-client gives it: cumulative buckets with `le` first, +Inf, sum, count. */
function histogramValues(name: string, s: TargetSeries): MetricValue[] {
  const out: MetricValue[] = [];
  let acc = 0;
  DURATION_BUCKETS.forEach((le, i) => {
    acc += s.buckets[i]!;
    out.push({ labels: { le, host: s.host, cluster: s.cluster }, value: acc, metricName: `${name}_bucket` });
  });
  const labels = { host: s.host, cluster: s.cluster };
  out.push(
    { labels: { le: '+Inf', ...labels }, value: s.count, metricName: `${name}_bucket` },
    { labels, value: s.sum, metricName: `${name}_sum` },
    { labels, value: s.count, metricName: `${name}_count` },
  );
  return out;
}
