// Builds the real Kubernetes binaries (the local fleet's control planes, and the helm and kubectl
// the hub renders with) from the Go module proxy, once, into a cache outside the repository. The pins live in tools/kube-binaries/*/go.mod (etcd, Kubernetes)
// and in GO_INSTALLS below (kwok, helm); the cache key is a hash of those pins and the Go version,
// so changing a pin (and nothing else) triggers a rebuild.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MeridianError } from '../kube/errors.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOOLS_DIR = join(REPO_ROOT, 'tools', 'kube-binaries');

/** Commands installed with `go install module/cmd@version` (their go.mod needs no replaces). */
export const GO_INSTALLS = [
  { name: 'kwok', pkg: 'sigs.k8s.io/kwok/cmd/kwok', version: 'v0.8.0' },
  { name: 'helm', pkg: 'helm.sh/helm/v3/cmd/helm', version: 'v3.19.5' },
] as const;

/** The Kubernetes version pinned in the wrapper module's go.mod. */
export function kubernetesVersion(): string {
  const mod = readFileSync(join(TOOLS_DIR, 'kubernetes', 'go.mod'), 'utf8');
  const m = /k8s\.io\/kubernetes (v\d+\.\d+\.\d+)/.exec(mod);
  if (!m)
    throw new MeridianError(
      'BuildFailed',
      'tools/kube-binaries/kubernetes/go.mod does not pin k8s.io/kubernetes',
    );
  return m[1]!;
}

/**
 * Linker flags that stamp the version into the binaries, as the Kubernetes release build does;
 * without them /version says v0.0.0-master and clients (helm --kube-version) cannot trust it.
 */
function kubeLdflags(): string {
  const v = kubernetesVersion();
  const [, major, minor] = /^v(\d+)\.(\d+)/.exec(v)!;
  const vars = { gitVersion: v, gitMajor: major!, gitMinor: minor!, gitTreeState: 'clean' };
  return Object.entries(vars)
    .flatMap(([k, val]) => [
      `-X k8s.io/component-base/version.${k}=${val}`,
      `-X k8s.io/client-go/pkg/version.${k}=${val}`,
    ])
    .join(' ');
}

/** Bump when the way binaries are built changes (flags), so caches rebuild. */
const BUILD_RECIPE = 'r2';

/** Commands built inside a wrapper module of ours (etcd's main, Kubernetes with its staging pins). */
const WRAPPED_BUILDS = [
  { names: ['etcd'], dir: 'etcd', pkgs: ['.'], ldflags: false },
  {
    names: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'],
    dir: 'kubernetes',
    pkgs: [
      'k8s.io/kubernetes/cmd/kube-apiserver',
      'k8s.io/kubernetes/cmd/kube-controller-manager',
      'k8s.io/kubernetes/cmd/kube-scheduler',
      'k8s.io/kubernetes/cmd/kubectl',
    ],
    ldflags: true,
  },
] as const;

export const ALL_BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kwok',
  'helm',
] as const;
export type BinaryName = (typeof ALL_BINARIES)[number];

export function cacheRoot(): string {
  const explicit = process.env['MERIDIAN_CACHE_DIR'];
  if (explicit) return explicit;
  const xdg = process.env['XDG_CACHE_HOME'];
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'meridian');
}

let goVersionMemo: string | undefined;

function goVersion(): string {
  // Asked once per process: renders look the binaries up on every Application change.
  if (goVersionMemo) return goVersionMemo;
  const res = spawnSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' });
  if (res.error || res.status !== 0) {
    throw new MeridianError(
      'GoMissing',
      'the Go toolchain is needed to build the local fleet (etcd, kube-apiserver, kwok…) but `go` was not found on PATH; install Go 1.25 or newer',
    );
  }
  goVersionMemo = res.stdout.trim();
  return goVersionMemo;
}

/** The cache key: every pin that goes into the binaries, plus the toolchain that builds them. */
export function pinsDigest(go: string): string {
  const h = createHash('sha256');
  h.update(go + BUILD_RECIPE);
  for (const b of WRAPPED_BUILDS) {
    for (const f of ['go.mod', 'go.sum']) h.update(readFileSync(join(TOOLS_DIR, b.dir, f)));
  }
  for (const g of GO_INSTALLS) h.update(`${g.pkg}@${g.version}`);
  return h.digest('hex').slice(0, 16);
}

export interface BinaryPaths {
  readonly dir: string;
  path(name: BinaryName): string;
}

function pathsFor(dir: string): BinaryPaths {
  return { dir, path: (name) => join(dir, name) };
}

let cachedMemo: BinaryPaths | undefined;

