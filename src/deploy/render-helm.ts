// Renders a Helm chart for one cluster with `helm template`: the cluster's Kubernetes version and
// API versions feed `.Capabilities`, and `meridian.{cluster,region,zone}` is available to templates
// (where the chart's schema allows them: helm-builtin-values.ts). A chart from a repository or an
// OCI registry is pulled once per render (pullChart) and templated per cluster from that copy.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withBuiltinValues } from './helm-builtin-values.ts';
import { deepMergeValues } from './merge.ts';
import type { JsonMap } from './merge.ts';
import { parseManifestStream } from './render-manifests.ts';
import type { ObjectsResult } from './render-manifests.ts';
import type { DeployError } from './deploy-types.ts';
import type { TargetCluster } from '../fleet/targets.ts';

export interface HelmChartRef {
  /** Local chart directory, chart name in `repoURL`, or an `oci://` reference. */
  readonly chart: string;
  readonly repoURL?: string;
  readonly version?: string;
}

export interface HelmRenderInput extends HelmChartRef {
  readonly helmPath: string;
  readonly releaseName: string;
  readonly namespace: string;
  readonly cluster: TargetCluster;
  /** User values: source values with the cluster's override values merged over them. */
  readonly values: JsonMap;
  /** Where the built-in values go (placeBuiltinValues); undefined: nowhere. Default `meridian`. */
  readonly builtinAt?: readonly string[] | null;
  /** Helm's cache, config and data homes live here, so nothing is written under $HOME. */
  readonly helmHome: string;
  /** Application field that names the chart, for "not found" errors. */
  readonly chartField: string;
  /** Application field that names the chart version, for "version not found" errors. */
  readonly versionField?: string;
  readonly signal?: AbortSignal;
  /** Kills helm after this long (default 2 minutes): a hung repository must not hang the render. */
  readonly timeoutMs?: number;
}

/** Values Meridian gives every chart at `at`, under the user's values (which may override them). */
export function builtinValues(cluster: TargetCluster, at: readonly string[] = ['meridian']): JsonMap {
  return withBuiltinValues(
    {
      cluster: cluster.name,
      region: cluster.region,
      ...(cluster.zone !== undefined ? { zone: cluster.zone } : {}),
    },
    at,
  );
}

// A registry on this machine (the local fleet, tests) speaks plain HTTP; any other stays on TLS.
const isLoopbackOci = (chart: string): boolean =>
  /^oci:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\//.test(chart);

/** The `helm template` arguments, without the values file (pure, for tests and logs). */
export function helmTemplateArgs(
  input: Omit<HelmRenderInput, 'helmPath' | 'values' | 'helmHome' | 'chartField'>,
): string[] {
  const args = ['template', input.releaseName, input.chart, '--namespace', input.namespace];
  if (input.cluster.kubernetesVersion) args.push('--kube-version', input.cluster.kubernetesVersion);
  for (const v of input.cluster.apiVersions ?? []) args.push('--api-versions', v);
  args.push('--include-crds', '--skip-tests');
  if (input.version) args.push('--version', input.version);
  if (input.repoURL) args.push('--repo', input.repoURL);
  if (isLoopbackOci(input.chart)) args.push('--plain-http');
  return args;
}

/** Environment that keeps helm's caches and config under `helmHome`. */
export function helmEnv(helmHome: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
}

/** helm's own message: from the first `Error:` line on, without the prefix and without warnings. */
export function helmErrorMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trimEnd());
  const start = lines.findIndex((l) => l.startsWith('Error:'));
  const relevant = (start >= 0 ? lines.slice(start) : lines).filter(
    (l) => l !== '' && !l.startsWith('WARNING:'),
  );
  const text = relevant
    .slice(0, 3)
    .join(' ')
    .replace(/^Error:\s*/, '');
  return text || 'helm failed without a message';
}

type FailureContext = Pick<
  HelmRenderInput,
  'chart' | 'repoURL' | 'version' | 'chartField' | 'versionField'
> & {
  readonly cluster?: TargetCluster;
};

function helmFailure(input: FailureContext, stderr: string, verb = 'helm template'): DeployError {
  const message = helmErrorMessage(stderr);
  let field: string | undefined;
  // OCI registries answer a missing tag with "<ref>:<version>: not found".
  const missingTag = input.version !== undefined && message.includes(`:${input.version}: not found`);
  if (missingTag || /version "[^"]*" not found|no chart version found/i.test(message))
    field = input.versionField ?? input.chartField;
  else if (
    /not found|no such file|cannot be reached|not a valid chart repository|failed to (fetch|download)|404|manifest unknown|name unknown/i.test(
      message,
    )
  ) {
    field = input.chartField;
  }
  const forCluster = input.cluster ? ` for cluster ${input.cluster.name}` : '';
  return {
    code: 'HelmFailed',
    ...(input.cluster ? { cluster: input.cluster.name } : {}),
    ...(field ? { field } : {}),
    message: `${verb} ${input.chart}${input.repoURL ? ` from ${input.repoURL}` : ''}${forCluster}: ${message}`,
  };
}

