// The union-equality corpus of the fleet metrics API (issues 6, 14 and 21): queries whose answer
// through the hub must equal one Prometheus holding every cluster's series, over the data of
// `prometheus-servers.ts`. Shared by test/metrics.test.ts (equality) and bench/metrics-corpus.ts
// (latency of the same replay).

export type Mode = 'pushdown' | 'central';

export interface MetricsCorpus {
  /** [query, expected mode]: instant queries at T (2 h 30 s after the data's start). */
  readonly instant: readonly (readonly [string, Mode])[];
  /** Instant queries whose answer order matters. */
  readonly ordered: readonly string[];
  /** Range queries over the half hour before T, every minute. */
  readonly range: readonly string[];
  /** Queries one Prometheus refuses (422 execution): [query, how the hub answers it]. */
  readonly refused: readonly (readonly [string, Mode | 'planner'])[];
  /** Range queries over series that end and come back (flappy_bytes): [query, mode]. */
  readonly staleness: readonly (readonly [string, Mode])[];
}

/** The corpus for data that starts at `startMs`. */
export function metricsCorpus(startMs: number): MetricsCorpus {
  const at1h = String((startMs + 3600_000) / 1000);
  /** [query, expected mode] — instant queries at T. */
  const instant: readonly (readonly [string, 'pushdown' | 'central'])[] = [
    ['http_requests_total', 'pushdown'],
    ['http_requests_total{cluster="eu-west"}', 'pushdown'],
    ['http_requests_total{cluster=~"eu-west|us-east", code="500"}', 'pushdown'],
    ['memory_bytes{region!="us-east"}', 'pushdown'],
    ['{cluster="ap-south", job="job-1"}', 'pushdown'],
    ['rate(http_requests_total[5m])', 'pushdown'],
    ['increase(http_requests_total{job="job-0"}[10m])', 'pushdown'],
    ['sum by (cluster, code) (rate(http_requests_total[5m]))', 'pushdown'],
    ['sum without (instance) (rate(http_requests_total[5m]))', 'pushdown'],
    ['sum without (region) (memory_bytes)', 'pushdown'],
    ['topk by (cluster) (1, memory_bytes)', 'pushdown'],
    ['quantile_over_time(0.9, memory_bytes[10m])', 'pushdown'],
    ['histogram_quantile(0.9, sum by (le, cluster) (rate(request_duration_seconds_bucket[5m])))', 'pushdown'],
    ['histogram_quantile(0.5, rate(request_duration_seconds_bucket[5m]))', 'pushdown'],
    [
      'memory_bytes / on (cluster, instance) group_left sum by (cluster, instance) (rate(http_requests_total[5m]))',
      'pushdown',
    ],
    ['rate(http_requests_total[5m]) > 20', 'pushdown'],
    ['memory_bytes > bool 1100', 'pushdown'],
    ['memory_bytes offset 10m', 'pushdown'],
    ['memory_bytes offset -10m', 'pushdown'],
    [`memory_bytes @ ${at1h}`, 'pushdown'],
    ['max_over_time(rate(http_requests_total[5m])[30m:1m])', 'pushdown'],
    ['label_replace(memory_bytes, "where", "$1", "cluster", "(.*)")', 'pushdown'],
    ['memory_bytes[1m]', 'pushdown'],
    // Series that carry their own cluster or region label in the member (the union holds them with
    // the member's): bare, through a function, aggregated and matched by cluster, and read.
    ['legacy_bytes', 'pushdown'],
    ['legacy_bytes{cluster="us-east"} * 2', 'pushdown'],
    ['sum by (cluster) (legacy_bytes)', 'pushdown'],
    ['sum without (instance) (legacy_bytes)', 'pushdown'],
    ['legacy_bytes / on (cluster, instance) sum by (cluster, instance) (memory_bytes)', 'pushdown'],
    ['legacy_bytes and memory_bytes', 'pushdown'],
    ['label_replace(legacy_bytes, "was", "$1", "cluster", "(.*)")', 'pushdown'],
    ['sum(legacy_bytes)', 'central'],
    ['topk(2, legacy_bytes)', 'central'],
    [
      'memory_bytes / on (cluster, instance) group_left (region) sum by (cluster, instance) (memory_bytes)',
      'pushdown',
    ],
    [
      'sum by (cluster) (memory_bytes) / on (cluster) group_right sum by (cluster, instance) (memory_bytes)',
      'pushdown',
    ],
    ['count_values by (cluster) ("value", legacy_bytes > 0 < bool 1e9)', 'pushdown'],
    ['sum(rate(http_requests_total[5m]))', 'central'],
    ['sum by (code) (rate(http_requests_total[5m]))', 'central'],
    ['sum by (region) (memory_bytes)', 'central'],
    ['count by (job) (memory_bytes)', 'central'],
    ['topk(3, rate(http_requests_total[5m]))', 'central'],
    ['topk by (job) (1, memory_bytes)', 'central'],
    ['bottomk(2, memory_bytes)', 'central'],
    ['bottomk without (cluster, instance) (1, rate(http_requests_total[5m]))', 'central'],
    ['avg(memory_bytes)', 'central'],
    ['avg by (job) (rate(http_requests_total[5m]))', 'central'],
    ['avg without (instance, cluster) (memory_bytes)', 'central'],
    ['quantile(0.5, memory_bytes)', 'central'],
    ['histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))', 'central'],
    ['memory_bytes / on (instance) group_left sum by (instance) (rate(http_requests_total[5m]))', 'central'],
    ['max_over_time(sum(rate(http_requests_total[5m]))[30m:1m])', 'central'],
    [`sum(memory_bytes @ ${at1h}) - sum(memory_bytes offset 1h)`, 'central'],
    ['absent(nonexistent_metric{job="x"})', 'central'],
    ['absent(memory_bytes{cluster="eu-west"})', 'central'],
    ['sum(memory_bytes) or vector(0)', 'central'],
    ['label_replace(memory_bytes, "cluster", "all", "", "")', 'central'],
    ['scalar(sum(memory_bytes{cluster="eu-west"})) * 2', 'central'],
    ['1 + 1', 'central'],
    ['time()', 'central'],
    // app and revision, resolved by the hub from each series' pod: stamped on pushed-down answers
    // that keep them, and evaluated in the hub where the query reads them or merges pods of an app.
    ['pod_memory_bytes', 'pushdown'],
    ['rate(pod_http_requests_total{code="500"}[5m])', 'pushdown'],
    ['sum without (code) (rate(pod_http_requests_total[5m]))', 'pushdown'],
    ['sum by (cluster, namespace, pod) (pod_memory_bytes)', 'pushdown'],
    ['pod_memory_bytes{app="app2"}', 'central'],
    ['pod_memory_bytes{revision!=""}', 'central'],
    ['pod_memory_bytes{app!="app2"}', 'central'],
    ['count by (cluster) ({__name__=~"pod_.+|memory_bytes", app=""})', 'central'],
    ['sum by (app, cluster) (pod_memory_bytes)', 'central'],
    ['sum without (pod) (pod_memory_bytes)', 'central'],
    ['count by (revision) (pod_memory_bytes)', 'central'],
    ['rate(pod_http_requests_total{app="app2"}[5m])', 'central'],
    ['topk by (app) (1, pod_memory_bytes)', 'central'],
    ['sum by (app) (rate(pod_http_requests_total[5m]))', 'central'],
    ['label_replace(pod_memory_bytes, "service", "$1", "app", "(.*)")', 'central'],
    [
      'pod_memory_bytes / ignoring (code) group_left sum without (code) (pod_http_requests_total)',
      'pushdown',
    ],
  ];
  const ordered = ['sort_desc(sum by (cluster) (memory_bytes))', 'sort(sum by (instance) (memory_bytes))'];
  /** Range queries over the half hour before T, every minute. */
  const range = [
    'sum by (cluster, code) (rate(http_requests_total[5m]))',
    'rate(http_requests_total{cluster="us-east"}[5m])',
    'memory_bytes',
    'histogram_quantile(0.9, sum by (le, cluster) (rate(request_duration_seconds_bucket[5m])))',
    'sum(rate(http_requests_total[5m]))',
    'topk(2, memory_bytes)',
    'bottomk by (job) (1, rate(http_requests_total[5m]))',
    'avg by (job) (memory_bytes)',
    'legacy_bytes',
    'quantile(0.9, memory_bytes)',
    'histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))',
    'max_over_time(sum(rate(http_requests_total[5m]))[10m:1m])',
    'time()',
    'sum by (app) (rate(pod_http_requests_total[5m]))',
    'pod_memory_bytes',
    'avg by (app, revision, cluster) (pod_memory_bytes{app!=""})',
  ];
  // Refused by every member, by one member only (the others' series would make a plausible
  // partial answer), by members running a central query's partitionable part, and by the hub.
  // 'planner': refused by the hub before any member is asked (Prometheus 2 members' name rules).
  const refused: readonly (readonly [string, Mode | 'planner'])[] = [
    ['label_replace(memory_bytes, "dst", "$1", "instance", "(.*")', 'pushdown'],
    ['label_replace(memory_bytes, "instance", "same", "", "")', 'pushdown'],
    [
      'label_replace(memory_bytes{cluster="eu-west"}, "instance", "same", "", "") or memory_bytes',
      'pushdown',
    ],
    ['label_replace(memory_bytes, "1bad", "x", "", "")', 'planner'],
    ['label_join(memory_bytes, "", ",", "job")', 'planner'],
    ['max_over_time(label_replace(memory_bytes, "instance", "same", "", "")[5m:1m])', 'pushdown'],
    ['sum(label_replace(memory_bytes, "dst", "$1", "instance", "(.*"))', 'central'],
    [
      'sum(label_replace(memory_bytes{cluster="us-east"}, "instance", "same", "", "") or memory_bytes)',
      'central',
    ],
    ['label_replace(memory_bytes, "cluster", "$1", "instance", "(.*")', 'central'],
    ['label_replace(sum by (job) (memory_bytes), "job", "same", "", "")', 'central'],
    // Refusals that list series: the hub's engine names them with cluster and region, in
    // Prometheus 2's order (its members' generation).
    ['memory_bytes / on (job) memory_bytes', 'central'],
    ['memory_bytes / on (instance) group_right sum by (instance) (memory_bytes)', 'central'],
  ];
  const staleness: readonly (readonly [string, Mode])[] = [
    // Central over raw samples: only the members' staleness markers end the series in time.
    ['absent(flappy_bytes)', 'central'],
    ['absent(flappy_bytes{cluster="us-east"})', 'central'],
    ['absent(flappy_bytes{instance="i-1"})', 'central'],
    ['absent_over_time(flappy_bytes[30s])', 'central'],
    ['max_over_time(sum(flappy_bytes)[1m:10s])', 'central'],
    ['count_over_time(sum by (job) (flappy_bytes)[2m:10s])', 'central'],
    ['label_replace(flappy_bytes, "cluster", "all", "", "")', 'central'],
    // Pushed down, whole or in parts: the members apply their own markers.
    ['count(flappy_bytes)', 'central'],
    ['sum_over_time(flappy_bytes[1m])', 'pushdown'],
    ['flappy_bytes', 'pushdown'],
  ];
  return { instant, ordered, range, refused, staleness };
}
