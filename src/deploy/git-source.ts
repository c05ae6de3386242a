// Fetches a directory of a git repository at a ref with the git CLI: one bare mirror per URL in
// the cache (fetched to update), and one exported tree per commit (reused while it exists).
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, realpath, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { DeployError } from './deploy-types.ts';

export interface GitLocation {
  readonly url: string;
  /** Branch, tag or commit; the remote's HEAD when unset. */
  readonly ref?: string;
  /** Directory inside the repository; the root when unset. */
  readonly path?: string;
}

export type GitFetchResult =
  | {
      readonly ok: true;
      /** The requested directory (`path`) inside the exported tree. */
      readonly dir: string;
      /** The root of the exported tree. */
      readonly root: string;
      /** Full commit id the ref resolved to. */
      readonly commit: string;
    }
  | { readonly ok: false; readonly errors: DeployError[] };

export interface GitFetchOptions {
  readonly signal?: AbortSignal;
  /** The git binary (default `git` on PATH). */
  readonly gitPath?: string;
  /** Field prefix in errors (default spec.source.git). */
  readonly field?: string;
  /** Kills a git command after this long (default 5 minutes). */
  readonly timeoutMs?: number;
}

// Transports a user-supplied URL may use. Notably not `ext::`, which runs commands.
const ALLOWED_PROTOCOLS = 'file:git:http:https:ssh';

/** The URL with any password or token removed, for messages that end up in status. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}

function gitEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_ALLOW_PROTOCOL: ALLOWED_PROTOCOLS,
    // Never wait for a password prompt: the hub has no terminal.
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    SSH_ASKPASS: '',
  };
}

interface RunResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

function git(args: readonly string[], opts: GitFetchOptions & { cwd?: string }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      opts.gitPath ?? 'git',
      args,
      {
        env: gitEnv(),
        cwd: opts.cwd,
        signal: opts.signal,
        timeout: opts.timeoutMs ?? 300_000,
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (opts.signal?.aborted) reject(opts.signal.reason as Error);
        else resolve({ ok: !error, stdout, stderr: stderr || (error?.message ?? '') });
      },
    );
  });
}

function firstLines(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('hint:'));
  return (lines.slice(0, 2).join(' ') || 'git failed without a message').replace(/^fatal:\s*/, '');
}

// One clone/fetch per mirror at a time in this process.
const mirrorLocks = new Map<string, Promise<unknown>>();

async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = mirrorLocks.get(key) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(fn);
  mirrorLocks.set(key, next);
  try {
    return await next;
  } finally {
    if (mirrorLocks.get(key) === next) mirrorLocks.delete(key);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

const FULL_SHA = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

// Clones or updates the mirror and resolves the ref; an error names the field to fix.
async function resolveCommit(
  loc: GitLocation,
  mirror: string,
  opts: GitFetchOptions,
  field: string,
): Promise<{ commit: string } | { error: DeployError }> {
  const shown = redactUrl(loc.url);
  const ref = loc.ref ?? 'HEAD';
  const revParse = () =>
    git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { ...opts, cwd: mirror });
  if (!(await exists(mirror))) {
    const tmp = `${mirror}.tmp-${process.pid}-${Date.now()}`;
    const cloned = await git(['clone', '--mirror', '--quiet', '--', loc.url, tmp], opts);
    if (!cloned.ok) {
      await rm(tmp, { recursive: true, force: true });
      return {
        error: {
          code: 'GitFetchFailed',
          field: `${field}.url`,
          message: `cannot fetch ${shown}: ${firstLines(cloned.stderr)}`,
        },
      };
    }
    await rename(tmp, mirror);
  } else if (!(FULL_SHA.test(ref) && (await revParse()).ok)) {
    // A commit id we already have cannot change; anything else (branch, tag, HEAD) may have moved.
    const fetched = await git(['fetch', '--prune', '--quiet', 'origin'], { ...opts, cwd: mirror });
    if (!fetched.ok) {
      return {
        error: {
          code: 'GitFetchFailed',
          field: `${field}.url`,
          message: `cannot fetch ${shown}: ${firstLines(fetched.stderr)}`,
        },
      };
    }
  }
  const resolved = await revParse();
  if (!resolved.ok) {
    return {
      error: {
        code: 'GitRefNotFound',
        field: `${field}.ref`,
        message: `ref ${JSON.stringify(ref)} not found in ${shown} (not a branch, tag or commit)`,
      },
    };
  }
  return { commit: resolved.stdout.trim() };
}

