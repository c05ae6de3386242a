// /api/v1/query and /api/v1/query_range over the fleet: the engine plans the query; a
// partitionable one runs on every member it can touch and the answers are concatenated, any
// other is evaluated in the hub by the real PromQL engine over what the members compute per
// cluster (its partitionable parts) and, where nothing else works, their raw samples. Either way
// the hub sets `app` and `revision` from each series' pod where the union's answer keeps them.
import type { Logger } from '../../logging/logger.ts';
import { failureAnswer as membersFailed, missingWarnings } from './member-failure.ts';
import {
  askMember,
  fanOut,
  readMember,
  type MemberAnswer,
  type MemberFailed,
  type MetricsMember,
} from './member-prometheus.ts';
import {
  isFailure,
  REMOTE_READ_SUB,
  type CentralPlan,
  type EngineInput,
  type EngineFailure,
  type EngineQuery,
  type PushdownPlan,
  type ResolveWorkload,
} from './promql-engine.ts';
import type { EngineApi } from './promql-thread.ts';
import {
  memberWarnings,
  mergeResults,
  type MatrixSeries,
  type MemberResult,
  type VectorSample,
} from './prom-merge.ts';
import type { WorkloadOf } from '../topology/pod-topology.ts';
import { secondsParam } from './prom-params.ts';
import { semanticsWarnings } from './range-semantics.ts';
import { apiError, apiSuccess, type ApiAnswer } from './prom-response.ts';

export interface FleetQueryContext {
  readonly engine: EngineApi;
  readonly timeoutMs: number;
  readonly maxCentralSamples: number;
  readonly log: Logger;
  /** `app` and `revision` of the members' pods (the topology's resolver); none when absent. */
  readonly workloadOf?: WorkloadOf;
  /**
   * Whether an answer may leave out members that could not answer (with a warning); when false
   * it is a 503 instead. Members that refuse the query fail it either way.
   */
  readonly partialResponse: boolean;
  /**
   * Each member's Prometheus version (undefined where unknown) and the hub engine's: answers
   * whose range semantics may differ from one Prometheus say so in a warning (range-semantics.ts).
   */
  readonly versions?: {
    readonly hub: string;
    readonly of: (members: readonly MetricsMember[]) => Promise<ReadonlyMap<string, string | undefined>>;
    /** Each member's external labels as [name, value, …] (remote read adds them to series). */
    readonly external?: (
      members: readonly MetricsMember[],
    ) => Promise<ReadonlyMap<string, readonly string[]>>;
  };
}

/** The range-semantics warnings for an answer the `asked` members took part in. */
async function semantics(
  ctx: FleetQueryContext,
  versions: Promise<ReadonlyMap<string, string | undefined>> | undefined,
  hubEvaluatesRanges: boolean,
): Promise<string[]> {
  if (!ctx.versions || !versions) return [];
  return semanticsWarnings({ hubVersion: ctx.versions.hub, members: await versions, hubEvaluatesRanges });
}

/** The engine's form of a WorkloadOf. */
function engineResolve(of: WorkloadOf | undefined): ResolveWorkload | undefined {
  if (!of) return undefined;
  return (cluster, namespace, pod) => {
    const w = of(cluster, namespace, pod);
    return w?.app || w?.revision ? [w.app ?? '', w.revision ?? ''] : null;
  };
}

