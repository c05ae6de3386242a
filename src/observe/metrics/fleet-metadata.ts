// /api/v1/series, /api/v1/labels and /api/v1/label/<name>/values over the fleet. Members hold no
// `cluster`/`region` labels, so selectors on them choose members, and their values come from
// which members have matching series.
import { askMember, fanOut, type MetricsMember } from './member-prometheus.ts';
import { isFailure, type PromqlEngine } from './promql-engine.ts';
import { mergeSeries, memberWarnings, unionSorted, type Labels } from './prom-merge.ts';
import { secondsParam, type SeriesParams } from './prom-params.ts';
import { apiError, apiSuccess, memberMissing, type ApiAnswer } from './prom-response.ts';
import { failureAnswer } from './fleet-query.ts';

export interface FleetMetadataContext {
  readonly engine: PromqlEngine;
  readonly timeoutMs: number;
}

/** Members to ask and each one's match[] (none when the caller gave none), or an error answer. */
function targets(
  ctx: FleetMetadataContext,
  members: readonly MetricsMember[],
  p: SeriesParams,
): { members: MetricsMember[]; matchers: Map<string, readonly string[]> } | ApiAnswer {
  if (p.matchers.length === 0) return { members: [...members], matchers: new Map() };
  const sel = ctx.engine.selectors(p.matchers, members);
  if (isFailure(sel)) return failureAnswer(sel);
  const matchers = new Map(sel.map((s) => [s.member, s.matchers]));
  return { members: members.filter((m) => matchers.has(m.name)), matchers };
}

function memberForm(p: SeriesParams, matchers: readonly string[] | undefined): URLSearchParams {
  const f = new URLSearchParams();
  for (const m of matchers ?? []) f.append('match[]', m);
  if (p.start !== undefined) f.set('start', secondsParam(p.start));
  if (p.end !== undefined) f.set('end', secondsParam(p.end));
  return f;
}

type Parsed<T> = { ok: true; value: { data: T; warnings: string[] } } | { ok: false; error: string };

function readList<T>(body: Uint8Array, check: (v: unknown) => v is T): Parsed<T[]> {
  const parsed: unknown = JSON.parse(new TextDecoder().decode(body));
  const p = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as {
    status?: unknown;
    data?: unknown;
    warnings?: unknown;
  };
  if (p.status !== 'success' || !Array.isArray(p.data) || !p.data.every(check))
    return { ok: false, error: 'unexpected answer' };
  const warnings = Array.isArray(p.warnings)
    ? p.warnings.filter((w): w is string => typeof w === 'string')
    : [];
  return { ok: true, value: { data: p.data, warnings } };
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isLabels = (v: unknown): v is Labels =>
  typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'string');

/** Asks every target member one metadata endpoint; answers, and warnings for the missing. */
async function ask<T>(
  ctx: FleetMetadataContext,
  members: readonly MetricsMember[],
  p: SeriesParams,
  endpoint: string,
  matchers: ReadonlyMap<string, readonly string[]>,
  check: (v: unknown) => v is T,
  signal: AbortSignal,
  method: 'GET' | 'POST' = 'POST',
): Promise<{ answers: Map<string, T[]>; warnings: string[]; allFailed?: ApiAnswer }> {
  const { answers, failed } = await fanOut(members, ctx.timeoutMs, signal, async (m, s) => {
    const a = await askMember(m, endpoint, memberForm(p, matchers.get(m.name)), s, method);
    return a.ok ? readList(a.body, check) : a;
  });
  const warnings: string[] = [];
  const out = new Map<string, T[]>();
  for (const m of members) {
    const a = answers.get(m.name);
    if (a) {
      out.set(m.name, a.data);
      warnings.push(...memberWarnings(m.name, a.warnings));
    } else warnings.push(memberMissing(m.name, failed.get(m.name) ?? 'unknown'));
  }
  const allFailed =
    members.length > 0 && failed.size === members.length
      ? apiError(
          'unavailable',
          `no cluster answered: ${[...failed].map(([c, w]) => `cluster "${c}": ${w}`).join('; ')}`,
        )
      : undefined;
  return { answers: out, warnings, allFailed };
}

export async function fleetSeries(
  ctx: FleetMetadataContext,
  members: readonly MetricsMember[],
  p: SeriesParams,
  signal: AbortSignal,
): Promise<ApiAnswer> {
  const t = targets(ctx, members, p);
  if ('status' in t) return t;
  const r = await ask(ctx, t.members, p, 'series', t.matchers, isLabels, signal);
  if (r.allFailed) return r.allFailed;
  const parts = t.members.flatMap((m) => {
    const series = r.answers.get(m.name);
    return series ? [{ cluster: m.name, region: m.region, series }] : [];
  });
  return apiSuccess(JSON.stringify(mergeSeries(parts)), r.warnings);
}

export async function fleetLabelNames(
  ctx: FleetMetadataContext,
  members: readonly MetricsMember[],
  p: SeriesParams,
  signal: AbortSignal,
): Promise<ApiAnswer> {
  const t = targets(ctx, members, p);
  if ('status' in t) return t;
  const r = await ask(ctx, t.members, p, 'labels', t.matchers, isString, signal);
  if (r.allFailed) return r.allFailed;
  const lists = [...r.answers.values()];
  // Every series in the union carries cluster and region, so they exist as soon as any series does.
  if (lists.some((l) => l.length > 0)) lists.push(['cluster', 'region']);
  return apiSuccess(JSON.stringify(unionSorted(lists)), r.warnings);
}

export async function fleetLabelValues(
  ctx: FleetMetadataContext,
  members: readonly MetricsMember[],
  name: string,
  p: SeriesParams,
  signal: AbortSignal,
): Promise<ApiAnswer> {
  const t = targets(ctx, members, p);
  if ('status' in t) return t;
  if (name === 'cluster' || name === 'region') {
    // A member contributes its name (region) when it holds any series the selectors match.
    const r = await ask(ctx, t.members, p, 'labels', t.matchers, isString, signal);
    if (r.allFailed) return r.allFailed;
    const values = t.members
      .filter((m) => (r.answers.get(m.name)?.length ?? 0) > 0)
      .map((m) => (name === 'cluster' ? m.name : m.region));
    return apiSuccess(JSON.stringify(unionSorted([values])), r.warnings);
  }
  const r = await ask(
    ctx,
    t.members,
    p,
    `label/${encodeURIComponent(name)}/values`,
    t.matchers,
    isString,
    signal,
    'GET',
  );
  if (r.allFailed) return r.allFailed;
  return apiSuccess(JSON.stringify(unionSorted([...r.answers.values()])), r.warnings);
}
