// Builds the real Prometheus PromQL engine (go/promql, pinned in its go.mod) to WebAssembly from
// the Go module proxy, once, into the same cache as the local fleet's binaries. The cache key
// hashes the Go sources, the pins and the toolchain, so any change rebuilds and nothing built is
// ever committed.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MeridianError } from '../../kube/errors.ts';
import { REPO_ROOT, cacheRoot } from '../../toolchain/binaries.ts';

export const PROMQL_SOURCE_DIR = join(REPO_ROOT, 'go', 'promql');
/**
 * The engine inside an installed package (`npm run build` puts it there, with its go.mod for the
 * version): used where the Go sources are not, so an installed hub needs no Go.
 */
export const PACKAGED_PROMQL_DIR = join(REPO_ROOT, 'dist', 'promql');

/** The directory holding go/promql's go.mod: the sources' in a checkout, else the packaged copy. */
export const promqlModuleDir = (): string =>
  existsSync(PROMQL_SOURCE_DIR) ? PROMQL_SOURCE_DIR : PACKAGED_PROMQL_DIR;

function packagedPromql(): PromqlArtifacts | undefined {
  if (existsSync(PROMQL_SOURCE_DIR)) return undefined;
  const a = artifactsIn(PACKAGED_PROMQL_DIR);
  if (existsSync(a.wasm) && existsSync(a.wasmExec)) return a;
  throw new MeridianError(
    'PromqlMissing',
    `the PromQL engine is neither built into this package (${PACKAGED_PROMQL_DIR}) nor buildable from sources (go/promql): reinstall a package made by \`npm run build\``,
  );
}

export interface PromqlArtifacts {
  readonly wasm: string;
  /** Go's JavaScript support for js/wasm programs, from the toolchain that built `wasm`. */
  readonly wasmExec: string;
}

function goEnv(): { version: string; root: string } {
  const res = spawnSync('go', ['env', 'GOVERSION', 'GOROOT'], { encoding: 'utf8' });
  if (res.error || res.status !== 0) {
    throw new MeridianError(
      'GoMissing',
      'the Go toolchain is needed to build the PromQL engine (go/promql) but `go` was not found on PATH; install Go 1.26 or newer',
    );
  }
  const [version = '', root = ''] = res.stdout.trim().split('\n');
  return { version, root };
}

function sourceDigest(goVersion: string): string {
  const h = createHash('sha256').update(goVersion);
  for (const f of readdirSync(PROMQL_SOURCE_DIR).sort()) {
    if (f.endsWith('.go') || f === 'go.mod' || f === 'go.sum') {
      h.update(f).update(readFileSync(join(PROMQL_SOURCE_DIR, f)));
    }
  }
  return h.digest('hex').slice(0, 16);
}

function artifactsIn(dir: string): PromqlArtifacts {
  return { wasm: join(dir, 'promql.wasm'), wasmExec: join(dir, 'wasm_exec.js') };
}

/** The built engine for the current sources, or undefined when it has not been built yet. */
export function cachedPromql(): PromqlArtifacts | undefined {
  const packaged = packagedPromql();
  if (packaged) return packaged;
  const a = artifactsIn(join(cacheRoot(), 'promql', sourceDigest(goEnv().version)));
  return existsSync(a.wasm) && existsSync(a.wasmExec) ? a : undefined;
}

/** Builds the engine unless the cache has it (about a minute on 2 cores, modules from the proxy). */
export async function ensurePromql(signal?: AbortSignal): Promise<PromqlArtifacts> {
  const packaged = packagedPromql();
  if (packaged) return packaged;
  const go = goEnv();
  const dir = join(cacheRoot(), 'promql', sourceDigest(go.version));
  const out = artifactsIn(dir);
  if (existsSync(out.wasm) && existsSync(out.wasmExec)) return out;
  mkdirSync(dir, { recursive: true });
  // Build beside the final path and rename, so a half-written module is never loaded.
  const tmp = join(dir, `.tmp-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  try {
    await goBuild(['build', '-trimpath', '-o', join(tmp, 'promql.wasm'), '.'], signal);
    const execJs = [
      join(go.root, 'lib', 'wasm', 'wasm_exec.js'),
      join(go.root, 'misc', 'wasm', 'wasm_exec.js'),
    ].find((p) => existsSync(p));
    if (!execJs) throw new MeridianError('BuildFailed', `wasm_exec.js not found under ${go.root}`);
    copyFileSync(execJs, join(tmp, 'wasm_exec.js'));
    renameSync(join(tmp, 'wasm_exec.js'), out.wasmExec);
    renameSync(join(tmp, 'promql.wasm'), out.wasm);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

function goBuild(args: readonly string[], signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, {
      cwd: PROMQL_SOURCE_DIR,
      env: { ...process.env, GOOS: 'js', GOARCH: 'wasm' },
      stdio: ['ignore', 'ignore', 'pipe'],
      signal,
    });
    let errTail = '';
    child.stderr.on('data', (d: Buffer) => (errTail = (errTail + d.toString()).slice(-4000)));
    child.on('error', (e) => reject(new MeridianError('BuildFailed', `go ${args.join(' ')}: ${e.message}`)));
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new MeridianError('BuildFailed', `go ${args.join(' ')} (go/promql) failed:\n${errTail}`)),
    );
  });
}
