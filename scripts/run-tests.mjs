#!/usr/bin/env node
// Runs the test suite with node's own test runner (through tsx for TypeScript).
// Unit tests sit next to the code (src/**/*.test.ts, and the reference apps' own tests under
// examples/); integration tests against the real local fleet live in test/ and run one file at a
// time because they share one fleet per file.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const unitOnly = process.argv.includes('--unit');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = only.length
  ? only
  : [...find('src'), ...find('console/src'), ...find('examples'), ...(unitOnly ? [] : find('test'))].sort();
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  // The tests exercise the sources: a dist/ that a test's `npm pack` builds midway must not switch
  // the CLI of every later test to the compiled build (test/package-install.test.ts covers that).
  { stdio: 'inherit', env: { MERIDIAN_RUN: 'source', ...process.env } },
);
process.exit(res.status ?? 1);
