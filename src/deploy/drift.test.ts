import { test } from 'node:test';
import assert from 'node:assert/strict';
import { driftedFields } from './drift.ts';

const base = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'app2', namespace: 'shop', resourceVersion: '10', generation: 2, labels: { a: '1' } },
  spec: { replicas: 2, template: { spec: { containers: [{ name: 'c', image: 'app2:1' }] } } },
  status: { readyReplicas: 2 },
};

test('no drift when only status and bookkeeping metadata differ', () => {
  const live = {
    ...base,
    metadata: { ...base.metadata, resourceVersion: '11', generation: 3, managedFields: [] },
    status: { readyReplicas: 1 },
  };
  assert.deepEqual(driftedFields(live, base), []);
});

test('names the fields a manual edit changed', () => {
  const live = structuredClone(base);
  live.spec.replicas = 5;
  live.spec.template.spec.containers[0]!.image = 'app2:hacked';
  live.metadata.labels = { a: '2' };
  assert.deepEqual(driftedFields(live, base), [
    'metadata.labels.a',
    'spec.replicas',
    'spec.template.spec.containers[0].image',
  ]);
});
