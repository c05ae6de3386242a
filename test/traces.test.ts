// Traces against a real hub (hub + 2 members): the real OpenTelemetry JS SDK exports a checkout
// that crosses clusters through each cluster's own ingest path and credential; every query finds
// it, the trace view flags the cross-cluster hop, the service graph counts the calls. Malformed,
// huge and unauthorised requests get clear 4xx answers and store nothing; retention by age
// deletes old spans while the hub runs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  cli,
  fleetUp,
  joinMembers,
  kubectl,
  metricsToken,
  newFleetHome,
  serviceAccountToken,
  startHub,
  waitFor,
  type HubProcess,
} from './support/harness.ts';

const fleet = newFleetHome('127.74.0');
const PORT = 18243;
const BASE = `http://127.0.0.1:${PORT}`;
const MEMBERS = ['eu-west', 'us-east'] as const;
let hub: HubProcess;
let dataDir: string;
const tokens: Record<'eu' | 'us' | 'any' | 'reader', string> = { eu: '', us: '', any: '', reader: '' };
const providers: BasicTracerProvider[] = [];

/** May send spans for one cluster only (its /v1/clusters/<cluster>/traces path). */
function clusterWriter(cluster: string): object {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: `otel-${cluster}` },
    rules: [
      {
        apiGroups: ['observe.meridian.dev'],
        resources: ['traces'],
        verbs: ['create'],
        resourceNames: [cluster],
      },
    ],
  };
}

async function apply(docs: object[]): Promise<void> {
  const r = await kubectl(
    ['--context', 'hub', 'apply', '-f', '-'],
    fleet,
    docs.map((d) => stringify(d)).join('---\n'),
  );
  assert.equal(r.code, 0, r.stderr);
}

/** A tracer provider for one service in one cluster, exporting to that cluster's ingest path. */
function service(name: string, cluster: string, exporter: 'proto' | 'json', token: string) {
  const config = {
    url: `${BASE}/v1/clusters/${cluster}/traces`,
    headers: { Authorization: `Bearer ${token}` },
  };
  const ex: SpanExporter = new RecordingExporter(
    exporter === 'proto'
      ? new ProtoExporter({ ...config, compression: CompressionAlgorithm.GZIP })
      : new JsonExporter(config),
    `${name}@${cluster} (${exporter})`,
  );
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': name,
      'k8s.namespace.name': 'shop',
      'k8s.pod.name': `${name}-5d4f7-x${cluster.length}`,
      // What a collector without Meridian would (wrongly) claim; the endpoint's cluster wins.
      'k8s.cluster.name': 'not-this-one',
    }),
    spanProcessors: [new BatchSpanProcessor(ex, { maxExportBatchSize: 512, scheduledDelayMillis: 50 })],
  });
  providers.push(provider);
  return { tracer: provider.getTracer('checkout-test'), provider };
}

async function get(
  path: string,
  token = tokens.reader,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${BASE}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function post(
  path: string,
  body: Uint8Array | string,
  headers: Record<string, string>,
  token = tokens.any,
) {
  const r = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, ...headers },
    body,
  });
  return {
    status: r.status,
    type: r.headers.get('content-type') ?? '',
    bytes: Buffer.from(await r.arrayBuffer()),
  };
}

const ms = (t: number): Date => new Date(t);

