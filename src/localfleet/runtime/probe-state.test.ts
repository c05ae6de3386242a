import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialProbeState, nextProbeState, probeTiming, restartDelayMs } from './probe-state.ts';

test('probe defaults are the API defaults', () => {
  assert.deepEqual(probeTiming({}), {
    initialDelayMs: 0,
    periodMs: 10_000,
    timeoutMs: 1_000,
    successThreshold: 1,
    failureThreshold: 3,
  });
  assert.equal(probeTiming({ periodSeconds: 2, initialDelaySeconds: 5 }).periodMs, 2_000);
});

test('readiness starts failed and flips only after the thresholds of equal results in a row', () => {
  const t = probeTiming({ successThreshold: 2, failureThreshold: 3 });
  let s = initialProbeState('readiness');
  assert.equal(s.ok, false);
  s = nextProbeState(s, true, t);
  assert.equal(s.ok, false);
  s = nextProbeState(s, true, t);
  assert.equal(s.ok, true);
  s = nextProbeState(s, false, t);
  s = nextProbeState(s, false, t);
  assert.equal(s.ok, true);
  s = nextProbeState(s, true, t); // the run of failures is broken
  s = nextProbeState(s, false, t);
  s = nextProbeState(s, false, t);
  assert.equal(s.ok, true);
  s = nextProbeState(s, false, t);
  assert.equal(s.ok, false);
});

test('liveness starts passed', () => {
  assert.equal(initialProbeState('liveness').ok, true);
});

test('restarts: at once, then 10 s doubling up to 5 minutes', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 20].map(restartDelayMs),
    [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000],
  );
});
