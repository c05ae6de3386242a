import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareLabels,
  memberWarnings,
  mergeResults,
  mergeSeries,
  stampTopology,
  unionSorted,
  type VectorSample,
} from './prom-merge.ts';

test('stamping sets cluster and region, over any value the member had', () => {
  assert.deepEqual(stampTopology({ job: 'a', cluster: 'theirs' }, { cluster: 'eu-west', region: 'eu' }), {
    job: 'a',
    cluster: 'eu-west',
    region: 'eu',
  });
});

test('labels compare as Prometheus does: by name, then value, shorter first', () => {
  assert.ok(compareLabels({ a: '1' }, { a: '2' }) < 0);
  assert.ok(compareLabels({ a: '1' }, { a: '1', b: '1' }) < 0);
  assert.ok(compareLabels({ b: '1' }, { a: '1', c: '1' }) > 0);
  assert.equal(compareLabels({ a: '1', b: '2' }, { b: '2', a: '1' }), 0);
});

test('pushed-down answers are stamped as planned, concatenated, and matrices sorted', () => {
  const parts = [
    {
      cluster: 'us',
      stamp: null,
      result: [{ metric: { cluster: 'us', job: 'b' }, values: [[1, '1']] as const }],
    },
    {
      cluster: 'eu',
      stamp: { cluster: 'eu', region: 'r1' },
      result: [{ metric: { job: 'a' }, values: [[1, '2']] as const }],
    },
  ];
  assert.deepEqual(
    mergeResults('matrix', parts).map((s) => s.metric),
    [
      { cluster: 'eu', job: 'a', region: 'r1' },
      { cluster: 'us', job: 'b' },
    ],
  );
  // The hub sets the labels the union keeps and removes other topology labels a member's own
  // series carried (an aggregation by cluster keeps cluster only).
  const byCluster = mergeResults('vector', [
    {
      cluster: 'eu',
      stamp: { cluster: 'eu' },
      result: [{ metric: { job: 'a', cluster: 'theirs', region: 'theirs' }, value: [1, '1'] as const }],
    },
  ]);
  assert.deepEqual(byCluster[0]!.metric, { job: 'a', cluster: 'eu' });
  const vec = mergeResults(
    'vector',
    parts.map((p) => ({ ...p, result: [{ metric: {}, value: [1, '1'] as const }] })),
  );
  assert.equal(vec.length, 2);
});

test('series are stamped, de-duplicated and sorted; names and values are unions', () => {
  const s = mergeSeries(
    [
      { cluster: 'b', region: 'r', series: [{ __name__: 'x' }, { __name__: 'x' }] },
      { cluster: 'a', region: 'r', series: [{ __name__: 'x' }] },
    ],
    undefined,
  );
  assert.deepEqual(s, [
    { __name__: 'x', cluster: 'a', region: 'r' },
    { __name__: 'x', cluster: 'b', region: 'r' },
  ]);
  assert.deepEqual(
    unionSorted([
      ['job', '__name__'],
      ['job', 'le'],
    ]),
    ['__name__', 'job', 'le'],
  );
  assert.deepEqual(memberWarnings('eu', ['slow']), ['cluster "eu": slow']);
});

test('app and revision come from the pod a series names, replace any the member had, or are removed', () => {
  const workloadOf = (cluster: string, namespace: string, pod: string) =>
    cluster === 'eu' && namespace === 'shop' && pod === 'web-5d8f7c9b4-x2x2x'
      ? { app: 'web', revision: 'r3' }
      : cluster === 'eu' && pod === 'db-0'
        ? { app: 'db' }
        : undefined;
  const result: VectorSample[] = [
    { metric: { namespace: 'shop', pod: 'web-5d8f7c9b4-x2x2x', app: 'theirs' }, value: [1, '1'] as const },
    { metric: { namespace: 'shop', pod: 'db-0', revision: 'theirs' }, value: [1, '2'] as const },
    { metric: { namespace: 'shop', pod: 'gone-0', app: 'theirs' }, value: [1, '3'] as const },
    { metric: { job: 'node', app: 'theirs' }, value: [1, '4'] as const },
  ];
  const kept = mergeResults('vector', [{ cluster: 'eu', stamp: { cluster: 'eu' }, result }], workloadOf);
  assert.deepEqual(
    kept.map((s) => s.metric),
    [
      { namespace: 'shop', pod: 'web-5d8f7c9b4-x2x2x', app: 'web', revision: 'r3', cluster: 'eu' },
      { namespace: 'shop', pod: 'db-0', app: 'db', cluster: 'eu' },
      { namespace: 'shop', pod: 'gone-0', cluster: 'eu' },
      { job: 'node', cluster: 'eu' },
    ],
  );
  // The same pod name in another cluster is another pod.
  const other = mergeResults(
    'vector',
    [{ cluster: 'us', stamp: null, result: result.slice(0, 1) }],
    workloadOf,
  );
  assert.deepEqual(other[0]!.metric, { namespace: 'shop', pod: 'web-5d8f7c9b4-x2x2x' });
  // A plan whose answer does not keep them (no resolver passed): removed.
  const dropped = mergeResults('vector', [{ cluster: 'eu', stamp: null, result: result.slice(0, 1) }]);
  assert.deepEqual(dropped[0]!.metric, { namespace: 'shop', pod: 'web-5d8f7c9b4-x2x2x' });
});
