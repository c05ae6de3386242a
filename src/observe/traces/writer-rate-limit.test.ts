import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WriterRateLimiter } from './writer-rate-limit.ts';

describe('spans per second per writer', () => {
  test('a writer over its rate waits until the refill pays its debt; others do not', () => {
    let now = 0;
    const limit = new WriterRateLimiter(1000, () => now);
    assert.equal(limit.retryAfterS('a'), 0);
    limit.charge('a', 3500); // one big batch: admitted, 2,500 spans of debt
    assert.equal(limit.retryAfterS('a'), 3);
    assert.equal(limit.retryAfterS('b'), 0);
    now = 2_400;
    assert.equal(limit.retryAfterS('a'), 1);
    now = 2_600;
    assert.equal(limit.retryAfterS('a'), 0);
  });

  test('an idle writer saves up one second at most', () => {
    let now = 0;
    const limit = new WriterRateLimiter(100, () => now);
    now = 60_000;
    limit.charge('a', 150);
    assert.equal(limit.retryAfterS('a'), 1);
  });

  test('keeps at most maxWriters, forgetting the least recently seen', () => {
    let now = 0;
    const limit = new WriterRateLimiter(10, () => now, 2);
    limit.charge('a', 100);
    limit.charge('b', 100);
    limit.retryAfterS('a'); // a is now the most recent
    limit.charge('c', 1);
    assert.equal(limit.writers, 2);
    assert.ok(limit.retryAfterS('a') > 0, 'a is remembered');
    now += 0;
    assert.equal(limit.retryAfterS('b'), 0, 'b was forgotten (a fresh bucket)');
  });
});
