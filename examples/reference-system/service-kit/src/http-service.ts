// The HTTP server both apps run: a small route table, one server span per request (child of the
// caller's W3C context), the request metrics, an access log line with the trace ids, /metrics,
// and a graceful close (stop accepting, let in-flight requests finish, then cut what is left).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  INVALID_SPAN_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { HttpError } from './http-error.ts';
import { traceFields, type Logger } from './logger.ts';
import type { ServiceMetrics } from './metrics.ts';
import type { Tracing } from './tracing.ts';

export type Reply = { readonly status: number; readonly headers?: Readonly<Record<string, string>> } & (
  { readonly json: unknown } | { readonly text: string; readonly contentType: string }
);

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly url: URL;
  /** Path parameters by name (`/orders/:id` → `id`). */
  readonly params: Readonly<Record<string, string>>;
  /** The trace context whose active span is this request's server span. */
  readonly ctx: Context;
  readonly span: Span;
  /** A logger whose lines carry this request's trace_id and span_id. */
  readonly log: Logger;
}

export interface Route {
  readonly method: 'GET' | 'POST';
  /** A path template: literal segments and `:name` parameters. */
  readonly path: string;
  readonly handler: (rc: RequestContext) => Promise<Reply>;
  /** Probes and scrapes: counted in the metrics, but neither traced nor logged. */
  readonly quiet?: boolean;
}

export interface HttpServiceOptions {
  readonly routes: readonly Route[];
  readonly tracing: Tracing;
  readonly metrics: ServiceMetrics;
  readonly log: Logger;
  /** Headers on every response (the apps' `x-app1-cluster`/`x-app2-cluster`). */
  readonly headers?: Readonly<Record<string, string>>;
}

interface CompiledRoute extends Route {
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

const MAX_BODY_BYTES = 64 * 1024;

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((seg) => {
      if (!seg.startsWith(':')) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(seg.slice(1));
      return '([^/]+)';
    })
    .join('/');
  return { ...route, pattern: new RegExp(`^${source}$`), names };
}

/** Reads a JSON request body (at most 64 KiB); a 400/413/415 HttpError otherwise. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, 'send the body as application/json', 'content-type');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'the body is not valid JSON', 'body');
  }
}

export class HttpService {
  readonly server: Server;
  private readonly routes: readonly CompiledRoute[];
  private inFlight = 0;
  private closing = false;
  private readonly drained: (() => void)[] = [];

  constructor(private readonly options: HttpServiceOptions) {
    const metricsRoute: Route = {
      method: 'GET',
      path: '/metrics',
      quiet: true,
      handler: async () => ({
        status: 200,
        text: await options.metrics.registry.metrics(),
        contentType: options.metrics.registry.contentType,
      }),
    };
    this.routes = [...options.routes, metricsRoute].map(compile);
    this.server = createServer((req, res) => void this.handle(req, res));
    // Keep-alive connections idle longer than a Service proxy or load balancer would keep them.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
  }

  /** True once close() was called: readiness should then answer 503. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** Listens on `port` (0: any free port) on every address, or on `host`; resolves to the port. */
  listen(port: number, host?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      const done = () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      };
      if (host) this.server.listen(port, host, done);
      else this.server.listen(port, done);
    });
  }

  /**
   * Stops accepting connections, waits up to `graceMs` for in-flight requests to finish, then
   * closes every connection still open.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.drained.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    }
    this.server.closeAllConnections();
    await closed;
  }

  private match(
    method: string,
    pathname: string,
  ): { route?: CompiledRoute; params: Record<string, string>; allowed: boolean } {
    let allowed = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(pathname);
      if (!m) continue;
      if (route.method !== method) {
        allowed = true;
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1]!)));
      return { route, params, allowed: true };
    }
    return { params: {}, allowed };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    this.inFlight++;
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { route, params, allowed } = this.match(method, url.pathname);
    const routeLabel = route?.path ?? 'unmatched';
    const { tracer } = this.options.tracing;
    const parent = this.options.tracing.extract(req.headers);
    const span = route?.quiet
      ? trace.wrapSpanContext(trace.getSpanContext(parent) ?? INVALID_SPAN_CONTEXT)
      : tracer.startSpan(
          `${method} ${routeLabel}`,
          {
            kind: SpanKind.SERVER,
            attributes: {
              'http.request.method': method,
              'http.route': routeLabel,
              'url.path': url.pathname,
              'url.scheme': 'http',
            },
          },
          parent,
        );
    const log = this.options.log.child(traceFields(span));
    let reply: Reply;
    try {
      if (!route) {
        reply = allowed
          ? { status: 405, json: { error: `${method} is not allowed on ${url.pathname}` } }
          : { status: 404, json: { error: `no route for ${url.pathname}` } };
      } else {
        reply = await route.handler({ req, url, params, ctx: trace.setSpan(parent, span), span, log });
      }
    } catch (err) {
      reply = errorReply(err, log);
      if (!(err instanceof HttpError)) span.recordException(err as Error);
    }
    this.send(res, reply);
    span.setAttribute('http.response.status_code', reply.status);
    if (reply.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const labels = { method, route: routeLabel, code: String(reply.status) };
    this.options.metrics.requests.inc(labels);
    this.options.metrics.duration.observe(labels, seconds);
    if (!route?.quiet) {
      log.info(
        {
          method,
          path: url.pathname,
          route: routeLabel,
          status: reply.status,
          duration_ms: Math.round(seconds * 1000),
        },
        'request',
      );
    }
    if (--this.inFlight === 0) this.drained.splice(0).forEach((resolve) => resolve());
  }

  private send(res: ServerResponse, reply: Reply): void {
    const headers: Record<string, string> = { ...this.options.headers, ...reply.headers };
    // During shutdown, a keep-alive connection must not wait for another request.
    if (this.closing) headers['connection'] = 'close';
    let body: string;
    if ('json' in reply) {
      body = JSON.stringify(reply.json);
      headers['content-type'] = 'application/json; charset=utf-8';
    } else {
      body = reply.text;
      headers['content-type'] = reply.contentType;
    }
    headers['content-length'] = String(Buffer.byteLength(body));
    res.writeHead(reply.status, headers).end(body);
  }
}

function errorReply(err: unknown, log: Logger): Reply {
  if (err instanceof HttpError) {
    return {
      status: err.status,
      headers: err.headers,
      json: err.field ? { error: err.message, field: err.field } : { error: err.message },
    };
  }
  log.error({ err }, 'request failed');
  return { status: 500, json: { error: 'internal error' } };
}