/** The message of an error answer: google.rpc.Status or the hub's JSON, or the raw bytes. */
function messageOf(body: Buffer): string {
  try {
    const j = JSON.parse(body.toString()) as { message?: string; error?: string };
    return j.message ?? j.error ?? body.toString();
  } catch {
    return body.toString();
  }
}
const randomHex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** Export failures of the SDK exporters (the SDK only logs them). */
const exportFailures: string[] = [];
class RecordingExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly what: string,
  ) {}
  export(spans: ReadableSpan[], done: Parameters<SpanExporter['export']>[1]): void {
    this.inner.export(spans, (r) => {
      if (r.code !== 0) exportFailures.push(`${this.what}: ${r.error?.message ?? 'failed'}`);
      done(r);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** One OTLP JSON request with one span (times in ms since the epoch). */
function jsonSpan(traceId: string, startMs: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: 'raw' } },
            { key: 'k8s.cluster.name', value: { stringValue: 'eu-west' } },
          ],
        },
        scopeSpans: [
          {
            spans: [
              {
                traceId,
                spanId: randomHex(8),
                name: 'raw',
                kind: 2,
                startTimeUnixNano: `${startMs}000000`,
                endTimeUnixNano: `${startMs + 5}000000`,
                ...extra,
              },
            ],
          },
        ],
      },
    ],
  });
}

const t0 = Date.now() - 60_000;
const cross: string[] = [];
const local: string[] = [];
let slowTrace = '';

before(async () => {
  await fleetUp(fleet, MEMBERS.length);
  await joinMembers(fleet, MEMBERS);
  await apply([clusterWriter('eu-west'), clusterWriter('us-east')]);
  tokens.eu = await serviceAccountToken(fleet, 'otel-eu', 'otel-eu-west');
  tokens.us = await serviceAccountToken(fleet, 'otel-us', 'otel-us-east');
  tokens.any = await serviceAccountToken(fleet, 'otel-any', 'meridian-telemetry-writer');
  tokens.reader = await serviceAccountToken(fleet, 'trace-reader', 'meridian-viewer');
  dataDir = mkdtempSync(join(tmpdir(), 'meridian-traces-test-'));
  hub = await startHub(fleet, 'traces-hub', PORT, [
    '--data-dir',
    dataDir,
    '--trace-retention',
    '24h',
    '--trace-retention-interval',
    '500ms',
    '--otlp-max-body',
    '1Mi',
  ]);
  await waitFor('hub API', 60_000, async () =>
    (await get('/api/v1/traces')).status === 200 ? true : undefined,
  );

  // The checkout: frontend (eu-west) → cart in us-east five times (one fails, one is slow) and
  // → cart in eu-west three times. Three processes, three credentials, two encodings.
  const frontend = service('frontend', 'eu-west', 'proto', tokens.eu);
  const cartUs = service('cart', 'us-east', 'json', tokens.us);
  const cartEu = service('cart', 'eu-west', 'proto', tokens.eu);
  const call = (target: typeof cartUs, i: number, fail: boolean, slow: boolean): string => {
    const start = t0 + i * 1000;
    const total = slow ? 1500 : 40;
    const root = frontend.tracer.startSpan(
      'GET /checkout',
      { kind: SpanKind.SERVER, startTime: ms(start) },
      ROOT_CONTEXT,
    );
    const client = frontend.tracer.startSpan(
      'POST cart',
      { kind: SpanKind.CLIENT, startTime: ms(start + 2) },
      trace.setSpan(ROOT_CONTEXT, root),
    );
    const server: Span = target.tracer.startSpan(
      'POST /cart',
      { kind: SpanKind.SERVER, startTime: ms(start + 3) },
      trace.setSpan(ROOT_CONTEXT, client),
    );
    if (fail) server.setStatus({ code: SpanStatusCode.ERROR, message: 'out of stock' });
    server.end(ms(start + total - 4));
    if (fail) client.setStatus({ code: SpanStatusCode.ERROR });
    client.end(ms(start + total - 2));
    root.end(ms(start + total));
    return root.spanContext().traceId;
  };
  for (let i = 0; i < 5; i++) cross.push(call(cartUs, i, i === 1, i === 3));
  slowTrace = cross[3]!;
  for (let i = 0; i < 3; i++) local.push(call(cartEu, 10 + i, false, false));
  await Promise.all(providers.map((p) => p.forceFlush()));
});

