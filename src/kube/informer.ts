// A list+watch cache of one kind in one cluster that survives API-server restarts and network
// errors: any failure (transport, 410 Gone, idle stream) leads to a relist after an exponential
// backoff, and the relist reconciles the cache (deletions seen while away are delivered too).
// Written here rather than using the official client's ListWatch because that one stops for good
// on a list error and gives no way to bound a hung watch.
import type { ClusterClient, KubeList, KubeObject } from './cluster-client.ts';
import { errorMessage } from './errors.ts';
import { KubeApiError } from './rest.ts';
import { sleep } from './sleep.ts';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (event: InformerEvent, obj: T, old?: T) => void;

export interface InformerOptions {
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Called on each failure before the retry; for logs and health. */
  readonly onError?: (err: string, attempt: number) => void;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /**
   * Re-deliver every cached object as an `update` this often (client-go's resync), so a handler
   * that missed or mishandled an event still sees each object again. Off when unset.
   */
  readonly resyncMs?: number;
}

const keyOf = (o: KubeObject): string =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly abort = new AbortController();
  private resourceVersion = '';
  private syncedOnce = false;
  private readonly syncWaiters: (() => void)[] = [];
  /** Waiting for the first list to succeed or fail (see `settled`). */
  private readonly settleWaiters: (() => void)[] = [];
  private loop: Promise<void> | undefined;
  /** Consecutive failures; 0 while the watch is healthy. */
  failures = 0;
  lastError: string | undefined;

  constructor(
    private readonly client: ClusterClient,
    private readonly apiVersion: string,
    private readonly kind: string,
    private readonly opts: InformerOptions = {},
  ) {}

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  start(): this {
    if (!this.loop && this.opts.resyncMs) {
      const timer = setInterval(() => {
        if (!this.syncedOnce) return;
        for (const obj of this.cache.values()) this.emit('update', obj, obj);
      }, this.opts.resyncMs);
      timer.unref();
      this.abort.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
    }
    this.loop ??= this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  get synced(): boolean {
    return this.syncedOnce;
  }

  /** Resolves once the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  /**
   * Resolves once the first list has filled the cache or the first attempt has failed: for a
   * caller that would rather go on without an unreachable cluster than wait for its retries.
   */
  settled(): Promise<void> {
    if (this.syncedOnce || this.failures > 0) return Promise.resolve();
    return new Promise((r) => this.settleWaiters.push(r));
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  private emit(event: InformerEvent, obj: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        h(event, obj, old);
      } catch {
        // A handler's bug must not kill the watch; handlers log their own errors.
      }
    }
  }

  private async relist(): Promise<void> {
    const list: KubeList<T> = await this.client.list<T>(this.apiVersion, this.kind, {
      namespace: this.opts.namespace,
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
      timeoutMs: 15_000,
      signal: this.abort.signal,
    });
    const seen = new Set<string>();
    for (const item of list.items) {
      // Lists omit apiVersion/kind on items; restore them so consumers get whole objects.
      const obj = { ...item, apiVersion: this.apiVersion, kind: this.kind } as T;
      const k = keyOf(obj);
      seen.add(k);
      const old = this.cache.get(k);
      this.cache.set(k, obj);
      if (!old) this.emit('add', obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('update', obj, old);
    }
    for (const [k, old] of this.cache) {
      if (!seen.has(k)) {
        this.cache.delete(k);
        this.emit('delete', old);
      }
    }
    this.resourceVersion = list.metadata.resourceVersion ?? '';
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      for (const w of [...this.syncWaiters.splice(0), ...this.settleWaiters.splice(0)]) w();
    }
  }

  private onWatchLine(line: string): void {
    const ev = JSON.parse(line) as { type: string; object: T & { code?: number; message?: string } };
    if (ev.type === 'BOOKMARK') {
      this.resourceVersion = ev.object.metadata.resourceVersion ?? this.resourceVersion;
      return;
    }
    if (ev.type === 'ERROR') {
      throw new KubeApiError(ev.object.code ?? 0, 'WatchError', ev.object.message ?? 'watch error');
    }
    const obj = ev.object;
    const k = keyOf(obj);
    const old = this.cache.get(k);
    if (ev.type === 'DELETED') {
      this.cache.delete(k);
      this.emit('delete', obj);
    } else {
      this.cache.set(k, obj);
      this.emit(old ? 'update' : 'add', obj, old);
    }
    this.resourceVersion = obj.metadata.resourceVersion ?? this.resourceVersion;
  }

  private async run(): Promise<void> {
    const min = this.opts.minBackoffMs ?? 250;
    const max = this.opts.maxBackoffMs ?? 5_000;
    let needList = true;
    while (!this.abort.signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          this.failures = 0; // The server answers again, even if no event follows.
        }
        needList = false;
        const path = await this.client.path(this.apiVersion, this.kind, this.opts.namespace);
        // Servers end watches after timeoutSeconds; a jittered value spreads reconnects.
        const timeoutSeconds = 240 + Math.floor(Math.random() * 120);
        await this.client.rest.stream(
          path,
          {
            watch: 1,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            labelSelector: this.opts.labelSelector,
            fieldSelector: this.opts.fieldSelector,
            timeoutSeconds,
          },
          (l) => {
            this.onWatchLine(l);
            this.failures = 0;
          },
          { signal: this.abort.signal, idleTimeoutMs: (timeoutSeconds + 30) * 1000 },
        );
      } catch (e) {
        if (this.abort.signal.aborted) break;
        // 410 Gone: our resourceVersion is too old; anything else: we cannot trust the cache's
        // completeness either, so relist.
        needList = true;
        this.failures++;
        this.lastError = errorMessage(e);
        this.opts.onError?.(this.lastError, this.failures);
        for (const w of this.settleWaiters.splice(0)) w();
        const delay = Math.min(max, min * 2 ** Math.min(this.failures - 1, 10));
        await sleep(delay * (0.8 + Math.random() * 0.4), this.abort.signal);
      }
    }
  }
}
