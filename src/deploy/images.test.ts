import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../kube/cluster-client.ts';
import { applyImageOverrides, effectiveImages, overrideImage, splitImage } from './images.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

test('splits name, tag and digest, treating a registry port as part of the name', () => {
  assert.deepEqual(splitImage('example/app2'), { name: 'example/app2' });
  assert.deepEqual(splitImage('example/app2:1.0'), { name: 'example/app2', tag: '1.0' });
  assert.deepEqual(splitImage('localhost:5000/app:2'), { name: 'localhost:5000/app', tag: '2' });
  assert.deepEqual(splitImage('localhost:5000/app'), { name: 'localhost:5000/app' });
  assert.deepEqual(splitImage(`app@${DIGEST}`), { name: 'app', digest: DIGEST });
  assert.deepEqual(splitImage(`r.io/app:1@${DIGEST}`), { name: 'r.io/app', tag: '1', digest: DIGEST });
});

test('rewrites only images whose repository equals name', () => {
  const rule = [{ name: 'example/app2', newTag: '2.0' }];
  assert.equal(overrideImage('example/app2:1.0', rule), 'example/app2:2.0');
  assert.equal(overrideImage('example/app2', rule), 'example/app2:2.0');
  assert.equal(overrideImage('example/app22:1.0', rule), 'example/app22:1.0');
  assert.equal(overrideImage('other/example/app2:1.0', rule), 'other/example/app2:1.0');
});

test('newName keeps the tag; newTag or digest replaces both tag and digest, as kustomize does', () => {
  assert.equal(overrideImage('app:1', [{ name: 'app', newName: 'r.io/team/app' }]), 'r.io/team/app:1');
  assert.equal(overrideImage(`app:1@${DIGEST}`, [{ name: 'app', newTag: '2' }]), 'app:2');
  assert.equal(overrideImage('app:1', [{ name: 'app', digest: DIGEST }]), `app@${DIGEST}`);
  assert.equal(overrideImage('app:1', [{ name: 'app', newTag: '2', digest: DIGEST }]), `app:2@${DIGEST}`);
});

test('override entries replace spec entries of the same name instead of chaining', () => {
  const images = effectiveImages(
    [
      { name: 'app', newName: 'mirror/app' },
      { name: 'db', newTag: '15' },
    ],
    [undefined, [{ name: 'app', newTag: '9' }]],
  );
  assert.deepEqual(images, [
    { name: 'app', newTag: '9' },
    { name: 'db', newTag: '15' },
  ]);
});

function podTemplate(kind: string, apiVersion: string, spec: object): KubeObject {
  return { apiVersion, kind, metadata: { name: 'w' }, spec };
}
const podSpec = {
  initContainers: [{ name: 'init', image: 'app:1' }],
  containers: [
    { name: 'main', image: 'app:1' },
    { name: 'other', image: 'db:14' },
  ],
};

test('rewrites containers and init containers of every workload kind', () => {
  const rules = [{ name: 'app', newTag: '2' }];
  const objects = [
    podTemplate('Pod', 'v1', podSpec),
    podTemplate('Deployment', 'apps/v1', { template: { spec: podSpec } }),
    podTemplate('StatefulSet', 'apps/v1', { template: { spec: podSpec } }),
    podTemplate('DaemonSet', 'apps/v1', { template: { spec: podSpec } }),
    podTemplate('Job', 'batch/v1', { template: { spec: podSpec } }),
    podTemplate('CronJob', 'batch/v1', { jobTemplate: { spec: { template: { spec: podSpec } } } }),
  ];
  const out = applyImageOverrides(objects, rules);
  const images = (o: KubeObject): string[] => {
    const spec = JSON.stringify(o);
    return [...spec.matchAll(/"image":"([^"]+)"/g)].map((m) => m[1]!);
  };
  for (const o of out) assert.deepEqual(images(o), ['app:2', 'app:2', 'db:14'], o.kind);
  assert.equal(podSpec.containers[0]?.image, 'app:1', 'inputs are not modified');
});

test('leaves non-workload objects and look-alike kinds of other groups alone', () => {
  const custom = podTemplate('Deployment', 'example.com/v1', { template: { spec: podSpec } });
  const config: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c' },
    data: { image: 'app:1' },
  };
  assert.deepEqual(applyImageOverrides([custom, config], [{ name: 'app', newTag: '2' }]), [custom, config]);
});
