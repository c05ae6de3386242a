// One client per cluster: resolves kinds through discovery, applies objects with server-side
// apply under Meridian's field manager, and writes status through the status subresource.
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { MeridianError } from './errors.ts';
import { KubeApiError, KubeRest, isNotFound, type RequestOptions } from './rest.ts';

export const FIELD_MANAGER = 'meridian';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    uid?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    ownerReferences?: unknown[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface KubeList<T> {
  readonly items: T[];
  readonly metadata: { resourceVersion?: string; continue?: string };
}

export interface ResourceInfo {
  readonly plural: string;
  readonly namespaced: boolean;
}

/** Loads a kubeconfig (file path or YAML text) and selects `context` when given. */
export function loadKubeConfig(source: { file?: string; yaml?: string }, context?: string): KubeConfig {
  const kc = new KubeConfig();
  let text: string;
  if (source.yaml !== undefined) text = source.yaml;
  else if (source.file !== undefined) {
    try {
      text = readFileSync(source.file, 'utf8');
    } catch (e) {
      throw new MeridianError(
        'KubeconfigNotFound',
        `kubeconfig ${source.file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
        1,
      );
    }
  } else throw new Error('loadKubeConfig: give a file or yaml');
  try {
    kc.loadFromString(text);
  } catch (e) {
    throw new MeridianError(
      'KubeconfigInvalid',
      `kubeconfig ${source.file ?? '(inline)'}: ${(e as Error).message}`,
    );
  }
  if (context !== undefined) {
    if (!kc.getContextObject(context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new MeridianError(
        'UnknownContext',
        `kubeconfig ${source.file ?? '(inline)'}: context "${context}" does not exist (known: ${known.join(', ') || 'none'})`,
      );
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) {
    throw new MeridianError(
      'KubeconfigInvalid',
      `kubeconfig ${source.file ?? '(inline)'}: no current context/cluster`,
    );
  }
  return kc;
}

export class ClusterClient {
  readonly rest: KubeRest;
  private readonly resources = new Map<
    string,
    { promise: Promise<Map<string, ResourceInfo>>; at: number; map?: Map<string, ResourceInfo> }
  >();

  constructor(
    readonly name: string,
    readonly kubeConfig: KubeConfig,
  ) {
    this.rest = new KubeRest(kubeConfig);
  }

  /** Drops discovery results, e.g. after installing CRDs. */
  /** Closes the client's pooled connections; it may still be used (new ones open on demand). */
  close(): void {
    this.rest.close();
  }

  forgetDiscovery(): void {
    this.resources.clear();
  }

  /**
   * Discovery for one group version, cached. A cached answer that lacks `kind` is re-asked once it
   * is a couple of seconds old: a CRD installed meanwhile (by us or anyone) must become usable.
   */
  private groupResources(apiVersion: string, kind?: string): Promise<Map<string, ResourceInfo>> {
    const cached = this.resources.get(apiVersion);
    const stale =
      cached !== undefined &&
      kind !== undefined &&
      Date.now() - cached.at > 2_000 &&
      cached.map !== undefined &&
      !cached.map.has(kind);
    if (stale) this.resources.delete(apiVersion);
    let p = stale ? undefined : cached?.promise;
    if (!p) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      p = this.rest
        .get<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(path, {
          timeoutMs: 10_000,
        })
        .then((r) => {
          const m = new Map<string, ResourceInfo>();
          for (const res of r.resources) {
            if (!res.name.includes('/')) m.set(res.kind, { plural: res.name, namespaced: res.namespaced });
          }
          entry.map = m;
          return m;
        });
      const entry: {
        promise: Promise<Map<string, ResourceInfo>>;
        at: number;
        map?: Map<string, ResourceInfo>;
      } = {
        promise: p,
        at: Date.now(),
      };
      p.catch(() => this.resources.delete(apiVersion));
      this.resources.set(apiVersion, entry);
    }
    return p;
  }

  /** Plural name and scope of a kind, from discovery; undefined when the cluster does not serve it. */
  async resourceInfo(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    try {
      return (await this.groupResources(apiVersion, kind)).get(kind);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** The REST path of a kind (and optionally one object of it), found through discovery. */
  async path(apiVersion: string, kind: string, namespace?: string, name?: string): Promise<string> {
    let info: ResourceInfo | undefined;
    try {
      info = (await this.groupResources(apiVersion, kind)).get(kind);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (!info) {
      throw new MeridianError(
        'UnknownKind',
        `cluster ${this.name}: kind ${kind} (${apiVersion}) is not served`,
      );
    }
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = info.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${ns}/${info.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
  }

  /** Server-side apply under Meridian's field manager. Conflicts are errors unless `force`. */
  async apply<T extends KubeObject>(
    obj: T,
    opts: { force?: boolean; dryRun?: boolean; fieldManager?: string } = {},
  ): Promise<T> {
    const p = await this.path(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    return this.rest.request<T>('PATCH', p, {
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: {
        fieldManager: opts.fieldManager ?? FIELD_MANAGER,
        force: opts.force ? true : undefined,
        dryRun: opts.dryRun ? 'All' : undefined,
      },
    });
  }

  /** JSON merge patch, for small imperative changes such as one annotation. */
  async mergePatch<T extends KubeObject>(
    ref: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>,
    patch: unknown,
    fieldManager = FIELD_MANAGER,
  ): Promise<T> {
    const p = await this.path(ref.apiVersion, ref.kind, ref.metadata.namespace, ref.metadata.name);
    return this.rest.request<T>('PATCH', p, {
      body: patch,
      contentType: 'application/merge-patch+json',
      query: { fieldManager },
    });
  }

  /**
   * Server-side apply of the status subresource; `obj` carries only identity and `status`. A
   * `fieldManager` of its own lets a second writer own its conditions next to the main one's.
   */
  async applyStatus<T extends KubeObject>(obj: T, fieldManager = FIELD_MANAGER): Promise<T> {
    const p = await this.path(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    return this.rest.request<T>('PATCH', `${p}/status`, {
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager, force: true },
    });
  }

  async get<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    name: string,
    namespace?: string,
  ): Promise<T | undefined> {
    try {
      return await this.rest.get<T>(await this.path(apiVersion, kind, namespace, name));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    opts: { namespace?: string; labelSelector?: string; fieldSelector?: string } & Pick<
      RequestOptions,
      'timeoutMs' | 'signal'
    > = {},
  ): Promise<KubeList<T>> {
    // `timeoutMs` bounds the whole call, discovery included: a probe with a short timeout must not
    // wait out discovery's own 10 s against a member that accepts and never answers.
    const started = Date.now();
    const p = await within(this.path(apiVersion, kind, opts.namespace), opts, `list ${kind}`);
    const left =
      opts.timeoutMs === undefined ? undefined : Math.max(1, opts.timeoutMs - (Date.now() - started));
    return this.rest.get<KubeList<T>>(p, {
      query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector },
      timeoutMs: left,
      signal: opts.signal,
    });
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    const p = await this.path(obj.apiVersion, obj.kind, obj.metadata.namespace);
    return this.rest.request<T>('POST', p, { body: obj, query: { fieldManager: FIELD_MANAGER } });
  }

  async replace<T extends KubeObject>(obj: T): Promise<T> {
    const p = await this.path(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    return this.rest.request<T>('PUT', p, { body: obj, query: { fieldManager: FIELD_MANAGER } });
  }

  /**
   * Deletes an object; returns false when it was already gone. `propagationPolicy: 'Background'`
   * deletes dependents too (a Job's default over the API is to orphan its pods).
   */
  async delete(
    apiVersion: string,
    kind: string,
    name: string,
    namespace?: string,
    opts: { propagationPolicy?: 'Background' | 'Foreground' } = {},
  ): Promise<boolean> {
    try {
      await this.rest.request('DELETE', await this.path(apiVersion, kind, namespace, name), {
        ...(opts.propagationPolicy ? { query: { propagationPolicy: opts.propagationPolicy } } : {}),
      });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /** The server's version (`/version`), with a short timeout: this is also the health probe. */
  version(timeoutMs = 5_000, signal?: AbortSignal): Promise<{ gitVersion: string }> {
    return this.rest.get('/version', { timeoutMs, signal });
  }
}

export { KubeApiError };

/**
 * `work` (shared, e.g. a cached discovery answer) as seen by one caller with its own timeout and
 * abort: the caller stops waiting; the shared work goes on for the others.
 */
function within<T>(
  work: Promise<T>,
  opts: Pick<RequestOptions, 'timeoutMs' | 'signal'>,
  what: string,
): Promise<T> {
  const { timeoutMs, signal } = opts;
  if (timeoutMs === undefined && signal === undefined) return work;
  if (signal?.aborted) return Promise.reject(new KubeApiError(0, 'Aborted', `${what}: aborted`));
  return new Promise<T>((resolve, reject) => {
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => reject(new KubeApiError(0, 'Timeout', `${what}: no answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
    const onAbort = (): void => reject(new KubeApiError(0, 'Aborted', `${what}: aborted`));
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  });
}
