import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildServiceGraph, percentile } from './service-graph.ts';
import type { ServiceCall } from './trace-store.ts';

const frontendEu = {
  service: 'frontend',
  cluster: 'eu-west',
  region: 'europe',
  namespace: 'shop',
  app: 'app1',
};
const cartEu = { service: 'cart', cluster: 'eu-west', region: 'europe', namespace: 'shop', app: 'app2' };
const cartUs = { service: 'cart', cluster: 'us-east', region: 'america', namespace: 'shop', app: 'app2' };

const call = (
  client: ServiceCall['client'],
  server: ServiceCall['server'],
  ms: number,
  error = false,
): ServiceCall => ({
  client,
  server,
  startUs: 0,
  durationUs: ms * 1000,
  error,
});

describe('percentile', () => {
  test('is nearest-rank over sorted values', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(xs, 50), 50);
    assert.equal(percentile(xs, 99), 99);
    assert.equal(percentile(xs, 100), 100);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});

describe('service graph', () => {
  const window = { startUs: 0, endUs: 10_000_000 }; // 10 s
  const calls = [
    ...Array.from({ length: 99 }, (_, i) => call(frontendEu, cartEu, i + 1)),
    call(frontendEu, cartEu, 500, true),
    call(frontendEu, cartUs, 40),
    call(frontendEu, cartUs, 60, true),
  ];
  const g = buildServiceGraph(calls, window);

  test('one node per service per cluster and namespace, carrying the topology', () => {
    assert.deepEqual(
      g.nodes.map((n) => n.id),
      ['eu-west/shop/cart', 'eu-west/shop/frontend', 'us-east/shop/cart'],
    );
    assert.deepEqual(g.nodes[2], { id: 'us-east/shop/cart', ...cartUs });
  });

  test('counts calls, rate, errors and latency per edge, and marks the edge that crosses clusters', () => {
    assert.equal(g.edges.length, 2);
    const local = g.edges.find((e) => e.target.cluster === 'eu-west')!;
    assert.equal(local.source.id, 'eu-west/shop/frontend');
    assert.equal(local.calls, 100);
    assert.equal(local.callsPerSecond, 10);
    assert.equal(local.errors, 1);
    assert.equal(local.errorRate, 0.01);
    assert.equal(local.p50Ms, 50);
    assert.equal(local.p99Ms, 99);
    assert.equal(local.crossCluster, false);
    const remote = g.edges.find((e) => e.target.cluster === 'us-east')!;
    assert.deepEqual(
      [remote.calls, remote.errors, remote.errorRate, remote.p50Ms, remote.p99Ms, remote.crossCluster],
      [2, 1, 0.5, 40, 60, true],
    );
  });

  test('a call whose cluster is unknown on one side is not called cross-cluster', () => {
    const g2 = buildServiceGraph([call({ service: 'a' }, cartUs, 1)], window);
    assert.equal(g2.edges[0]!.crossCluster, false);
    assert.equal(g2.edges[0]!.source.id, '//a');
  });

  test('an empty window gives an empty graph', () => {
    assert.deepEqual(buildServiceGraph([], window), {
      start: '1970-01-01T00:00:00.000Z',
      end: '1970-01-01T00:00:10.000Z',
      nodes: [],
      edges: [],
    });
  });
});
