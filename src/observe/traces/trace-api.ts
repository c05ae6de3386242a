// The trace query API: one trace by id (with the hops that crossed clusters marked), trace search,
// and the service graph. Authorized as `get` on traces.observe.meridian.dev.
import { decodePathParam, type Route, type RouteResult } from '../../http/route-contract.ts';
import { observeAccess } from '../services.ts';
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
  const access = () => observeAccess('traces');
  const window = [
    { name: 'start', description: 'RFC 3339 or Unix seconds (default: end - 1h)' },
    { name: 'end', description: 'RFC 3339 or Unix seconds (default: now)' },
  ];
  return [
    {
      method: 'GET',
      path: '/api/v1/traces/graph',
      access,
      handle: ({ url }) =>
        answer(async () => ({ body: await serviceGraph(store, parseGraphWindow(url.searchParams, now())) })),
      doc: {
        summary:
          'Service graph from traces: calls/s, error rate, p50/p99 per edge, edges that cross clusters',
        tags: ['traces'],
        params: window,
      },
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
      doc: {
        summary: 'Trace search: traces with a span matching every filter, newest first',
        tags: ['traces'],
        params: [
          { name: 'service', description: 'service.name of a span' },
          { name: 'cluster', description: 'cluster a span ran in' },
          { name: 'namespace', description: 'namespace a span ran in' },
          ...window,
          { name: 'minDuration', description: 'a span at least this long, e.g. 250ms' },
          { name: 'error', description: 'true: a failed span; false: a span that did not fail' },
          { name: 'limit', description: 'traces to return, 1-1000 (default 20)' },
        ],
      },
    },
    {
      method: 'GET',
      path: '/api/v1/traces/',
      access,
      handle: ({ url }) =>
        answer(async () => {
          const id = parseTraceId(decodePathParam('traceId', url.pathname.slice('/api/v1/traces/'.length)));
          const spans = await store.trace(id);
          if (spans.length === 0) return { status: 404, body: { error: `trace ${id} not found` } };
          return { body: traceView(spans) };
        }),
      doc: {
        summary:
          'One trace: every span with its topology; crossCluster marks hops whose parent ran in another cluster',
        tags: ['traces'],
        params: [{ name: 'traceId', in: 'path', required: true, description: '32 hex digits' }],
      },
    },
  ];
}