after(async () => {
  await Promise.all(providers.map((p) => p.shutdown().catch(() => undefined)));
  await hub?.stop();
  await cli(['fleet', 'down'], fleet.env).catch(() => undefined);
  rmSync(fleet.home, { recursive: true, force: true });
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

interface ViewSpan {
  name: string;
  service: string;
  cluster: string;
  region: string;
  namespace: string;
  pod: string;
  app: string;
  kind: string;
  status: string;
  crossCluster: boolean;
  parentCluster?: string;
}
interface Summary {
  traceId: string;
  rootService: string;
  spanCount: number;
  clusters: string[];
  error: boolean;
  durationMs: number;
}

const window = `start=${new Date(t0 - 1000).toISOString()}&end=${new Date(t0 + 60_000).toISOString()}`;
async function searchIds(query: string): Promise<string[]> {
  const r = await get(`/api/v1/traces?${window}&limit=100${query ? `&${query}` : ''}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return (r.body['traces'] as Summary[]).map((t) => t.traceId).sort();
}

describe('traces from the OpenTelemetry JS SDK across clusters', () => {
  test('a trace by id has every span, stamped with the cluster of the path it came through', async () => {
    const r = await waitFor('the cross-cluster trace', 20_000, async () => {
      const g = await get(`/api/v1/traces/${cross[0]}`);
      return g.status === 200 && (g.body['spans'] as unknown[]).length === 3 ? g : undefined;
    });
    assert.deepEqual(exportFailures, []);
    const spans = r.body['spans'] as ViewSpan[];
    const byName = new Map(spans.map((s) => [s.name, s]));
    assert.deepEqual(spans.map((s) => [s.name, s.service, s.cluster, s.kind]).sort(), [
      ['GET /checkout', 'frontend', 'eu-west', 'server'],
      ['POST /cart', 'cart', 'us-east', 'server'],
      ['POST cart', 'frontend', 'eu-west', 'client'],
    ]);
    const server = byName.get('POST /cart')!;
    assert.equal(server.region, 'us-east');
    assert.equal(server.namespace, 'shop');
    assert.equal(server.app, 'cart');
    assert.match(server.pod, /^cart-/);
    // The hop that crossed clusters, and only it, is flagged.
    assert.deepEqual(
      spans.filter((s) => s.crossCluster).map((s) => [s.name, s.parentCluster]),
      [['POST /cart', 'eu-west']],
    );
    assert.deepEqual(r.body['clusters'], ['eu-west', 'us-east']);
    assert.equal(r.body['rootService'], 'frontend');
  });

  test('search finds the traces by service, cluster, namespace, time range, min duration and error', async () => {
    await waitFor('all 8 traces', 20_000, async () => ((await searchIds('')).length >= 8 ? true : undefined));
    const all = [...cross, ...local].sort();
    assert.deepEqual(await searchIds('service=frontend'), all);
    assert.deepEqual(await searchIds('cluster=us-east'), [...cross].sort());
    assert.deepEqual(await searchIds('service=cart&cluster=eu-west'), [...local].sort());
    assert.deepEqual(await searchIds('namespace=shop&service=cart'), all);
    assert.deepEqual(await searchIds('minDuration=1s'), [slowTrace]);
    assert.deepEqual(await searchIds('error=true'), [cross[1]!]);
    assert.deepEqual(await searchIds('cluster=nowhere'), []);
    // Time range: only the first two cross-cluster calls started in [t0, t0 + 2 s).
    const early = await get(
      `/api/v1/traces?start=${new Date(t0).toISOString()}&end=${new Date(t0 + 1500).toISOString()}&service=frontend`,
    );
    assert.deepEqual(
      (early.body['traces'] as Summary[]).map((t) => t.traceId).sort(),
      [cross[0], cross[1]].sort(),
    );
    const failed = (await get(`/api/v1/traces?${window}&error=true`)).body['traces'] as Summary[];
    assert.deepEqual(
      failed.map((t) => [t.rootService, t.spanCount, t.clusters, t.error]),
      [['frontend', 3, ['eu-west', 'us-east'], true]],
    );
    const slow = (await get(`/api/v1/traces?${window}&minDuration=1s`)).body['traces'] as Summary[];
    assert.equal(slow[0]!.durationMs, 1500);
  });

  test('the service graph counts each edge and marks the one that crosses clusters', async () => {
    const r = await get(`/api/v1/traces/graph?${window}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const edges = r.body['edges'] as {
      source: { id: string };
      target: { id: string; region?: string; app?: string };
      calls: number;
      errors: number;
      errorRate: number;
      p99Ms: number;
      crossCluster: boolean;
    }[];
    assert.deepEqual(
      edges.map((e) => [e.source.id, e.target.id, e.calls, e.errors, e.crossCluster]),
      [
        ['eu-west/shop/frontend', 'eu-west/shop/cart', 3, 0, false],
        ['eu-west/shop/frontend', 'us-east/shop/cart', 5, 1, true],
      ],
    );
    assert.equal(edges[1]!.errorRate, 0.2);
    assert.equal(edges[1]!.p99Ms, 1496);
    assert.equal(edges[1]!.target.region, 'us-east');
    const topology = await get('/api/v1/topology?window=1h');
    assert.equal(topology.status, 200, JSON.stringify(topology.body));
  });
});

