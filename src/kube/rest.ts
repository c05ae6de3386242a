// A thin REST client over one cluster's API server. Authentication and TLS come from the official
// client's KubeConfig (applyToHTTPSOptions), so every kubeconfig auth method it supports works;
// the request itself is plain node:https so each call gets a hard timeout and an AbortSignal,
// which the generated client does not offer per call and which health probes depend on.
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { dialHttp } from '../dial/dialer.ts';

export interface RequestOptions {
  readonly body?: unknown;
  readonly contentType?: string;
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** An error answered by the API server (or the transport), with the HTTP status when there is one. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** The Status object's details (e.g. causes naming invalid fields), when the server sent one. */
    readonly details?: { causes?: { field?: string; message?: string; reason?: string }[] },
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** A keep-alive socket turned out closed before the request got an answer (retried once). */
class StaleSocketError extends Error {}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.status === 404;
export const isConflict = (e: unknown): boolean => e instanceof KubeApiError && e.status === 409;

const DEFAULT_TIMEOUT_MS = 30_000;

/** Errors a reused keep-alive socket gives when the server closed it meanwhile: safe to resend. */
const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** TLS identity of a call's options: requests with the same one may share pooled connections. */
function tlsIdentity(o: https.RequestOptions): string {
  const str = (v: unknown): string =>
    v === undefined ? '' : Buffer.isBuffer(v) ? v.toString('base64') : String(v);
  return [o.ca, o.cert, o.key, o.pfx, o.servername, o.rejectUnauthorized].map(str).join('|');
}

export class KubeRest {
  readonly server: string;
  /**
   * Keep-alive pool for plain requests: a TLS handshake per call cost more than the call itself
   * (a 1,000-service mesh converged 2× faster with a pool). Watches and log streams hold their
   * connection for minutes, so they keep a connection of their own.
   */
  private pool: { identity: string; agent: https.Agent } | undefined;

  constructor(readonly kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
  }

  /** URL and request options for one call: query, TLS and auth from the kubeconfig. */
  private async prepare(
    method: string,
    path: string,
    query: RequestOptions['query'] = {},
    pooled = false,
  ): Promise<{ url: URL; reqOpts: https.RequestOptions }> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const reqOpts: https.RequestOptions = {
      method,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: { Accept: 'application/json' },
      // One agent per call keeps a dead server from pinning sockets in a shared pool.
      agent: false,
    };
    await this.kubeConfig.applyToHTTPSOptions(reqOpts);
    // Only a direct connection is pooled: a proxy agent from the kubeconfig stays as it is.
    const direct = reqOpts.agent instanceof https.Agent && reqOpts.agent.constructor === https.Agent;
    if (pooled && direct && url.protocol === 'https:') reqOpts.agent = this.pooledAgent(reqOpts);
    return { url, reqOpts };
  }

  private pooledAgent(reqOpts: https.RequestOptions): https.Agent {
    const identity = tlsIdentity(reqOpts);
    if (this.pool?.identity !== identity) {
      // Credentials changed (e.g. a rotated client certificate): new connections only.
      this.pool?.agent.destroy();
      const agent = new https.Agent({ keepAlive: true, maxSockets: 32, maxFreeSockets: 8, timeout: 60_000 });
      this.pool = { identity, agent };
    }
    return this.pool.agent;
  }

  /** Closes pooled connections (a removed cluster must not keep sockets open). */
  close(): void {
    this.pool?.agent.destroy();
    this.pool = undefined;
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    try {
      return await this.send<T>(method, path, opts);
    } catch (e) {
      // A pooled socket the server had already closed fails before any answer; send once more.
      if (e instanceof StaleSocketError) return this.send<T>(method, path, opts);
      throw e;
    }
  }

