// The render pipeline: an Application and its target clusters in, the exact objects to apply in
// each cluster out (or every error, naming cluster, object and field). Rendering fetches the
// source once and renders per cluster only what differs per cluster (Helm values and
// capabilities); overrides, image rewrites and ownership are applied per cluster.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Application } from '../api/application.ts';
import { sourceType } from '../api/application.ts';
import type { KubeObject } from '../kube/cluster-client.ts';
import { errorMessage } from '../kube/errors.ts';
import { fetchGit } from './git-source.ts';
import type { JsonMap } from './merge.ts';
import { applyOverrides, clusterValues, overridesFor } from './overrides.ts';
import { digestObjects, stampOwnership, stampRevision } from './ownership.ts';
import { placeBuiltinValues } from './helm-builtin-values.ts';
import type { BuiltinOptions } from './helm-builtin-values.ts';
import { pullChart, readValuesSchema, renderHelm } from './render-helm.ts';
import type { HelmChartRef } from './render-helm.ts';
import { renderKustomize } from './render-kustomize.ts';
import { inlineManifests, readManifestDir } from './render-manifests.ts';
import type { ObjectsResult } from './render-manifests.ts';
import type { DeployError, RenderedCluster, RenderOutcome } from './deploy-types.ts';
import type { TargetCluster } from '../fleet/targets.ts';

/** Paths of the tools rendering runs. */
export interface RenderTools {
  readonly helm: string;
  readonly kubectl: string;
  /** Default: `git` on PATH. */
  readonly git?: string;
}

export interface RenderEnv {
  /** Revision number stamped on every object (`meridian.dev/revision`); not part of any digest. */
  readonly revision: number;
  /** Whether `cluster` serves this kind as namespaced; undefined when it does not serve it. */
  isNamespaced(cluster: string, apiVersion: string, kind: string): boolean | undefined;
  /** Git mirrors, exported trees and Helm's caches live here. */
  readonly cacheDir: string;
  readonly signal?: AbortSignal;
  /**
   * Directory that local `spec.source.kustomize.path` and local Helm chart paths resolve in (and
   * may not leave). Unset: local paths are refused, so an Application cannot make the hub read
   * its own files; git, Helm repository, OCI and remote kustomize sources still work.
   */
  readonly localRoot?: string;
  /**
   * The helm and kubectl to render with, or how to find them when a render needs them (the hub
   * passes the toolchain's lookup, which fails until `meridian fleet build` has run).
   */
  readonly tools?: RenderTools | (() => RenderTools);
  /** Clusters rendered at once (Helm runs once per cluster). Default 4. */
  readonly concurrency?: number;
}

// What the source yields before any per-cluster work: objects shared by every cluster, or a chart
// to template per cluster.
type PreparedSource =
  | { readonly kind: 'objects'; readonly objects: readonly KubeObject[] }
  | {
      readonly kind: 'helm';
      readonly chart: HelmChartRef;
      readonly chartField: string;
      readonly versionField?: string;
      readonly releaseName: string;
      readonly values: JsonMap | undefined;
      readonly builtin: BuiltinOptions;
      /** Where placeBuiltinValues put the built-in values (set once the chart is at hand). */
      readonly builtinAt?: readonly string[] | null;
    };

type Prepared =
  | { readonly ok: true; readonly source: PreparedSource; readonly commit?: string }
  | { readonly ok: false; readonly errors: DeployError[] };

function resolveTools(env: RenderEnv): RenderTools | DeployError {
  if (!env.tools) return { code: 'ToolsMissing', message: 'no helm and kubectl were given to render with' };
  if (typeof env.tools !== 'function') return env.tools;
  try {
    return env.tools();
  } catch (e) {
    return { code: 'ToolsMissing', message: `helm and kubectl are not available: ${errorMessage(e)}` };
  }
}

