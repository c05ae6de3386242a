import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sameContent } from './same-content.ts';

test('ignores key order and undefined fields', () => {
  assert.equal(
    sameContent(
      { a: 1, b: { c: [1, { d: 2, e: 3 }] } },
      { b: { c: [1, { e: 3, d: 2 }] }, a: 1, x: undefined },
    ),
    true,
  );
});

test('sees a changed value, a changed list order and an added field', () => {
  assert.equal(sameContent({ a: 1 }, { a: 2 }), false);
  assert.equal(sameContent({ l: [1, 2] }, { l: [2, 1] }), false);
  assert.equal(sameContent({ a: 1 }, { a: 1, b: 0 }), false);
});