  private async send<T>(method: string, path: string, opts: RequestOptions): Promise<T> {
    const { url, reqOpts } = await this.prepare(method, path, opts.query, true);
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      reqOpts.headers = {
        ...reqOpts.headers,
        'Content-Type': opts.contentType ?? 'application/json',
        'Content-Length': Buffer.byteLength(payload),
      };
    }
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (opts.signal?.aborted) throw new KubeApiError(0, 'Aborted', `${method} ${path}: aborted`);
    let answered = false;
    return new Promise<T>((resolve, reject) => {
      const req = dialHttp(reqOpts, url.protocol !== 'http:', (res) => {
        answered = true;
        clearTimeout(deadline);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new KubeApiError(0, 'TransportError', e.message)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let parsed: unknown = text;
          try {
            parsed = text.length > 0 ? JSON.parse(text) : undefined;
          } catch {
            // Non-JSON answers (e.g. /healthz "ok") are returned as text.
          }
          if (status >= 200 && status < 300) {
            resolve(parsed as T);
            return;
          }
          const st = (parsed ?? {}) as {
            reason?: string;
            message?: string;
            details?: KubeApiError['details'];
          };
          reject(
            new KubeApiError(
              status,
              st.reason ?? `HTTP${status}`,
              st.message ?? `${method} ${path}: HTTP ${status} ${text.slice(0, 200)}`,
              st.details,
            ),
          );
        });
      });
      const timedOut = (): void =>
        void req.destroy(
          new KubeApiError(0, 'Timeout', `${method} ${path}: no answer within ${timeoutMs} ms`),
        );
      // The answer must start within timeoutMs of the call. The socket's idle timer alone is
      // re-armed per phase: a new TLS connection to a server that accepts but never answers (a
      // frozen API server) waited twice the timeout. The idle timer still bounds silence in a body.
      const deadline = setTimeout(timedOut, timeoutMs);
      req.setTimeout(timeoutMs, timedOut);
      const onAbort = (): void =>
        void req.destroy(new KubeApiError(0, 'Aborted', `${method} ${path}: aborted`));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => {
        clearTimeout(deadline);
        opts.signal?.removeEventListener('abort', onAbort);
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (req.reusedSocket && !answered && STALE_SOCKET.has(e.code ?? '')) {
          reject(new StaleSocketError(e.message));
          return;
        }
        reject(
          e instanceof KubeApiError
            ? e
            : new KubeApiError(0, 'TransportError', `${method} ${path}: ${e.message}`),
        );
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /**
   * Opens a streaming GET (a watch) and calls `onLine` for each newline-delimited JSON line.
   * Resolves when the server ends the stream; rejects on HTTP errors, transport errors, abort,
   * or when no byte arrives for `idleTimeoutMs` (a hung server must not look like a quiet one).
   */
  async stream(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onLine: (line: string) => void,
    opts: { signal?: AbortSignal; idleTimeoutMs: number; onOpen?: () => void },
  ): Promise<void> {
    const { url, reqOpts } = await this.prepare('GET', path, query);
    await new Promise<void>((resolve, reject) => {
      const req = dialHttp(reqOpts, url.protocol !== 'http:', (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let st: { reason?: string; message?: string } = {};
            try {
              st = JSON.parse(text) as typeof st;
            } catch {
              // keep the raw text below
            }
            reject(new KubeApiError(status, st.reason ?? `HTTP${status}`, st.message ?? text.slice(0, 200)));
          });
          return;
        }
        opts.onOpen?.();
        let partial = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          const lines = (partial + d).split('\n');
          partial = lines.pop() ?? '';
          try {
            for (const l of lines) if (l.trim() !== '') onLine(l);
          } catch (e) {
            // A line the consumer rejects (e.g. a watch ERROR event) ends the stream with it.
            req.destroy(e instanceof Error ? e : new Error(String(e)));
          }
        });
        res.on('end', () => {
          // A text stream (pod logs) may end without a final newline; its last line still counts.
          try {
            if (partial.trim() !== '') onLine(partial);
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
            return;
          }
          resolve();
        });
        res.on('error', (e) => reject(new KubeApiError(0, 'TransportError', e.message)));
        res.on('aborted', () => reject(new KubeApiError(0, 'TransportError', 'stream aborted')));
      });
      req.setTimeout(opts.idleTimeoutMs, () =>
        req.destroy(new KubeApiError(0, 'Timeout', `watch ${path}: idle for ${opts.idleTimeoutMs} ms`)),
      );
      const onAbort = (): void => void req.destroy(new KubeApiError(0, 'Aborted', `watch ${path}: aborted`));
      if (opts.signal?.aborted) onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => opts.signal?.removeEventListener('abort', onAbort));
      req.on('error', (e) =>
        reject(
          e instanceof KubeApiError
            ? e
            : new KubeApiError(0, 'TransportError', `watch ${path}: ${e.message}`),
        ),
      );
      req.end();
    });
  }

  get<T = unknown>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, opts);
  }
}
