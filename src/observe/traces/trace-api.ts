// The trace query API: one trace by id (with the hops that crossed clusters marked), trace search,
// and the service graph. Authorized as `get` on the request path (nonResourceURLs
// `/api/v1/traces` and `/api/v1/traces/*`), like the API server's own discovery paths.
import type { Route, RouteResult } from '../../hub/http-server.ts';
import { serviceGraph } from './service-graph.ts';
import type { TraceStore } from './trace-store.ts';
import {
  TraceQueryError,
  parseGraphWindow,
  parseTraceId,
  parseTraceSearch,
  summaryJson,
  traceView,
} from './trace-query.ts';

async function answer(f: () => Promise<RouteResult>): Promise<RouteResult> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof TraceQueryError) return { status: 400, body: { error: e.message, param: e.param } };
    throw e;
  }
}

export function traceQueryRoutes(store: TraceStore, now: () => number = Date.now): Route[] {
  const access = (url: URL) => ({ kind: 'nonResource' as const, verb: 'get', path: url.pathname });
  return [
    {
      method: 'GET',
      path: '/api/v1/traces/graph',
      access,
      handle: ({ url }) =>
        answer(async () => ({ body: await serviceGraph(store, parseGraphWindow(url.searchParams, now())) })),
    },
    {
      method: 'GET',
      path: '/api/v1/traces',
      access,
      handle: ({ url }) =>
        answer(async () => {
          const q = parseTraceSearch(url.searchParams, now());
          const traces = await store.search(q);
          return { body: { traces: traces.map(summaryJson), limit: q.limit } };
        }),
    },
    {
      method: 'GET',
      path: '/api/v1/traces/',
      access,
      handle: ({ url }) =>
        answer(async () => {
          const id = parseTraceId(decodeURIComponent(url.pathname.slice('/api/v1/traces/'.length)));
          const spans = await store.trace(id);
          if (spans.length === 0) return { status: 404, body: { error: `trace ${id} not found` } };
          return { body: traceView(spans) };
        }),
    },
  ];
}
