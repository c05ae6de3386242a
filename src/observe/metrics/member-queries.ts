// Asking one member's Prometheus-compatible HTTP API, and asking every member at once with a
// deadline each, so one slow or dead cluster costs nothing beyond its own timeout.
import { dialUndici } from '../../dial/dialer.ts';
import { errorMessage } from '../../kube/errors.ts';
import { refusalOf, type MemberFailures, type QueryRefusal } from './member-failure.ts';

export interface MetricsMember {
  readonly name: string;
  readonly region: string;
  /** The Cluster's spec.observability.prometheusURL. */
  readonly url: string;
}

/** A failed ask: `refused` when the member refused the query itself (400 / 422 from Prometheus). */
export interface MemberFailed {
  readonly ok: false;
  readonly error: string;
  readonly refused?: QueryRefusal;
}

export type MemberAnswer = { readonly ok: true; readonly body: Uint8Array } | MemberFailed;

/**
 * Asks `<prometheusURL>/api/v1/<endpoint>`, by POST as Grafana does (long queries and many match[]
 * never hit URL length limits) except where Prometheus only serves GET (label values). Never
 * throws: a failure is an answer.
 */
export async function askMember(
  member: MetricsMember,
  endpoint: string,
  form: URLSearchParams,
  signal: AbortSignal,
  method: 'GET' | 'POST' = 'POST',
): Promise<MemberAnswer> {
  try {
    const url = new URL(`${member.url.replace(/\/+$/, '')}/api/v1/${endpoint}`);
    if (method === 'GET') url.search = form.toString();
    // undici's request API rather than fetch: a keep-alive pool too, at a fraction of the per-call cost.
    const res = await dialUndici(url, {
      method,
      headers: {
        accept: 'application/json',
        ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: method === 'POST' ? form.toString() : undefined,
      signal,
    });
    const body = new Uint8Array(await res.body.arrayBuffer());
    if (res.statusCode === 200) return { ok: true, body };
    const text = new TextDecoder().decode(body);
    return {
      ok: false,
      error: `HTTP ${res.statusCode}: ${apiError(text)}`,
      refused: refusalOf(res.statusCode, text),
    };
  } catch (e) {
    if (signal.aborted) return { ok: false, error: abortReason(signal) };
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return { ok: false, error: `${errorMessage(e)}${cause}` };
  }
}

/**
 * Asks a member's remote-read endpoint (`<prometheusURL>/api/v1/read`) with `readRequest`, a
 * snappy-compressed ReadRequest; the answer body is its snappy-compressed ReadResponse. Never
 * throws; `notServed` says the member has no remote read (a non-Prometheus server).
 */
export async function readMember(
  member: MetricsMember,
  readRequest: Uint8Array,
  signal: AbortSignal,
): Promise<MemberAnswer & { readonly notServed?: boolean }> {
  try {
    const url = new URL(`${member.url.replace(/\/+$/, '')}/api/v1/read`);
    const res = await dialUndici(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-protobuf',
        'content-encoding': 'snappy',
        'x-prometheus-remote-read-version': '0.1.0',
      },
      body: readRequest,
      signal,
    });
    const body = new Uint8Array(await res.body.arrayBuffer());
    if (res.statusCode === 200) return { ok: true, body };
    const text = new TextDecoder().decode(body).slice(0, 200).trim();
    return {
      ok: false,
      error: `remote read: HTTP ${res.statusCode}: ${text}`,
      notServed: [404, 405, 501].includes(res.statusCode),
    };
  } catch (e) {
    if (signal.aborted) return { ok: false, error: abortReason(signal) };
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return { ok: false, error: `${errorMessage(e)}${cause}` };
  }
}

/** How long a member that served no remote read is not asked again (as buildinfo is kept). */
export const NO_REMOTE_READ_TTL_MS = 60_000;

/**
 * Members (by URL) whose remote read answered 404, 405 or 501: for a while each query goes straight
 * to their query API instead of asking remote read again first. Bounded by the members' count.
 */
export class RemoteReadMisses {
  private readonly since = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = NO_REMOTE_READ_TTL_MS,
  ) {}

  /** Whether `url` recently said it serves no remote read. */
  notServed(url: string): boolean {
    const at = this.since.get(url);
    if (at === undefined) return false;
    if (this.now() - at <= this.ttlMs) return true;
    this.since.delete(url);
    return false;
  }

  remember(url: string): void {
    this.since.set(url, this.now());
    // Forget expired URLs (a member left, or its URL changed) once in a while.
    if (this.since.size > 64) for (const u of [...this.since.keys()]) this.notServed(u);
  }
}

function apiError(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && 'error' in parsed && typeof parsed.error === 'string')
      return parsed.error;
  } catch {
    // not JSON: show the start of what it said
  }
  return text.slice(0, 200);
}

function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof Error && r.name === 'TimeoutError' ? r.message : 'request canceled';
}

/** A timeout signal whose reason names the deadline, and a way to stop its timer early. */
function deadline(ms: number): { signal: AbortSignal; cancel: () => void } {
  const c = new AbortController();
  const t = setTimeout(() => {
    const e = new Error(`no answer within ${ms / 1000} s`);
    e.name = 'TimeoutError';
    c.abort(e);
  }, ms);
  return { signal: c.signal, cancel: () => clearTimeout(t) };
}

export interface FanOut<T> extends MemberFailures {
  readonly answers: ReadonlyMap<string, T>;
}

/**
 * Runs `ask` for every member in parallel, each under its own `timeoutMs` (and the caller's
 * signal, e.g. the client going away). A member whose ask fails or overruns is reported in
 * `failed` (or `refused`, when it refused the query) and never delays the others' answers.
 */
export async function fanOut<T>(
  members: readonly MetricsMember[],
  timeoutMs: number,
  parent: AbortSignal,
  ask: (m: MetricsMember, signal: AbortSignal) => Promise<{ ok: true; value: T } | MemberFailed>,
): Promise<FanOut<T>> {
  const answers = new Map<string, T>();
  const failed = new Map<string, string>();
  const refused = new Map<string, QueryRefusal>();
  await Promise.all(
    members.map(async (m) => {
      const own = deadline(timeoutMs);
      const signal = AbortSignal.any([own.signal, parent]);
      // The deadline races the ask itself too, so even an ask that ignores its signal is cut off.
      const timedOut = new Promise<MemberFailed>((resolve) =>
        signal.addEventListener('abort', () => resolve({ ok: false, error: abortReason(signal) }), {
          once: true,
        }),
      );
      try {
        const r = await Promise.race([ask(m, signal), timedOut]);
        if (r.ok) answers.set(m.name, r.value);
        else if (r.refused) refused.set(m.name, r.refused);
        else failed.set(m.name, r.error);
      } catch (e) {
        failed.set(m.name, errorMessage(e));
      } finally {
        own.cancel();
      }
    }),
  );
  return { answers, failed, refused };
}
