// fleetQuery against two stand-in member servers on loopback that answer with Prometheus
// warnings: a member's warnings reach the answer, named by cluster, on both paths; and the hub
// sets app/revision on the members' series from its pod resolver.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { createLogger } from '../../logging/logger.ts';
import { fleetQuery, type FleetQueryContext } from './fleet-query.ts';
import { RemoteReadMisses, NO_REMOTE_READ_TTL_MS } from './member-queries.ts';
import { StandInMembers } from './member-fixtures.ts';
import type { MetricsMember } from './member-queries.ts';
import { loadPromqlEngine } from './promql-engine.ts';

const standIns = new StandInMembers();
let members: MetricsMember[];
let ctx: FleetQueryContext;

function notServed(res: ServerResponse): void {
  res.statusCode = 404;
  res.end('404 page not found');
}

/**
 * A member holding one series of `x` (namespace shop, its pod) that warns on every answer. By
 * default it serves no remote read (as a server that only speaks the query API): the hub falls
 * back to instant queries of range selectors for raw samples.
 */
function member(
  pod: string,
  value: string,
  read: (res: ServerResponse) => void = notServed,
): Promise<string> {
  return standIns.start((req, res) => {
    if (req.url === '/api/v1/read') return read(res);
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const metric = { __name__: 'x', namespace: 'shop', pod };
      // Raw-sample fetches are range selectors (matrix), the rest instant vectors.
      const matrix = /\]$/.test(form.get('query') ?? '');
      const t = Number(form.get('time'));
      const result = matrix ? [{ metric, values: [[t - 10, value]] }] : [{ metric, value: [t, value] }];
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          status: 'success',
          data: { resultType: matrix ? 'matrix' : 'vector', result },
          warnings: [`${pod}: some samples were out of order`],
        }),
      );
    });
  });
}

before(async () => {
  members = [
    { name: 'eu-west', region: 'eu', url: await member('web-5d8f7c9b4-abcde', '1') },
    { name: 'us-east', region: 'us', url: await member('web-5d8f7c9b4-fghij', '2') },
  ];
  ctx = {
    engine: await loadPromqlEngine(),
    timeoutMs: 5000,
    partialResponse: true,
    maxCentralSamples: 1000,
    log: createLogger('test', new Writable({ write: (_c, _e, cb) => cb() })),
    workloadOf: (cluster, namespace, pod) =>
      namespace === 'shop' && pod.startsWith('web-')
        ? { app: 'web', revision: cluster === 'eu-west' ? '7' : '6' }
        : undefined,
  };
});

after(() => standIns.close());

async function ask(query: string): Promise<{ mode?: string; data: unknown; warnings?: string[] }> {
  const a = await fleetQuery(
    ctx,
    members,
    { query, start: 3_600_000, end: 3_600_000, step: 0 },
    AbortSignal.timeout(10_000),
  );
  assert.equal(a.status, 200, a.body);
  const body = JSON.parse(a.body) as { data: unknown; warnings?: string[] };
  return { mode: a.mode, ...body };
}

const warned = [
  'cluster "eu-west": web-5d8f7c9b4-abcde: some samples were out of order',
  'cluster "us-east": web-5d8f7c9b4-fghij: some samples were out of order',
];

test("members' warnings reach pushed-down and centrally evaluated answers, named by cluster", async () => {
  for (const q of ['x', 'sum(x)', 'sum by (app) (x)', 'x{app="web"}']) {
    const a = await ask(q);
    assert.deepEqual([...(a.warnings ?? [])].sort(), warned, `${q} (${a.mode})`);
  }
});

test('app and revision come from the pod resolver, pushed down or central', async () => {
  const pushed = await ask('x');
  assert.equal(pushed.mode, 'pushdown');
  const metrics = (d: unknown) =>
    (d as { result: { metric: Record<string, string> }[] }).result
      .map((s) => [s.metric['app'], s.metric['revision']])
      .sort();
  assert.deepEqual(metrics(pushed.data), [
    ['web', '6'],
    ['web', '7'],
  ]);
  const central = await ask('sum by (app, revision) (x)');
  assert.equal(central.mode, 'central');
  assert.deepEqual(metrics(central.data), [
    ['web', '6'],
    ['web', '7'],
  ]);
});

