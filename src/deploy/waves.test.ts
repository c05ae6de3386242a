import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TargetCluster } from '../fleet/targets.ts';
import { planWaves } from './waves.ts';

function cluster(name: string, labels: Record<string, string> = {}): TargetCluster {
  return { name, region: labels.region ?? 'eu', labels, ready: true };
}

const fleet = [
  cluster('us-1', { region: 'us', tier: 'prod' }),
  cluster('eu-1', { region: 'eu', tier: 'canary' }),
  cluster('eu-2', { region: 'eu', tier: 'prod' }),
  cluster('ap-1', { region: 'ap', tier: 'prod' }),
];

test('Parallel puts every target in one wave, sorted by name', () => {
  const plan = planWaves({ strategy: 'Parallel' }, fleet);
  assert.deepEqual(plan, {
    ok: true,
    waves: [{ name: 'all', clusters: ['ap-1', 'eu-1', 'eu-2', 'us-1'], pauseSeconds: 0 }],
  });
});

test('an absent rollout or strategy means Parallel, even when waves are listed', () => {
  assert.deepEqual(planWaves(undefined, fleet), planWaves({ strategy: 'Parallel' }, fleet));
  const plan = planWaves({ waves: [{ clusters: ['eu-1'] }] }, fleet);
  assert.ok(plan.ok);
  assert.equal(plan.waves.length, 1);
});

test('no targets means no waves', () => {
  assert.deepEqual(planWaves(undefined, []), { ok: true, waves: [] });
});

test('waves take their named clusters in order and the unnamed targets go to a final rest wave', () => {
  const plan = planWaves(
    {
      strategy: 'Waves',
      waves: [
        { name: 'canary', clusters: ['eu-1'], pauseSeconds: 300 },
        { name: 'europe', clusters: ['eu-2'] },
      ],
    },
    fleet,
  );
  assert.deepEqual(plan, {
    ok: true,
    waves: [
      { name: 'canary', clusters: ['eu-1'], pauseSeconds: 300 },
      { name: 'europe', clusters: ['eu-2'], pauseSeconds: 0 },
      { name: 'rest', clusters: ['ap-1', 'us-1'], pauseSeconds: 0 },
    ],
  });
});

test('waves with selectors pick matching targets, united with named clusters', () => {
  const plan = planWaves(
    {
      strategy: 'Waves',
      waves: [
        { name: 'canary', clusterSelector: { matchLabels: { tier: 'canary' } } },
        {
          name: 'eu-and-us',
          clusters: ['us-1'],
          clusterSelector: { matchExpressions: [{ key: 'region', operator: 'In', values: ['eu'] }] },
        },
      ],
    },
    fleet,
  );
  assert.ok(plan.ok);
  assert.deepEqual(
    plan.waves.map((w) => [w.name, w.clusters]),
    [
      ['canary', ['eu-1']],
      ['eu-and-us', ['eu-2', 'us-1']],
      ['rest', ['ap-1']],
    ],
  );
});

test('a cluster claimed by two waves stays in the first', () => {
  const plan = planWaves(
    {
      strategy: 'Waves',
      waves: [
        { name: 'one', clusters: ['eu-1', 'eu-2'] },
        { name: 'two', clusterSelector: { matchLabels: { region: 'eu' } }, clusters: ['us-1'] },
      ],
    },
    fleet,
  );
  assert.ok(plan.ok);
  assert.deepEqual(
    plan.waves.map((w) => [w.name, w.clusters]),
    [
      ['one', ['eu-1', 'eu-2']],
      ['two', ['us-1']],
      ['rest', ['ap-1']],
    ],
  );
});

test('selectors only pick among the targets, and a wave left empty is dropped', () => {
  const plan = planWaves(
    {
      strategy: 'Waves',
      waves: [
        { name: 'mars', clusterSelector: { matchLabels: { region: 'mars' } } },
        { name: 'all-eu', clusterSelector: { matchLabels: { region: 'eu' } } },
      ],
    },
    fleet.filter((c) => c.name !== 'eu-2'),
  );
  assert.ok(plan.ok);
  assert.deepEqual(
    plan.waves.map((w) => [w.name, w.clusters]),
    [
      ['all-eu', ['eu-1']],
      ['rest', ['ap-1', 'us-1']],
    ],
  );
});

test('no rest wave when the waves cover every target', () => {
  const plan = planWaves(
    { strategy: 'Waves', waves: [{ clusters: ['eu-1'] }, { clusterSelector: {} }] },
    fleet,
  );
  assert.ok(plan.ok);
  assert.deepEqual(
    plan.waves.map((w) => [w.name, w.clusters]),
    [
      ['wave-1', ['eu-1']],
      ['wave-2', ['ap-1', 'eu-2', 'us-1']],
    ],
  );
});

test('an explicit wave cluster that is not a target is an error naming the field', () => {
  const plan = planWaves(
    { strategy: 'Waves', waves: [{ clusters: ['eu-1'] }, { name: 'b', clusters: ['us-1', 'eu-wst'] }] },
    fleet,
  );
  assert.deepEqual(plan, {
    ok: false,
    errors: [
      {
        code: 'WaveClusterNotTargeted',
        cluster: 'eu-wst',
        field: 'spec.rollout.waves[1].clusters[1]',
        message: 'cluster "eu-wst" is not in the Application\'s placement',
      },
    ],
  });
});

test('two waves with the same name are an error', () => {
  const plan = planWaves(
    {
      strategy: 'Waves',
      waves: [
        { name: 'a', clusters: ['eu-1'] },
        { name: 'a', clusters: ['eu-2'] },
      ],
    },
    fleet,
  );
  assert.ok(!plan.ok);
  assert.equal(plan.errors[0]?.field, 'spec.rollout.waves[1].name');
});

test('the implicit wave does not take the name of a declared wave', () => {
  const plan = planWaves({ strategy: 'Waves', waves: [{ name: 'rest', clusters: ['eu-1'] }] }, fleet);
  assert.ok(plan.ok);
  assert.deepEqual(
    plan.waves.map((w) => w.name),
    ['rest', 'rest-2'],
  );
});