describe('OTLP receiver answers', () => {
  test('JSON and gzip payloads on /v1/traces take k8s.cluster.name from the resource', async () => {
    const id = randomHex(16);
    const r = await post('/v1/traces', gzipSync(jsonSpan(id, Date.now() - 1000)), {
      'Content-Type': 'application/json',
      'Content-Encoding': 'gzip',
    });
    assert.equal(r.status, 200, r.bytes.toString());
    assert.deepEqual(JSON.parse(r.bytes.toString()), {});
    const got = await get(`/api/v1/traces/${id}`);
    assert.equal((got.body['spans'] as ViewSpan[])[0]!.cluster, 'eu-west');
  });

  test('rejected spans come back as partial success; the rest are stored', async () => {
    const id = randomHex(16);
    const body = JSON.parse(jsonSpan(id, Date.now() - 1000)) as {
      resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[];
    };
    const spans = body.resourceSpans[0]!.scopeSpans[0]!.spans;
    spans.push({ ...spans[0]!, spanId: '00' });
    const r = await post('/v1/traces', JSON.stringify(body), { 'Content-Type': 'application/json' });
    assert.equal(r.status, 200);
    const answer = JSON.parse(r.bytes.toString()) as {
      partialSuccess: { rejectedSpans: string; errorMessage: string };
    };
    assert.equal(answer.partialSuccess.rejectedSpans, '1');
    assert.match(answer.partialSuccess.errorMessage, /spanId must be 8 non-zero bytes/);
    assert.equal(((await get(`/api/v1/traces/${id}`)).body['spans'] as unknown[]).length, 1);
  });

  test('malformed, huge, unsupported and unauthorised requests get clear 4xx and store nothing', async () => {
    const ids: string[] = [];
    const fresh = (): string => {
      const id = randomHex(16);
      ids.push(id);
      return id;
    };
    const json = { 'Content-Type': 'application/json' };
    const proto = { 'Content-Type': 'application/x-protobuf' };
    const cases: [string, Promise<{ status: number; type: string; bytes: Buffer }>, number, RegExp][] = [
      [
        'truncated protobuf',
        post('/v1/traces', Buffer.from([0x0a, 0xff, 0x01, 0x0a]), proto),
        400,
        /malformed OTLP protobuf/,
      ],
      [
        'JSON that is not JSON',
        post('/v1/traces', `${jsonSpan(fresh(), Date.now())}}`, json),
        400,
        /body is not JSON/,
      ],
      [
        'base64 ids in JSON',
        post('/v1/traces', jsonSpan(fresh(), Date.now(), { spanId: 'AAECAwQFBgc=' }), json),
        400,
        /spans\[0\]\.spanId: must be hex/,
      ],
      [
        'a body over the limit',
        post('/v1/traces', jsonSpan(fresh(), Date.now(), { name: 'x'.repeat(2 * 1024 * 1024) }), json),
        413,
        /larger than 1048576 bytes/,
      ],
      [
        'a gzip bomb',
        post('/v1/traces', gzipSync(jsonSpan(fresh(), Date.now(), { name: 'x'.repeat(4 * 1024 * 1024) })), {
          ...json,
          'Content-Encoding': 'gzip',
        }),
        413,
        /decompressed body is larger/,
      ],
      [
        'broken gzip',
        post('/v1/traces', Buffer.from('not gzip'), { ...json, 'Content-Encoding': 'gzip' }),
        400,
        /not valid gzip/,
      ],
      [
        'text/plain',
        post('/v1/traces', 'hello', { 'Content-Type': 'text/plain' }),
        415,
        /application\/x-protobuf or application\/json/,
      ],
      [
        'an unknown cluster',
        post('/v1/clusters/nowhere/traces', jsonSpan(fresh(), Date.now()), json),
        404,
        /cluster "nowhere" is not registered/,
      ],
      [
        "another cluster's path",
        post('/v1/clusters/us-east/traces', jsonSpan(fresh(), Date.now()), json, tokens.eu),
        403,
        /cannot create traces\.observe\.meridian\.dev/,
      ],
      [
        'no token',
        fetch(`${BASE}/v1/traces`, {
          method: 'POST',
          headers: json,
          body: jsonSpan(fresh(), Date.now()),
        }).then(async (r) => ({ status: r.status, type: '', bytes: Buffer.from(await r.arrayBuffer()) })),
        401,
        /missing bearer token/,
      ],
    ];
    for (const [what, answer, status, message] of cases) {
      const r = await answer;
      assert.equal(r.status, status, `${what}: ${r.bytes.toString().slice(0, 300)}`);
      assert.match(messageOf(r.bytes), message, what);
    }
    // Errors come in the request's encoding: google.rpc.Status in protobuf for protobuf.
    assert.equal((await cases[0]![1]).type, 'application/x-protobuf');
    for (const id of ids)
      assert.equal((await get(`/api/v1/traces/${id}`)).status, 404, `trace ${id} was stored`);
  });

  test('queries without a token get 401; bad parameters a 400 naming them', async () => {
    assert.equal((await fetch(`${BASE}/api/v1/traces`)).status, 401);
    const bad: [string, string][] = [
      ['/api/v1/traces?limit=0', 'limit'],
      ['/api/v1/traces?minDuration=slow', 'minDuration'],
      ['/api/v1/traces?start=yesterday', 'start'],
      ['/api/v1/traces?error=maybe', 'error'],
      ['/api/v1/traces?srvice=cart', 'srvice'],
      ['/api/v1/traces/not-a-trace-id', 'traceId'],
      ['/api/v1/traces/graph?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z', 'start'],
    ];
    for (const [path, param] of bad) {
      const r = await get(path);
      assert.equal(r.status, 400, path);
      assert.equal(r.body['param'], param, path);
      assert.match(String(r.body['error']), new RegExp(`^${param}: `), path);
    }
    assert.equal((await get(`/api/v1/traces/${randomHex(16)}`)).status, 404);
  });
});

