import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EMPTY_GEO_TABLE, parseGeoTable } from './geo-table.ts';
import type { ClusterTarget, HostRoute } from './routing.ts';
import { BalancerCounters, dnsAnswerClusters, rankClusters, type SelectContext } from './select.ts';

function cluster(name: string, region: string, state: Partial<ClusterTarget> = {}): ClusterTarget {
  return {
    name,
    region,
    addresses: [`192.0.2.${name.length}`],
    port: 443,
    healthy: true,
    drained: false,
    ...state,
  };
}
function route(strategy: HostRoute['strategy'], clusters: readonly ClusterTarget[]): HostRoute {
  return {
    host: 'shop.example.com',
    owner: { namespace: 'team-a', name: 'shop' },
    strategy,
    ttlSeconds: 30,
    paths: ['/'],
    clusters,
  };
}
const ctx = (over: Partial<SelectContext> = {}): SelectContext => ({
  geo: EMPTY_GEO_TABLE,
  counters: new BalancerCounters(),
  ...over,
});
const names = (cs: readonly ClusterTarget[]): string[] => cs.map((c) => c.name);

const a = cluster('a', 'eu-west');
const b = cluster('b', 'us-east');
const c = cluster('c', 'ap-south');

test('Failover ranks strategy.order first, then the remaining clusters in placement order', () => {
  const r = route({ type: 'Failover', order: ['c', 'a'] }, [a, b, c, cluster('d', 'eu-west')]);
  assert.deepEqual(names(rankClusters(r, ctx()).clusters), ['c', 'a', 'b', 'd']);
  assert.deepEqual(names(dnsAnswerClusters(r, ctx()).clusters), ['c']);
});

test('Failover without an order uses placement order; names in order but not placed are ignored', () => {
  assert.deepEqual(names(rankClusters(route({ type: 'Failover' }, [b, a, c]), ctx()).clusters), [
    'b',
    'a',
    'c',
  ]);
  const r = route({ type: 'Failover', order: ['gone', 'b'] }, [a, b, c]);
  assert.deepEqual(names(rankClusters(r, ctx()).clusters), ['b', 'a', 'c']);
});

test('Failover order is kept per route: ranking one route again, or another, never reuses a stale order', () => {
  // The gateway ranks on every request, so the Failover sort is remembered per route object.
  const first = route({ type: 'Failover', order: ['c', 'b'] }, [a, b, c]);
  assert.deepEqual(names(rankClusters(first, ctx()).clusters), ['c', 'b', 'a']);
  // The table swaps in a new route when anything changes: its own order and health count.
  const next = route({ type: 'Failover', order: ['a'] }, [
    a,
    b,
    cluster('c', 'ap-south', { healthy: false }),
  ]);
  assert.deepEqual(names(rankClusters(next, ctx()).clusters), ['a', 'b']);
  const later = route({ type: 'Failover', order: ['c', 'b'] }, [
    a,
    cluster('b', 'us-east', { drained: true }),
    c,
  ]);
  assert.deepEqual(names(rankClusters(later, ctx()).clusters), ['c', 'a']);
  assert.deepEqual(names(rankClusters(first, ctx()).clusters), ['c', 'b', 'a']);
});

test('Failover moves to the next cluster in order when the first is unhealthy or drained', () => {
  const down = route({ type: 'Failover', order: ['a', 'b', 'c'] }, [
    cluster('a', 'eu-west', { healthy: false }),
    b,
    c,
  ]);
  assert.deepEqual(names(dnsAnswerClusters(down, ctx()).clusters), ['b']);
  const drained = route({ type: 'Failover', order: ['a', 'b', 'c'] }, [
    a,
    cluster('b', 'us-east', { drained: true }),
    c,
  ]);
  assert.deepEqual(names(rankClusters(drained, ctx()).clusters), ['a', 'c']);
  const both = route({ type: 'Failover', order: ['a', 'b', 'c'] }, [
    cluster('a', 'eu-west', { healthy: false }),
    cluster('b', 'us-east', { drained: true }),
    c,
  ]);
  const ranking = dnsAnswerClusters(both, ctx());
  assert.deepEqual(names(ranking.clusters), ['c']);
  assert.equal(ranking.degraded, false);
});

