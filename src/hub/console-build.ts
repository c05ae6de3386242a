// Builds the web console (console/, React + Vite) into the same cache as the fleet's binaries and
// the PromQL engine. The cache key hashes the console's sources and the lockfile, so a changed
// console is rebuilt and nothing built is committed.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MeridianError, errorMessage } from '../kube/errors.ts';
import { REPO_ROOT, cacheRoot } from '../toolchain/binaries.ts';

export const CONSOLE_SOURCE_DIR = join(REPO_ROOT, 'console');
/** The console inside an installed package (`npm run build` puts it there): served where its sources are not. */
export const PACKAGED_CONSOLE_DIR = join(REPO_ROOT, 'dist', 'console');

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else if (!name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function sourceDigest(): string {
  const h = createHash('sha256');
  const inputs = [
    ...files(join(CONSOLE_SOURCE_DIR, 'src')),
    join(CONSOLE_SOURCE_DIR, 'index.html'),
    join(CONSOLE_SOURCE_DIR, 'vite.config.ts'),
    // The pinned React/Vite versions. The API types the console imports from src/ are erased
    // from the bundle, so they cannot change it.
    join(REPO_ROOT, 'package-lock.json'),
  ];
  for (const f of inputs) h.update(f.slice(REPO_ROOT.length)).update(readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

const consoleDir = (): string => join(cacheRoot(), 'console', sourceDigest());

/** The built console for the current sources, or undefined when it has not been built. */
export function cachedConsole(): string | undefined {
  if (!existsSync(CONSOLE_SOURCE_DIR)) {
    return existsSync(join(PACKAGED_CONSOLE_DIR, 'index.html')) ? PACKAGED_CONSOLE_DIR : undefined;
  }
  const dir = consoleDir();
  return existsSync(join(dir, 'index.html')) ? dir : undefined;
}

/** Builds the console unless the cache has it (a few seconds); returns the directory to serve. */
export async function ensureConsole(): Promise<string> {
  const dir = consoleDir();
  if (existsSync(join(dir, 'index.html'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(join(dir, '..'), { recursive: true });
  try {
    // Vite is a build-time dependency: loaded only when a build is needed.
    const { build } = await import('vite');
    await build({ configFile: join(CONSOLE_SOURCE_DIR, 'vite.config.ts'), build: { outDir: tmp } });
    // Built beside the final path and renamed, so the hub never serves a half-written console.
    renameSync(tmp, dir);
  } catch (e) {
    throw new MeridianError('BuildFailed', `building the web console (console/) failed: ${errorMessage(e)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
