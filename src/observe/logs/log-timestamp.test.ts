import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floorToSecond, normalizeTime, splitTimestamped, timeOfMs } from './log-timestamp.ts';

test('normalizes RFC 3339 times to nine fractional digits in UTC', () => {
  assert.equal(normalizeTime('2024-01-01T00:00:02.5Z'), '2024-01-01T00:00:02.500000000Z');
  assert.equal(normalizeTime('2024-01-01T00:00:02Z'), '2024-01-01T00:00:02.000000000Z');
  assert.equal(normalizeTime('2024-01-01T01:00:02.123456789+01:00'), '2024-01-01T00:00:02.123456789Z');
  assert.equal(normalizeTime('yesterday'), undefined);
  assert.equal(normalizeTime('2024-13-45T00:00:00Z'), undefined);
});

test('canonical times order as strings even when the source trims trailing zeros', () => {
  const a = normalizeTime('2024-01-01T00:00:02.5Z')!;
  const b = normalizeTime('2024-01-01T00:00:02.123456789Z')!;
  assert.ok(b < a);
});

test('splits a timestamped line and keeps the message verbatim', () => {
  assert.deepEqual(splitTimestamped('2024-01-01T00:00:01.000000001Z {"a": 1}  x'), {
    time: '2024-01-01T00:00:01.000000001Z',
    message: '{"a": 1}  x',
  });
  assert.deepEqual(splitTimestamped('2024-01-01T00:00:01Z'), {
    time: '2024-01-01T00:00:01.000000000Z',
    message: '',
  });
  assert.equal(splitTimestamped('no timestamp here'), undefined);
});

test('floors to the second and formats epochs', () => {
  assert.equal(floorToSecond('2024-01-01T00:00:02.999999999Z'), '2024-01-01T00:00:02Z');
  assert.equal(timeOfMs(Date.UTC(2024, 0, 1, 0, 0, 2, 5)), '2024-01-01T00:00:02.005000000Z');
});