/** A query over the fleet: times in ms, `step` 0 for an instant query at `end`. */
export interface FleetQuery {
  readonly query: string;
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

export function failureAnswer(f: EngineFailure): ApiAnswer {
  return apiError(f.failure.errorType, f.failure.error);
}

/** Answers one query over `members` (those with a Prometheus endpoint). */
export async function fleetQuery(
  ctx: FleetQueryContext,
  members: readonly MetricsMember[],
  q: FleetQuery,
  signal: AbortSignal,
): Promise<ApiAnswer> {
  const eq: EngineQuery = { ...q, members: members.map((m) => ({ name: m.name, region: m.region })) };
  const plan = await ctx.engine.plan(eq);
  if (isFailure(plan)) return failureAnswer(plan);
  ctx.log.debug(
    { query: q.query, mode: plan.mode, reason: plan.mode === 'central' ? plan.reason : undefined },
    'fleet query planned',
  );
  const a = await (plan.mode === 'pushdown'
    ? pushdown(ctx, members, q, plan, signal)
    : central(ctx, members, eq, plan, signal));
  return { ...a, mode: plan.mode };
}

interface MemberData {
  readonly result: (VectorSample | MatrixSeries)[];
  readonly warnings: string[];
}

function readData(body: Uint8Array): { ok: true; value: MemberData } | MemberFailed {
  // A member's answer is untrusted input: check the shape before using it.
  const parsed: unknown = JSON.parse(new TextDecoder().decode(body));
  if (typeof parsed !== 'object' || parsed === null)
    return { ok: false, error: 'answer is not a JSON object' };
  const p = parsed as { status?: unknown; data?: { result?: unknown }; warnings?: unknown; error?: unknown };
  if (p.status !== 'success') return { ok: false, error: `query failed: ${String(p.error)}` };
  if (!Array.isArray(p.data?.result)) return { ok: false, error: 'answer has no data.result list' };
  const warnings = Array.isArray(p.warnings)
    ? p.warnings.filter((w): w is string => typeof w === 'string')
    : [];
  return { ok: true, value: { result: p.data.result as MemberData['result'], warnings } };
}

function form(q: FleetQuery, query: string): { endpoint: string; form: URLSearchParams } {
  return q.step === 0
    ? { endpoint: 'query', form: new URLSearchParams({ query, time: secondsParam(q.end) }) }
    : {
        endpoint: 'query_range',
        form: new URLSearchParams({
          query,
          start: secondsParam(q.start),
          end: secondsParam(q.end),
          step: String(q.step / 1000),
        }),
      };
}

async function pushdown(
  ctx: FleetQueryContext,
  members: readonly MetricsMember[],
  q: FleetQuery,
  plan: PushdownPlan,
  signal: AbortSignal,
): Promise<ApiAnswer> {
  const queries = new Map((plan.members ?? []).map((m) => [m.member, m]));
  const asked = members.filter((m) => queries.has(m.name));
  // Asked alongside the data (from a cache, mostly), so it adds no round trip to the answer.
  const versions = asked.length > 0 ? ctx.versions?.of(asked) : undefined;
  const out = await fanOut(asked, ctx.timeoutMs, signal, async (m, s) => {
    const f = form(q, queries.get(m.name)!.query);
    const a = await askMember(m, f.endpoint, f.form, s);
    return a.ok ? readData(a.body) : a;
  });
  const names = asked.map((m) => m.name);
  const failedAnswer = membersFailed(names, out, ctx.partialResponse);
  if (failedAnswer) return failedAnswer;
  const parts: MemberResult[] = [];
  const warnings: string[] = [];
  for (const m of asked) {
    const a = out.answers.get(m.name);
    if (a) {
      parts.push({ cluster: m.name, stamp: queries.get(m.name)!.stamp, result: a.result });
      warnings.push(...memberWarnings(m.name, a.warnings));
    }
  }
  warnings.push(...missingWarnings(names, out.failed), ...(await semantics(ctx, versions, false)));
  const resultType = plan.resultType === 'matrix' ? 'matrix' : 'vector';
  const result = mergeResults(resultType, parts, plan.workload ? ctx.workloadOf : undefined);
  return apiSuccess(JSON.stringify({ resultType, result }), warnings);
}

async function central(
  ctx: FleetQueryContext,
  members: readonly MetricsMember[],
  q: EngineQuery,
  plan: CentralPlan,
  signal: AbortSignal,
): Promise<ApiAnswer> {
  const fetches = plan.fetches ?? [];
  const subs = plan.subs ?? [];
  // What each member is asked: sub-query answers (sub ≥ 0) and raw samples, by remote read
  // (which keeps staleness markers) with the instant query of a range selector as the fallback.
  type Query = { sub: number; endpoint: string; form: URLSearchParams };
  type Ask = Query & { read?: Uint8Array };
  const asks = new Map<string, Ask[]>();
  const add = (member: string, a: Ask): void => {
    const list = asks.get(member);
    if (list) list.push(a);
    else asks.set(member, [a]);
  };
  for (const s of subs) for (const m of s.members) add(m.member, { sub: s.id, ...form(q, m.query) });
  for (const f of fetches) {
    add(f.member, {
      sub: -1,
      endpoint: 'query',
      form: new URLSearchParams({ query: f.query, time: secondsParam(f.time) }),
      read: f.read !== undefined ? Buffer.from(f.read, 'base64') : undefined,
    });
  }
  const asked = members.filter((m) => asks.has(m.name));
  const versions = asked.length > 0 ? ctx.versions?.of(asked) : undefined;
  const external = fetches.length > 0 && ctx.versions?.external ? ctx.versions.external(asked) : undefined;
  const one = async (m: MetricsMember, a: Ask, s: AbortSignal): Promise<MemberAnswer & { sub: number }> => {
    if (a.read) {
      const r = await readMember(m, a.read, s);
      if (r.ok || !r.notServed) return { ...r, sub: REMOTE_READ_SUB };
    }
    return { ...(await askMember(m, a.endpoint, a.form, s)), sub: a.sub };
  };
  // A member's asks share its deadline: its series are in the answer whole or not at all.
  const out = await fanOut(asked, ctx.timeoutMs, signal, async (m, s) => {
    const got = await Promise.all((asks.get(m.name) ?? []).map((a) => one(m, a, s)));
    // A refusal says more than an outage of the same member's other ask: it fails the query.
    const failedAsk = got.find((g) => !g.ok && g.refused) ?? got.find((g) => !g.ok);
    if (failedAsk && !failedAsk.ok) return failedAsk;
    const ext = (await external)?.get(m.name) ?? [];
    const inputs: EngineInput[] = [];
    for (const g of got) {
      if (g.ok)
        inputs.push({
          member: m.name,
          sub: g.sub,
          body: g.body,
          external: g.sub === REMOTE_READ_SUB ? ext : undefined,
        });
    }
    return { ok: true as const, value: inputs };
  });
  const names = asked.map((m) => m.name);
  const failedAnswer = membersFailed(names, out, ctx.partialResponse);
  if (failedAnswer) return failedAnswer;
  const inputs = asked.flatMap((m) => out.answers.get(m.name) ?? []);
  const ev = await ctx.engine.evaluate(q, plan, inputs, ctx.maxCentralSamples, engineResolve(ctx.workloadOf));
  if (isFailure(ev)) return failureAnswer(ev);
  // The hub's engine evaluates ranges and lookbacks only over raw samples (fetches).
  const warnings = [
    ...missingWarnings(names, out.failed),
    ...(await semantics(ctx, versions, fetches.length > 0)),
    ...ev.warnings,
  ];
  return apiSuccess(ev.data, warnings, ev.infos);
}
