import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pointerToField } from './field-path.ts';

test('turns JSON pointers into Kubernetes field paths', () => {
  const value = { spec: { placement: { clusters: ['a', 'b'] }, weights: { 'eu-west': 1, 'a.b': 2 } } };
  assert.equal(pointerToField('/spec/placement/clusters/1', value), 'spec.placement.clusters[1]');
  assert.equal(pointerToField('/spec/weights/eu-west', value), 'spec.weights.eu-west');
  assert.equal(pointerToField('/spec/weights/a.b', value), 'spec.weights[a.b]');
  assert.equal(pointerToField('', value), '');
});

test('treats numeric keys of objects as keys and unescapes ~1 and ~0', () => {
  const value = { labels: { '0': 'x', 'app.kubernetes.io/name': 'y' } };
  assert.equal(pointerToField('/labels/0', value), 'labels[0]');
  assert.equal(pointerToField('/labels/app.kubernetes.io~1name', value), 'labels[app.kubernetes.io/name]');
  assert.equal(pointerToField('/a~0b', { 'a~b': 1 }), '[a~b]');
});
