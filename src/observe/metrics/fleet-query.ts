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
  type RemoteReadMisses,
  type MemberAnswer,
  type MemberFailed,
  type MetricsMember,
} from './member-queries.ts';
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
import type { WorkloadOf } from '../topology/pod-topology-resolver.ts';
import { secondsParam } from './prom-params.ts';
import { rangeSemantics, semanticsWarnings } from './range-semantics.ts';
import type { MemberFacts } from './member-versions.ts';
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
   * What the hub knows of each member's Prometheus (version, external labels) and the hub
   * engine's version: answers whose range semantics may differ from one Prometheus say so in a
   * warning (range-semantics.ts); a central query follows Prometheus 2's names when a member runs
   * it; raw samples read remotely lose the external labels remote read adds.
   */
  readonly versions?: {
    readonly hub: string;
    readonly facts: (members: readonly MetricsMember[]) => Promise<ReadonlyMap<string, MemberFacts>>;
  };
  /** Members that served no remote read lately: their raw samples come from the query API. */
  readonly remoteReadMisses?: RemoteReadMisses;
}

/** The range-semantics warnings for an answer the `asked` members took part in. */
function semantics(
  ctx: FleetQueryContext,
  facts: ReadonlyMap<string, MemberFacts> | undefined,
  asked: readonly MetricsMember[],
  hubEvaluatesRanges: boolean,
): string[] {
  if (!ctx.versions || !facts || asked.length === 0) return [];
  const members = new Map(asked.map((m) => [m.name, facts.get(m.name)?.version]));
  return semanticsWarnings({ hubVersion: ctx.versions.hub, members, hubEvaluatesRanges });
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
  // Planning reads them (names by generation, external labels for remote read); they are kept a
  // minute per member, so only a member's first query in a minute waits for them.
  const facts = ctx.versions && members.length > 0 ? await ctx.versions.facts(members) : undefined;
  const legacyNames = [...(facts?.values() ?? [])].some((f) => rangeSemantics(f.version) === 'closed');
  const eq: EngineQuery = {
    ...q,
    members: members.map((m) => {
      const external = facts?.get(m.name)?.external ?? [];
      return external.length > 0
        ? { name: m.name, region: m.region, external }
        : { name: m.name, region: m.region };
    }),
    ...(legacyNames ? { legacyNames } : {}),
  };
  const plan = await ctx.engine.plan(eq);
  if (isFailure(plan)) return failureAnswer(plan);
  ctx.log.debug(
    { query: q.query, mode: plan.mode, reason: plan.mode === 'central' ? plan.reason : undefined },
    'fleet query planned',
  );
  const a = await (plan.mode === 'pushdown'
    ? pushdown(ctx, members, q, plan, facts, signal)
    : central(ctx, members, eq, plan, facts, signal));
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
  facts: ReadonlyMap<string, MemberFacts> | undefined,
  signal: AbortSignal,
): Promise<ApiAnswer> {
  const queries = new Map((plan.members ?? []).map((m) => [m.member, m]));
  const asked = members.filter((m) => queries.has(m.name));
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
  warnings.push(...missingWarnings(names, out.failed), ...semantics(ctx, facts, asked, false));
  const resultType = plan.resultType === 'matrix' ? 'matrix' : 'vector';
  const result = mergeResults(resultType, parts, plan.workload ? ctx.workloadOf : undefined);
  return apiSuccess(JSON.stringify({ resultType, result }), warnings);
}

async function central(
  ctx: FleetQueryContext,
  members: readonly MetricsMember[],
  q: EngineQuery,
  plan: CentralPlan,
  facts: ReadonlyMap<string, MemberFacts> | undefined,
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
  const misses = ctx.remoteReadMisses;
  const one = async (m: MetricsMember, a: Ask, s: AbortSignal): Promise<MemberAnswer & { sub: number }> => {
    if (a.read && !misses?.notServed(m.url)) {
      const r = await readMember(m, a.read, s);
      if (r.ok || !r.notServed) return { ...r, sub: REMOTE_READ_SUB };
      misses?.remember(m.url);
    }
    return { ...(await askMember(m, a.endpoint, a.form, s)), sub: a.sub };
  };
  // A member's asks share its deadline: its series are in the answer whole or not at all.
  const out = await fanOut(asked, ctx.timeoutMs, signal, async (m, s) => {
    const got = await Promise.all((asks.get(m.name) ?? []).map((a) => one(m, a, s)));
    // A refusal says more than an outage of the same member's other ask: it fails the query.
    const failedAsk = got.find((g) => !g.ok && g.refused) ?? got.find((g) => !g.ok);
    if (failedAsk && !failedAsk.ok) return failedAsk;
    const ext = facts?.get(m.name)?.external ?? [];
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
  // A member whose answer the engine could not read (garbage from its remote read) is one that
  // could not answer: left out with a warning, or the answer fails as for any such member.
  const unreadable = Object.entries(ev.unreadable ?? {});
  const failed = new Map([
    ...out.failed,
    ...unreadable.map(([m, why]): [string, string] => [m, `unreadable answer: ${why}`]),
  ]);
  if (unreadable.length > 0) {
    const f = membersFailed(names, { refused: new Map(), failed }, ctx.partialResponse);
    if (f) return f;
  }
  // The hub's engine evaluates ranges and lookbacks only over raw samples (fetches).
  const warnings = [
    ...missingWarnings(names, failed),
    ...semantics(ctx, facts, asked, fetches.length > 0),
    ...ev.warnings,
  ];
  return apiSuccess(ev.data, warnings, ev.infos);
}