// `git archive COMMIT | tar -x -C dir`, without a shell.
function exportTree(mirror: string, commit: string, dir: string, opts: GitFetchOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const archive = spawn(opts.gitPath ?? 'git', ['archive', '--format=tar', commit], {
      cwd: mirror,
      env: gitEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: opts.signal,
    });
    const tar = spawn('tar', ['-x', '-f', '-', '-C', dir], {
      stdio: ['pipe', 'ignore', 'pipe'],
      signal: opts.signal,
    });
    let stderr = '';
    archive.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    archive.stdout.pipe(tar.stdin);
    archive.on('error', reject);
    tar.on('error', reject);
    // Either process may close first: decide only when both have.
    const closed = (p: typeof archive | typeof tar): Promise<number | null> =>
      new Promise((r) => p.on('close', (code: number | null) => r(code)));
    void Promise.all([closed(archive), closed(tar)]).then(([archiveCode, tarCode]) => {
      if (archiveCode === 0 && tarCode === 0) resolve();
      else
        reject(
          new Error(
            `exporting ${commit}: ${firstLines(stderr) || `git archive exited ${archiveCode}, tar exited ${tarCode}`}`,
          ),
        );
    });
  });
}

/**
 * Makes `loc` available on disk: returns the directory at `loc.path` of the commit `loc.ref`
 * resolves to. Works with any URL git accepts (https, ssh, file://, local paths). Errors name the
 * field to fix: `.url` when the repository cannot be fetched, `.ref` when the ref does not exist,
 * `.path` when the directory does not exist at that commit.
 */
export async function fetchGit(
  loc: GitLocation,
  cacheDir: string,
  opts: GitFetchOptions = {},
): Promise<GitFetchResult> {
  const field = opts.field ?? 'spec.source.git';
  opts.signal?.throwIfAborted();
  // Values starting with "-" would be read as git options.
  if (loc.url.startsWith('-')) {
    return {
      ok: false,
      errors: [{ code: 'GitFetchFailed', field: `${field}.url`, message: 'a git URL cannot start with "-"' }],
    };
  }
  if (loc.ref?.startsWith('-')) {
    return {
      ok: false,
      errors: [{ code: 'GitRefNotFound', field: `${field}.ref`, message: 'a git ref cannot start with "-"' }],
    };
  }
  const subdir = normalize(loc.path ?? '.');
  if (isAbsolute(subdir) || subdir === '..' || subdir.startsWith(`..${sep}`)) {
    return {
      ok: false,
      errors: [
        {
          code: 'GitPathNotFound',
          field: `${field}.path`,
          message: `path ${JSON.stringify(loc.path)} must be relative and stay inside the repository`,
        },
      ],
    };
  }

  const mirrors = join(cacheDir, 'git', 'mirrors');
  const trees = join(cacheDir, 'git', 'trees');
  await mkdir(mirrors, { recursive: true });
  await mkdir(trees, { recursive: true });
  const mirror = join(mirrors, `${createHash('sha256').update(loc.url).digest('hex').slice(0, 24)}.git`);

  return withLock(mirror, async (): Promise<GitFetchResult> => {
    const resolved = await resolveCommit(loc, mirror, opts, field);
    if ('error' in resolved) return { ok: false, errors: [resolved.error] };
    const { commit } = resolved;
    // A commit's tree never changes, so an exported tree is reused; it is moved into place whole,
    // so a half-written tree is never seen.
    const root = join(trees, commit);
    if (!(await exists(root))) {
      const tmp = await mkdtemp(join(trees, `.${commit}-`));
      try {
        await exportTree(mirror, commit, tmp, opts);
        await rename(tmp, root);
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        if (!(await exists(root))) throw e;
      }
    }
    const dir = join(root, subdir);
    const st = await stat(dir).catch(() => undefined);
    // A symbolic link in the repository must not lead the renderer out of the tree.
    const real = st ? await realpath(dir) : '';
    const inside = real === (await realpath(root)) || real.startsWith((await realpath(root)) + sep);
    if (!st?.isDirectory() || !inside) {
      return {
        ok: false,
        errors: [
          {
            code: 'GitPathNotFound',
            field: `${field}.path`,
            message: `path ${JSON.stringify(loc.path)} is not a directory at commit ${commit.slice(0, 12)} of ${redactUrl(loc.url)}`,
          },
        ],
      };
    }
    return { ok: true, dir, root, commit };
  });
}
