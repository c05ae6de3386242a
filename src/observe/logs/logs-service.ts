// The hub's logs API: `GET /api/v1/logs` answers a query with JSON, `GET /api/v1/logs/stream`
// follows live as Server-Sent Events. Both are fleet-logs.ts, exactly as `meridian logs` runs it.
import type { ServerResponse } from 'node:http';
import type { Route, RouteDoc, RouteResult } from '../../http/route-contract.ts';
import { observeAccess, type ObserveDeps, type ObserveService } from '../services.ts';
import { followLogs, queryLogs } from './fleet-logs.ts';
import type { LogEvent } from './log-event.ts';
import { API_PARAMS, LogQueryError, parseLogQuery, selectClusters, type LogQuery } from './log-query.ts';
import { normalizeTime } from './log-timestamp.ts';
import { noWorkloads, type WorkloadOf } from './log-targets.ts';

/** Lines a query returns when it names no limit: the newest ones. */
export const DEFAULT_API_LIMIT = 10_000;
const KEEPALIVE_MS = 15_000;

function queryOf(url: URL, defaultLimit?: number): LogQuery {
  const p = url.searchParams;
  const get = (k: string): string | undefined => p.get(k) ?? undefined;
  return parseLogQuery(
    {
      selector: get('selector'),
      namespace: get('namespace'),
      clusters: p.getAll('cluster'),
      allClusters: get('allClusters') === 'true',
      since: get('since'),
      grep: get('grep'),
      limit: get('limit') ?? (defaultLimit !== undefined ? String(defaultLimit) : undefined),
    },
    API_PARAMS,
  );
}

const badRequest = (e: LogQueryError): RouteResult => ({
  status: 400,
  body: { error: e.message, code: e.code, param: e.param },
});

// Like the rest of the observability API: `get` on the virtual resource `logs` of
// observe.meridian.dev (a path would be open to everyone through system:discovery).
const access: Route['access'] = () => observeAccess('logs');

const PARAM_DOCS: NonNullable<RouteDoc['params']> = [
  { name: 'selector', description: 'Label selector of the pods, e.g. app=app2', required: true },
  { name: 'namespace', description: 'Only this namespace (default: every namespace)' },
  { name: 'cluster', description: 'Only these members (repeat, or comma-separated; default: every member)' },
  { name: 'since', description: 'Only lines newer than a duration (10m, 1h30m) or an RFC 3339 time' },
  { name: 'grep', description: 'Only lines whose message matches this regular expression' },
];

function sse(res: ServerResponse, ev: LogEvent, id?: string): void {
  res.write(`event: ${ev.kind}\n${id ? `id: ${id}\n` : ''}data: ${JSON.stringify(ev)}\n\n`);
}

/**
 * Where a stream is: the time of its last line and how many lines it has sent with that time
 * (lines of different containers can share an instant). A line's SSE id is `time#n`, so a client
 * that reconnects with it as Last-Event-ID says exactly where it stopped.
 */
interface StreamPosition {
  readonly time: string;
  readonly count: number;
}

const positionId = (p: StreamPosition): string => `${p.time}#${p.count}`;

function advance(p: StreamPosition | undefined, time: string): StreamPosition {
  return p?.time === time ? { time, count: p.count + 1 } : { time, count: 1 };
}

/** The position a reconnecting client reached, from its Last-Event-ID header. */
function resumeAfter(header: string | string[] | undefined): StreamPosition | undefined {
  if (header === undefined || header === '') return undefined;
  const m = /^([^#]+)#([1-9]\d{0,8})$/.exec(String(header));
  const time = m ? normalizeTime(m[1]!) : undefined;
  if (!m || !time)
    throw new LogQueryError('Last-Event-ID', `"${String(header)}" is not the id of a log line (time#n)`);
  return { time, count: Number(m[2]) };
}

export function createLogsService(
  deps: Pick<ObserveDeps, 'fleet' | 'log'>,
  workloadOf: WorkloadOf = noWorkloads,
): ObserveService {
  const { fleet, log } = deps;
  const query: Route = {
    method: 'GET',
    path: '/api/v1/logs',
    access,
    handle: async ({ url, req }) => {
      let q: LogQuery;
      try {
        q = queryOf(url, DEFAULT_API_LIMIT);
        const abort = new AbortController();
        req.on('close', () => abort.abort());
        const r = await queryLogs(fleet, q, { names: API_PARAMS, workloadOf, signal: abort.signal });
        return {
          body: { lines: r.lines, warnings: r.warnings, truncated: r.truncated, clusters: r.clusters },
        };
      } catch (e) {
        if (e instanceof LogQueryError) return badRequest(e);
        throw e;
      }
    },
    doc: {
      summary:
        'Log lines of matching pods in every selected cluster, merged in time order, with topology labels',
      description:
        'Answers {lines, warnings, truncated, clusters}. A cluster that cannot be read is a warning; the others still answer.',
      tags: ['logs'],
      params: [
        ...PARAM_DOCS,
        { name: 'limit', description: `Only the newest n lines (default ${DEFAULT_API_LIMIT})` },
      ],
    },
  };
  const stream: Route = {
    method: 'GET',
    path: '/api/v1/logs/stream',
    access,
    handle: async ({ url, req, res }) => {
      let q: LogQuery;
      let after: StreamPosition | undefined;
      try {
        q = queryOf(url);
        after = resumeAfter(req.headers['last-event-id']);
        // A resumed stream starts after the client's last line, whatever the limit: no line is
        // sent twice, and none newer is skipped.
        if (after) q = { ...q, since: after.time, limit: undefined };
        // Unknown clusters are found before the stream starts, so they are a 400 too.
        selectClusters(
          q,
          fleet.members().map((m) => m.name),
          API_PARAMS,
        );
      } catch (e) {
        if (e instanceof LogQueryError) return badRequest(e);
        throw e;
      }
      const abort = new AbortController();
      res.on('close', () => abort.abort());
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      res.write(': meridian logs stream\n\n');
      // Comments keep proxies and idle timeouts from closing a quiet stream.
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      let at: StreamPosition | undefined;
      try {
        await followLogs(fleet, q, { names: API_PARAMS, workloadOf, signal: abort.signal }, (ev) => {
          if (ev.kind !== 'line') return sse(res, ev);
          at = advance(at, ev.time);
          // Lines up to the client's position were sent before it reconnected.
          if (after && (at.time < after.time || (at.time === after.time && at.count <= after.count))) return;
          sse(res, ev, positionId(at));
        });
      } catch (e) {
        if (!abort.signal.aborted) log.warn({ err: e }, 'log stream failed');
      } finally {
        clearInterval(keepalive);
        res.end();
      }
      return undefined;
    },
    doc: {
      summary: 'Live log stream (Server-Sent Events): the backlog in time order, then new lines as they come',
      description:
        "Events `line`, `marker` (a cluster's streams were interrupted or resumed: lines may be missing between) and `warning`. Survives member API server restarts without repeating lines. Each line's `id` is `time#n` (its time, and how many lines the stream has sent with that time): a client that reconnects with `Last-Event-ID` (as EventSource does) gets the lines after it, none twice.",
      tags: ['logs'],
      params: [...PARAM_DOCS, { name: 'limit', description: 'Only the newest n lines of the backlog' }],
      produces: 'text/event-stream',
    },
  };
  return { routes: [stream, query] };
}
