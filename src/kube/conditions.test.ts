import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findCondition, setCondition } from './conditions.ts';

const t1 = new Date('2026-01-01T00:00:00.123Z');
const t2 = new Date('2026-01-01T00:05:00Z');

test('keeps lastTransitionTime while the status stays the same', () => {
  const a = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'Probed', message: 'ok' }, t1);
  const b = setCondition(a, { type: 'Ready', status: 'True', reason: 'Probed', message: 'still ok' }, t2);
  assert.equal(findCondition(b, 'Ready')?.lastTransitionTime, '2026-01-01T00:00:00Z');
  assert.equal(findCondition(b, 'Ready')?.message, 'still ok');
  assert.equal(b.length, 1);
});

test('moves lastTransitionTime when the status flips and keeps other conditions', () => {
  let l = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'A', message: '' }, t1);
  l = setCondition(l, { type: 'Other', status: 'False', reason: 'B', message: '' }, t1);
  l = setCondition(l, { type: 'Ready', status: 'False', reason: 'Unreachable', message: 'x' }, t2);
  assert.equal(findCondition(l, 'Ready')?.lastTransitionTime, '2026-01-01T00:05:00Z');
  assert.equal(findCondition(l, 'Other')?.status, 'False');
  assert.equal(l.length, 2);
});
