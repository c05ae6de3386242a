// The engine's Go unit tests (go/promql/*_test.go), run natively with `go test`: the parts of
// the WebAssembly module that are easiest to prove in Go (what it keeps between calls).
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROMQL_SOURCE_DIR } from './promql-build.ts';

test("the PromQL engine's Go tests pass", () => {
  const r = spawnSync('go', ['test', '-count=1', '.'], { cwd: PROMQL_SOURCE_DIR, encoding: 'utf8' });
  assert.equal(r.error, undefined, 'the Go toolchain is needed (as for building the engine)');
  assert.equal(r.status, 0, `go test failed:\n${r.stdout}\n${r.stderr}`);
});
