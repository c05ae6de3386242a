import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Override } from '../api/application.ts';
import type { KubeObject } from '../kube/cluster-client.ts';
import { applyOverrides, applyPatches, clusterValues, overridesFor } from './overrides.ts';
import type { TargetCluster } from '../fleet/targets.ts';

const eu: TargetCluster = { name: 'eu-west', region: 'eu-west', labels: { tier: 'prod' }, ready: true };
const us: TargetCluster = { name: 'us-east', region: 'us-east', labels: { tier: 'dev' }, ready: true };

const overrides: Override[] = [
  { clusters: ['eu-west'], values: { replicas: 3, image: { tag: 'eu' } } },
  { clusterSelector: { matchLabels: { tier: 'prod' } }, values: { replicas: 5, ingress: null } },
  { clusters: ['us-east'], values: { replicas: 1 } },
];

test('picks the overrides that target a cluster by name or selector, in spec order', () => {
  assert.deepEqual(
    overridesFor(overrides, eu).map((m) => m.index),
    [0, 1],
  );
  assert.deepEqual(
    overridesFor(overrides, us).map((m) => m.index),
    [2],
  );
  assert.deepEqual(overridesFor(undefined, eu), []);
});

test('layers override values over source values in order, keeping nulls for Helm', () => {
  const values = clusterValues(
    { replicas: 2, image: { repo: 'web', tag: 'base' }, ingress: { on: true } },
    overridesFor(overrides, eu),
  );
  assert.deepEqual(values, { replicas: 5, image: { repo: 'web', tag: 'eu' }, ingress: null });
  assert.deepEqual(clusterValues(undefined, overridesFor(overrides, us)), { replicas: 1 });
});

const web: KubeObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web' },
  spec: { replicas: 1, template: { spec: { containers: [{ name: 'web', image: 'example/web:1' }] } } },
};
const webInOther: KubeObject = { ...web, metadata: { name: 'web', namespace: 'other' } };

test('a patch merges into the object with the same apiVersion, kind and name', () => {
  const matched = overridesFor(
    [
      {
        clusters: ['eu-west'],
        patches: [
          { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 7 } },
        ],
      },
    ],
    eu,
  );
  const out = applyPatches([web], matched, 'eu-west', 'shop');
  assert.deepEqual(out.errors, []);
  assert.equal((out.objects[0]?.['spec'] as { replicas: number }).replicas, 7);
  assert.equal((web['spec'] as { replicas: number }).replicas, 1, 'the input is not modified');
});

test('a patch with a namespace only matches objects in that namespace (unset means the destination)', () => {
  const patch = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { replicas: 2 },
  };
  const out = applyPatches(
    [web, webInOther],
    overridesFor([{ clusters: ['eu-west'], patches: [patch] }], eu),
    'eu-west',
    'shop',
  );
  assert.deepEqual(
    out.objects.map((o) => (o['spec'] as { replicas: number }).replicas),
    [2, 1],
  );
});

test('a patch that matches nothing is an error naming the override, the patch and the cluster', () => {
  const matched = overridesFor(
    [
      { clusters: ['us-east'], values: {} },
      {
        clusters: ['eu-west'],
        patches: [
          { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 2 } },
          { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'wbe' }, spec: { replicas: 2 } },
          { apiVersion: 'apps/v1beta1', kind: 'Deployment', metadata: { name: 'web' } },
          { apiVersion: 'v1', kind: 'ConfigMap' },
        ],
      },
    ],
    eu,
  );
  const out = applyPatches([web], matched, 'eu-west', 'shop');
  assert.deepEqual(
    out.errors.map((e) => [e.code, e.field, e.cluster, e.object]),
    [
      ['PatchTargetNotFound', 'spec.overrides[1].patches[1]', 'eu-west', 'Deployment wbe'],
      ['PatchTargetNotFound', 'spec.overrides[1].patches[2]', 'eu-west', 'Deployment web'],
      ['InvalidPatch', 'spec.overrides[1].patches[3].metadata.name', 'eu-west', undefined],
    ],
  );
  assert.match(out.errors[0]?.message ?? '', /no apps\/v1 Deployment wbe in cluster eu-west/);
});

test('applies spec images, with an override image entry winning for its clusters', () => {
  const matched = overridesFor(
    [{ clusters: ['eu-west'], images: [{ name: 'example/web', newTag: 'eu' }] }],
    eu,
  );
  const spec = { images: [{ name: 'example/web', newName: 'mirror/web' }] };
  const image = (o: KubeObject | undefined) =>
    (o?.['spec'] as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]
      ?.image;
  assert.equal(image(applyOverrides([web], spec, matched, 'eu-west', 'shop').objects[0]), 'example/web:eu');
  assert.equal(image(applyOverrides([web], spec, [], 'us-east', 'shop').objects[0]), 'mirror/web:1');
});
