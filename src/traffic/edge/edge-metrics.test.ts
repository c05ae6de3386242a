import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AggregatorRegistry, Registry } from 'prom-client';
import { EdgeMetrics } from './edge-metrics.ts';

const lines = (text: string, prefix: string): string[] =>
  text.split('\n').filter((l) => l.startsWith(prefix));

test('requests, durations and retries are exported as prom-client counters and histograms give them', async () => {
  const registry = new Registry();
  const m = new EdgeMetrics(registry);
  m.request('a.test', 'c1', 200, 0.0004);
  m.request('a.test', 'c1', 200, 0.0025); // on a bound: counted in that bucket (le is ≤)
  m.request('a.test', 'c1', 503, 0.0035);
  m.request('a.test', 'c2', 200, 12); // above every bound: +Inf only
  const text = await registry.metrics();
  assert.deepEqual(lines(text, 'meridian_edge_requests_total'), [
    'meridian_edge_requests_total{host="a.test",cluster="c1",code="200"} 2',
    'meridian_edge_requests_total{host="a.test",cluster="c1",code="503"} 1',
    'meridian_edge_requests_total{host="a.test",cluster="c2",code="200"} 1',
  ]);
  const c1 = lines(text, 'meridian_edge_request_duration_seconds').filter((l) => l.includes('cluster="c1"'));
  assert.deepEqual(c1.slice(0, 3), [
    'meridian_edge_request_duration_seconds_bucket{le="0.001",host="a.test",cluster="c1"} 1',
    'meridian_edge_request_duration_seconds_bucket{le="0.0025",host="a.test",cluster="c1"} 2',
    'meridian_edge_request_duration_seconds_bucket{le="0.005",host="a.test",cluster="c1"} 3',
  ]);
  assert.deepEqual(c1.slice(-3), [
    'meridian_edge_request_duration_seconds_bucket{le="+Inf",host="a.test",cluster="c1"} 3',
    'meridian_edge_request_duration_seconds_sum{host="a.test",cluster="c1"} 0.0064',
    'meridian_edge_request_duration_seconds_count{host="a.test",cluster="c1"} 3',
  ]);
  assert.ok(
    text.includes('meridian_edge_request_duration_seconds_bucket{le="10",host="a.test",cluster="c2"} 0\n'),
  );
  assert.ok(
    text.includes('meridian_edge_request_duration_seconds_bucket{le="+Inf",host="a.test",cluster="c2"} 1\n'),
  );
  // A series appears in retries only once something was retried away from it.
  assert.deepEqual(lines(text, 'meridian_edge_retries_total{'), []);
  m.retry('a.test', 'c2');
  assert.deepEqual(lines(await registry.metrics(), 'meridian_edge_retries_total{'), [
    'meridian_edge_retries_total{host="a.test",cluster="c2"} 1',
  ]);
});

test('edge workers’ metrics sum per series in the hub, and a registry reset starts them over', async () => {
  const one = new Registry();
  const two = new Registry();
  new EdgeMetrics(one).request('a.test', 'c1', 200, 0.02);
  const m = new EdgeMetrics(two);
  m.request('a.test', 'c1', 200, 0.2);
  const sum = await AggregatorRegistry.aggregate([
    await one.getMetricsAsJSON(),
    await two.getMetricsAsJSON(),
  ]).metrics();
  assert.ok(sum.includes('meridian_edge_requests_total{host="a.test",cluster="c1",code="200"} 2\n'));
  assert.ok(
    sum.includes('meridian_edge_request_duration_seconds_bucket{le="0.025",host="a.test",cluster="c1"} 1\n'),
  );
  assert.ok(
    sum.includes('meridian_edge_request_duration_seconds_bucket{le="0.25",host="a.test",cluster="c1"} 2\n'),
  );
  two.resetMetrics();
  assert.deepEqual(lines(await two.metrics(), 'meridian_edge_requests_total{'), []);
});
