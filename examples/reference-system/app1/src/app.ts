// APP 1's HTTP front: the page, the catalogue and orders, each answered by calling APP 2. Every
// answer says which cluster served APP 1 and which served APP 2, in `x-app1-cluster` /
// `x-app2-cluster` and in the JSON (`app1Cluster`, `app2Cluster`).
import { randomUUID } from 'node:crypto';
import {
  HttpError,
  HttpService,
  parseOrderId,
  parseOrderInput,
  readJsonBody,
  type Logger,
  type Reply,
  type ServiceMetrics,
  type Tracing,
} from '@reference-system/service-kit';
import { App2UnavailableError, type App2Client, type App2Response } from './app2-client.ts';
import { renderPage, type PageModel } from './page.ts';

export interface App1Deps {
  readonly cluster: string;
  /** Answered in `x-app1-version`, so a client can tell which release served it. */
  readonly version?: string;
  readonly app2: App2Client;
  readonly tracing: Tracing;
  readonly metrics: ServiceMetrics;
  readonly log: Logger;
}

type Call = Parameters<App2Client['call']>[0];

export function createApp1(deps: App1Deps): HttpService {
  const { cluster } = deps;

  /** Calls APP 2; when every attempt failed, a 504 (timeouts) or 502 that says so. */
  const callApp2 = async (call: Call): Promise<App2Response> => {
    try {
      return await deps.app2.call(call);
    } catch (err) {
      if (!(err instanceof App2UnavailableError)) throw err;
      throw new HttpError(err.reason === 'timeout' ? 504 : 502, err.message);
    }
  };

  /** APP 2's answer as APP 1's: same status, its JSON object plus who served, its cluster header. */
  const servedBy = (app2Cluster: string | undefined): Record<string, string> =>
    app2Cluster ? { 'x-app2-cluster': app2Cluster } : {};

  const relay = (res: App2Response): Reply => {
    const body =
      typeof res.body === 'object' && res.body !== null ? res.body : { error: String(res.body ?? '') };
    return {
      status: res.status,
      headers: servedBy(res.cluster),
      json: { ...body, app1Cluster: cluster, app2Cluster: res.cluster ?? null },
    };
  };

  const service: HttpService = new HttpService({
    tracing: deps.tracing,
    metrics: deps.metrics,
    log: deps.log,
    headers: { 'x-app1-cluster': cluster, ...(deps.version ? { 'x-app1-version': deps.version } : {}) },
    routes: [
      {
        method: 'GET',
        path: '/healthz',
        quiet: true,
        handler: async () => ({ status: 200, json: { ok: true } }),
      },
      {
        // APP 1 is ready when it can serve: APP 2's health is the Service's (and the mesh's) business,
        // so an APP 1 whose local APP 2 is down keeps serving through a remote one.
        method: 'GET',
        path: '/readyz',
        quiet: true,
        handler: async () =>
          service.isClosing
            ? { status: 503, json: { ready: false, reason: 'shutting down' } }
            : { status: 200, json: { ready: true } },
      },
      {
        method: 'GET',
        path: '/',
        handler: async ({ ctx, log }) => {
          let model: PageModel;
          try {
            const res = await callApp2({ method: 'GET', path: '/items', ctx, log });
            const items = (res.body as { items?: PageModel['items'] } | undefined)?.items ?? [];
            model = { app1Cluster: cluster, app2Cluster: res.cluster, items };
          } catch (err) {
            if (!(err instanceof HttpError)) throw err;
            model = { app1Cluster: cluster, app2Cluster: undefined, items: [], error: err.message };
          }
          return {
            status: model.error ? 502 : 200,
            headers: servedBy(model.app2Cluster),
            text: renderPage(model),
            contentType: 'text/html; charset=utf-8',
          };
        },
      },
      {
        method: 'GET',
        path: '/items',
        handler: async ({ ctx, log }) => relay(await callApp2({ method: 'GET', path: '/items', ctx, log })),
      },
      {
        method: 'POST',
        path: '/orders',
        handler: async ({ req, ctx, log }) => {
          const order = parseOrderInput(await readJsonBody(req));
          const headers = { 'idempotency-key': randomUUID() };
          return relay(await callApp2({ method: 'POST', path: '/orders', body: order, headers, ctx, log }));
        },
      },
      {
        method: 'GET',
        path: '/orders/:id',
        handler: async ({ params, ctx, log }) => {
          const id = parseOrderId(params['id']!);
          return relay(await callApp2({ method: 'GET', path: `/orders/${id}`, ctx, log }));
        },
      },
    ],
  });
  return service;
}
