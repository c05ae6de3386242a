// The fleet's Prometheus-compatible HTTP API on the hub (a Grafana Prometheus data source can
// point at it): query, query_range, series, labels, label values and buildinfo, over every
// member's spec.observability.prometheusURL, with `cluster` and `region` on every series, and
// `app` and `revision` on every series of a pod the hub knows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { Route, RouteContext, RouteDoc, RouteResult } from '../../http/route-contract.ts';
import { errorMessage } from '../../kube/errors.ts';
import { observeAccess, type ObserveDeps, type ObserveService } from '../services.ts';
import { fleetLabelNames, fleetLabelValues, fleetSeries } from './fleet-metadata.ts';
import { fleetQuery } from './fleet-query.ts';
import { RemoteReadMisses, type MetricsMember } from './member-queries.ts';
import { promqlModuleDir } from './promql-build.ts';
import { EngineBusyError, PromqlThread, type EngineApi } from './promql-thread.ts';
import { promqlOverBudget } from './promql-budget.ts';
import type { WorkloadOf } from '../topology/pod-topology-resolver.ts';
import { instantParams, isLabelName, rangeParams, seriesParams } from './prom-params.ts';
import { partialResponse } from './member-failure.ts';
import { MemberVersions } from './member-versions.ts';
import { apiError, apiSuccess, type ApiAnswer } from './prom-response.ts';

export const DEFAULT_MEMBER_TIMEOUT_MS = 10_000;
/** Raw samples one central evaluation may pull from the members (16 bytes each in the engine). */
export const DEFAULT_MAX_CENTRAL_SAMPLES = 5_000_000;
/** How long one engine call (plan, evaluate, …) may run before the engine is restarted. */
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;
const MAX_FORM_BYTES = 1 << 20;

/**
 * How much of a body over MAX_FORM_BYTES is read and dropped so that the 400 reaches the client
 * (closing a connection with unread bytes resets it, and the answer with it); past this the
 * connection is closed after the answer anyway.
 */
const MAX_DISCARD_BYTES = 16 << 20;

/** Grafana POSTs form-encoded parameters; Prometheus reads both the body and the URL. */
async function requestParams(ctx: RouteContext): Promise<URLSearchParams | ApiAnswer> {
  if (ctx.req.method !== 'POST') return ctx.url.searchParams;
  const type = ctx.req.headers['content-type'] ?? '';
  const body = await readBody(ctx.req);
  if (body === undefined) {
    if (!ctx.req.readableEnded) ctx.res.setHeader('Connection', 'close');
    return apiError('bad_data', `request body larger than ${MAX_FORM_BYTES} bytes`);
  }
  const params = type.startsWith('application/x-www-form-urlencoded')
    ? new URLSearchParams(body)
    : new URLSearchParams();
  for (const [k, v] of ctx.url.searchParams) params.append(k, v);
  return params;
}

/** The body as text, or undefined when it is over MAX_FORM_BYTES (read and dropped, within bounds). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_FORM_BYTES) {
        chunks.push(c);
      } else if (size > MAX_FORM_BYTES + MAX_DISCARD_BYTES) {
        req.pause();
        resolve(undefined);
      } else {
        chunks.length = 0;
      }
    });
    req.on('end', () => resolve(size > MAX_FORM_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Aborted when the client goes away before its answer is written. */
function clientGone(ctx: RouteContext): AbortSignal {
  const c = new AbortController();
  ctx.res.once('close', () => {
    if (!ctx.res.writableFinished) c.abort();
  });
  return c.signal;
}

const answer = (a: ApiAnswer): RouteResult => ({
  status: a.status,
  body: Buffer.from(a.body),
  contentType: 'application/json',
  headers: {
    ...(a.mode ? { 'X-Meridian-Query-Mode': a.mode } : {}),
    ...(a.retryAfterS !== undefined ? { 'Retry-After': String(a.retryAfterS) } : {}),
  },
});

/** The Prometheus version whose engine the hub runs, from go/promql/go.mod (v0.316.0 is 3.16.0). */
function engineVersion(): string {
  const mod = readFileSync(join(promqlModuleDir(), 'go.mod'), 'utf8');
  const m = /github\.com\/prometheus\/prometheus v0\.(\d)(\d\d)\.(\d+)/.exec(mod);
  return m ? `${m[1]}.${Number(m[2])}.${m[3]}` : 'unknown';
}