// A local path inside env.localRoot, or an error naming `field`.
function localPath(path: string, field: string, env: RenderEnv): string | DeployError {
  if (!env.localRoot) {
    return {
      code: 'LocalPathNotAllowed',
      field,
      message: `local path ${JSON.stringify(path)} cannot be used here; use a git source, a chart repository (repoURL) or an oci:// chart`,
    };
  }
  const full = resolve(env.localRoot, path);
  const rel = relative(env.localRoot, full);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    return {
      code: 'LocalPathNotAllowed',
      field,
      message: `path ${JSON.stringify(path)} leaves the local source directory`,
    };
  }
  return full;
}

const isError = (v: unknown): v is DeployError =>
  typeof v === 'object' && v !== null && 'code' in v && 'message' in v;

const fromObjects = (result: ObjectsResult): Prepared =>
  result.ok ? { ok: true, source: { kind: 'objects', objects: result.objects } } : result;

// Kustomize itself fetches remote targets (https://…, github.com/…); they are not local paths.
const REMOTE_KUSTOMIZE = /^([a-z][a-z0-9+.-]*:\/\/|github\.com\/|gitlab\.com\/|git@)/i;

async function prepareSource(
  app: Application,
  env: RenderEnv,
  tools: () => RenderTools | DeployError,
): Promise<Prepared> {
  const { source } = app.spec;
  const releaseName = app.metadata.name;
  const type = sourceType(source);
  switch (type) {
    case 'manifests': {
      if (!('manifests' in source)) break;
      return fromObjects(inlineManifests(source.manifests));
    }
    case 'kustomize': {
      if (!('kustomize' in source)) break;
      const t = tools();
      if (isError(t)) return { ok: false, errors: [t] };
      const field = 'spec.source.kustomize.path';
      const dir = REMOTE_KUSTOMIZE.test(source.kustomize.path)
        ? source.kustomize.path
        : localPath(source.kustomize.path, field, env);
      if (isError(dir)) return { ok: false, errors: [dir] };
      return fromObjects(await renderKustomize({ kubectlPath: t.kubectl, dir, field, ...signalOf(env) }));
    }
    case 'helm': {
      if (!('helm' in source)) break;
      const { chart, repoURL, version, values } = source.helm;
      const chartField = 'spec.source.helm.chart';
      let chartRef = chart;
      if (!repoURL && !chart.startsWith('oci://')) {
        const path = localPath(chart, chartField, env);
        if (isError(path)) return { ok: false, errors: [path] };
        chartRef = path;
      }
      return {
        ok: true,
        source: {
          kind: 'helm',
          chart: { chart: chartRef, ...(repoURL ? { repoURL } : {}), ...(version ? { version } : {}) },
          chartField,
          versionField: 'spec.source.helm.version',
          releaseName: source.helm.releaseName ?? releaseName,
          values,
          builtin: builtinOptions(source.helm),
        },
      };
    }
    case 'git': {
      if (!('git' in source)) break;
      const spec = source.git;
      const t = 'manifests' in spec ? undefined : tools();
      if (isError(t)) return { ok: false, errors: [t] };
      // A git path may come with the tools even when this source needs neither helm nor kubectl.
      const git = t ? t.git : typeof env.tools === 'object' ? env.tools.git : undefined;
      const fetched = await fetchGit(
        { url: spec.url, ...(spec.ref ? { ref: spec.ref } : {}), ...(spec.path ? { path: spec.path } : {}) },
        env.cacheDir,
        { ...signalOf(env), ...(git ? { gitPath: git } : {}) },
      );
      if (!fetched.ok) return fetched;
      const commit = { commit: fetched.commit };
      const field = 'spec.source.git.path';
      if ('manifests' in spec) {
        const read = await readManifestDir(fetched.dir, {
          recurse: spec.manifests.recurse ?? false,
          displayRoot: fetched.root,
          field,
        });
        return read.ok ? { ...fromObjects(read), ...commit } : read;
      }
      if (!t) break;
      if ('kustomize' in spec) {
        const built = await renderKustomize({
          kubectlPath: t.kubectl,
          dir: fetched.dir,
          field,
          ...signalOf(env),
        });
        return built.ok ? { ...fromObjects(built), ...commit } : built;
      }
      return {
        ok: true,
        ...commit,
        source: {
          kind: 'helm',
          chart: { chart: fetched.dir },
          chartField: field,
          releaseName: spec.helm.releaseName ?? releaseName,
          values: spec.helm.values,
          builtin: builtinOptions(spec.helm),
        },
      };
    }
    default: {
      const unreachable: never = type;
      throw new Error(`unknown source type ${String(unreachable)}`);
    }
  }
  throw new Error(`source does not match its type ${type}`);
}