test('a repeated query (its plan reused) takes app and revision from the resolver as it is now', async () => {
  const revisions = async (q: string) =>
    ((await ask(q)).data as { result: { metric: Record<string, string> }[] }).result
      .map((s) => `${s.metric['app']}@${s.metric['revision']}`)
      .sort();
  const resolver = ctx.workloadOf;
  try {
    // The sum merges the two pods once both run the same revision.
    const cases: [string, string[]][] = [
      ['x', ['web@8', 'web@8']],
      ['sum by (app, revision) (x)', ['web@8']],
      ['topk(5, x)', ['web@8', 'web@8']],
    ];
    for (const [q, rolledOut] of cases) {
      ctx = { ...ctx, workloadOf: resolver };
      assert.deepEqual(await revisions(q), ['web@6', 'web@7'], q);
      // A rollout: both clusters now run revision 8 of web.
      ctx = {
        ...ctx,
        workloadOf: (_c, ns, _pod) => (ns === 'shop' ? { app: 'web', revision: '8' } : undefined),
      };
      assert.deepEqual(await revisions(q), rolledOut, `${q} after the rollout`);
    }
  } finally {
    ctx = { ...ctx, workloadOf: resolver };
  }
});

/** A member answering every query with `status` and Prometheus' error envelope. */
function failing(status: number, errorType: string, error: string): Promise<string> {
  return standIns.start((req, res) => {
    if (req.url === '/api/v1/read') return notServed(res);
    req.resume();
    req.on('end', () => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'error', errorType, error }));
    });
  });
}

test('a member refusing the query fails it whole with its status, type and message, both paths', async () => {
  const dup = 'vector cannot contain metrics with the same labelset';
  const fleet: MetricsMember[] = [
    ...members,
    { name: 'ap-south', region: 'ap', url: await failing(422, 'execution', dup) },
    { name: 'sa-east', region: 'sa', url: await failing(503, 'unavailable', 'overloaded') },
  ];
  for (const q of ['x', 'sum(x)', 'max_over_time(sum(x)[5m:1m])']) {
    for (const partialResponse of [true, false]) {
      const a = await fleetQuery(
        { ...ctx, partialResponse },
        fleet,
        { query: q, start: 3_600_000, end: 3_600_000, step: 0 },
        AbortSignal.timeout(10_000),
      );
      assert.equal(a.status, 422, `${q}: ${a.body}`);
      assert.deepEqual(JSON.parse(a.body), { status: 'error', errorType: 'execution', error: dup }, q);
    }
  }
});

test('a member that cannot answer is left out with a warning, or fails the query without partial answers', async () => {
  const fleet: MetricsMember[] = [
    ...members,
    { name: 'sa-east', region: 'sa', url: await failing(503, 'timeout', 'query timed out') },
  ];
  for (const q of ['x', 'sum(x)']) {
    const run = (partialResponse: boolean) =>
      fleetQuery(
        { ...ctx, partialResponse },
        fleet,
        { query: q, start: 3_600_000, end: 3_600_000, step: 0 },
        AbortSignal.timeout(10_000),
      );
    const partial = await run(true);
    assert.equal(partial.status, 200, q);
    assert.match(partial.body, /cluster \\"sa-east\\" did not answer \(HTTP 503: query timed out\)/);
    const strict = await run(false);
    assert.equal(strict.status, 503, q);
    assert.equal((JSON.parse(strict.body) as { errorType: string }).errorType, 'unavailable');
    assert.match(strict.body, /partial response disabled.*sa-east/);
  }
});

