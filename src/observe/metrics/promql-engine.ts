// The Prometheus PromQL engine and parser, compiled from go/promql to WebAssembly and loaded once
// per process. No PromQL evaluator exists in JavaScript, and a lookalike would drift from the
// real thing: this one is Prometheus' own code (pinned in go/promql/go.mod).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { PlanCache, planKey } from './plan-cache.ts';
import { ensurePromql, type PromqlArtifacts } from './promql-build.ts';

export interface PlanMember {
  readonly name: string;
  readonly region: string;
  /** Its external labels as [name, value, …], where known: remote read adds them to series. */
  readonly external?: readonly string[];
}

/** A query as the engine sees it: times in ms; `step` 0 for an instant query at `end`. */
export interface EngineQuery {
  readonly query: string;
  readonly start: number;
  readonly end: number;
  readonly step: number;
  readonly members: readonly PlanMember[];
  /**
   * Some member runs Prometheus 2: a central query takes only the metric and label names its
   * parser and functions take (no quoted or UTF-8 names), with its error texts.
   */
  readonly legacyNames?: boolean;
}

/** A Prometheus API error type the engine reports. */
export interface EngineFailure {
  readonly failure: { readonly errorType: 'bad_data' | 'execution' | 'internal'; readonly error: string };
}

export type ResultType = 'vector' | 'matrix' | 'scalar' | 'string';

/**
 * What one member runs. `stamp`, when not null, is what the hub sets on every series of its
 * answer (the topology labels the union's answer keeps, with this member's values; any other
 * topology label is removed); when null the member's query stamps its series itself.
 */
export interface MemberQuery {
  readonly member: string;
  readonly query: string;
  readonly stamp: Readonly<Record<string, string>> | null;
}

/** Run the query on each listed member, stamp the answers and concatenate them. */
export interface PushdownPlan {
  readonly mode: 'pushdown';
  readonly resultType: ResultType;
  readonly members?: readonly MemberQuery[];
  /**
   * The answer keeps `app` and `revision`: the hub resolves them from each series' cluster,
   * `namespace` and `pod`. Otherwise it removes any the members' series carry.
   */
  readonly workload?: boolean;
}

/**
 * Evaluate in the hub, over the members' answers to `subs` (the query's largest parts that are
 * partitionable by cluster, run like the query itself) and to `fetches` (raw samples, instant
 * queries of range selectors, for selectors no such part covers).
 */
export interface CentralPlan {
  readonly mode: 'central';
  readonly reason: string;
  readonly resultType: ResultType;
  /** The query the hub evaluates, its pushed-down parts replaced by placeholders for `subs`. */
  readonly rewritten: string;
  readonly subs?: readonly {
    readonly id: number;
    readonly members: readonly MemberQuery[];
    /** As PushdownPlan's `workload`, for this part's answers (the engine applies it). */
    readonly workload?: boolean;
  }[];
  readonly fetches?: readonly RawFetch[];
}

/**
 * One member's raw samples for a selector and window: `read`, the remote-read request (base64 of
 * snappy-compressed protobuf) that returns them with their staleness markers; `query` at `time`,
 * an instant query of a range selector returning them without, for members serving no remote read.
 */
export interface RawFetch {
  readonly member: string;
  readonly query: string;
  readonly time: number;
  readonly read?: string;
}

/** `sub` of an evaluate input that is a remote-read answer to a fetch (-1: the fetch's query). */
export const REMOTE_READ_SUB = -2;

/** One member's answer to a sub-query (`sub` its id) or a fetch, for evaluate. */
export interface EngineInput {
  readonly member: string;
  readonly sub: number;
  readonly body: Uint8Array;
  /** The member's external labels as [name, value, …]: remote read adds them, the hub removes them. */
  readonly external?: readonly string[];
}

export type QueryPlan = PushdownPlan | CentralPlan;

export interface Evaluated {
  /** The API's `data` object as JSON text, written by Prometheus' own encoders. */
  readonly data: string;
  readonly warnings: readonly string[];
  readonly infos: readonly string[];
  readonly samples: number;
  /**
   * Members whose answers could not be read (a remote read answering garbage), with why: the
   * evaluation left them out, as members that could not answer.
   */
  readonly unreadable?: Readonly<Record<string, string>>;
}

export interface MemberSelectors {
  readonly member: string;
  readonly matchers: readonly string[];
  /**
   * The selectors read `app` or `revision`, which members do not hold: keep only the series
   * that, with every Meridian label set, still match them (`matchSeries`).
   */
  readonly filter?: boolean;
}

/**
 * `app` and `revision` of a pod the hub knows (revision "" where Meridian did not deploy it), or
 * null: the series then carries neither.
 */
export type ResolveWorkload = (
  cluster: string,
  namespace: string,
  pod: string,
) => readonly [app: string, revision: string] | null;