export class MetricsService implements ObserveService {
  readonly routes: readonly Route[];
  /** The engine runs in a worker thread: no query holds the hub's event loop. */
  private readonly engine: PromqlThread;
  private readonly timeoutMs: number;
  private readonly maxCentralSamples: number;
  /** Whether answers may leave out members that could not answer, unless a request says. */
  private readonly partialByDefault: boolean;
  /** Members' Prometheus versions, so answers say when range semantics may differ. */
  private readonly memberVersions = new MemberVersions();
  /** Members that served no remote read lately (asked again after a minute). */
  private readonly remoteReadMisses = new RemoteReadMisses();
  private readonly hubVersion = engineVersion();

  /**
   * `workloadOf` resolves a member's pod to its app and revision (the topology's resolver, which
   * logs and traces use too); without it series carry no `app` or `revision`.
   */
  constructor(
    private readonly deps: ObserveDeps,
    private readonly workloadOf?: WorkloadOf,
  ) {
    this.timeoutMs = deps.options.metricsMemberTimeoutMs ?? DEFAULT_MEMBER_TIMEOUT_MS;
    this.maxCentralSamples = deps.options.metricsMaxCentralSamples ?? DEFAULT_MAX_CENTRAL_SAMPLES;
    this.partialByDefault = deps.options.metricsPartialResponse ?? true;
    this.engine = new PromqlThread({
      log: deps.log,
      callTimeoutMs: deps.options.metricsQueryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
    });
    const read = (
      path: string,
      doc: RouteDoc,
      handle: (ctx: RouteContext) => Promise<ApiAnswer>,
      methods: readonly ('GET' | 'POST')[] = ['GET', 'POST'],
    ): Route[] =>
      methods.map((method) => ({
        method,
        path,
        // A read whichever the method: Grafana POSTs queries, so one `get` rule covers both.
        access: () => observeAccess('metrics'),
        handle: async (ctx) => answer(await handle(ctx)),
        doc: {
          ...doc,
          tags: ['metrics'],
          requestBody: method === 'POST' ? 'application/x-www-form-urlencoded' : undefined,
        },
      }));
    const query = { name: 'query', description: 'PromQL expression', required: true };
    const match = { name: 'match[]', description: 'series selector (repeatable)' };
    const start = { name: 'start', description: 'Unix seconds or RFC 3339' };
    const end = { name: 'end', description: 'Unix seconds or RFC 3339' };
    this.routes = [
      ...read(
        '/api/v1/query',
        {
          summary: 'Instant PromQL query over every cluster (Prometheus HTTP API)',
          params: [query, { name: 'time', description: 'Unix seconds or RFC 3339; default now' }],
        },
        (ctx) => this.query(ctx, false),
      ),
      ...read(
        '/api/v1/query_range',
        {
          summary: 'Range PromQL query over every cluster (Prometheus HTTP API)',
          params: [
            query,
            { ...start, required: true },
            { ...end, required: true },
            { name: 'step', description: 'seconds or a duration such as 15s', required: true },
          ],
        },
        (ctx) => this.query(ctx, true),
      ),
      ...read(
        '/api/v1/series',
        {
          summary: 'Series of every cluster matching the selectors',
          params: [{ ...match, required: true }, start, end],
        },
        (ctx) => this.metadata(ctx, 'series'),
      ),
      ...read(
        '/api/v1/labels',
        { summary: 'Label names across the fleet', params: [match, start, end] },
        (ctx) => this.metadata(ctx, 'labels'),
      ),
      ...read(
        '/api/v1/label/',
        {
          summary: 'Values of one label across the fleet: /api/v1/label/<name>/values',
          params: [match, start, end],
        },
        (ctx) => this.metadata(ctx, 'values'),
        ['GET'],
      ),
      ...read(
        '/api/v1/status/buildinfo',
        { summary: 'Prometheus build information (Grafana picks its query features from it)' },
        () => Promise.resolve(this.buildInfo()),
        ['GET'],
      ),
    ];
  }

  async start(): Promise<void> {
    // Loaded in the background: a cold cache means a build, and the hub must not wait for it.
    this.engine.warm().then(
      () => this.deps.log.info('PromQL engine loaded'),
      (e: unknown) => this.deps.log.error({ err: errorMessage(e) }, 'PromQL engine failed to load'),
    );
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    await this.engine.close();
  }

