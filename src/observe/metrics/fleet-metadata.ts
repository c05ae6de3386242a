// /api/v1/series, /api/v1/labels and /api/v1/label/<name>/values over the fleet. Members hold no
// `cluster`/`region` labels, so selectors on them choose members, and their values come from
// which members have matching series. Nor do they hold Meridian's `app`/`revision` labels (any of
// their own are replaced): those are resolved from each series' namespace and pod, so names and
// values that depend on them are read from the members' series, enriched in the hub.
import { failureAnswer as membersFailed, missingWarnings } from './member-failure.ts';
import { askMember, fanOut, type FanOut, type MemberFailed, type MetricsMember } from './member-queries.ts';
import { isFailure } from './promql-engine.ts';
import type { EngineApi } from './promql-thread.ts';
import { mergeSeries, memberWarnings, unionSorted, type Labels } from './prom-merge.ts';
import type { WorkloadOf } from '../topology/pod-topology-resolver.ts';
import { secondsParam, type SeriesParams } from './prom-params.ts';
import { apiSuccess, type ApiAnswer } from './prom-response.ts';
import { failureAnswer } from './fleet-query.ts';

export interface FleetMetadataContext {
  readonly engine: EngineApi;
  readonly timeoutMs: number;
  /** `app` and `revision` of the members' pods (the topology's resolver); none when absent. */
  readonly workloadOf?: WorkloadOf;
  /** Whether answers may leave out members that could not answer (see FleetQueryContext). */
  readonly partialResponse: boolean;
}

const WORKLOAD_LABELS = ['app', 'revision'];
/** Every series with a pod: the ones `app` and `revision` can be resolved for. */
const POD_SERIES = '{pod!=""}';

interface Targets {
  readonly members: MetricsMember[];
  readonly matchers: Map<string, readonly string[]>;
  /** The match[] read app or revision: enriched series must be matched again in the hub. */
  readonly filter: boolean;
}

/**
 * Members to ask and each one's match[] (none when the caller gave none), or an error answer;
 * `podOnly` narrows the selectors (every series when none) to series with a pod label.
 */
async function targets(
  ctx: FleetMetadataContext,
  members: readonly MetricsMember[],
  p: SeriesParams,
  podOnly = false,
): Promise<Targets | ApiAnswer> {
  if (p.matchers.length === 0 && !podOnly)
    return { members: [...members], matchers: new Map(), filter: false };
  const sel = await ctx.engine.selectors(p.matchers.length ? p.matchers : [POD_SERIES], members, podOnly);
  if (isFailure(sel)) return failureAnswer(sel);
  const matchers = new Map(sel.map((s) => [s.member, s.matchers]));
  return {
    members: members.filter((m) => matchers.has(m.name)),
    matchers,
    filter: sel.some((s) => s.filter),
  };
}

function memberForm(p: SeriesParams, matchers: readonly string[] | undefined): URLSearchParams {
  const f = new URLSearchParams();
  for (const m of matchers ?? []) f.append('match[]', m);
  if (p.start !== undefined) f.set('start', secondsParam(p.start));
  if (p.end !== undefined) f.set('end', secondsParam(p.end));
  return f;
}

type Parsed<T> = { ok: true; value: { data: T; warnings: string[] } } | MemberFailed;

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
): Promise<{ answers: Map<string, T[]>; warnings: string[]; failure?: ApiAnswer }> {
  const got = await fanOut(members, ctx.timeoutMs, signal, async (m, s) => {
    const a = await askMember(m, endpoint, memberForm(p, matchers.get(m.name)), s, method);
    return a.ok ? readList(a.body, check) : a;
  });
  return collect(members, got, ctx.partialResponse);
}

/**
 * Answers by member and warnings (the members' own, and one per member missing), or the failure
 * that answers instead (a member refused, or members missing where that is not allowed).
 */
