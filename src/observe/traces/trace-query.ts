// The trace query API's decisions: which parameters a request may carry and what they mean, the
// summary of a trace, and the trace view that marks hops that crossed clusters. Pure.
import {
  SPAN_KIND_NAMES,
  STATUS,
  STATUS_NAMES,
  type SpanTopology,
  type StoredSpan,
  type TimeWindowUs,
} from './span-model.ts';
import type { TraceSearch, TraceSummary } from './trace-store.ts';

/** A bad query parameter; `param` names it so a client can fix exactly that. */
export class TraceQueryError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(`${param}: ${message}`);
  }
}

export const DEFAULT_LOOKBACK_MS = 3_600_000;
export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 1000;

const UNIT_US: Readonly<Record<string, number>> = {
  us: 1,
  µs: 1,
  ms: 1e3,
  s: 1e6,
  m: 6e7,
  h: 3.6e9,
  d: 8.64e10,
};

/** Microseconds of a duration such as `250ms`, `1.5s` or `1h30m`; undefined when it is not one. */
export function parseDurationUs(text: string): number | undefined {
  if (!/^(?:\d+(?:\.\d+)?(?:us|µs|ms|s|m|h|d))+$/.test(text)) return undefined;
  let us = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(us|µs|ms|s|m|h|d)/g)) us += Number(m[1]) * UNIT_US[m[2]!]!;
  return Math.round(us);
}

const UNIT_BYTES: Readonly<Record<string, number>> = {
  '': 1,
  B: 1,
  K: 1e3,
  KB: 1e3,
  Ki: 1024,
  KiB: 1024,
  M: 1e6,
  MB: 1e6,
  Mi: 1024 ** 2,
  MiB: 1024 ** 2,
  G: 1e9,
  GB: 1e9,
  Gi: 1024 ** 3,
  GiB: 1024 ** 3,
};

/** Bytes of a size such as `512Mi`, `1GiB`, `20MB` or `1048576`; undefined when it is not one. */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]i?B?|B)?$/.exec(text.trim());
  const unit = m ? UNIT_BYTES[m[2] ?? ''] : undefined;
  return m && unit !== undefined ? Math.round(Number(m[1]) * unit) : undefined;
}

/** The latest time a query may name: 9999-12-31T23:59:59.999Z (later ones have no RFC 3339 form). */
export const MAX_TIME_MS = 253_402_300_799_999;

/** A time as RFC 3339 or Unix seconds (fractions allowed), in microseconds, from 1970 to 9999. */
export function parseTimeUs(param: string, text: string): number {
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : Date.parse(text);
  if (!Number.isFinite(n))
    throw new TraceQueryError(param, `"${text.slice(0, 100)}" is not RFC 3339 or Unix seconds`);
  if (n < 0 || n > MAX_TIME_MS)
    throw new TraceQueryError(param, `"${text.slice(0, 100)}" is outside 1970-01-01 to 9999-12-31`);
  return Math.round(n * 1000);
}

const NAME = /^[A-Za-z0-9][-A-Za-z0-9_.:/@ ]{0,252}$/;

function nameParam(p: URLSearchParams, param: string): string | undefined {
  const v = p.get(param);
  if (v === null) return undefined;
  if (!NAME.test(v)) throw new TraceQueryError(param, `"${v}" is not a valid name`);
  return v;
}

function rejectUnknown(p: URLSearchParams, allowed: readonly string[]): void {
  for (const k of p.keys()) {
    if (!allowed.includes(k))
      throw new TraceQueryError(k, `unknown parameter (supported: ${allowed.join(', ')})`);
    if (p.getAll(k).length > 1) throw new TraceQueryError(k, 'given more than once');
  }
}

/** The `start`/`end` window; the last hour when neither is given. */
export function parseWindow(p: URLSearchParams, nowMs: number): TimeWindowUs {
  const end = p.get('end');
  const start = p.get('start');
  const endUs = end === null ? nowMs * 1000 : parseTimeUs('end', end);
  const startUs = start === null ? endUs - DEFAULT_LOOKBACK_MS * 1000 : parseTimeUs('start', start);
  if (startUs >= endUs) throw new TraceQueryError('start', 'must be before end');
  return { startUs, endUs };
}

