// APP 2's HTTP API: items and orders, stored by OrderStore. Every answer says which cluster served
// it (`x-app2-cluster`, and `app2Cluster` in the JSON). /readyz is false while the database is
// unreachable (or the schema not yet created), so the Service stops sending traffic here.
import { randomUUID } from 'node:crypto';
import {
  HttpError,
  HttpService,
  parseOrderId,
  parseOrderInput,
  readJsonBody,
  type Logger,
  type ServiceMetrics,
  type Tracing,
} from '@reference-system/service-kit';
import { UnknownItemError, type OrderStore } from './order-store.ts';

export interface App2Deps {
  readonly cluster: string;
  readonly store: OrderStore;
  readonly tracing: Tracing;
  readonly metrics: ServiceMetrics;
  readonly log: Logger;
  /** True once the schema exists; readiness waits for it. */
  readonly schemaReady: () => boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createApp2(deps: App2Deps): HttpService {
  const { cluster, store, metrics } = deps;
  /** Runs a database call; a database failure becomes a 503 and is counted as an upstream error. */
  const db = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      if (err instanceof UnknownItemError) throw new HttpError(400, err.message, 'item');
      metrics.upstreamErrors.inc({
        upstream: 'postgres',
        reason: (err as { code?: string }).code ?? 'error',
      });
      deps.log.warn({ err }, 'database call failed');
      throw new HttpError(503, 'the database is unavailable');
    }
  };
  const service: HttpService = new HttpService({
    tracing: deps.tracing,
    metrics,
    log: deps.log,
    headers: { 'x-app2-cluster': cluster },
    routes: [
      {
        method: 'GET',
        path: '/healthz',
        quiet: true,
        handler: async () => ({ status: 200, json: { ok: true } }),
      },
      {
        method: 'GET',
        path: '/readyz',
        quiet: true,
        handler: async () => {
          if (service.isClosing) return { status: 503, json: { ready: false, reason: 'shutting down' } };
          if (!deps.schemaReady())
            return { status: 503, json: { ready: false, reason: 'schema not created yet' } };
          try {
            await store.ping();
            return { status: 200, json: { ready: true } };
          } catch (err) {
            return { status: 503, json: { ready: false, reason: `database: ${(err as Error).message}` } };
          }
        },
      },
      {
        method: 'GET',
        path: '/items',
        handler: async ({ ctx }) => ({
          status: 200,
          json: { items: await db(() => store.listItems(ctx)), app2Cluster: cluster },
        }),
      },
      {
        method: 'POST',
        path: '/orders',
        handler: async ({ req, ctx, log }) => {
          const input = parseOrderInput(await readJsonBody(req));
          // APP 1 sends one key per user request and keeps it across its retry.
          const key = req.headers['idempotency-key'];
          const requestId = typeof key === 'string' && UUID.test(key) ? key : randomUUID();
          const order = await db(() => store.createOrder(ctx, input, requestId, cluster));
          log.info({ order_id: order.id, item: order.item, quantity: order.quantity }, 'order stored');
          return {
            status: 201,
            headers: { location: `/orders/${order.id}` },
            json: { ...order, app2Cluster: cluster },
          };
        },
      },
      {
        method: 'GET',
        path: '/orders/:id',
        handler: async ({ params, ctx }) => {
          const id = parseOrderId(params['id']!);
          const order = await db(() => store.getOrder(ctx, id));
          if (!order) throw new HttpError(404, `order ${id} does not exist`);
          return { status: 200, json: { ...order, app2Cluster: cluster } };
        },
      },
    ],
  });
  return service;
}