function collect<T>(
  members: readonly MetricsMember[],
  got: FanOut<{ data: T; warnings: string[] }>,
  partial: boolean,
): { answers: Map<string, T>; warnings: string[]; failure?: ApiAnswer } {
  const names = members.map((m) => m.name);
  const warnings: string[] = [];
  const out = new Map<string, T>();
  for (const m of members) {
    const a = got.answers.get(m.name);
    if (a) {
      out.set(m.name, a.data);
      warnings.push(...memberWarnings(m.name, a.warnings));
    }
  }
  warnings.push(...missingWarnings(names, got.failed));
  return { answers: out, warnings, failure: membersFailed(names, got, partial) };
}

/**
 * The members' series matching `p` (narrowed to series with a pod when `podOnly`), with every
 * Meridian label set, and only those that still match selectors reading app or revision.
 */
async function enrichedSeries(
  ctx: FleetMetadataContext,
  members: readonly MetricsMember[],
  p: SeriesParams,
  signal: AbortSignal,
  podOnly = false,
): Promise<{ series: Labels[]; warnings: string[] } | ApiAnswer> {
  const t = await targets(ctx, members, p, podOnly);
  if ('status' in t) return t;
  const r = await ask(ctx, t.members, p, 'series', t.matchers, isLabels, signal);
  if (r.failure) return r.failure;
  const parts = t.members.flatMap((m) => {
    const series = r.answers.get(m.name);
    return series ? [{ cluster: m.name, region: m.region, series }] : [];
  });
  const series = mergeSeries(parts, ctx.workloadOf);
  if (!t.filter) return { series, warnings: r.warnings };
  const keep = await ctx.engine.matchSeries(p.matchers, series);
  if (isFailure(keep)) return failureAnswer(keep);
  return { series: series.filter((_, i) => keep[i]), warnings: r.warnings };
}

export async function fleetSeries(
  ctx: FleetMetadataContext,
  members: readonly MetricsMember[],
  p: SeriesParams,
  signal: AbortSignal,
): Promise<ApiAnswer> {
  const r = await enrichedSeries(ctx, members, p, signal);
  if ('status' in r) return r;
  return apiSuccess(JSON.stringify(r.series), r.warnings);
}

/** Whether match[] reads app or revision (then names and values come from enriched series). */
async function readsWorkload(
  ctx: FleetMetadataContext,
  members: readonly MetricsMember[],
  p: SeriesParams,
): Promise<boolean> {
  if (p.matchers.length === 0) return false;
  const sel = await ctx.engine.selectors(p.matchers, members);
  return !isFailure(sel) && sel.some((s) => s.filter);
}

export async function fleetLabelNames(
  ctx: FleetMetadataContext,
  members: readonly MetricsMember[],
  p: SeriesParams,
  signal: AbortSignal,
): Promise<ApiAnswer> {
  if (await readsWorkload(ctx, members, p)) {
    const r = await enrichedSeries(ctx, members, p, signal);
    if ('status' in r) return r;
    return apiSuccess(JSON.stringify(unionSorted(r.series.map((s) => Object.keys(s)))), r.warnings);
  }
  const t = await targets(ctx, members, p);
  if ('status' in t) return t;
  // app and revision are names where some matching series of a pod resolves: each member is
  // asked for its series with a pod alongside its label names, in the same round trip (a member
  // without pods answers that from its index at once), and both answers count or neither does.
  const pods = ctx.workloadOf ? await targets(ctx, members, p, true) : undefined;
  if (pods && 'status' in pods) return pods;
  const r = await askTogether(
    ctx,
    t.members,
    { endpoint: 'labels', form: (m) => memberForm(p, t.matchers.get(m)), check: isString },
    pods && {
      endpoint: 'series',
      form: (m) => (pods.matchers.has(m) ? memberForm(p, pods.matchers.get(m)) : undefined),
      check: isLabels,
    },
    signal,
  );
  if (r.failure) return r.failure;
  // The members' own app and revision labels are replaced by Meridian's, present where some
  // matching series' pod resolves.
  const lists = [...r.answers.values()].map(([l]) => l.filter((n) => !WORKLOAD_LABELS.includes(n)));
  // Every series in the union carries cluster and region, so they exist as soon as any series does.
  if (lists.some((l) => l.length > 0)) lists.push(['cluster', 'region']);
  if (lists.some((l) => l.includes('pod')) && ctx.workloadOf) {
    const parts = t.members.flatMap((m) => {
      const series = r.answers.get(m.name)?.[1];
      return series ? [{ cluster: m.name, region: m.region, series }] : [];
    });
    const enriched = mergeSeries(parts, ctx.workloadOf);
    lists.push(WORKLOAD_LABELS.filter((n) => enriched.some((s) => n in s)));
  }
  return apiSuccess(JSON.stringify(unionSorted(lists)), r.warnings);
}

