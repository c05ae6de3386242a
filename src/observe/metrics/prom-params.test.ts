import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  instantParams,
  isLabelName,
  parseDurationMs,
  parseTimeMs,
  rangeParams,
  seriesParams,
} from './prom-params.ts';

const p = (o: Record<string, string | string[]>): URLSearchParams => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) for (const x of [v].flat()) u.append(k, x);
  return u;
};

test('times are Unix seconds with fractions or RFC 3339, in ms', () => {
  assert.equal(parseTimeMs('1700000000'), 1_700_000_000_000);
  assert.equal(parseTimeMs('1700000000.781'), 1_700_000_000_781);
  assert.equal(parseTimeMs('2023-11-14T22:13:20Z'), 1_700_000_000_000);
  assert.equal(parseTimeMs('2023-11-14T23:13:20.5+01:00'), 1_700_000_000_500);
  assert.equal(parseTimeMs('yesterday'), undefined);
  assert.equal(parseTimeMs(''), undefined);
});

test('durations are seconds or Prometheus durations', () => {
  assert.equal(parseDurationMs('15'), 15_000);
  assert.equal(parseDurationMs('0.5'), 500);
  assert.equal(parseDurationMs('1h30m'), 5_400_000);
  assert.equal(parseDurationMs('1d'), 86_400_000);
  assert.equal(parseDurationMs('250ms'), 250);
  assert.equal(parseDurationMs('5x'), undefined);
  assert.equal(parseDurationMs(''), undefined);
});

test('times and durations beyond what the engine takes as integers are refused, not passed on', () => {
  for (const t of ['1e300', '-1e300', '8640000000001', '1e309']) assert.equal(parseTimeMs(t), undefined, t);
  assert.equal(parseTimeMs('8640000000000'), 8.64e15);
  assert.equal(parseTimeMs('-8640000000000'), -8.64e15);
  for (const d of ['1e300', '9223372037', '99999999999y']) assert.equal(parseDurationMs(d), undefined, d);
  assert.equal(parseDurationMs('9223372036'), 9_223_372_036_000);
  assert.deepEqual(instantParams(p({ query: 'up', time: '1e300' }), 42), {
    ok: false,
    error: `invalid parameter "time": Invalid time value for 'time': cannot parse "1e300" to a valid timestamp`,
  });
  const step = rangeParams(p({ query: 'up', start: '0', end: '1', step: '1e300' }));
  assert.equal(step.ok, false);
});

test('an instant query defaults to now and rejects an unreadable time with Prometheus text', () => {
  assert.deepEqual(instantParams(p({ query: 'up' }), 42), { ok: true, value: { query: 'up', time: 42 } });
  assert.deepEqual(instantParams(p({ query: 'up', time: 'x' }), 42), {
    ok: false,
    error: `invalid parameter "time": Invalid time value for 'time': cannot parse "x" to a valid timestamp`,
  });
});

test('a range query needs start ≤ end, a positive step and at most 11,000 points', () => {
  assert.deepEqual(rangeParams(p({ query: 'up', start: '100', end: '200', step: '15s' })), {
    ok: true,
    value: { query: 'up', start: 100_000, end: 200_000, step: 15_000 },
  });
  const err = (o: Record<string, string>) => {
    const r = rangeParams(p(o));
    return r.ok ? 'ok' : r.error;
  };
  assert.match(err({ query: 'up', end: '1', step: '1' }), /invalid parameter "start"/);
  assert.match(
    err({ query: 'up', start: '2', end: '1', step: '1' }),
    /end timestamp must not be before start time/,
  );
  assert.match(
    err({ query: 'up', start: '1', end: '2', step: '0' }),
    /zero or negative query resolution step/,
  );
  assert.match(
    err({ query: 'up', start: '1', end: '2', step: 'soon' }),
    /cannot parse "soon" to a valid duration/,
  );
  assert.match(
    err({ query: 'up', start: '0', end: '11001', step: '1' }),
    /exceeded maximum resolution of 11,000 points/,
  );
  assert.equal(err({ query: 'up', start: '0', end: '11000', step: '1' }), 'ok');
});

test('series parameters: match[] required where Prometheus requires it, times optional', () => {
  assert.deepEqual(seriesParams(p({}), true), { ok: false, error: 'no match[] parameter provided' });
  assert.deepEqual(seriesParams(p({}), false), { ok: true, value: { matchers: [] } });
  assert.deepEqual(seriesParams(p({ 'match[]': ['a', 'b'], start: '1' }), true), {
    ok: true,
    value: { matchers: ['a', 'b'], start: 1000 },
  });
});

test('label names follow Prometheus rules', () => {
  assert.ok(isLabelName('__name__'));
  assert.ok(isLabelName('cluster'));
  assert.ok(!isLabelName('not-a-label'));
  assert.ok(!isLabelName('1abc'));
});
