import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogEvent, LogLine } from './log-event.ts';
import { LiveMerger, mergeByTime, newest } from './log-merge.ts';

const line = (cluster: string, sec: number, message: string, pod = 'p'): LogLine => ({
  kind: 'line',
  time: `2024-01-01T00:00:${String(sec).padStart(2, '0')}.000000000Z`,
  cluster,
  region: cluster,
  namespace: 'ns',
  pod,
  container: 'c',
  message,
});

test('merges streams of three clusters into one time order', () => {
  const eu = [line('eu', 1, 'a'), line('eu', 4, 'd'), line('eu', 7, 'g')];
  const us = [line('us', 2, 'b'), line('us', 5, 'e')];
  const ap = [line('ap', 3, 'c'), line('ap', 6, 'f'), line('ap', 8, 'h')];
  assert.deepEqual(
    mergeByTime([eu, us, ap, []]).map((l) => l.message),
    ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'],
  );
});

test('equal times keep each stream’s own order and a stable order across streams', () => {
  const eu = [line('eu', 1, 'first'), line('eu', 1, 'second')];
  const ap = [line('ap', 1, 'x')];
  assert.deepEqual(
    mergeByTime([eu, ap]).map((l) => l.message),
    ['x', 'first', 'second'],
  );
});

test('an unsorted stream is sorted before merging', () => {
  const s = [line('eu', 3, 'c'), line('eu', 1, 'a')];
  assert.deepEqual(
    mergeByTime([s, [line('us', 2, 'b')]]).map((l) => l.message),
    ['a', 'b', 'c'],
  );
});

test('newest keeps the last lines in order', () => {
  assert.deepEqual(newest([1, 2, 3, 4], 2), { lines: [3, 4], truncated: true });
  assert.deepEqual(newest([1, 2], 5), { lines: [1, 2], truncated: false });
});

test('live merger releases held events in time order after the delay', () => {
  const m = new LiveMerger(100);
  m.push(line('eu', 5, 'late-arrival-newer'), 0);
  m.push(line('us', 3, 'older'), 50);
  assert.deepEqual(m.drain(60), []);
  const out = m.drain(100).map((e: LogEvent) => (e.kind === 'line' ? e.message : e.kind));
  assert.deepEqual(out, ['older', 'late-arrival-newer']);
  m.push(line('ap', 9, 'z'), 200);
  assert.deepEqual(
    m.drain(201, true).map((e) => e.time),
    ['2024-01-01T00:00:09.000000000Z'],
  );
  assert.equal(m.size, 0);
});
