import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesSelector } from './cluster-selector.ts';

const eu = { region: 'eu-west', tier: 'prod', gpu: '' };

test('an empty selector selects every label set, including an empty one', () => {
  assert.equal(matchesSelector(eu, {}), true);
  assert.equal(matchesSelector({}, {}), true);
});

test('matchLabels requires every pair, with exact values', () => {
  assert.equal(matchesSelector(eu, { matchLabels: { region: 'eu-west', tier: 'prod' } }), true);
  assert.equal(matchesSelector(eu, { matchLabels: { region: 'eu-west', tier: 'dev' } }), false);
  assert.equal(matchesSelector(eu, { matchLabels: { zone: '' } }), false);
  assert.equal(matchesSelector(eu, { matchLabels: { gpu: '' } }), true);
});

test('In needs the label present with one of the values', () => {
  const sel = {
    matchExpressions: [{ key: 'region', operator: 'In' as const, values: ['eu-west', 'us-east'] }],
  };
  assert.equal(matchesSelector(eu, sel), true);
  assert.equal(matchesSelector({ region: 'ap-south' }, sel), false);
  assert.equal(matchesSelector({}, sel), false);
});

test('NotIn is satisfied by a missing label, as in Kubernetes', () => {
  const sel = { matchExpressions: [{ key: 'tier', operator: 'NotIn' as const, values: ['dev'] }] };
  assert.equal(matchesSelector(eu, sel), true);
  assert.equal(matchesSelector({}, sel), true);
  assert.equal(matchesSelector({ tier: 'dev' }, sel), false);
});

test('Exists and DoesNotExist look at the key only', () => {
  assert.equal(matchesSelector(eu, { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }), true);
  assert.equal(matchesSelector(eu, { matchExpressions: [{ key: 'zone', operator: 'Exists' }] }), false);
  assert.equal(matchesSelector(eu, { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }), true);
  assert.equal(matchesSelector(eu, { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }), false);
});

test('matchLabels and every expression must all hold', () => {
  const sel = {
    matchLabels: { tier: 'prod' },
    matchExpressions: [
      { key: 'region', operator: 'In' as const, values: ['eu-west'] },
      { key: 'canary', operator: 'DoesNotExist' as const },
    ],
  };
  assert.equal(matchesSelector(eu, sel), true);
  assert.equal(matchesSelector({ ...eu, canary: 'true' }, sel), false);
});

test('a malformed requirement selects nothing instead of everything', () => {
  assert.equal(
    matchesSelector(eu, { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: [] }] }),
    false,
  );
  assert.equal(
    matchesSelector(eu, { matchExpressions: [{ key: 'tier', operator: 'Exists', values: ['x'] }] }),
    false,
  );
});
