// APP 1's calls to APP 2, through APP 2's Service. Each attempt opens a new connection: a Service
// (kube-proxy, or Meridian's multi-cluster endpoints behind it) balances connections, not
// requests, so a new connection is what lets a call reach another — possibly remote — endpoint,
// and lets an endpoint that turned unready stop getting calls at once. An attempt that fails to
// connect, times out or gets a 5xx is retried once, on a new connection. POSTs carry an
// idempotency key, the same on the retry, so APP 2 stores an order once even when retried.
import { request, type IncomingMessage } from 'node:http';
import { SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import type { Logger, ServiceMetrics, Tracing } from '@reference-system/service-kit';

export interface App2Response {
  readonly status: number;
  readonly body: unknown;
  /** The cluster of the APP 2 that answered (its `x-app2-cluster` header). */
  readonly cluster: string | undefined;
}

export interface App2CallOptions {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly ctx: Context;
  readonly log: Logger;
}

/** Every attempt failed; `reason` says how the last one did. */
export class App2UnavailableError extends Error {
  constructor(
    readonly reason: 'timeout' | 'connect' | 'status',
    message: string,
  ) {
    super(message);
  }
}

class AttemptError extends Error {
  constructor(
    readonly reason: 'timeout' | 'connect' | 'status',
    message: string,
  ) {
    super(message);
  }
}

const MAX_RESPONSE_BYTES = 1024 * 1024;
const ATTEMPTS = 2;

export class App2Client {
  constructor(
    private readonly baseUrl: URL,
    private readonly timeoutMs: number,
    private readonly tracing: Tracing,
    private readonly metrics: ServiceMetrics,
  ) {}

  async call(options: App2CallOptions): Promise<App2Response> {
    let last: AttemptError | undefined;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) this.metrics.upstreamRetries.inc({ upstream: 'app2' });
      try {
        return await this.attempt(options, attempt);
      } catch (err) {
        if (!(err instanceof AttemptError)) throw err;
        last = err;
        this.metrics.upstreamErrors.inc({ upstream: 'app2', reason: err.reason });
        options.log.warn(
          { attempt: attempt + 1, reason: err.reason, err: err.message },
          'call to app2 failed',
        );
      }
    }
    throw new App2UnavailableError(
      last!.reason,
      `app2 did not answer after ${ATTEMPTS} attempts: ${last!.message}`,
    );
  }

  /** One HTTP exchange on a new connection, under its own CLIENT span. */
  private async attempt(options: App2CallOptions, attempt: number): Promise<App2Response> {
    const url = new URL(options.path, this.baseUrl);
    const span = this.tracing.tracer.startSpan(
      options.method,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': options.method,
          'url.full': url.href,
          'server.address': url.hostname,
          'server.port': Number(url.port || 80),
          'peer.service': 'app2',
          ...(attempt > 0 ? { 'http.request.resend_count': attempt } : {}),
        },
      },
      options.ctx,
    );
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    this.tracing.inject(trace.setSpan(options.ctx, span), headers);
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    try {
      const res = await this.exchange(url, options.method, headers, payload);
      span.setAttribute('http.response.status_code', res.status);
      if (res.cluster) span.setAttribute('app2.cluster', res.cluster);
      if (res.status >= 500) {
        throw new AttemptError(
          'status',
          `app2${res.cluster ? ` in ${res.cluster}` : ''} answered ${res.status}`,
        );
      }
      return res;
    } catch (err) {
      const e =
        err instanceof AttemptError
          ? err
          : new AttemptError('connect', (err as Error).message || String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
      span.setAttribute('error.type', e.reason);
      throw e;
    } finally {
      span.end();
    }
  }

  private exchange(
    url: URL,
    method: string,
    headers: Record<string, string>,
    payload: string | undefined,
  ): Promise<App2Response> {
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const fail = (err: unknown) =>
        reject(
          timedOut
            ? new AttemptError('timeout', `no answer from ${url.host} within ${this.timeoutMs} ms`)
            : err instanceof AttemptError
              ? err
              : new AttemptError('connect', (err as Error).message || String(err)),
        );
      // agent: false: a connection of its own, closed after the answer (see the file comment).
      const req = request(url, { method, headers, agent: false }, (res) => {
        readBody(res).then((text) => {
          clearTimeout(timer);
          let body: unknown = text;
          try {
            body = text ? (JSON.parse(text) as unknown) : undefined;
          } catch {
            // Not JSON (a proxy's error page): passed on as text.
          }
          const cluster = res.headers['x-app2-cluster'];
          resolve({
            status: res.statusCode ?? 0,
            body,
            cluster: typeof cluster === 'string' ? cluster : undefined,
          });
        }, fail);
      });
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy();
      }, this.timeoutMs);
      req.once('error', (err) => {
        clearTimeout(timer);
        fail(err);
      });
      req.end(payload);
    });
  }
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES)
      throw new Error(`app2's answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
