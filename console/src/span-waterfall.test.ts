import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { waterfall } from './span-waterfall.ts';

const span = (spanId: string, parentSpanId: string | undefined, startMs: number, durationMs: number) => ({
  spanId,
  parentSpanId,
  startUnixMicros: 1_700_000_000_000_000 + startMs * 1000,
  durationMs,
});

describe('waterfall', () => {
  test('depth-first from the root, children by start time, placed on the trace axis', () => {
    const rows = waterfall([
      span('c2', 'a', 50, 40),
      span('a', undefined, 0, 100),
      span('c1', 'a', 10, 30),
      span('g', 'c1', 20, 5),
    ]);
    assert.deepEqual(
      rows.map((r) => [r.span.spanId, r.depth]),
      [
        ['a', 0],
        ['c1', 1],
        ['g', 2],
        ['c2', 1],
      ],
    );
    assert.equal(rows[0]?.offsetPct, 0);
    assert.equal(rows[0]?.widthPct, 100);
    assert.equal(rows[3]?.offsetPct, 50);
    assert.equal(rows[3]?.widthPct, 40);
  });

  test('a span whose parent never arrived is a root; a cycle loses no span', () => {
    const rows = waterfall([span('x', 'missing', 5, 1), span('p', 'q', 0, 10), span('q', 'p', 1, 2)]);
    assert.deepEqual(rows.map((r) => r.span.spanId).sort(), ['p', 'q', 'x']);
    assert.equal(rows.find((r) => r.span.spanId === 'x')?.depth, 0);
  });
});