test('RoundRobin rotates the in-rotation clusters by one per request, per host', () => {
  const counters = new BalancerCounters();
  const r = route({ type: 'RoundRobin' }, [a, b, c]);
  const seen = [0, 1, 2, 3].map(() => names(dnsAnswerClusters(r, ctx({ counters })).clusters).join(''));
  assert.deepEqual(seen, ['abc', 'bca', 'cab', 'abc']);
  const other = { ...r, host: 'other.example.com' };
  assert.equal(names(dnsAnswerClusters(other, ctx({ counters })).clusters).join(''), 'abc');
});

test('RoundRobin leaves unhealthy and drained clusters out of the rotation', () => {
  const counters = new BalancerCounters();
  const r = route({ type: 'RoundRobin' }, [
    a,
    cluster('b', 'us-east', { healthy: false }),
    c,
    cluster('d', 'x', { drained: true }),
  ]);
  const seen = [0, 1, 2].map(() => names(dnsAnswerClusters(r, ctx({ counters })).clusters).join(''));
  assert.deepEqual(seen, ['ac', 'ca', 'ac']);
});

test('Weighted 3:1 picks in exactly that proportion, spread out rather than in bursts', () => {
  const counters = new BalancerCounters();
  const r = route({ type: 'Weighted', weights: { a: 3, b: 1 } }, [a, b, c]);
  const picks = Array.from({ length: 400 }, () => dnsAnswerClusters(r, ctx({ counters })).clusters[0]!.name);
  assert.equal(picks.filter((p) => p === 'a').length, 300);
  assert.equal(picks.filter((p) => p === 'b').length, 100);
  assert.equal(picks.filter((p) => p === 'c').length, 0, 'no weight means no traffic while others serve');
  // Smooth weighted round robin: every window of 4 consecutive picks holds exactly one b.
  for (let i = 0; i + 4 <= picks.length; i += 4)
    assert.equal(picks.slice(i, i + 4).filter((p) => p === 'b').length, 1, `window at ${i}`);
});

test('Weighted interleaves light clusters between heavy picks (nginx smooth WRR: 5:1:1)', () => {
  const counters = new BalancerCounters();
  const r = route({ type: 'Weighted', weights: { a: 5, b: 1, c: 1 } }, [a, b, c]);
  const picks = Array.from({ length: 14 }, () => dnsAnswerClusters(r, ctx({ counters })).clusters[0]!.name);
  assert.equal(picks.join(''), 'aabacaaaabacaa');
});

test('Weighted ranks the heavier remaining clusters after the pick, as retry targets', () => {
  const counters = new BalancerCounters();
  const r = route({ type: 'Weighted', weights: { a: 1, b: 5, c: 2 } }, [a, b, c]);
  const first = rankClusters(r, ctx({ counters }));
  assert.deepEqual(names(first.clusters), ['b', 'c', 'a']);
});

test('Weighted sends everything to the remaining cluster when the heavy one is unhealthy', () => {
  const counters = new BalancerCounters();
  const r = route({ type: 'Weighted', weights: { a: 3, b: 1 } }, [
    cluster('a', 'eu-west', { healthy: false }),
    b,
  ]);
  const picks = Array.from({ length: 20 }, () => dnsAnswerClusters(r, ctx({ counters })).clusters[0]!.name);
  assert.deepEqual(new Set(picks), new Set(['b']));
});

const GEO = parseGeoTable(`
networks:
  - { cidr: 10.1.0.0/16, region: eu-west }
  - { cidr: 10.2.0.0/16, region: us-east }
  - { cidr: 10.3.0.0/16, region: ap-south }
  - { cidr: 10.4.0.0/16, region: sa-east }
regions:
  eu-west: [us-east, ap-south]
  ap-south: [eu-west, us-east]
`);