interface MemberAsk<T> {
  readonly endpoint: string;
  /** The member's form, or undefined where this endpoint is not asked of it. */
  readonly form: (member: string) => URLSearchParams | undefined;
  readonly check: (v: unknown) => v is T;
}

/**
 * Asks every member two metadata endpoints at once (the second where given), under one
 * deadline per member: a member's answers are used whole or not at all, as `ask` does for one.
 */
async function askTogether<A, B>(
  ctx: FleetMetadataContext,
  members: readonly MetricsMember[],
  first: MemberAsk<A>,
  second: MemberAsk<B> | undefined,
  signal: AbortSignal,
): Promise<{ answers: Map<string, [A[], B[]]>; warnings: string[]; failure?: ApiAnswer }> {
  const got = await fanOut(members, ctx.timeoutMs, signal, async (m, s) => {
    const secondForm = second?.form(m.name);
    const [a, b] = await Promise.all([
      askMember(m, first.endpoint, first.form(m.name) ?? new URLSearchParams(), s),
      second && secondForm ? askMember(m, second.endpoint, secondForm, s) : undefined,
    ]);
    // A refusal says more than an outage of the same member's other ask: it fails the answer.
    const refusal = [a, b].find((x) => x && !x.ok && x.refused);
    if (refusal && !refusal.ok) return refusal;
    if (!a.ok) return a;
    if (b && !b.ok) return b;
    const la = readList(a.body, first.check);
    if (!la.ok) return la;
    const lb = b && second ? readList(b.body, second.check) : undefined;
    if (lb && !lb.ok) return lb;
    return {
      ok: true as const,
      value: {
        data: [la.value.data, lb?.value.data ?? []] as [A[], B[]],
        // A warning both answers carry is said once.
        warnings: [...new Set([...la.value.warnings, ...(lb?.value.warnings ?? [])])],
      },
    };
  });
  return collect(members, got, ctx.partialResponse);
}

export async function fleetLabelValues(
  ctx: FleetMetadataContext,
  members: readonly MetricsMember[],
  name: string,
  p: SeriesParams,
  signal: AbortSignal,
): Promise<ApiAnswer> {
  const workload = WORKLOAD_LABELS.includes(name);
  if (workload || (await readsWorkload(ctx, members, p))) {
    const r = await enrichedSeries(ctx, members, p, signal, workload);
    if ('status' in r) return r;
    const values = r.series.flatMap((s) => (s[name] !== undefined ? [s[name]] : []));
    return apiSuccess(JSON.stringify(unionSorted([values])), r.warnings);
  }
  const t = await targets(ctx, members, p);
  if ('status' in t) return t;
  if (name === 'cluster' || name === 'region') {
    // A member contributes its name (region) when it holds any series the selectors match.
    const r = await ask(ctx, t.members, p, 'labels', t.matchers, isString, signal);
    if (r.failure) return r.failure;
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
  if (r.failure) return r.failure;
  return apiSuccess(JSON.stringify(unionSorted([...r.answers.values()])), r.warnings);
}
