import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { sleep } from './sleep.ts';

test('leaves no abort listener behind after many sleeps', async () => {
  const ac = new AbortController();
  for (let i = 0; i < 20; i++) await sleep(1, ac.signal);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('returns at once when the signal aborts', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ac.abort(), 10);
  await sleep(5_000, ac.signal);
  assert.ok(Date.now() - t0 < 1_000);
});