/** Validates `GET /api/v1/traces` parameters into a store search. */
export function parseTraceSearch(p: URLSearchParams, nowMs: number): TraceSearch {
  rejectUnknown(p, ['service', 'cluster', 'namespace', 'start', 'end', 'minDuration', 'error', 'limit']);
  const window = parseWindow(p, nowMs);
  let minDurationUs: number | undefined;
  const md = p.get('minDuration');
  if (md !== null) {
    minDurationUs = parseDurationUs(md);
    if (minDurationUs === undefined)
      throw new TraceQueryError('minDuration', `"${md}" is not a duration such as 250ms, 1.5s or 2m`);
  }
  let error: boolean | undefined;
  const e = p.get('error');
  if (e !== null) {
    if (e !== 'true' && e !== 'false') throw new TraceQueryError('error', 'must be true or false');
    error = e === 'true';
  }
  let limit = DEFAULT_LIMIT;
  const l = p.get('limit');
  if (l !== null) {
    limit = Number(l);
    if (!/^\d+$/.test(l) || limit < 1 || limit > MAX_LIMIT)
      throw new TraceQueryError('limit', `must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  return {
    ...window,
    service: nameParam(p, 'service'),
    cluster: nameParam(p, 'cluster'),
    namespace: nameParam(p, 'namespace'),
    minDurationUs,
    error,
    limit,
  };
}

/** Validates `GET /api/v1/traces/graph` parameters. */
export function parseGraphWindow(p: URLSearchParams, nowMs: number): TimeWindowUs {
  rejectUnknown(p, ['start', 'end']);
  return parseWindow(p, nowMs);
}

/** A trace id in the path: 32 hex digits, any case. */
export function parseTraceId(text: string): string {
  if (!/^[0-9a-fA-F]{32}$/.test(text)) throw new TraceQueryError('traceId', `"${text}" is not 32 hex digits`);
  return text.toLowerCase();
}

const unique = (xs: readonly (string | undefined)[]): string[] =>
  [...new Set(xs.filter((x): x is string => Boolean(x)))].sort();

/** Roots are spans without a parent, or whose parent never arrived; the earliest one wins. */
function rootOf(spans: readonly StoredSpan[]): StoredSpan | undefined {
  const ids = new Set(spans.map((s) => s.spanId));
  let root: StoredSpan | undefined;
  for (const s of spans)
    if ((!s.parentSpanId || !ids.has(s.parentSpanId)) && (!root || s.startUs < root.startUs)) root = s;
  return root;
}

/** The summary of one trace from all its spans (at least one). */
export function summarizeTrace(spans: readonly StoredSpan[]): TraceSummary {
  const root = rootOf(spans) ?? spans[0]!;
  let start = Infinity;
  let end = -Infinity;
  for (const s of spans) {
    start = Math.min(start, s.startUs);
    end = Math.max(end, s.startUs + s.durationUs);
  }
  return {
    traceId: root.traceId,
    rootService: root.service,
    rootName: root.name,
    startUs: start,
    durationUs: end - start,
    spanCount: spans.length,
    services: unique(spans.map((s) => s.service)),
    clusters: unique(spans.map((s) => s.cluster)),
    error: spans.some((s) => s.status === STATUS.error),
  };
}

const iso = (us: number): string => new Date(us / 1000).toISOString();

/** The API form of a summary: times as RFC 3339 and milliseconds. */
export type TraceSummaryJson = Omit<TraceSummary, 'startUs' | 'durationUs'> & {
  readonly startTime: string;
  readonly durationMs: number;
};

/** One span as `GET /api/v1/traces/<id>` returns it. */
export interface TraceSpanJson extends SpanTopology {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: string;
  readonly startTime: string;
  readonly startUnixMicros: number;
  readonly durationMs: number;
  readonly status: string;
  readonly statusMessage?: string;
  /** The parent ran in another (named) cluster: this hop left a cluster. */
  readonly crossCluster: boolean;
  readonly parentCluster?: string;
  readonly scope?: StoredSpan['scope'];
  readonly attributes: StoredSpan['attributes'];
  readonly resource: StoredSpan['resource'];
  readonly events: readonly { time: string; name: string; attributes: StoredSpan['attributes'] }[];
  readonly links: StoredSpan['links'];
}

export type TraceViewJson = TraceSummaryJson & { readonly spans: readonly TraceSpanJson[] };

export function summaryJson(t: TraceSummary): TraceSummaryJson {
  const { startUs, durationUs, ...rest } = t;
  return { ...rest, startTime: iso(startUs), durationMs: durationUs / 1000 };
}

/**
 * The trace view: every span with its topology, and `crossCluster` on each span whose parent ran
 * in another (named) cluster — the hops that left a cluster.
 */
export function traceView(spans: readonly StoredSpan[]): TraceViewJson {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  return {
    ...summaryJson(summarizeTrace(spans)),
    spans: spans.map((s): TraceSpanJson => {
      const parent = s.parentSpanId ? byId.get(s.parentSpanId) : undefined;
      const crossCluster = Boolean(parent?.cluster && s.cluster && parent.cluster !== s.cluster);
      return {
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId,
        name: s.name,
        kind: SPAN_KIND_NAMES[s.kind] ?? 'unspecified',
        startTime: iso(s.startUs),
        startUnixMicros: s.startUs,
        durationMs: s.durationUs / 1000,
        status: STATUS_NAMES[s.status] ?? 'unset',
        statusMessage: s.statusMessage,
        service: s.service,
        cluster: s.cluster,
        region: s.region,
        namespace: s.namespace,
        pod: s.pod,
        app: s.app,
        revision: s.revision,
        crossCluster,
        parentCluster: crossCluster ? parent?.cluster : undefined,
        scope: s.scope,
        attributes: s.attributes,
        resource: s.resource,
        events: s.events.map((e) => ({ time: iso(e.timeUs), name: e.name, attributes: e.attributes })),
        links: s.links,
      };
    }),
  };
}
