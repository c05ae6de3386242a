// The fuzz targets in their short form (2 s each, a fixed seed and one from the clock), run with
// the rest of the suite; `npm run chaos` runs them in full (docs/reliability.md).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TARGETS, fuzz, mutate, Rng } from './fuzz/targets.ts';

describe('fuzzing, short form', () => {
  test('mutations are reproducible from the seed', () => {
    const seeds = [Buffer.from('GET / HTTP/1.1\r\n\r\n')];
    const a = new Rng(7);
    const b = new Rng(7);
    for (let i = 0; i < 100; i++) assert.deepEqual(mutate(a, seeds), mutate(b, seeds));
  });

  for (const [i, target] of TARGETS.entries()) {
    test(`${target.name}: no crash, no input over 100 ms`, (t) => {
      // One fixed seed (replays what CI saw) and one new each run (finds more over time).
      for (const seed of [1000 + i, Date.now() % 2 ** 31]) {
        // A loaded machine can stall any single input: a hang must repeat to count (below).
        const r = fuzz(target, 1_000, seed, 250);
        t.diagnostic(`seed ${seed}: ${r.inputs} inputs, slowest ${r.slowestMs.toFixed(1)} ms`);
        assert.ok(r.inputs > 100, `only ${r.inputs} inputs`);
        assert.deepEqual(r.crashes, [], `seed ${seed}`);
        for (const h of r.hangs) {
          const again = fuzz({ ...target, seeds: [Buffer.from(h.input, 'base64')] }, 0, 0, 250);
          assert.deepEqual(again.hangs, [], `seed ${seed}: an input took ${h.ms.toFixed(0)} ms twice`);
        }
      }
    });
  }
});
