// Plain YAML manifests, inline or from a directory, into Kubernetes objects.
import { lstat, readdir, readFile, realpath } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { KubeManifest } from '../api/common.ts';
import type { KubeObject } from '../kube/cluster-client.ts';
import { parseKubeYaml } from './manifest-yaml.ts';
import { isJsonMap } from './merge.ts';
import type { DeployError } from './deploy-types.ts';

/** Rendered objects, or every problem found. */
export type ObjectsResult =
  | { readonly ok: true; readonly objects: KubeObject[] }
  | { readonly ok: false; readonly errors: DeployError[] };

/** Where a YAML stream came from, for error messages. */
export interface StreamOrigin {
  /** Human name of the stream, e.g. `deploy/web.yaml` or `helm template output`. */
  readonly name: string;
  /** The Application field the stream comes from, e.g. spec.source.git.path. */
  readonly field?: string;
}

// Why `value` cannot be applied, or undefined when it can.
function identityProblem(value: unknown): string | undefined {
  if (!isJsonMap(value)) return 'is not a YAML mapping';
  if (typeof value['apiVersion'] !== 'string' || value['apiVersion'] === '') return 'apiVersion is required';
  if (typeof value['kind'] !== 'string' || value['kind'] === '') return 'kind is required';
  const metadata = value['metadata'];
  if (!isJsonMap(metadata) || typeof metadata['name'] !== 'string' || metadata['name'] === '') {
    return 'metadata.name is required';
  }
  return undefined;
}

function describeDoc(value: unknown): string {
  if (!isJsonMap(value)) return '';
  const kind = typeof value['kind'] === 'string' ? value['kind'] : '';
  return kind ? ` (${kind})` : '';
}

// A `kind: List` (what `kubectl get -o yaml` prints) stands for its items.
function expandList(value: Record<string, unknown>): unknown[] {
  if (value['kind'] === 'List' && value['apiVersion'] === 'v1' && Array.isArray(value['items'])) {
    return value['items'];
  }
  return [value];
}

/**
 * Parses a multi-document YAML stream with kubectl's YAML 1.1 scalars (parseKubeYaml). Empty documents are skipped; a document that does not parse
 * or is not an object with apiVersion, kind and metadata.name is an error naming the stream and the
 * document's index (0-based, counting every `---` document) and line.
 */
export function parseManifestStream(text: string, origin: StreamOrigin): ObjectsResult {
  const objects: KubeObject[] = [];
  const errors: DeployError[] = [];
  const fail = (where: string, message: string) =>
    errors.push({
      code: 'InvalidManifest',
      ...(origin.field ? { field: origin.field } : {}),
      message: `${origin.name}: ${where}: ${message}`,
    });
  parseKubeYaml(text).forEach((doc, index) => {
    // Only computed for errors: counting lines for every document of a big stream is quadratic.
    const whereOf = () => {
      const line = doc.contents?.range ? lineOf(text, doc.contents.range[0]) : undefined;
      // helm template heads each document with "# Source: chart/templates/file.yaml".
      const source = /Source: (\S+)/.exec(
        `${doc.commentBefore ?? ''} ${doc.contents?.commentBefore ?? ''}`,
      )?.[1];
      return `document ${index}${line ? ` (line ${line})` : ''}${source ? ` from ${source}` : ''}`;
    };
    if (doc.errors.length > 0) {
      const first = doc.errors[0]!;
      // With prettyErrors the first line reads "<reason> at line L, column C:".
      fail(whereOf(), `invalid YAML: ${(first.message.split('\n')[0] ?? '').replace(/:$/, '')}`);
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 1000 });
    if (value === null || value === undefined) return;
    const items = isJsonMap(value) ? expandList(value) : [value];
    items.forEach((item, i) => {
      const problem = identityProblem(item);
      if (problem) {
        const where = item === value ? whereOf() : `${whereOf()}, items[${i}]`;
        fail(`${where}${describeDoc(item)}`, problem);
      } else objects.push(item as KubeObject);
    });
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, objects };
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Inline `spec.source.manifests`: each must name itself (metadata.name). Returns copies. */
export function inlineManifests(manifests: readonly KubeManifest[]): ObjectsResult {
  const errors: DeployError[] = [];
  const objects: KubeObject[] = [];
  manifests.forEach((manifest, i) => {
    const problem = identityProblem(manifest);
    if (problem) {
      errors.push({
        code: 'InvalidManifest',
        field: `spec.source.manifests[${i}]`,
        message: `spec.source.manifests[${i}]${describeDoc(manifest)}: ${problem}`,
      });
    } else {
      objects.push(structuredClone(manifest) as KubeObject);
    }
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, objects };
}

export interface ManifestDirOptions {
  /** Include subdirectories (depth-first, sorted by name). */
  readonly recurse?: boolean;
  /** File names in errors are relative to this directory (default: `dir`). */
  readonly displayRoot?: string;
  /** Application field named in errors, e.g. spec.source.git.path. */
  readonly field?: string;
}

const YAML_FILE = /\.ya?ml$/i;

/**
 * Reads every `*.yaml`/`*.yml` file of `dir` in name order (subdirectories too with `recurse`).
 * Symbolic links that lead outside `displayRoot` are refused: a repository must not be able to
 * make the hub read its own files.
 */
export async function readManifestDir(dir: string, options: ManifestDirOptions = {}): Promise<ObjectsResult> {
  const root = await realpath(options.displayRoot ?? dir);
  const objects: KubeObject[] = [];
  const errors: DeployError[] = [];
  const field = options.field ? { field: options.field } : {};

  const visit = async (current: string): Promise<void> => {
    const entries = (await readdir(current, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const entry of entries) {
      const path = join(current, entry.name);
      const shown = relative(root, path) || entry.name;
      let real: string;
      try {
        real = await realpath(path);
      } catch {
        continue; // dangling symbolic link
      }
      if (real !== root && !real.startsWith(root + sep)) {
        errors.push({
          code: 'InvalidManifest',
          ...field,
          message: `${shown}: links outside the source directory`,
        });
        continue;
      }
      const stat = await lstat(real);
      if (stat.isDirectory()) {
        if (options.recurse && !entry.name.startsWith('.')) await visit(path);
        continue;
      }
      if (!stat.isFile() || !YAML_FILE.test(entry.name)) continue;
      const result = parseManifestStream(await readFile(real, 'utf8'), { name: shown, ...field });
      if (result.ok) objects.push(...result.objects);
      else errors.push(...result.errors);
    }
  };
  await visit(dir);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, objects };
}
