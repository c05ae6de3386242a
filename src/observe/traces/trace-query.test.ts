import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredSpan } from './span-model.ts';
import {
  TraceQueryError,
  parseByteSize,
  parseDurationUs,
  parseGraphWindow,
  parseTraceId,
  parseTraceSearch,
  summarizeTrace,
  traceView,
} from './trace-query.ts';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const q = (s: string) => parseTraceSearch(new URLSearchParams(s), NOW);

function fails(f: () => unknown, param: string, re: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof TraceQueryError && e.param === param && re.test(e.message));
}

describe('trace search parameters', () => {
  test('defaults to the last hour and 20 traces', () => {
    const r = q('');
    assert.equal(r.endUs, NOW * 1000);
    assert.equal(r.startUs, (NOW - 3_600_000) * 1000);
    assert.equal(r.limit, 20);
  });

  test('reads every filter', () => {
    const r = q(
      'service=cart&cluster=eu-west&namespace=shop&start=2026-01-01T11:00:00Z&end=1767268800.5&minDuration=1.5s&error=true&limit=5',
    );
    assert.deepEqual(r, {
      service: 'cart',
      cluster: 'eu-west',
      namespace: 'shop',
      startUs: Date.parse('2026-01-01T11:00:00Z') * 1000,
      endUs: 1767268800500000,
      minDurationUs: 1_500_000,
      error: true,
      limit: 5,
    });
  });

  test('a bad parameter is a 400 that names it', () => {
    fails(() => q('start=yesterday'), 'start', /not RFC 3339/);
    fails(() => q('end=2026-13-45'), 'end', /not RFC 3339/);
    fails(() => q('start=2026-01-01T12:00:00Z&end=2026-01-01T11:00:00Z'), 'start', /before end/);
    fails(() => q('minDuration=fast'), 'minDuration', /not a duration/);
    fails(() => q('error=yes'), 'error', /true or false/);
    fails(() => q('limit=0'), 'limit', /1 to 1000/);
    fails(() => q('limit=5000'), 'limit', /1 to 1000/);
    fails(() => q('service=%3Cscript%3E'), 'service', /not a valid name/);
    fails(() => q('servce=cart'), 'servce', /unknown parameter/);
    fails(() => q('service=a&service=b'), 'service', /more than once/);
    fails(() => parseGraphWindow(new URLSearchParams('service=x'), NOW), 'service', /unknown parameter/);
    fails(() => parseTraceId('xyz'), 'traceId', /32 hex digits/);
  });

  test('a time no date can hold is a 400 naming it, not a failure later', () => {
    fails(() => q('end=99999999999999999'), 'end', /outside 1970-01-01 to 9999-12-31/);
    fails(() => q('start=253402300800'), 'start', /outside 1970-01-01 to 9999-12-31/);
    fails(
      () => parseGraphWindow(new URLSearchParams('start=0&end=1e300'), NOW),
      'end',
      /not RFC 3339 or Unix seconds/,
    );
    assert.equal(q('start=0&end=253402300799').endUs, 253_402_300_799_000_000);
  });

  test('durations, sizes and ids people type', () => {
    assert.equal(parseDurationUs('250ms'), 250_000);
    assert.equal(parseDurationUs('1h30m'), 5_400_000_000);
    assert.equal(parseDurationUs('10us'), 10);
    assert.equal(parseDurationUs('10'), undefined);
    assert.equal(parseByteSize('512Mi'), 512 * 1024 ** 2);
    assert.equal(parseByteSize('1GiB'), 1024 ** 3);
    assert.equal(parseByteSize('20MB'), 20e6);
    assert.equal(parseByteSize('1048576'), 1048576);
    assert.equal(parseByteSize('lots'), undefined);
    assert.equal(parseTraceId('0AF7651916CD43DD8448EB211C80319C'), '0af7651916cd43dd8448eb211c80319c');
  });
});

const span = (id: string, over: Partial<StoredSpan>): StoredSpan => ({
  traceId: 'a'.repeat(32),
  spanId: id.padStart(16, '0'),
  name: `op-${id}`,
  kind: 1,
  startUs: 1_000_000,
  durationUs: 1000,
  status: 0,
  service: 'svc',
  attributes: {},
  resource: {},
  events: [],
  links: [],
  ...over,
});

describe('trace summary and view', () => {
  const spans = [
    span('1', { service: 'frontend', cluster: 'eu-west', kind: 2, durationUs: 50_000 }),
    span('2', {
      parentSpanId: '1'.padStart(16, '0'),
      service: 'frontend',
      cluster: 'eu-west',
      kind: 3,
      startUs: 1_010_000,
      durationUs: 30_000,
    }),
    span('3', {
      parentSpanId: '2'.padStart(16, '0'),
      service: 'cart',
      cluster: 'us-east',
      kind: 2,
      startUs: 1_015_000,
      durationUs: 45_000,
      status: 2,
    }),
  ];

  test('summarizes root, duration, span count, clusters and error', () => {
    assert.deepEqual(summarizeTrace(spans), {
      traceId: 'a'.repeat(32),
      rootService: 'frontend',
      rootName: 'op-1',
      startUs: 1_000_000,
      durationUs: 60_000,
      spanCount: 3,
      services: ['cart', 'frontend'],
      clusters: ['eu-west', 'us-east'],
      error: true,
    });
  });

  test('a span whose parent never arrived counts as a root', () => {
    assert.equal(summarizeTrace(spans.slice(2)).rootService, 'cart');
  });

  test('flags exactly the hops whose parent ran in another cluster', () => {
    const v = traceView(spans);
    assert.deepEqual(
      v.spans.map((s) => [s.crossCluster, s.parentCluster, s.kind]),
      [
        [false, undefined, 'server'],
        [false, undefined, 'client'],
        [true, 'eu-west', 'server'],
      ],
    );
    assert.equal(v.durationMs, 60);
  });
});
