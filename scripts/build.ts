// `npm run build`: the production build in dist/, what `npm pack` ships and the container image
// copies. src/ compiled by tsc (tsconfig.build.json) at the same depth, the non-TypeScript files
// the code reads beside itself (YAML, preload scripts), the web console (Vite) and the PromQL
// engine (Go → WebAssembly) built into it, so an installed hub needs neither Go nor tsx. Ends with
// dist/build-stamp.json, which bin/meridian.mjs compares with the sources in a checkout.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ensureConsole } from '../src/hub/console-build.ts';
import { REPO_ROOT } from '../src/toolchain/binaries.ts';
import { PACKAGED_PROMQL_DIR, PROMQL_SOURCE_DIR, ensurePromql } from '../src/observe/metrics/promql-build.ts';
import { PACKAGED_CONSOLE_DIR } from '../src/hub/console-build.ts';
import { MERIDIAN_VERSION } from '../src/version.ts';

const SRC = join(REPO_ROOT, 'src');
const DIST = join(REPO_ROOT, 'dist');

function step(what: string): void {
  process.stdout.write(`build: ${what}\n`);
}

rmSync(DIST, { recursive: true, force: true });

step('compiling src/ to dist/ (tsc -p tsconfig.build.json)');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
if (r.status !== 0) process.exit(r.status ?? 1);

step('copying the files the code reads beside itself');
for (const e of readdirSync(SRC, { recursive: true, withFileTypes: true })) {
  if (!e.isFile() || e.name.endsWith('.ts')) continue;
  const from = join(e.parentPath, e.name);
  const to = join(DIST, from.slice(SRC.length + 1));
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to);
}

step('building the web console');
cpSync(await ensureConsole(), PACKAGED_CONSOLE_DIR, { recursive: true });

step('building the PromQL engine (needs Go at build time only)');
const promql = await ensurePromql();
mkdirSync(PACKAGED_PROMQL_DIR, { recursive: true });
cpSync(promql.wasm, join(PACKAGED_PROMQL_DIR, 'promql.wasm'));
cpSync(promql.wasmExec, join(PACKAGED_PROMQL_DIR, 'wasm_exec.js'));
cpSync(join(PROMQL_SOURCE_DIR, 'go.mod'), join(PACKAGED_PROMQL_DIR, 'go.mod'));

writeFileSync(
  join(DIST, 'build-stamp.json'),
  `${JSON.stringify({ version: MERIDIAN_VERSION, builtAt: new Date().toISOString(), node: process.version })}\n`,
);
step(`done: ${DIST}`);
