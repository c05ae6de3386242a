// The package as users get it: `npm pack` (which builds dist/ first) gives a tarball that
// `npm install -g` into a temporary prefix turns into a working `meridian` — the compiled CLI, the
// hub's help, the local fleet's status — and whose hub finds the web console and the PromQL engine
// inside the package, with no Go on PATH and no TypeScript sources.
//
// Dependencies come from npm's cache where it has them (--prefer-offline; the registry is asked
// for package metadata only). Install scripts are skipped: the one native addon (better-sqlite3)
// compiles for a minute or more on 2 cores and is no part of what this test proves.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../src/toolchain/binaries.ts';

const work = mkdtempSync(join(tmpdir(), 'meridian-pack-'));
const prefix = join(work, 'prefix');
const installed = join(prefix, 'lib', 'node_modules', 'meridian');
const meridianBin = join(prefix, 'bin', 'meridian');
// Only node's own directory: no go, no tsx, nothing of the checkout.
const env = {
  PATH: dirname(process.execPath),
  HOME: join(work, 'home'),
  MERIDIAN_HOME: join(work, 'home', '.meridian'),
};

function run(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; timeoutMs: number },
): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? work, env, encoding: 'utf8', timeout: opts.timeoutMs });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}\n${r.stderr}`);
  return r;
}

function meridian(...args: string[]): SpawnSyncReturns<string> {
  return run(meridianBin, args, { timeoutMs: 30_000 });
}

describe('the packed tarball installed with npm install -g', { timeout: 600_000 }, () => {
  before(() => {
    // npm itself runs with the caller's PATH (it needs a shell and its own cache).
    const npmEnv = { ...process.env, npm_config_update_notifier: 'false' };
    const pack = spawnSync('npm', ['pack', '--pack-destination', work], {
      cwd: REPO_ROOT,
      env: npmEnv,
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(pack.status, 0, `npm pack failed:\n${pack.stdout}\n${pack.stderr}`);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, `npm pack wrote no tarball in ${work}`);
    const install = spawnSync(
      'npm',
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--prefer-offline',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        join(work, tarball),
      ],
      { cwd: work, env: npmEnv, encoding: 'utf8', timeout: 240_000 },
    );
    assert.equal(install.status, 0, `npm install -g failed:\n${install.stdout}\n${install.stderr}`);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('ships the compiled build, the console and the PromQL engine, and no TypeScript sources', () => {
    assert.ok(existsSync(join(installed, 'dist', 'cli', 'main.js')));
    assert.ok(existsSync(join(installed, 'dist', 'console', 'index.html')));
    assert.ok(existsSync(join(installed, 'dist', 'promql', 'promql.wasm')));
    assert.ok(existsSync(join(installed, 'dist', 'localfleet', 'kwok-stages.yaml')));
    assert.equal(existsSync(join(installed, 'src')), false, 'the package ships src/');
    const ts = readdirSync(join(installed, 'dist'), { recursive: true }).filter((f) =>
      String(f).endsWith('.ts'),
    );
    assert.deepEqual(ts, []);
  });

  test('meridian version runs the compiled build', () => {
    const r = meridian('version');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^meridian \d+\.\d+\.\d+ \(compiled, node v\d+/);
  });

  test('meridian --help lists the commands, meridian hub --help its options', () => {
    const top = meridian('--help');
    assert.equal(top.status, 0, top.stderr);
    for (const c of ['fleet', 'hub', 'cluster', 'app', 'traffic', 'services', 'logs', 'version'])
      assert.match(top.stdout, new RegExp(`^  ${c} `, 'm'), `--help lacks ${c}`);
    const hub = meridian('hub', '--help');
    assert.equal(hub.status, 0, hub.stderr);
    assert.match(hub.stdout, /--listen <host:port>/);
    assert.match(hub.stdout, /--edge-listen <host:port>/);
  });

  test('meridian fleet status says there is no local fleet (exit 3)', () => {
    const r = meridian('fleet', 'status');
    assert.equal(r.status, 3, `${r.stdout}\n${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`, /no local fleet/);
  });

  test('the installed hub serves its console and runs the PromQL engine in a worker thread without Go', () => {
    const dist = join(installed, 'dist');
    const script = `
      const { PromqlThread } = await import(${JSON.stringify(join(dist, 'observe/metrics/promql-thread.js'))});
      const { createLogger } = await import(${JSON.stringify(join(dist, 'logging/logger.js'))});
      const { cachedConsole } = await import(${JSON.stringify(join(dist, 'hub/console-build.js'))});
      const thread = new PromqlThread({ log: createLogger('pack-test', process.stderr), maxPending: 2 });
      try {
        await thread.warm();
        const plan = await thread.plan({ query: 'sum(rate(x[5m]))', start: 3600000, end: 3600000, step: 0,
          members: [{ name: 'eu-west', region: 'eu' }] });
        console.log(JSON.stringify({ plan: plan.mode ?? plan, console: cachedConsole() ?? null }));
      } finally {
        await thread.close();
      }`;
    // A file, not `-e`: worker threads inherit the process's execArgv, and `--input-type` with it.
    const file = join(work, 'installed-hub-assets.mjs');
    writeFileSync(file, script);
    const r = run(process.execPath, [file], { timeoutMs: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { plan: unknown; console: string | null };
    assert.equal(out.console, join(dist, 'console'));
    assert.ok(
      out.plan === 'central' || out.plan === 'pushdown',
      `the engine answered ${JSON.stringify(out.plan)}`,
    );
  });
});