function builtinOptions(helm: { meridianValues?: boolean; meridianValuesKey?: string }): BuiltinOptions {
  return {
    ...(helm.meridianValues !== undefined ? { enabled: helm.meridianValues } : {}),
    ...(helm.meridianValuesKey !== undefined ? { key: helm.meridianValuesKey } : {}),
  };
}

const isLocalChart = (chart: HelmChartRef): boolean => !chart.repoURL && !chart.chart.startsWith('oci://');

/**
 * Brings a Helm source's chart to a local directory (a repository or OCI chart is pulled once,
 * into `scratch`) and decides from its values.schema.json where the built-in values go.
 */
async function chartAtHand(
  source: Extract<PreparedSource, { kind: 'helm' }>,
  scratch: string,
  env: RenderEnv,
  tools: () => RenderTools | DeployError,
): Promise<{ ok: true; source: PreparedSource; notices: string[] } | { ok: false; errors: DeployError[] }> {
  let dir = source.chart.chart;
  if (!isLocalChart(source.chart)) {
    const t = tools();
    if (isError(t)) return { ok: false, errors: [t] };
    const pulled = await pullChart({
      ...source.chart,
      helmPath: t.helm,
      helmHome: `${env.cacheDir}/helm`,
      into: scratch,
      chartField: source.chartField,
      ...(source.versionField ? { versionField: source.versionField } : {}),
      ...signalOf(env),
    });
    if (!pulled.ok) return pulled;
    dir = pulled.dir;
  }
  const placement = placeBuiltinValues(await readValuesSchema(dir), source.builtin);
  return {
    ok: true,
    source: { ...source, chart: { chart: dir }, builtinAt: placement.at ?? null },
    notices: placement.note ? [placement.note] : [],
  };
}

function signalOf(env: RenderEnv): { signal?: AbortSignal } {
  return env.signal ? { signal: env.signal } : {};
}

// Override values only mean something to Helm; anywhere else they would be silently ignored.
function valuesWithoutHelm(app: Application, source: PreparedSource): DeployError[] {
  if (source.kind === 'helm') return [];
  return (app.spec.overrides ?? []).flatMap((o, i) =>
    o.values && Object.keys(o.values).length > 0
      ? [
          {
            code: 'ValuesNotApplicable',
            field: `spec.overrides[${i}].values`,
            message: 'values apply to Helm sources only; use patches or images to change this source',
          },
        ]
      : [],
  );
}

type ClusterResult = { readonly rendered: RenderedCluster } | { readonly errors: DeployError[] };

