import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_OUTLIER_SETTINGS,
  FRESH_RECORD,
  isEjected,
  isFailureStatus,
  maxEjectable,
  recordFailure,
  recordSuccess,
  reinstate,
  type EjectionBudget,
  type OutlierRecord,
  type OutlierSettings,
} from './outlier-detector.ts';

const S: OutlierSettings = {
  consecutiveFailures: 3,
  baseEjectionMs: 1_000,
  maxEjectionMs: 3_500,
  maxEjectedPercent: 50,
  decayMs: 10_000,
};
const ROOM: EjectionBudget = { clusters: 3, ejectedOthers: 0 };

/** Feeds `n` failures at time `now`; returns the last verdict. */
function fail(record: OutlierRecord, n: number, now: number, budget = ROOM, settings = S) {
  let v: ReturnType<typeof recordFailure> = { record };
  for (let i = 0; i < n; i++) v = recordFailure(v.record, now, budget, settings);
  return v;
}

describe('outlier detector', () => {
  it('ejects after N consecutive failures, not before', () => {
    const two = fail(FRESH_RECORD, 2, 0);
    assert.equal(two.ejectedForMs, undefined);
    assert.equal(isEjected(two.record, 0), false);
    const three = recordFailure(two.record, 0, ROOM, S);
    assert.equal(three.ejectedForMs, 1_000);
    assert.equal(isEjected(three.record, 999), true);
    assert.equal(isEjected(three.record, 1_000), false, 'the ejection ends on time');
  });

  it('a success ends the failure streak', () => {
    const two = fail(FRESH_RECORD, 2, 0).record;
    const reset = recordSuccess(two, 1);
    assert.equal(reset.consecutiveFailures, 0);
    assert.equal(fail(reset, 2, 2).ejectedForMs, undefined, 'two more failures are not three in a row');
  });

  it('a success on a healthy record returns the same object (no allocation on the hot path)', () => {
    assert.equal(recordSuccess(FRESH_RECORD, 5), FRESH_RECORD);
  });

  it('each repeated ejection lasts longer, up to the cap', () => {
    let r = FRESH_RECORD;
    let now = 0;
    const lengths: number[] = [];
    for (let i = 0; i < 5; i++) {
      const v = fail(r, 3, now);
      assert.ok(v.ejectedForMs !== undefined, `ejection ${i + 1}`);
      lengths.push(v.ejectedForMs);
      r = v.record;
      now = r.ejectedUntil; // fails again as soon as it is back
    }
    assert.deepEqual(lengths, [1_000, 2_000, 3_000, 3_500, 3_500]);
  });

  it('time without ejections forgives past ones (one per decay interval)', () => {
    let r = fail(FRESH_RECORD, 3, 0).record; // 1 s
    r = fail(r, 3, r.ejectedUntil).record; // 2 s, ends at 3 s
    assert.equal(r.ejections, 2);
    // 10 s after the last ejection ended: one forgiven, so the next is the 2nd again (2 s).
    assert.equal(fail(r, 3, r.ejectedUntil + 10_000).ejectedForMs, 2_000);
    // 25 s after: both forgiven, back to the base.
    assert.equal(fail(r, 3, r.ejectedUntil + 25_000).ejectedForMs, 1_000);
  });

  it('failures while ejected neither extend the ejection nor count toward the next', () => {
    const ejected = fail(FRESH_RECORD, 3, 0).record;
    const v = fail(ejected, 10, 500);
    assert.equal(v.record, ejected);
    assert.equal(v.ejectedForMs, undefined);
  });

  it('a success while ejected (tried because nothing else was left) ends the ejection', () => {
    const ejected = fail(FRESH_RECORD, 3, 0).record;
    const back = recordSuccess(ejected, 400);
    assert.equal(isEjected(back, 400), false);
    assert.equal(back.ejections, 1, 'still remembered for the next ejection length');
  });

  it('reinstating ends an ejection now but remembers it for the next one', () => {
    const ejected = fail(FRESH_RECORD, 3, 0).record;
    const back = reinstate(ejected, 200);
    assert.equal(isEjected(back, 200), false);
    assert.equal(fail(back, 3, 300).ejectedForMs, 2_000, 'the second ejection is longer');
    assert.equal(reinstate(FRESH_RECORD, 5), FRESH_RECORD, 'nothing to lift');
  });

  it('never ejects past the budget: max percent, at least one, never all', () => {
    assert.equal(maxEjectable(1, S), 0, 'a lone cluster is never ejected');
    assert.equal(maxEjectable(2, S), 1);
    assert.equal(maxEjectable(3, S), 1);
    assert.equal(maxEjectable(4, S), 2);
    assert.equal(maxEjectable(3, { ...S, maxEjectedPercent: 100 }), 2, 'never all of them');
    assert.equal(maxEjectable(3, { ...S, maxEjectedPercent: 0 }), 1, 'at least one, as Envoy');
    const full: EjectionBudget = { clusters: 3, ejectedOthers: 1 };
    const v = fail(FRESH_RECORD, 5, 0, full);
    assert.equal(v.ejectedForMs, undefined);
    assert.equal(v.record.consecutiveFailures, 5, 'the streak is kept so it ejects once budget frees');
    assert.equal(recordFailure(v.record, 1, ROOM, S).ejectedForMs, 1_000);
    assert.equal(fail(FRESH_RECORD, 10, 0, { clusters: 1, ejectedOthers: 0 }).ejectedForMs, undefined);
  });

  it('counts 502, 503 and 504 as failures, other answers as successes', () => {
    assert.deepEqual([200, 404, 500, 501, 502, 503, 504, 505].map(isFailureStatus), [
      false,
      false,
      false,
      false,
      true,
      true,
      true,
      false,
    ]);
  });

  it('has Envoy-like defaults', () => {
    assert.equal(DEFAULT_OUTLIER_SETTINGS.consecutiveFailures, 5);
    assert.equal(DEFAULT_OUTLIER_SETTINGS.baseEjectionMs, 30_000);
    assert.equal(DEFAULT_OUTLIER_SETTINGS.maxEjectionMs, 300_000);
  });
});