describe('retention', () => {
  test('spans older than --trace-retention are deleted while the hub runs; recent ones stay', async () => {
    const old = randomHex(16);
    const recent = randomHex(16);
    const r = await post('/v1/traces', jsonSpan(old, Date.now() - 25 * 3_600_000), {
      'Content-Type': 'application/json',
    });
    assert.equal(r.status, 200);
    assert.equal(
      (await post('/v1/traces', jsonSpan(recent, Date.now()), { 'Content-Type': 'application/json' })).status,
      200,
    );
    await waitFor('the 25 h old trace to be deleted', 10_000, async () =>
      (await get(`/api/v1/traces/${old}`)).status === 404 ? true : undefined,
    );
    assert.equal((await get(`/api/v1/traces/${recent}`)).status, 200);
    assert.equal((await get(`/api/v1/traces/${cross[0]}`)).status, 200);
    assert.match(hub.logs(), /trace retention deleted spans/);
  });

  test('the oldest spans are deleted once the store passes --trace-max-bytes; the newest stay', async () => {
    // A second hub replica with its own store, limited to 1 MiB: ~3 MB of spans go in.
    const SIZE_PORT = PORT + 1;
    const sizeDir = mkdtempSync(join(tmpdir(), 'meridian-traces-size-'));
    const sizeHub = await startHub(fleet, 'traces-size-hub', SIZE_PORT, [
      '--data-dir',
      sizeDir,
      '--trace-max-bytes',
      '1Mi',
      '--trace-retention-interval',
      '500ms',
    ]);
    try {
      const base = `http://127.0.0.1:${SIZE_PORT}`;
      const reader = await serviceAccountToken(fleet, 'size-reader', 'meridian-viewer');
      const monitor = await metricsToken(fleet);
      const status = async (traceId: string): Promise<number> =>
        (await fetch(`${base}/api/v1/traces/${traceId}`, { headers: { Authorization: `Bearer ${reader}` } }))
          .status;
      await waitFor('the second hub', 60_000, async () =>
        (await status(randomHex(16))) === 404 ? true : undefined,
      );
      const ids: string[] = [];
      const padding = 'x'.repeat(1_000);
      const t0 = Date.now() - 3_600_000;
      for (let batch = 0; batch < 60; batch++) {
        const traceId = randomHex(16);
        ids.push(traceId);
        const spans = Array.from({ length: 50 }, (_, i) => ({
          traceId,
          spanId: randomHex(8),
          name: `span ${i}`,
          kind: 1,
          startTimeUnixNano: `${t0 + batch * 1_000 + i}000000`,
          endTimeUnixNano: `${t0 + batch * 1_000 + i + 1}000000`,
          attributes: [{ key: 'padding', value: { stringValue: padding } }],
        }));
        const r = await fetch(`${base}/v1/traces`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${tokens.any}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({
            resourceSpans: [
              {
                resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bulk' } }] },
                scopeSpans: [{ spans }],
              },
            ],
          }),
        });
        assert.equal(r.status, 200, await r.text());
      }
      const storeBytes = async (): Promise<number> => {
        const text = await (
          await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${monitor}` } })
        ).text();
        return Number(/^meridian_trace_store_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
      };
      // A retention pass deletes in chunks while requests go on, so one sweep over the 60 traces
      // can straddle a pass; the verdict is a sweep that the next one repeats, under the limit.
      let previous = '';
      const statuses = await waitFor('the store back under 1 MiB, and settled', 30_000, async () => {
        const b = await storeBytes();
        const sweep: number[] = [];
        for (const id of ids) sweep.push(await status(id));
        const key = sweep.join(',');
        const settled = key === previous;
        previous = key;
        return settled && b > 0 && b <= 1024 * 1024 && sweep[0] === 404 ? sweep : undefined;
      });
      assert.ok(
        statuses.every((s) => s === 200 || s === 404),
        `every trace is found or gone: ${statuses.join(',')}`,
      );
      assert.equal(statuses.at(-1), 200, 'the newest trace stays');
      const kept = statuses.map((s) => s === 200);
      // What is deleted is a prefix: oldest first.
      assert.ok(kept.indexOf(true) > 0, `kept: ${kept.join(',')}`);
      assert.ok(kept.slice(kept.indexOf(true)).every(Boolean), `kept: ${kept.join(',')}`);
      assert.match(sizeHub.logs(), /trace retention deleted spans/);
    } finally {
      await sizeHub.stop();
      rmSync(sizeDir, { recursive: true, force: true });
    }
  });
});