function run(
  file: string,
  args: readonly string[],
  opts: { env: NodeJS.ProcessEnv; signal?: AbortSignal; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        env: opts.env,
        signal: opts.signal,
        timeout: opts.timeoutMs,
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr, ...(error ? { error } : {}) });
      },
    );
  });
}

/** Runs `helm template` for one cluster and parses its output. */
export async function renderHelm(input: HelmRenderInput): Promise<ObjectsResult> {
  input.signal?.throwIfAborted();
  const at = input.builtinAt === undefined ? ['meridian'] : input.builtinAt;
  const values = at
    ? deepMergeValues(builtinValues(input.cluster, at), input.values, { nulls: 'keep' })
    : input.values;
  await mkdir(input.helmHome, { recursive: true });
  const tmp = await mkdtemp(join(tmpdir(), 'meridian-helm-'));
  try {
    const valuesFile = join(tmp, 'values.json');
    // JSON is YAML; it keeps nulls (which delete chart defaults) exactly as written.
    await writeFile(valuesFile, JSON.stringify(values), { mode: 0o600 });
    const args = [...helmTemplateArgs(input), '--values', valuesFile];
    const result = await run(input.helmPath, args, {
      env: helmEnv(input.helmHome),
      ...(input.signal ? { signal: input.signal } : {}),
      timeoutMs: input.timeoutMs ?? 120_000,
    });
    input.signal?.throwIfAborted();
    if (result.code !== 0) {
      const stderr = result.stderr || result.error?.message || '';
      if (result.error && result.code === null && !result.stderr) {
        return {
          ok: false,
          errors: [
            {
              code: 'HelmFailed',
              cluster: input.cluster.name,
              message: `helm template for cluster ${input.cluster.name} did not finish: ${result.error.message}`,
            },
          ],
        };
      }
      return { ok: false, errors: [helmFailure(input, stderr)] };
    }
    const parsed = parseManifestStream(result.stdout, { name: `helm template ${input.chart}` });
    if (parsed.ok) return parsed;
    return {
      ok: false,
      errors: parsed.errors.map((e) => ({ ...e, cluster: input.cluster.name, code: 'HelmFailed' })),
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export interface PullInput extends HelmChartRef {
  readonly helmPath: string;
  readonly helmHome: string;
  /** The pulled chart is unpacked under this (empty) directory. */
  readonly into: string;
  readonly chartField: string;
  readonly versionField?: string;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/**
 * `helm pull --untar` of a repository or OCI chart: the chart's directory, or the error naming the
 * field to fix. One pull serves every cluster's render, and the schema can be read from it.
 */
export async function pullChart(
  input: PullInput,
): Promise<{ ok: true; dir: string } | { ok: false; errors: DeployError[] }> {
  await mkdir(input.helmHome, { recursive: true });
  const args = ['pull', input.chart, '--untar', '--untardir', input.into];
  if (input.version) args.push('--version', input.version);
  if (input.repoURL) args.push('--repo', input.repoURL);
  if (isLoopbackOci(input.chart)) args.push('--plain-http');
  const result = await run(input.helmPath, args, {
    env: helmEnv(input.helmHome),
    ...(input.signal ? { signal: input.signal } : {}),
    timeoutMs: input.timeoutMs ?? 120_000,
  });
  input.signal?.throwIfAborted();
  if (result.code !== 0) {
    const stderr = result.stderr || result.error?.message || '';
    return { ok: false, errors: [helmFailure(input, stderr, 'helm pull')] };
  }
  const entries = await readdir(input.into, { withFileTypes: true });
  const dirs = entries.filter((e) => e.isDirectory());
  if (dirs.length !== 1) {
    return {
      ok: false,
      errors: [
        {
          code: 'HelmFailed',
          field: input.chartField,
          message: `helm pull ${input.chart}: expected one chart directory, found ${dirs.length}`,
        },
      ],
    };
  }
  return { ok: true, dir: join(input.into, dirs[0]!.name) };
}

/** The chart's values.schema.json, parsed; undefined when it has none (or it is not JSON). */
export async function readValuesSchema(chartDir: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(join(chartDir, 'values.schema.json'), 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}