  private members(): MetricsMember[] {
    return this.deps.fleet
      .members()
      .flatMap((m) =>
        m.observability.prometheusURL
          ? [{ name: m.name, region: m.region, url: m.observability.prometheusURL }]
          : [],
      );
  }

  private async withEngine(f: (e: EngineApi) => Promise<ApiAnswer>): Promise<ApiAnswer> {
    try {
      return await f(this.engine);
    } catch (e) {
      if (e instanceof EngineBusyError)
        return { ...apiError(e.reason === 'busy' ? 'unavailable' : 'timeout', e.message), retryAfterS: 1 };
      return apiError('unavailable', `the PromQL engine is not available: ${errorMessage(e)}`);
    }
  }

  private async query(ctx: RouteContext, range: boolean): Promise<ApiAnswer> {
    const params = await requestParams(ctx);
    if (!(params instanceof URLSearchParams)) return params;
    const p = range ? rangeParams(params) : instantParams(params, Date.now());
    if (!p.ok) return apiError('bad_data', p.error);
    const partial = this.partial(params);
    if (typeof partial !== 'boolean') return partial;
    const tooMuch = promqlOverBudget(p.value.query);
    if (tooMuch) return apiError('execution', tooMuch);
    const q =
      'time' in p.value ? { query: p.value.query, start: p.value.time, end: p.value.time, step: 0 } : p.value;
    return this.withEngine((engine) =>
      fleetQuery(
        {
          engine,
          timeoutMs: this.timeoutMs,
          maxCentralSamples: this.maxCentralSamples,
          log: this.deps.log,
          workloadOf: this.workloadOf,
          partialResponse: partial,
          versions: { hub: this.hubVersion, facts: (m) => this.memberVersions.facts(m) },
          remoteReadMisses: this.remoteReadMisses,
        },
        this.members(),
        q,
        clientGone(ctx),
      ),
    );
  }

  private async metadata(ctx: RouteContext, what: 'series' | 'labels' | 'values'): Promise<ApiAnswer> {
    const params = await requestParams(ctx);
    if (!(params instanceof URLSearchParams)) return params;
    const p = seriesParams(params, what === 'series');
    if (!p.ok) return apiError('bad_data', p.error);
    const partial = this.partial(params);
    if (typeof partial !== 'boolean') return partial;
    for (const m of p.value.matchers) {
      const tooMuch = promqlOverBudget(m);
      if (tooMuch) return apiError('execution', `match[]: ${tooMuch}`);
    }
    let name = '';
    if (what === 'values') {
      const m = /^\/api\/v1\/label\/([^/]+)\/values$/.exec(ctx.url.pathname);
      if (!m) return apiError('not_found', `no route for ${ctx.url.pathname}`);
      try {
        name = decodeURIComponent(m[1]!);
      } catch {
        return apiError('bad_data', `invalid label name: "${m[1]!.slice(0, 200)}" has a malformed %-escape`);
      }
      if (!isLabelName(name)) return apiError('bad_data', `invalid label name: "${name}"`);
    }
    return this.withEngine((engine) => {
      const c = { engine, timeoutMs: this.timeoutMs, workloadOf: this.workloadOf, partialResponse: partial };
      const members = this.members();
      const signal = clientGone(ctx);
      if (what === 'series') return fleetSeries(c, members, p.value, signal);
      if (what === 'labels') return fleetLabelNames(c, members, p.value, signal);
      return fleetLabelValues(c, members, name, p.value, signal);
    });
  }

  /** The request's partial_response over the hub's default, or the 400 for an unreadable one. */
  private partial(params: URLSearchParams): boolean | ApiAnswer {
    const p = partialResponse(params, this.partialByDefault);
    return (
      p ??
      apiError(
        'bad_data',
        `invalid parameter "partial_response": "${params.get('partial_response') ?? ''}" is not a boolean`,
      )
    );
  }

  private buildInfo(): ApiAnswer {
    return apiSuccess(
      JSON.stringify({
        version: this.hubVersion,
        revision: 'meridian',
        branch: 'meridian',
        buildUser: 'meridian',
        buildDate: '',
        goVersion: '',
        application: 'meridian fleet metrics (Prometheus engine compiled to WebAssembly)',
      }),
    );
  }
}

export function createMetricsService(deps: ObserveDeps, workloadOf?: WorkloadOf): MetricsService {
  return new MetricsService(deps, workloadOf);
}