export interface PromqlEngine {
  plan(q: EngineQuery): QueryPlan | EngineFailure;
  /**
   * Evaluates `q` by its central `plan` over the members' answers to the plan's subs (`sub`: its
   * id) and fetches (`sub`: -1); raw series get `app`/`revision` from `resolve`.
   */
  evaluate(
    q: EngineQuery,
    plan: CentralPlan,
    inputs: readonly EngineInput[],
    maxSamples: number,
    resolve?: ResolveWorkload,
  ): Evaluated | EngineFailure;
  /**
   * Resolves match[] selectors per member (topology matchers applied, members left out;
   * `podOnly` narrows them to series with a pod label).
   */
  selectors(
    matchers: readonly string[],
    members: readonly PlanMember[],
    podOnly?: boolean,
  ): MemberSelectors[] | EngineFailure;
  /** Which series (every Meridian label set) match any of the selectors. */
  matchSeries(
    matchers: readonly string[],
    series: readonly Readonly<Record<string, string>>[],
  ): boolean[] | EngineFailure;
}

export function isFailure(v: object): v is EngineFailure {
  return 'failure' in v;
}

/** What go/promql/main.go puts on globalThis. */
interface GoExports {
  plan(req: string): string;
  /**
   * JSON text of a failure, or the result as an object (its data stays JSON text). `req` is the
   * query, members and plan without times: a repeated query sends the same text, which the
   * engine decodes once.
   */
  evaluate(
    req: string,
    start: number,
    end: number,
    step: number,
    members: string[],
    subs: number[],
    bodies: Uint8Array[],
    maxSamples: number,
    resolve?: ResolveWorkload,
    external?: string[][],
  ): string | Evaluated;
  selectors(req: string): string;
  matchSeries(req: string): string;
}

// The WebAssembly global, typed by hand: this project's TypeScript libs (ES, @types/node 20)
// do not declare it.
interface WasmInstance {
  readonly exports: object;
}
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: WasmInstance }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface GoRuntime {
  importObject: object;
  run(instance: WasmInstance): Promise<void>;
}

// The answers are JSON written by our own Go code built from this commit, so parsing is the
// whole validation; a malformed answer is a bug and throws.
function parse<T>(text: string): T {
  return JSON.parse(text) as T;
}

async function instantiate(a: PromqlArtifacts): Promise<PromqlEngine> {
  const g = globalThis as unknown as { Go?: new () => GoRuntime; meridianPromQL?: GoExports };
  if (!g.Go) await import(pathToFileURL(a.wasmExec).href);
  if (!g.Go) throw new Error(`${a.wasmExec} did not define Go`);
  const go = new g.Go();
  const { instance } = await wasmApi.instantiate(readFileSync(a.wasm), go.importObject);
  // run() settles only when the Go program exits; it never does (it serves calls until the process ends).
  void go.run(instance);
  const x = g.meridianPromQL;
  if (!x) throw new Error(`${a.wasm} did not register meridianPromQL`);
  return wrap(x);
}

/** A central plan as evaluate sends it: the query, its members and the plan, without times. */
function evalRequest(q: EngineQuery, planText: string): string {
  const legacy = q.legacyNames ? ',"legacyNames":true' : '';
  return `{"query":${JSON.stringify(q.query)},"members":${JSON.stringify(q.members)}${legacy},"plan":${planText}}`;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

function wrap(x: GoExports): PromqlEngine {
  const cache = new PlanCache();
  // The evaluation request of each central plan this engine made, built on its first
  // evaluation: a cached plan is evaluated again with the same text, which the Go side keeps
  // decoded. A plan object is only ever made for one query and member list (its cache key).
  const requests = new WeakMap<CentralPlan, string>();
  const planTexts = new WeakMap<QueryPlan, string>();
  return {
    plan: (q) => {
      const key = planKey(q);
      const hit = cache.get(key);
      if (hit) return hit.plan;
      const text = x.plan(JSON.stringify(q));
      // Shared by every later query with the same key: frozen so no caller can change it.
      const planned = deepFreeze(parse<QueryPlan | EngineFailure>(text));
      if (isFailure(planned)) return planned;
      planTexts.set(planned, text);
      cache.set(key, { plan: planned, text });
      return planned;
    },
    evaluate: (q, plan, inputs, maxSamples, resolve) => {
      let req = requests.get(plan);
      if (req === undefined) {
        req = evalRequest(q, planTexts.get(plan) ?? JSON.stringify(plan));
        requests.set(plan, req);
      }
      const out = x.evaluate(
        req,
        q.start,
        q.end,
        q.step,
        inputs.map((i) => i.member),
        inputs.map((i) => i.sub),
        inputs.map((i) => i.body),
        maxSamples,
        resolve,
        inputs.map((i) => [...(i.external ?? [])]),
      );
      return typeof out === 'string' ? parse<EngineFailure>(out) : out;
    },
    selectors: (matchers, members, podOnly) =>
      parse(x.selectors(JSON.stringify({ matchers, members, podOnly }))),
    matchSeries: (matchers, series) => parse(x.matchSeries(JSON.stringify({ matchers, series }))),
  };
}

let loading: Promise<PromqlEngine> | undefined;

/** The engine, built first if the cache lacks it; one instance per process. */
export function loadPromqlEngine(signal?: AbortSignal): Promise<PromqlEngine> {
  loading ??= ensurePromql(signal).then(instantiate);
  loading.catch(() => (loading = undefined));
  return loading;
}