test("an answer whose ranges the hub evaluated over Prometheus 2 members' samples says so", async () => {
  const versioned: FleetQueryContext = {
    ...ctx,
    versions: {
      hub: '3.16.0',
      facts: (ms) => Promise.resolve(new Map(ms.map((m) => [m.name, { version: '2.42.0', external: [] }]))),
    },
  };
  const run = async (query: string) => {
    const a = await fleetQuery(
      versioned,
      members,
      { query, start: 3_600_000, end: 3_600_000, step: 0 },
      AbortSignal.timeout(10_000),
    );
    assert.equal(a.status, 200, a.body);
    const w = (JSON.parse(a.body) as { warnings?: string[] }).warnings ?? [];
    return { mode: a.mode, semantics: w.filter((x) => x.includes('left-open')) };
  };
  // The members evaluate everything, or the hub only combines their per-step answers.
  assert.deepEqual(await run('x'), { mode: 'pushdown', semantics: [] });
  assert.deepEqual(await run('sum(x)'), { mode: 'central', semantics: [] });
  // The hub reads raw samples and applies ranges and lookbacks itself.
  for (const q of ['max_over_time(sum(x)[5m:1m])', 'absent(x)']) {
    const r = await run(q);
    assert.equal(r.mode, 'central', q);
    assert.equal(r.semantics.length, 1, q);
    assert.match(r.semantics[0]!, /Prometheus 3\.16\.0.*eu-west 2\.42\.0, us-east 2\.42\.0 close them/);
  }
});

test('a member whose remote read fails or answers garbage could not answer: a warning names it, or the query fails', async () => {
  const broken: [string, (res: ServerResponse) => void][] = [
    [
      'HTTP 500',
      (res) => {
        res.statusCode = 500;
        res.end('remote read: internal error');
      },
    ],
    ['HTTP 400', (res) => ((res.statusCode = 400), res.end('exceeded sample limit (50000000)'))],
    ['garbage', (res) => res.end('this is not snappy')],
  ];
  const q = { query: 'max_over_time(sum(x)[5m:1m])', start: 3_600_000, end: 3_600_000, step: 0 };
  const healthy = await fleetQuery(ctx, members, q, AbortSignal.timeout(10_000));
  assert.equal(healthy.status, 200, healthy.body);
  for (const [how, read] of broken) {
    const fleet: MetricsMember[] = [
      ...members,
      { name: 'sa-east', region: 'sa', url: await member('web-5d8f7c9b4-zzzzz', '100', read) },
    ];
    const partial = await fleetQuery(ctx, fleet, q, AbortSignal.timeout(10_000));
    assert.equal(partial.status, 200, `${how}: ${partial.body}`);
    const body = JSON.parse(partial.body) as { data: unknown; warnings: string[] };
    assert.deepEqual(body.data, (JSON.parse(healthy.body) as { data: unknown }).data, how);
    assert.equal(body.warnings.filter((w) => /^cluster "sa-east" did not answer/.test(w)).length, 1, how);
    const strict = await fleetQuery(
      { ...ctx, partialResponse: false },
      fleet,
      q,
      AbortSignal.timeout(10_000),
    );
    assert.equal(strict.status, 503, `${how}: ${strict.body}`);
    assert.match(strict.body, /partial response disabled.*sa-east/, how);
  }
});

test('a member without remote read is not asked for it again for a minute', async () => {
  let reads = 0;
  let now = 0;
  const url = await member('web-5d8f7c9b4-yyyyy', '3', (res) => {
    reads++;
    notServed(res);
  });
  const fleet: MetricsMember[] = [{ name: 'sa-east', region: 'sa', url }];
  const remembered = { ...ctx, remoteReadMisses: new RemoteReadMisses(() => now) };
  const run = async () => {
    const a = await fleetQuery(
      remembered,
      fleet,
      { query: 'absent(x)', start: 3_600_000, end: 3_600_000, step: 0 },
      AbortSignal.timeout(10_000),
    );
    assert.equal(a.status, 200, a.body);
  };
  await run();
  await run();
  assert.equal(reads, 1, 'the second query goes straight to the query API');
  now += NO_REMOTE_READ_TTL_MS + 1;
  await run();
  assert.equal(reads, 2, 'after the TTL remote read is asked again (the member may have gained it)');
});