/**
 * The binaries if they are already built for the current pins, else undefined. A found set is
 * remembered for the process: renders ask on every Application change, and pins do not change
 * under a running process.
 */
export function cachedBinaries(): BinaryPaths | undefined {
  if (cachedMemo) return cachedMemo;
  const dir = join(cacheRoot(), 'bin', pinsDigest(goVersion()));
  if (!ALL_BINARIES.every((b) => existsSync(join(dir, b)))) return undefined;
  cachedMemo = pathsFor(dir);
  return cachedMemo;
}

export type BuildProgress = (event: { step: string; done: number; total: number; detail?: string }) => void;

/**
 * Builds every missing binary for the current pins. `go build -v` prints one line per compiled
 * package; counting them against `go list -deps` gives honest progress on a 10-minute build.
 */
export async function ensureBinaries(onProgress: BuildProgress, signal?: AbortSignal): Promise<BinaryPaths> {
  const go = goVersion();
  const dir = join(cacheRoot(), 'bin', pinsDigest(go));
  mkdirSync(dir, { recursive: true });
  const steps = [
    ...WRAPPED_BUILDS.map((b) => ({
      names: b.names as readonly BinaryName[],
      cwd: join(TOOLS_DIR, b.dir),
      listArgs: ['list', '-deps', ...b.pkgs],
      buildArgs: (out: string) => [
        'build',
        '-v',
        '-trimpath',
        ...(b.ldflags ? ['-ldflags', kubeLdflags()] : []),
        '-o',
        out + '/',
        ...b.pkgs,
      ],
    })),
    ...GO_INSTALLS.map((g) => ({
      names: [g.name] as readonly BinaryName[],
      cwd: dir,
      listArgs: undefined,
      buildArgs: (_out: string) => ['install', '-v', '-trimpath', `${g.pkg}@${g.version}`],
    })),
  ];
  for (const s of steps) {
    if (s.names.every((n) => existsSync(join(dir, n)))) continue;
    const label = s.names.join(', ');
    onProgress({ step: `resolving modules for ${label}`, done: 0, total: 0 });
    let total = 0;
    if (s.listArgs) {
      const listed = await run('go', s.listArgs, s.cwd, signal);
      total = listed.split('\n').filter((l) => l.trim() !== '').length;
    }
    let done = 0;
    // Build into a temp dir (GOBIN for go install, -o for go build) and move the result, so a
    // half-built binary never sits at the cached path.
    const tmpBin = join(dir, `.tmp-${process.pid}`);
    mkdirSync(tmpBin, { recursive: true });
    await run('go', s.buildArgs(tmpBin), s.cwd, signal, { GOBIN: tmpBin }, (line) => {
      if (line.startsWith('go: downloading')) {
        onProgress({ step: `downloading modules for ${label}`, done, total, detail: line.slice(16) });
        return;
      }
      done++;
      onProgress({ step: `building ${label}`, done: Math.min(done, total || done), total, detail: line });
    });
    for (const n of s.names) {
      const built = join(tmpBin, n);
      if (existsSync(built)) renameSync(built, join(dir, n));
    }
    rmSync(tmpBin, { recursive: true, force: true });
    for (const n of s.names) {
      if (!existsSync(join(dir, n)))
        throw new MeridianError('BuildFailed', `go build finished but ${n} is missing`);
    }
  }
  writeFileSync(join(dir, 'PINS'), `${go}\n${GO_INSTALLS.map((g) => `${g.pkg}@${g.version}`).join('\n')}\n`);
  return pathsFor(dir);
}

function run(
  cmd: string,
  args: readonly string[],
  cwd: string,
  signal: AbortSignal | undefined,
  env: Record<string, string> = {},
  onLine?: (line: string) => void,
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
    });
    let out = '';
    let errTail = '';
    let partial = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = partial + d.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        errTail = (errTail + l + '\n').slice(-4000);
        onLine?.(l);
      }
    });
    child.on('error', (e) =>
      reject(new MeridianError('BuildFailed', `${cmd} ${args.join(' ')}: ${e.message}`)),
    );
    child.on('close', (code) => {
      if (code === 0) resolvePromise(out);
      else
        reject(
          new MeridianError(
            'BuildFailed',
            `\`${cmd} ${args.join(' ')}\` (in ${cwd}) failed with exit code ${code}:\n${(errTail + partial).trim()}`,
          ),
        );
    });
  });
}

/** The helm and kubectl the hub renders Applications with; throws until they are built. */
export function renderTools(): { helm: string; kubectl: string } {
  const bins = cachedBinaries();
  if (!bins)
    throw new MeridianError('ToolsMissing', 'helm and kubectl are not built yet; run `meridian fleet build`');
  return { helm: bins.path('helm'), kubectl: bins.path('kubectl') };
}
