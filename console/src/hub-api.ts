// The console's only way to the hub: its HTTP API, same origin, with the bearer token the user
// signed in with. The token lives in sessionStorage (gone when the tab closes) and is sent to
// nothing but this origin's /api paths.
import type { Topology } from '../../src/observe/topology/build-topology.ts';
import type { LogsResult } from '../../src/observe/logs/fleet-logs.ts';
import type { LogEvent, LogLine, LogWarning } from '../../src/observe/logs/log-event.ts';
import type { TraceSummaryJson, TraceViewJson } from '../../src/observe/traces/trace-query.ts';
import type { MatrixSeries, VectorSample } from '../../src/observe/metrics/prom-merge.ts';
import { SseParser } from './sse-parser.ts';

export type { LogEvent, LogLine, LogWarning, Topology, TraceSummaryJson, TraceViewJson };

export type TopologyAnswer = Topology & { window: string; warnings: string[] };

/** What `GET /api/v1/logs` answers (fleet-logs.ts' result without the hub-internal `failed`). */
export type LogsAnswer = Pick<LogsResult, 'lines' | 'warnings' | 'truncated' | 'clusters'>;

export type PromData =
  | { resultType: 'vector'; result: VectorSample[] }
  | { resultType: 'matrix'; result: MatrixSeries[] }
  | { resultType: 'scalar' | 'string'; result: [number, string] };

export interface PromAnswer {
  readonly status: 'success' | 'error';
  readonly data?: PromData;
  readonly error?: string;
  readonly warnings?: string[];
}

const TOKEN_KEY = 'meridian.token';

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (t: string): void => sessionStorage.setItem(TOKEN_KEY, t.trim()),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

/**
 * A token handed over in the URL's fragment (`…/console/#token=<token>`, what `meridian fleet up`
 * prints): browsers never send a fragment to the server, so it reaches no log. Taken into this
 * tab's session and removed from the address bar and history at once. Returns the hash left.
 */
export function tokenFromFragment(hash: string): { token?: string; rest: string } {
  const m = /^#token=([^&/]+)/.exec(hash);
  if (!m) return { rest: hash };
  return { token: decodeURIComponent(m[1]!), rest: '#topology' };
}

/** A failed API call, with the hub's own message (it names the bad parameter). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function headers(): HeadersInit {
  const t = token.get();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: string };
    if (body.error) message = body.error;
  } catch {
    // not JSON: keep the status line
  }
  if (res.status === 401) message = `not signed in or the token expired (${message})`;
  if (res.status === 403) message = `the token's identity may not do this (${message})`;
  return new ApiError(res.status, message);
}

export async function getJson<T>(
  path: string,
  params: Record<string, string | undefined> = {},
  signal?: AbortSignal,
): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const qs = q.toString();
  const res = await fetch(qs ? `${path}?${qs}` : path, { headers: headers(), signal: signal ?? null });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** A Prometheus query the way Grafana sends it: a form POST (no URL length limit). */
export async function promQuery(
  path: string,
  form: Record<string, string>,
  signal?: AbortSignal,
): Promise<PromAnswer> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { ...headers(), 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    signal: signal ?? null,
  });
  const body = (await res.json().catch(() => undefined)) as PromAnswer | undefined;
  if (!body) throw await failure(res);
  if (!res.ok && res.status !== 400 && res.status !== 422)
    throw new ApiError(res.status, body.error ?? res.statusText);
  return body;
}

/**
 * Follows an SSE endpoint until `signal` aborts, one callback per event. A dropped connection is
 * reopened with the last event id (Last-Event-ID, as EventSource would), so nothing is repeated;
 * `onEvent('reconnected', '')` marks the place. Refusals (4xx) end the follow with an error.
 */
export async function followEvents(
  path: string,
  params: Record<string, string | undefined>,
  onEvent: (event: string, data: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  let lastId = '';
  for (let attempt = 0; !signal.aborted; attempt++) {
    if (attempt > 0) {
      await new Promise((r) => setTimeout(r, Math.min(10_000, 1_000 * attempt)));
      if (signal.aborted) return;
    }
    let res: Response;
    try {
      res = await fetch(`${path}?${q.toString()}`, {
        headers: { ...headers(), ...(lastId ? { 'Last-Event-ID': lastId } : {}) },
        signal,
      });
    } catch (e) {
      if (signal.aborted) return;
      if (attempt >= 30) throw e;
      continue;
    }
    if (!res.ok || !res.body) throw await failure(res);
    if (attempt > 0) onEvent('reconnected', '');
    attempt = 0;
    const parser = new SseParser();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const ev of parser.push(value)) {
          lastId = ev.id;
          onEvent(ev.event, ev.data);
        }
      }
    } catch {
      // The connection broke: reopen it from lastId.
    }
  }
}
