import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clustersFor, resolvePlacement, targetsCluster } from './placement.ts';
import type { TargetCluster } from './targets.ts';

function cluster(name: string, labels: Record<string, string> = {}): TargetCluster {
  return { name, region: name, labels, ready: true };
}
const fleet = [
  cluster('us-east', { tier: 'prod' }),
  cluster('eu-west', { tier: 'prod' }),
  cluster('ap-south', { tier: 'dev' }),
  cluster('eu-central', { tier: 'prod' }),
];
const names = (cs: readonly TargetCluster[]) => cs.map((c) => c.name);

test('places named clusters in the order written, then selector matches by name, each once', () => {
  const result = resolvePlacement(
    { clusters: ['us-east', 'ap-south'], clusterSelector: { matchLabels: { tier: 'prod' } } },
    fleet,
  );
  assert.ok(result.ok);
  assert.deepEqual(names(result.targets), ['us-east', 'ap-south', 'eu-central', 'eu-west']);
});

test('a selector alone places its matches sorted by name; matching nothing is not an error', () => {
  const prod = resolvePlacement({ clusterSelector: { matchLabels: { tier: 'prod' } } }, fleet);
  assert.ok(prod.ok);
  assert.deepEqual(names(prod.targets), ['eu-central', 'eu-west', 'us-east']);
  const none = resolvePlacement({ clusterSelector: { matchLabels: { tier: 'qa' } } }, fleet);
  assert.deepEqual(none, { ok: true, targets: [] });
});

test('an unregistered cluster name is an error naming its index', () => {
  const result = resolvePlacement({ clusters: ['eu-west', 'eu-wst', 'nope'] }, fleet);
  assert.deepEqual(result, {
    ok: false,
    errors: [
      {
        code: 'ClusterNotFound',
        field: 'spec.placement.clusters[1]',
        message: 'cluster "eu-wst" does not exist',
      },
      {
        code: 'ClusterNotFound',
        field: 'spec.placement.clusters[2]',
        message: 'cluster "nope" does not exist',
      },
    ],
  });
});

test('clustersFor skips unknown names and picks by name or selector', () => {
  assert.deepEqual(names(clustersFor({ clusters: ['x', 'ap-south'] }, fleet)), ['ap-south']);
  assert.deepEqual(names(clustersFor({ clusterSelector: { matchLabels: { tier: 'dev' } } }, fleet)), [
    'ap-south',
  ]);
  assert.deepEqual(clustersFor({}, fleet), []);
});

test('targetsCluster matches by name or selector, and an absent selector matches nothing', () => {
  const eu = fleet[1]!;
  assert.equal(targetsCluster({ clusters: ['eu-west'] }, eu), true);
  assert.equal(targetsCluster({ clusterSelector: { matchLabels: { tier: 'prod' } } }, eu), true);
  assert.equal(targetsCluster({ clusterSelector: {} }, eu), true);
  assert.equal(targetsCluster({ clusters: ['us-east'] }, eu), false);
  assert.equal(targetsCluster({}, eu), false);
});
