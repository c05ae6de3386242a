import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deepMergeValues, strategicMerge } from './merge.ts';

test('values: maps merge recursively, lists and scalars are replaced', () => {
  const base = { image: { repo: 'a', tag: '1' }, args: ['x', 'y'], replicas: 1 };
  const over = { image: { tag: '2' }, args: ['z'], replicas: 3 };
  assert.deepEqual(deepMergeValues(base, over), { image: { repo: 'a', tag: '2' }, args: ['z'], replicas: 3 });
});

test('values: null deletes a key, and a map replaces a scalar and vice versa', () => {
  assert.deepEqual(deepMergeValues({ a: 1, b: { c: 2, d: 3 } }, { a: null, b: { d: null } }), {
    b: { c: 2 },
  });
  assert.deepEqual(deepMergeValues({ a: 1 }, { a: { b: 2 } }), { a: { b: 2 } });
  assert.deepEqual(deepMergeValues({ a: { b: 2 } }, { a: 'flat' }), { a: 'flat' });
});

test('values: keep mode keeps null so Helm can delete the chart default too', () => {
  assert.deepEqual(deepMergeValues({ a: 1, ingress: { on: true } }, { ingress: null }, { nulls: 'keep' }), {
    a: 1,
    ingress: null,
  });
});

test('values: inputs are not modified', () => {
  const base = { a: { b: 1 } };
  const over = { a: { c: 2 } };
  deepMergeValues(base, over);
  assert.deepEqual(base, { a: { b: 1 } });
  assert.deepEqual(over, { a: { c: 2 } });
});

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { app: 'web', team: 'a' } },
  spec: {
    replicas: 1,
    template: {
      spec: {
        containers: [
          {
            name: 'web',
            image: 'web:1',
            env: [
              { name: 'A', value: '1' },
              { name: 'B', value: '2' },
            ],
          },
          { name: 'sidecar', image: 'side:1' },
        ],
        tolerations: [{ key: 'a', operator: 'Exists' }],
      },
    },
  },
};

test('patch: containers and env merge by name; new names are appended', () => {
  const out = strategicMerge(deployment, {
    spec: {
      template: {
        spec: {
          containers: [
            {
              name: 'web',
              env: [
                { name: 'B', value: 'two' },
                { name: 'C', value: '3' },
              ],
            },
            { name: 'proxy', image: 'proxy:1' },
          ],
        },
      },
    },
  });
  assert.deepEqual((out as typeof deployment).spec.template.spec.containers, [
    {
      name: 'web',
      image: 'web:1',
      env: [
        { name: 'A', value: '1' },
        { name: 'B', value: 'two' },
        { name: 'C', value: '3' },
      ],
    },
    { name: 'sidecar', image: 'side:1' },
    { name: 'proxy', image: 'proxy:1' },
  ]);
});

test('patch: lists without names are replaced and null deletes a key', () => {
  const out = strategicMerge(deployment, {
    metadata: { labels: { team: null, tier: 'prod' } },
    spec: { replicas: 4, template: { spec: { tolerations: [{ key: 'b', operator: 'Exists' }] } } },
  }) as typeof deployment;
  assert.deepEqual(out.metadata.labels, { app: 'web', tier: 'prod' });
  assert.equal(out.spec.replicas, 4);
  assert.deepEqual(out.spec.template.spec.tolerations, [{ key: 'b', operator: 'Exists' }]);
  assert.equal(deployment.spec.replicas, 1, 'the original is not modified');
  assert.deepEqual(deployment.metadata.labels, { app: 'web', team: 'a' });
});

test('patch: a named list replaces a list that is not keyed by name', () => {
  const out = strategicMerge({ ports: [{ port: 80 }] }, { ports: [{ name: 'http', port: 8080 }] });
  assert.deepEqual(out, { ports: [{ name: 'http', port: 8080 }] });
});
