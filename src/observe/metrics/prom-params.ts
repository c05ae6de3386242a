// Parameters of the Prometheus HTTP API, parsed and checked the way Prometheus does it, with its
// error texts (Grafana shows them to users). Pure: strings in, numbers (ms) or an error out.

/** Prometheus' default max points per series of a range query. */
export const MAX_POINTS = 11_000;

export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (error: string): Parsed<never> => ({ ok: false, error });

const FLOAT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const DURATION_UNITS_MS = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];

/**
 * The widest time a query may name, in ms either side of 1970: what a Date holds (±275,760 years).
 * Beyond it a time cannot be formatted, nor sent to the engine as an integer.
 */
export const MAX_TIME_MS = 8.64e15;
/** The longest duration: Go's time.Duration (int64 nanoseconds), as Prometheus bounds it. */
export const MAX_DURATION_MS = 9_223_372_036_854;

/** A timestamp as Unix seconds (fractions allowed) or RFC 3339, in ms. */
export function parseTimeMs(s: string): number | undefined {
  let ms: number | undefined;
  if (FLOAT.test(s)) ms = Math.round(Number(s) * 1000);
  else if (RFC3339.test(s)) ms = Date.parse(s);
  return ms !== undefined && Number.isFinite(ms) && Math.abs(ms) <= MAX_TIME_MS ? ms : undefined;
}

/** A duration as seconds (fractions allowed) or a Prometheus duration (`1h30m`, `15s`), in ms. */
export function parseDurationMs(s: string): number | undefined {
  let ms: number | undefined;
  if (FLOAT.test(s)) {
    ms = Math.round(Number(s) * 1000);
  } else {
    const m = DURATION.exec(s);
    if (!m || s === '') return undefined;
    ms = DURATION_UNITS_MS.reduce((sum, unit, i) => sum + Number(m[i + 1] ?? 0) * unit, 0);
  }
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DURATION_MS ? ms : undefined;
}

function time(params: URLSearchParams, name: string, fallback?: number): Parsed<number> {
  const raw = params.get(name);
  if (raw === null || raw === '') {
    if (fallback !== undefined) return ok(fallback);
  }
  const ms = parseTimeMs(raw ?? '');
  return ms === undefined
    ? bad(
        `invalid parameter "${name}": Invalid time value for '${name}': cannot parse "${raw ?? ''}" to a valid timestamp`,
      )
    : ok(ms);
}

export interface InstantParams {
  readonly query: string;
  readonly time: number;
}

export interface RangeParams {
  readonly query: string;
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

/** /api/v1/query: `query`, optional `time` (default now). */
export function instantParams(params: URLSearchParams, nowMs: number): Parsed<InstantParams> {
  const t = time(params, 'time', nowMs);
  if (!t.ok) return t;
  return ok({ query: params.get('query') ?? '', time: t.value });
}

/** /api/v1/query_range: `query`, `start`, `end`, `step`, with Prometheus' limits. */
export function rangeParams(params: URLSearchParams): Parsed<RangeParams> {
  const start = time(params, 'start');
  if (!start.ok) return start;
  const end = time(params, 'end');
  if (!end.ok) return end;
  if (end.value < start.value)
    return bad('invalid parameter "end": end timestamp must not be before start time');
  const rawStep = params.get('step') ?? '';
  const step = parseDurationMs(rawStep);
  if (step === undefined)
    return bad(`invalid parameter "step": cannot parse "${rawStep}" to a valid duration`);
  if (step <= 0)
    return bad(
      'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer',
    );
  if ((end.value - start.value) / step > MAX_POINTS)
    return bad(
      'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)',
    );
  return ok({ query: params.get('query') ?? '', start: start.value, end: end.value, step });
}

export interface SeriesParams {
  readonly matchers: readonly string[];
  /** Forwarded to members as given (seconds), absent when the caller gave none. */
  readonly start?: number;
  readonly end?: number;
}

/** /api/v1/series, /labels, /label/…/values: `match[]` (required for series), `start`, `end`. */
export function seriesParams(params: URLSearchParams, requireMatch: boolean): Parsed<SeriesParams> {
  const matchers = params.getAll('match[]');
  if (requireMatch && matchers.length === 0) return bad('no match[] parameter provided');
  const out: { matchers: string[]; start?: number; end?: number } = { matchers };
  for (const name of ['start', 'end'] as const) {
    if (!params.get(name)) continue;
    const t = time(params, name);
    if (!t.ok) return t;
    out[name] = t.value;
  }
  if (out.start !== undefined && out.end !== undefined && out.end < out.start)
    return bad('invalid parameter "end": end timestamp must not be before start time');
  return ok(out);
}

/** Label names as Prometheus validates them in /api/v1/label/<name>/values. */
export function isLabelName(s: string): boolean {
  return /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(s);
}

/** Seconds with millisecond precision, as Prometheus writes times in parameters. */
export function secondsParam(ms: number): string {
  return (ms / 1000).toFixed(3);
}
