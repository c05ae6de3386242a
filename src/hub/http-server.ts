// The hub's HTTP API: the base the CLI, the console and the observability service build on.
// /healthz and /readyz are open (probes carry no credentials); everything else needs a bearer
// token that the hub cluster accepts and RBAC that allows the request.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import type { HubAuthorizer } from './auth.ts';
import { BadRequestError, type Route } from '../http/route-contract.ts';
import type { HubMetrics } from './metrics.ts';
import type { Logger } from '../logging/logger.ts';
import { errorMessage } from '../kube/errors.ts';
import { CONSOLE_PATH, serveConsole } from './console-assets.ts';

/** The request target as a URL, or undefined when it is not one (e.g. `//[` or `http://[`). */
function requestUrl(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://hub');
  } catch {
    return undefined;
  }
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: { certFile: string; keyFile: string };
  readonly auth: HubAuthorizer;
  readonly metrics: HubMetrics;
  readonly log: Logger;
  readonly routes: readonly Route[];
  readonly ready: () => boolean;
  /** The built web console, served under /console/ (a page saying how to build it when unset). */
  readonly consoleDir?: string;
}

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  contentType = 'application/json',
  headers: Record<string, string> = {},
): void {
  const data =
    body instanceof Uint8Array
      ? body
      : contentType === 'application/json'
        ? JSON.stringify(body)
        : String(body);
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store', ...headers });
  res.end(data);
}

export class HubHttpServer {
  private server: http.Server | undefined;

  constructor(private readonly opts: HttpServerOptions) {}

  private routeFor(method: string, path: string): Route | undefined {
    return this.opts.routes.find(
      (r) => r.method === method && (r.path === path || (r.path.endsWith('/') && path.startsWith(r.path))),
    );
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<string> {
    const url = requestUrl(req.url);
    if (!url) {
      send(res, 400, { error: 'path: the request target is not a valid URL path', param: 'path' });
      return 'invalid';
    }
    const { auth, metrics, ready } = this.opts;
    if (url.pathname === '/healthz' || url.pathname === '/livez') {
      send(res, 200, 'ok', 'text/plain');
      return url.pathname;
    }
    if (url.pathname === '/readyz') {
      const ok = ready();
      send(res, ok ? 200 : 503, ok ? 'ok' : 'not ready', 'text/plain');
      return url.pathname;
    }
    if (url.pathname === '/metrics' && req.method === 'GET') {
      const r = await auth.check(req.headers.authorization, {
        kind: 'nonResource',
        verb: 'get',
        path: '/metrics',
      });
      if (!r.ok) {
        send(res, r.status, { error: r.message });
        return '/metrics';
      }
      send(res, 200, await metrics.registry.metrics(), metrics.registry.contentType);
      return '/metrics';
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && url.pathname.startsWith(CONSOLE_PATH)) {
      await serveConsole(this.opts.consoleDir, req, res, url.pathname);
      return CONSOLE_PATH;
    }
    if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/console')) {
      res.writeHead(302, { Location: CONSOLE_PATH });
      res.end();
      return url.pathname;
    }
    const route = this.routeFor(req.method ?? 'GET', url.pathname);
    if (!route) {
      send(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
      return 'unknown';
    }
    try {
      const r = await auth.check(req.headers.authorization, route.access(url));
      if (!r.ok) {
        send(res, r.status, { error: r.message });
        return route.path;
      }
      const out = await route.handle({ url, user: r.user, req, res });
      if (out) send(res, out.status ?? 200, out.body, out.contentType, out.headers);
    } catch (e) {
      if (!(e instanceof BadRequestError) || res.headersSent) throw e;
      // The client's error; what is left of a body is read and dropped by node so the answer arrives.
      send(res, 400, { error: e.message, param: e.param });
    }
    return route.path;
  }

  async start(): Promise<AddressInfo> {
    const { tls, log, metrics } = this.opts;
    const handler: http.RequestListener = (req, res) => {
      this.handle(req, res)
        .then((route) => metrics.httpRequests.inc({ route, code: String(res.statusCode) }))
        .catch((e: unknown) => {
          log.error({ err: e, path: req.url }, 'request failed');
          if (!res.headersSent) send(res, 500, { error: errorMessage(e) });
          else res.destroy();
          metrics.httpRequests.inc({ route: 'error', code: '500' });
        });
    };
    this.server = tls
      ? https.createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, handler)
      : http.createServer(handler);
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    return server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}
