// The registry of local images: which container images the pod runtime runs as real processes,
// and how. Declared in local-images.yaml beside this file, extended by the fleet home's own file.
// Parsing and lookup are pure; only `loadLocalImages` reads files.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { MeridianError } from '../../kube/errors.ts';
import { REPO_ROOT } from '../../toolchain/binaries.ts';

/** Every local image lives under this registry name, so kwok's Stages can leave its pods alone. */
export const LOCAL_REGISTRY = 'meridian.local/';

export const BUILTIN_IMAGE_FILE = fileURLToPath(new URL('./local-images.yaml', import.meta.url));
/** The user's own local images, next to (not inside) the fleet directory: `fleet down` keeps it. */
export const userImageFile = (home: string): string => join(home, 'local-images.yaml');

export type Builtin = 'postgres';

export interface LocalImage {
  /** The key it was declared under, e.g. `meridian.local/app1` or `meridian.local/app1:1`. */
  readonly ref: string;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** Absolute working directory. */
  readonly workingDir: string;
  readonly builtin?: Builtin;
  readonly stopSignal: NodeJS.Signals;
  /** Extra environment the image sets (like ENV in a Dockerfile); the pod's env wins. */
  readonly env: Readonly<Record<string, string>>;
}

export type LocalImages = ReadonlyMap<string, LocalImage>;

const SIGNALS = new Set(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2']);

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Splits `name[:tag][@digest]` into name and tag (`latest` when absent, as Kubernetes does). */
export function splitImage(image: string): { name: string; tag: string } {
  const noDigest = image.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  if (colon > slash) return { name: noDigest.slice(0, colon), tag: noDigest.slice(colon + 1) };
  return { name: noDigest, tag: 'latest' };
}

/** Validates one file's `images` map; `source` names the file in errors. */
export function parseLocalImages(
  text: string,
  source: string,
  repoRoot = REPO_ROOT,
): Map<string, LocalImage> {
  const fail = (field: string, why: string): never => {
    throw new MeridianError('InvalidLocalImages', `${source}: ${field}: ${why}`, 2);
  };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return fail('(file)', `not YAML (${(e as Error).message})`);
  }
  const out = new Map<string, LocalImage>();
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) return fail('(file)', 'must be a map with `images`');
  const images = (doc as { images?: unknown }).images;
  if (images === undefined || images === null) return out;
  if (typeof images !== 'object' || Array.isArray(images)) return fail('images', 'must be a map');
  for (const [ref, raw] of Object.entries(images as Record<string, unknown>)) {
    const at = `images["${ref}"]`;
    if (!ref.startsWith(LOCAL_REGISTRY) || ref.length === LOCAL_REGISTRY.length)
      fail(at, `local image names must start with ${LOCAL_REGISTRY}`);
    if (ref.includes('@')) fail(at, 'name a tag, not a digest');
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(at, 'must be a map');
    const e = raw as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (!['entrypoint', 'cmd', 'workingDir', 'builtin', 'stopSignal', 'env'].includes(k))
        fail(`${at}.${k}`, 'unknown field');
    }
    if (e['entrypoint'] !== undefined && !isStringList(e['entrypoint']))
      fail(`${at}.entrypoint`, 'must be a list of strings');
    if (e['cmd'] !== undefined && !isStringList(e['cmd'])) fail(`${at}.cmd`, 'must be a list of strings');
    if (e['builtin'] !== undefined && e['builtin'] !== 'postgres')
      fail(`${at}.builtin`, 'the only builtin is "postgres"');
    const entrypoint = (e['entrypoint'] as string[] | undefined) ?? [];
    if (entrypoint.length === 0 && e['builtin'] === undefined)
      fail(`${at}.entrypoint`, 'required (the program to run)');
    if (e['workingDir'] !== undefined && typeof e['workingDir'] !== 'string')
      fail(`${at}.workingDir`, 'must be a path relative to the repository');
    const wd = (e['workingDir'] as string | undefined) ?? '.';
    if (wd.startsWith('/') || wd.split('/').includes('..'))
      fail(`${at}.workingDir`, 'must be relative to the repository, without ".."');
    const stop = e['stopSignal'] ?? 'SIGTERM';
    if (typeof stop !== 'string' || !SIGNALS.has(stop))
      fail(`${at}.stopSignal`, `one of ${[...SIGNALS].join(', ')}`);
    const env = e['env'] ?? {};
    if (
      typeof env !== 'object' ||
      env === null ||
      Array.isArray(env) ||
      !Object.values(env).every((v) => typeof v === 'string')
    )
      fail(`${at}.env`, 'must be a map of strings');
    out.set(ref, {
      ref,
      entrypoint,
      cmd: (e['cmd'] as string[] | undefined) ?? [],
      workingDir: join(repoRoot, wd),
      builtin: e['builtin'] as Builtin | undefined,
      stopSignal: stop as NodeJS.Signals,
      env: env as Record<string, string>,
    });
  }
  return out;
}

/** The built-in registry, then the user's file (its entries replace same-named ones). */
export function loadLocalImages(home: string): LocalImages {
  const merged = parseLocalImages(readFileSync(BUILTIN_IMAGE_FILE, 'utf8'), BUILTIN_IMAGE_FILE);
  const user = userImageFile(home);
  if (existsSync(user)) {
    for (const [k, v] of parseLocalImages(readFileSync(user, 'utf8'), user)) merged.set(k, v);
  }
  return merged;
}

/** The local image a container image runs as: `name:tag` exactly, else the untagged `name`. */
export function resolveLocalImage(images: LocalImages, image: string): LocalImage | undefined {
  if (!image.startsWith(LOCAL_REGISTRY)) return undefined;
  const { name, tag } = splitImage(image);
  return images.get(`${name}:${tag}`) ?? images.get(name);
}

/**
 * The argv a container runs, as a container runtime builds it from the image and the pod:
 * `command` replaces the entrypoint and drops cmd; `args` replace cmd.
 */
export function containerArgv(
  img: Pick<LocalImage, 'entrypoint' | 'cmd'>,
  command: readonly string[] | undefined,
  args: readonly string[] | undefined,
): string[] {
  if (command && command.length > 0) return [...command, ...(args ?? [])];
  return [...img.entrypoint, ...(args && args.length > 0 ? args : img.cmd)];
}