async function renderCluster(
  app: Application,
  cluster: TargetCluster,
  source: PreparedSource,
  env: RenderEnv,
  tools: () => RenderTools | DeployError,
): Promise<ClusterResult> {
  const namespace = app.metadata.namespace ?? 'default';
  const destination = app.spec.destinationNamespace ?? namespace;
  const matched = overridesFor(app.spec.overrides, cluster);
  let objects: KubeObject[];
  if (source.kind === 'objects') {
    objects = structuredClone(source.objects) as KubeObject[];
  } else {
    const t = tools();
    if (isError(t)) return { errors: [{ ...t, cluster: cluster.name }] };
    const rendered = await renderHelm({
      ...source.chart,
      helmPath: t.helm,
      releaseName: source.releaseName,
      namespace: destination,
      cluster,
      values: clusterValues(source.values, matched),
      ...(source.builtinAt !== undefined ? { builtinAt: source.builtinAt } : {}),
      helmHome: `${env.cacheDir}/helm`,
      chartField: source.chartField,
      ...(source.versionField ? { versionField: source.versionField } : {}),
      ...signalOf(env),
    });
    if (!rendered.ok) return { errors: rendered.errors };
    objects = rendered.objects;
  }
  const overridden = applyOverrides(objects, app.spec, matched, cluster.name, destination);
  const owned = stampOwnership(overridden.objects, {
    application: { namespace, name: app.metadata.name },
    destinationNamespace: destination,
    cluster: cluster.name,
    isNamespaced: (apiVersion, kind) => env.isNamespaced(cluster.name, apiVersion, kind),
  });
  const errors = [...overridden.errors, ...owned.errors];
  if (errors.length > 0) return { errors };
  // The digest is taken before the revision is stamped: the same content is the same digest,
  // whatever revision number it is rolled out under.
  const digest = digestObjects(owned.objects);
  return { rendered: { cluster: cluster.name, objects: stampRevision(owned.objects, env.revision), digest } };
}

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * Digest of a whole revision, `sha256:<hex>` (the ApplicationRevision's format): over each
 * cluster's name and digest, in cluster-name order.
 */
export function revisionDigest(clusters: readonly Pick<RenderedCluster, 'cluster' | 'digest'>[]): string {
  const lines = clusters.map((c) => `${c.cluster} ${c.digest}\n`).sort();
  return `sha256:${createHash('sha256').update(lines.join('')).digest('hex')}`;
}

/**
 * Renders `app` for each of `targets` (the clusters its placement resolved to; see
 * resolvePlacement). Every cluster is rendered even when another fails, so the outcome lists all
 * errors at once. Throws only when `env.signal` aborts.
 */
export async function renderApplication(
  app: Application,
  targets: readonly TargetCluster[],
  env: RenderEnv,
): Promise<RenderOutcome> {
  env.signal?.throwIfAborted();
  let resolvedTools: RenderTools | DeployError | undefined;
  const tools = () => (resolvedTools ??= resolveTools(env));
  const prepared = await prepareSource(app, env, tools);
  if (!prepared.ok) return prepared;
  const misuse = valuesWithoutHelm(app, prepared.source);
  let source = prepared.source;
  let notices: string[] = [];
  const scratch = source.kind === 'helm' ? await mkdtemp(join(tmpdir(), 'meridian-chart-')) : undefined;
  let results: ClusterResult[];
  try {
    if (source.kind === 'helm' && scratch) {
      const atHand = await chartAtHand(source, scratch, env, tools);
      if (!atHand.ok) return { ok: false, errors: [...misuse, ...atHand.errors] };
      source = atHand.source;
      notices = atHand.notices;
    }
    const ready = source;
    results = await mapLimited(targets, env.concurrency ?? 4, (cluster) =>
      renderCluster(app, cluster, ready, env, tools),
    );
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
  env.signal?.throwIfAborted();
  const errors = [
    ...misuse,
    ...results.flatMap((r, i) =>
      'errors' in r ? r.errors.map((e) => (e.cluster ? e : { ...e, cluster: targets[i]?.name ?? '' })) : [],
    ),
  ];
  if (errors.length > 0) return { ok: false, errors };
  const clusters = results.flatMap((r) => ('rendered' in r ? [r.rendered] : []));
  return {
    ok: true,
    clusters,
    ...(prepared.commit ? { sourceCommit: prepared.commit } : {}),
    digest: revisionDigest(clusters),
    ...(notices.length > 0 ? { notices } : {}),
  };
}
