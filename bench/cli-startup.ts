// Startup of the `meridian` command (issue 24: `--help` and `version` in ≤ 200 ms): wall time from
// spawn to exit of `meridian --help`, `meridian version` and `meridian hub --help`, for
//   - baseline: the CLI as it was before lazy loading (commit BASELINE, run through tsx, every
//     command's module loaded up front), extracted with `git archive`;
//   - source: today's sources through tsx (a checkout without a build);
//   - compiled: today's build in dist/ (an installed package), built first when missing;
// and bare `node -e ''` as the floor no CLI goes below on this machine. Runs are interleaved so
// every variant sees the same load; the load average is printed before and after.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO_ROOT } from '../src/toolchain/binaries.ts';

/** The last commit of main before the CLI loaded commands lazily. */
const BASELINE = process.env['MERIDIAN_BENCH_BASELINE'] ?? '52d519f';
const RUNS = Number(process.env['MERIDIAN_BENCH_RUNS'] ?? 15);

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

if (!existsSync(join(REPO_ROOT, 'dist', 'build-stamp.json'))) {
  process.stdout.write('building dist/ (npm run build)…\n');
  execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'ignore' });
}
const baseline = mkdtempSync(join(tmpdir(), 'meridian-cli-baseline-'));
execFileSync('sh', [
  '-c',
  `git -C "${REPO_ROOT}" archive ${BASELINE} bin src package.json | tar -x -C "${baseline}"`,
]);
symlinkSync(join(REPO_ROOT, 'node_modules'), join(baseline, 'node_modules'));

interface Variant {
  readonly name: string;
  readonly argv: (args: readonly string[]) => readonly string[];
  readonly env?: Record<string, string>;
}
const bin = join(REPO_ROOT, 'bin', 'meridian.mjs');
const variants: readonly Variant[] = [
  { name: 'node -e "" (floor)', argv: () => ['-e', ''] },
  // The baseline has no `version` command: --version is its nearest.
  {
    name: `baseline ${BASELINE} (tsx)`,
    argv: (a) => [join(baseline, 'bin', 'meridian.mjs'), ...(a[0] === 'version' ? ['--version'] : a)],
  },
  { name: 'source (tsx, lazy)', argv: (a) => [bin, ...a], env: { MERIDIAN_RUN: 'source' } },
  { name: 'compiled (dist/)', argv: (a) => [bin, ...a], env: { MERIDIAN_RUN: 'compiled' } },
];
const commands: readonly (readonly string[])[] = [['--help'], ['version'], ['hub', '--help']];

function once(v: Variant, args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, v.argv(args), {
    env: { ...process.env, ...v.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const ms = performance.now() - t0;
  if (r.status !== 0)
    throw new Error(`${v.name} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

const pct = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

try {
  process.stdout.write(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}; ${RUNS} runs each, interleaved\n` +
      `load average before: ${load()}\n\n` +
      '| command | variant | median ms | p90 ms | min ms |\n|---|---|---:|---:|---:|\n',
  );
  for (const args of commands) {
    const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    for (const v of variants) once(v, args); // warm the page cache
    for (let i = 0; i < RUNS; i++) for (const v of variants) samples.get(v.name)!.push(once(v, args));
    for (const v of variants) {
      const s = samples.get(v.name)!.sort((a, b) => a - b);
      const shown = v.name.startsWith('node') ? '—' : `meridian ${args.join(' ')}`;
      process.stdout.write(
        `| ${shown} | ${v.name} | ${pct(s, 50).toFixed(0)} | ${pct(s, 90).toFixed(0)} | ${s[0]!.toFixed(0)} |\n`,
      );
    }
  }
  process.stdout.write(`\nload average after: ${load()}\n`);
} finally {
  rmSync(baseline, { recursive: true, force: true });
}
