import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from './work-queue.ts';

const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('de-duplicates keys queued before they run', async () => {
  const seen: string[] = [];
  const q = new WorkQueue(
    async (k) => {
      seen.push(k);
      if (k === 'busy') await tick(30);
    },
    { concurrency: 1 },
  );
  q.add('busy'); // occupies the only worker, so the next adds wait in the queue
  q.add('a');
  q.add('a');
  q.add('b');
  q.add('a');
  await tick(60);
  await q.idle();
  assert.deepEqual(seen, ['busy', 'a', 'b']);
  q.stop();
});

test('never runs one key twice at once, and reruns it when it was added meanwhile', async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const q = new WorkQueue(
    async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      await tick(20);
      running--;
    },
    { concurrency: 4 },
  );
  q.add('k');
  await tick();
  q.add('k');
  q.add('k');
  await tick(100);
  await q.idle();
  assert.equal(maxRunning, 1);
  assert.equal(runs, 2);
  q.stop();
});

test('retries a failing key with growing backoff', async () => {
  const times: number[] = [];
  const q = new WorkQueue(
    async () => {
      times.push(Date.now());
      if (times.length < 3) throw new Error('boom');
    },
    { concurrency: 1, minBackoffMs: 20 },
  );
  q.add('k');
  while (times.length < 3) await tick(10);
  assert.ok(times[1]! - times[0]! >= 15, `first retry too early: ${times[1]! - times[0]!} ms`);
  assert.ok(times[2]! - times[1]! >= 35, `second retry should back off longer: ${times[2]! - times[1]!} ms`);
  q.stop();
});

test('requeues after the delay a reconcile asks for', async () => {
  let runs = 0;
  const q = new WorkQueue(async () => (++runs < 3 ? { requeueAfterMs: 10 } : undefined), { concurrency: 1 });
  q.add('k');
  await tick(150);
  assert.equal(runs, 3);
  q.stop();
});
