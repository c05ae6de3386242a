import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rangeSemantics, semanticsWarnings } from './range-semantics.ts';

test('Prometheus 2 closes ranges, Prometheus 3 opens them at the start; other texts are unknown', () => {
  assert.equal(rangeSemantics('2.42.0'), 'closed');
  assert.equal(rangeSemantics('v2.53.4'), 'closed');
  assert.equal(rangeSemantics('3.0.0'), 'left-open');
  assert.equal(rangeSemantics('3.16.0-rc.0'), 'left-open');
  assert.equal(rangeSemantics(undefined), undefined);
  assert.equal(rangeSemantics('v1.110.0-victoria'.replace(/^v1/, 'x')), undefined);
});

const v = (entries: [string, string | undefined][]) => new Map(entries);

test('members that agree, and a hub that evaluates no range, need no warning', () => {
  const members = v([
    ['eu-west', '2.42.0'],
    ['us-east', '2.42.0'],
  ]);
  assert.deepEqual(semanticsWarnings({ hubVersion: '3.16.0', members, hubEvaluatesRanges: false }), []);
  const three = v([
    ['eu-west', '3.5.0'],
    ['us-east', undefined],
  ]);
  assert.deepEqual(semanticsWarnings({ hubVersion: '3.16.0', members: three, hubEvaluatesRanges: true }), []);
});

test('members with different range semantics are named in a warning, whoever evaluates', () => {
  const members = v([
    ['eu-west', '2.42.0'],
    ['us-east', '3.5.0'],
    ['ap-south', undefined],
  ]);
  const w = semanticsWarnings({ hubVersion: '3.16.0', members, hubEvaluatesRanges: false });
  assert.equal(w.length, 1);
  assert.match(w[0]!, /closed ranges: eu-west 2\.42\.0; left-open: us-east 3\.5\.0/);
});

test("the hub's engine reading raw samples of Prometheus 2 members warns that its ranges are left-open", () => {
  const members = v([
    ['eu-west', '2.42.0'],
    ['us-east', '2.42.0'],
  ]);
  const w = semanticsWarnings({ hubVersion: '3.16.0', members, hubEvaluatesRanges: true });
  assert.deepEqual(w, [
    "the hub's engine (Prometheus 3.16.0) evaluated ranges of this query with left-open ranges, while " +
      'eu-west 2.42.0, us-east 2.42.0 close them: a sample exactly on the start of a range or lookback ' +
      'window is left out here and would count in those clusters',
  ]);
});
