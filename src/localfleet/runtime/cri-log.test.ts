import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_PIECE, criTime, encodeCriLines } from './cri-log.ts';

const T = Date.parse('2026-01-02T03:04:05.678Z');

test('times have nanoseconds like the kubelet writes them', () => {
  assert.equal(criTime(T), '2026-01-02T03:04:05.678000000Z');
});

test('whole lines end in F; an unterminated tail waits for more output', () => {
  const r = encodeCriLines('stdout', 'one\ntwo\nthr', T);
  assert.equal(
    r.records,
    '2026-01-02T03:04:05.678000000Z stdout F one\n2026-01-02T03:04:05.678000000Z stdout F two\n',
  );
  assert.equal(r.rest, 'thr');
  const next = encodeCriLines('stdout', `${r.rest}ee\r\n`, T);
  assert.equal(next.records, '2026-01-02T03:04:05.678000000Z stdout F three\n');
});

test('the tail of a stream that ends is flushed as a partial record', () => {
  const r = encodeCriLines('stderr', 'bye', T, true);
  assert.equal(r.records, '2026-01-02T03:04:05.678000000Z stderr P bye\n');
  assert.equal(r.rest, '');
});

test('a line over 16 KiB is split into P pieces and ends with F, without splitting characters', () => {
  const long = `${'é'.repeat(MAX_PIECE)}\n`; // 2 bytes each: two full pieces
  const r = encodeCriLines('stdout', long, T);
  const recs = r.records.trimEnd().split('\n');
  assert.deepEqual(
    recs.map((l) => l.split(' ')[2]),
    ['P', 'F'],
  );
  for (const l of recs) assert.ok(Buffer.byteLength(l.split(' ').slice(3).join(' ')) <= MAX_PIECE);
  assert.equal(recs.map((l) => l.split(' ').slice(3).join(' ')).join(''), 'é'.repeat(MAX_PIECE));
});
