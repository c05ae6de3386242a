import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { NO_FAULTS, faultFile, readFaults, writeFaults } from './fault-file.ts';

describe('the fault file', () => {
  test('round-trips, owner-only; absent, broken or odd entries read as no fault', () => {
    const dir = mkdtempSync(join(tmpdir(), 'faults-'));
    try {
      assert.deepEqual(readFaults(dir), NO_FAULTS);
      const faults = { ingressDown: ['eu-west'], apiStopped: [{ cluster: 'eu-west', pid: 42 }] };
      writeFaults(dir, faults);
      assert.deepEqual(readFaults(dir), faults);
      assert.equal(statSync(faultFile(dir)).mode & 0o777, 0o600);
      writeFileSync(faultFile(dir), '{"ingressDown": [1, "us-east"], "apiStopped": [{"cluster": "x"}]}');
      assert.deepEqual(readFaults(dir), { ingressDown: ['us-east'], apiStopped: [] });
      writeFileSync(faultFile(dir), '{"ingressDown": [');
      assert.deepEqual(readFaults(dir), NO_FAULTS);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