test('Geo picks the cluster in the client region', () => {
  const r = route({ type: 'Geo' }, [a, b, c]);
  const ranking = dnsAnswerClusters(r, ctx({ geo: GEO, clientAddress: '10.3.9.9' }));
  assert.deepEqual(names(ranking.clusters), ['c']);
  assert.equal(ranking.clientRegion, 'ap-south');
  assert.deepEqual(names(rankClusters(r, ctx({ geo: GEO, clientAddress: '10.1.0.1' })).clusters), [
    'a',
    'b',
    'c',
  ]);
});

test('Geo falls back to the nearest region with a healthy cluster, in the table order', () => {
  const r = route({ type: 'Geo' }, [cluster('a', 'eu-west', { healthy: false }), b, c]);
  // eu-west → us-east, then ap-south.
  assert.deepEqual(names(rankClusters(r, ctx({ geo: GEO, clientAddress: '10.1.0.1' })).clusters), ['b', 'c']);
  const r2 = route({ type: 'Geo' }, [a, b, cluster('c', 'ap-south', { drained: true })]);
  // ap-south → eu-west, then us-east.
  assert.deepEqual(names(rankClusters(r2, ctx({ geo: GEO, clientAddress: '10.3.0.1' })).clusters), [
    'a',
    'b',
  ]);
});

test('Geo without a client region, or for a region with no neighbours listed, uses Failover order', () => {
  const r = route({ type: 'Geo', order: ['b'] }, [a, b, c]);
  assert.deepEqual(names(rankClusters(r, ctx({ geo: GEO })).clusters), ['b', 'a', 'c']);
  const unknown = rankClusters(r, ctx({ geo: GEO, clientAddress: '192.0.2.1' }));
  assert.deepEqual(names(unknown.clusters), ['b', 'a', 'c']);
  assert.equal(unknown.clientRegion, undefined);
  // sa-east has no cluster and no neighbour list: Failover order.
  assert.deepEqual(names(rankClusters(r, ctx({ geo: GEO, clientAddress: '10.4.0.1' })).clusters), [
    'b',
    'a',
    'c',
  ]);
});

test('the client address only matters for Geo', () => {
  const r = route({ type: 'Failover' }, [a, b, c]);
  const ranking = rankClusters(r, ctx({ geo: GEO, clientAddress: '10.3.0.1' }));
  assert.deepEqual(names(ranking.clusters), ['a', 'b', 'c']);
  assert.equal(ranking.clientRegion, undefined);
});

test('with no cluster in rotation the ranking is degraded and names every cluster, drained last', () => {
  const r = route({ type: 'Failover', order: ['a', 'b', 'c'] }, [
    cluster('a', 'eu-west', { healthy: false, drained: true }),
    cluster('b', 'us-east', { healthy: false }),
    cluster('c', 'ap-south', { healthy: false }),
  ]);
  const ranking = dnsAnswerClusters(r, ctx());
  assert.equal(ranking.degraded, true);
  assert.deepEqual(names(ranking.clusters), ['b', 'c', 'a']);
});

test('all clusters drained but healthy is degraded too: something to answer beats nothing', () => {
  for (const type of ['Failover', 'RoundRobin', 'Weighted', 'Geo'] as const) {
    const r = route({ type, weights: { a: 1 } }, [
      cluster('a', 'eu-west', { drained: true }),
      cluster('b', 'us-east', { drained: true }),
    ]);
    const ranking = dnsAnswerClusters(r, ctx({ geo: GEO, clientAddress: '10.2.0.1' }));
    assert.equal(ranking.degraded, true, type);
    assert.deepEqual(new Set(names(ranking.clusters)), new Set(['a', 'b']), type);
  }
});

test('a route without clusters ranks nothing', () => {
  const ranking = dnsAnswerClusters(route({ type: 'RoundRobin' }, []), ctx());
  assert.deepEqual(ranking.clusters, []);
});
