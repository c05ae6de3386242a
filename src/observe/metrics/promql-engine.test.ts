// The Go side's decisions, through the real WebAssembly module: which queries are pushed down,
// what each member is asked, which raw-sample windows central evaluation fetches, and that the
// engine evaluates over stamped member answers.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isFailure,
  loadPromqlEngine,
  type CentralPlan,
  type EngineQuery,
  type PromqlEngine,
  type QueryPlan,
} from './promql-engine.ts';

let engine: PromqlEngine;
const members = [
  { name: 'eu-west', region: 'eu' },
  { name: 'us-east', region: 'us' },
];
const at = (query: string, end = 3_600_000, step = 0, start = end): EngineQuery => ({
  query,
  start,
  end,
  step,
  members,
});

function plan(q: EngineQuery): QueryPlan {
  const p = engine.plan(q);
  if (isFailure(p)) throw new Error(p.failure.error);
  return p;
}

function centralPlan(q: EngineQuery): CentralPlan {
  const p = plan(q);
  assert.equal(p.mode, 'central', q.query);
  return p as CentralPlan;
}

before(async () => {
  engine = await loadPromqlEngine();
});

test('queries that keep clusters apart are pushed down; the rest are evaluated centrally, with why', () => {
  const pushed = [
    'x',
    'rate(x[5m])',
    'sum by (cluster, job) (rate(x[5m]))',
    'sum without (instance) (x)',
    'x / on (cluster, job) y',
    'x / ignoring (job) y',
    'x * 2',
    'topk by (cluster) (1, x)',
    'max_over_time(rate(x[5m])[1h:1m])',
    'label_replace(x, "c", "$1", "cluster", "(.*)")',
  ];
  for (const q of pushed) assert.equal(plan(at(q)).mode, 'pushdown', q);
  const central: [string, RegExp][] = [
    ['sum(rate(x[5m]))', /sum merges series of different clusters/],
    ['sum by (region) (x)', /merges/],
    ['sum without (cluster) (x)', /merges/],
    ['x / on (job) y', /vector matching ignores the cluster label/],
    ['x / ignoring (cluster) y', /ignores the cluster/],
    ['absent(x)', /absent\(\) depends on every cluster/],
    ['sort(x)', /sort\(\)/],
    ['x * scalar(y)', /scalar\(\)/],
    ['topk by (cluster) (scalar(k), x)', /parameter computed from series|scalar/],
    ['count_values by (cluster) ("cluster", x)', /writes the cluster label/],
    ['label_replace(x, "cluster", "all", "", "")', /writes the cluster label/],
    ['1 + 1', /result is a scalar/],
  ];
  for (const [q, why] of central) {
    const p = plan(at(q));
    assert.equal(p.mode, 'central', q);
    assert.match(p.mode === 'central' ? p.reason : '', why, q);
  }
});

test('members answer the plain query and the hub stamps the topology labels the union keeps', () => {
  const members = (q: string) => {
    const p = plan(at(q));
    assert.equal(p.mode, 'pushdown', q);
    return p.mode === 'pushdown' ? (p.members ?? []) : [];
  };
  const eu = (q: string) => members(q).find((m) => m.member === 'eu-west');
  // A bare selector or function keeps every label: the hub sets cluster and region.
  assert.deepEqual(members('rate(x{code="500"}[5m])'), [
    {
      member: 'eu-west',
      query: 'rate({__name__="x",code="500"}[5m])',
      stamp: { cluster: 'eu-west', region: 'eu' },
    },
    {
      member: 'us-east',
      query: 'rate({__name__="x",code="500"}[5m])',
      stamp: { cluster: 'us-east', region: 'us' },
    },
  ]);
  // An aggregation keeps only what it groups by; the member groups without the topology labels
  // (constant in one cluster) and without() / ignoring() leave out any the member's series carry.
  assert.deepEqual(eu('sum by (cluster, job) (rate(x{job="a"}[5m]))'), {
    member: 'eu-west',
    query: 'sum by (job) (rate({__name__="x",job="a"}[5m]))',
    stamp: { cluster: 'eu-west' },
  });
  assert.deepEqual(eu('sum without (instance, region) (x)'), {
    member: 'eu-west',
    query: 'sum without (instance, cluster, region, app, revision) ({__name__="x"})',
    stamp: { cluster: 'eu-west' },
  });
  // One-to-one matching on() keeps only the on() labels; topk keeps its input's labels.
  assert.deepEqual(eu('rate(x{job="a"}[5m]) / on (cluster, instance) y'), {
    member: 'eu-west',
    query: 'rate({__name__="x",job="a"}[5m]) / on (instance) {__name__="y"}',
    stamp: { cluster: 'eu-west' },
  });
  assert.deepEqual(
    eu('x and y')?.query,
    '{__name__="x"} and ignoring (cluster, region, app, revision) {__name__="y"}',
  );
  assert.deepEqual(eu('topk by (cluster) (3, x)'), {
    member: 'eu-west',
    query: 'topk(3, {__name__="x"})',
    stamp: { cluster: 'eu-west', region: 'eu' },
  });
  // A bare range selector (instant query) too.
  assert.deepEqual(eu('x[5m]')?.stamp, { cluster: 'eu-west', region: 'eu' });
});

test('a query that reads a topology label is stamped by the member where series enter it', () => {
  const p = plan(
    at('label_replace(x{job="a"}, "where", "$1", "cluster", "(.*)") / on (cluster, instance) y'),
  );
  assert.equal(p.mode, 'pushdown');
  assert.deepEqual(
    p.mode === 'pushdown' ? (p.members ?? []).map((m) => [m.query, m.stamp]) : [],
    ['eu-west', 'us-east'].map((c, i) => {
      const r = ['eu', 'us'][i]!;
      const st = (e: string) =>
        `label_replace(label_replace(${e}, "cluster", "${c}", "", ""), "region", "${r}", "", "")`;
      return [
        `label_replace(${st('{__name__="x",job="a"}')}, "where", "$1", "cluster", "(.*)") / on (cluster, instance) ${st('{__name__="y"}')}`,
        null,
      ];
    }),
  );
});

test('cluster and region matchers choose members and never reach them', () => {
  const p = plan(at('x{cluster=~"eu-.*"} or y{region="us"}'));
  assert.equal(p.mode, 'pushdown');
  const qs = new Map((p.mode === 'pushdown' ? (p.members ?? []) : []).map((m) => [m.member, m.query]));
  assert.match(qs.get('eu-west')!, /\{__name__="x"\}.*__meridian_excluded__="true"/);
  assert.match(qs.get('us-east')!, /__meridian_excluded__="true".*\{__name__="y"\}/);
  assert.doesNotMatch(qs.get('eu-west')!, /cluster=~/);
  const none = plan(at('x{cluster="ap-south"}'));
  assert.deepEqual(none.mode === 'pushdown' ? (none.members ?? []) : ['central'], []);
  const onlyTopology = plan(at('{cluster="eu-west"}'));
  assert.deepEqual(onlyTopology.mode === 'pushdown' ? onlyTopology.members?.map((m) => m.query) : [], [
    '{__name__=~".+"}',
  ]);
});

test('central evaluation pushes down its largest partitionable parts; the hub does only the rest', () => {
  const parts = (q: string): string[] => {
    const p = plan(at(q));
    assert.equal(p.mode, 'central', q);
    if (p.mode !== 'central') return [];
    assert.deepEqual(p.fetches ?? [], [], `${q} needs no raw samples`);
    return (p.subs ?? []).map((s) => s.members.find((m) => m.member === 'eu-west')?.query ?? '-');
  };
  // Sums, counts, minima, maxima, groups, topk and bottomk aggregate per cluster on the members
  // first (the hub stamps their output, once per group) and avg is a sum over a count.
  assert.deepEqual(parts('sum(rate(x[5m]))'), ['sum(rate({__name__="x"}[5m]))']);
  assert.deepEqual(parts('count without (instance, cluster) (x)'), [
    'count without (instance, cluster, region, app, revision) ({__name__="x"})',
  ]);
  assert.deepEqual(parts('topk(5, x)'), ['topk(5, {__name__="x"})']);
  assert.deepEqual(parts('bottomk by (job) (2, rate(x[5m]))'), [
    'bottomk by (job) (2, rate({__name__="x"}[5m]))',
  ]);
  assert.deepEqual(parts('avg by (job) (x)'), [
    'sum by (job) ({__name__="x"})',
    'count by (job) ({__name__="x"})',
  ]);
  assert.deepEqual(parts('histogram_quantile(0.9, sum by (le) (rate(b[5m])))'), [
    'sum by (le) (rate({__name__="b"}[5m]))',
  ]);
  assert.deepEqual(parts('sort_desc(sum by (cluster) (x))'), ['sum({__name__="x"})']);
  assert.deepEqual(parts('x / on (instance) group_left quantile by (instance) (0.5, y)'), [
    '{__name__="x"}',
    '{__name__="y"}',
  ]);
  // A topk whose k comes from series cannot be split.
  assert.deepEqual(parts('topk(scalar(k), x)'), ['{__name__="x"}', '{__name__="k"}']);
  // A part only some members can answer is asked of those only.
  const p = plan(at('sum(x{cluster="us-east"})'));
  assert.deepEqual(p.mode === 'central' ? p.subs?.[0]?.members.map((m) => m.member) : [], ['us-east']);
});

test('raw samples are fetched, over exactly the window each selector reads, where no part can run on the members', () => {
  const windows = (q: EngineQuery): string[] => {
    const p = plan(q);
    assert.equal(p.mode, 'central');
    if (p.mode !== 'central') return [];
    assert.deepEqual(p.subs ?? [], [], `${q.query}: no part is pushed down`);
    return (p.fetches ?? []).filter((f) => f.member === 'eu-west').map((f) => `${f.query}@${f.time}`);
  };
  const T = 3_600_000;
  // absent() builds its answer from its argument's matchers, so its argument stays in the hub:
  // a range selector reads the 5 minutes before T (Prometheus 3 ranges are open at the start) …
  assert.deepEqual(windows(at('absent_over_time(x[5m])', T)), [`{__name__="x"}[299999ms]@${T}`]);
  // … an instant selector the 5-minute lookback delta, shifted by offset, pinned by @.
  assert.deepEqual(windows(at('absent(x)', T)), [`{__name__="x"}[299999ms]@${T}`]);
  assert.deepEqual(windows(at('absent(x offset 10m)', T)), [`{__name__="x"}[299999ms]@${T - 600_000}`]);
  assert.deepEqual(windows(at('absent(x @ 1000)', T)), [`{__name__="x"}[299999ms]@1000000`]);
  // A range query reads from start minus the lookback to end.
  assert.deepEqual(windows(at('absent(x)', T, 60_000, T - 600_000)), [`{__name__="x"}[899999ms]@${T}`]);
  // A subquery is evaluated at its own steps: 30m at 1m steps over rate(5m) reads 35 minutes.
  assert.deepEqual(windows(at('max_over_time(sum(rate(x[5m]))[30m:1m])', T)), [
    `{__name__="x"}[2099999ms]@${T}`,
  ]);
  // Selectors that reach a member as the same selector share one fetch where their windows
  // overlap (topology matchers resolved first), and fetch apart where they do not.
  assert.deepEqual(windows(at('absent(x{cluster="eu-west"}) or absent(x offset 2m)', T)), [
    `{__name__="x"}[419999ms]@${T}`,
  ]);
  assert.deepEqual(windows(at('absent(x) or absent(x offset 1h)', T)), [
    `{__name__="x"}[299999ms]@0`,
    `{__name__="x"}[299999ms]@${T}`,
  ]);
});

test("the engine evaluates over the members' answers: pushed-down parts and stamped raw samples", () => {
  const answer = (resultType: string, result: unknown[]) =>
    new TextEncoder().encode(JSON.stringify({ status: 'success', data: { resultType, result } }));
  // sum by (region) (x): x ran on the members, which stamped their series.
  const part = (cluster: string, region: string, v: string) =>
    answer('vector', [{ metric: { __name__: 'x', job: 'a', cluster, region }, value: [3600, v] }]);
  const byRegion = at('sum by (region) (x)', 3_600_000);
  const ev = engine.evaluate(
    byRegion,
    centralPlan(byRegion),
    [
      { member: 'eu-west', sub: 0, body: part('eu-west', 'eu', '3') },
      { member: 'us-east', sub: 0, body: part('us-east', 'us', '30') },
    ],
    1000,
  );
  assert.deepEqual(JSON.parse(isFailure(ev) ? JSON.stringify(ev) : ev.data), {
    resultType: 'vector',
    result: [
      { metric: { region: 'eu' }, value: [3600, '3'] },
      { metric: { region: 'us' }, value: [3600, '30'] },
    ],
  });
  // topk over the members' own top k: the hub stamps their plain answers, then picks.
  const top = (vs: number[]) =>
    answer(
      'vector',
      vs.map((v, i) => ({ metric: { __name__: 'x', i: String(i) }, value: [3600, String(v)] })),
    );
  const topk = at('topk(2, x)', 3_600_000);
  const tk = engine.evaluate(
    topk,
    centralPlan(topk),
    [
      { member: 'eu-west', sub: 0, body: top([5, 1]) },
      { member: 'us-east', sub: 0, body: top([3, 4]) },
    ],
    1000,
  );
  assert.deepEqual(JSON.parse(isFailure(tk) ? JSON.stringify(tk) : tk.data), {
    resultType: 'vector',
    result: [
      { metric: { __name__: 'x', i: '0', cluster: 'eu-west', region: 'eu' }, value: [3600, '5'] },
      { metric: { __name__: 'x', i: '1', cluster: 'us-east', region: 'us' }, value: [3600, '4'] },
    ],
  });
  // A range answer's missing steps read as "no value", not as the previous step's value.
  const sumRange = at('sum(x)', 3_600_000, 60_000, 3_480_000);
  const gaps = engine.evaluate(
    sumRange,
    centralPlan(sumRange),
    [
      {
        member: 'eu-west',
        sub: 0,
        body: answer('matrix', [{ metric: { cluster: 'eu-west', region: 'eu' }, values: [[3480, '1']] }]),
      },
    ],
    1000,
  );
  assert.deepEqual(JSON.parse(isFailure(gaps) ? JSON.stringify(gaps) : gaps.data), {
    resultType: 'matrix',
    result: [{ metric: {}, values: [[3480, '1']] }],
  });
  // Raw samples (a subquery stays in the hub) are stamped with the member's cluster and region.
  const raw = (v: number[]) =>
    answer('matrix', [
      { metric: { __name__: 'x', job: 'a' }, values: v.map((n, i) => [3000 + i * 300, String(n)]) },
    ]);
  const sub = at('max_over_time(sum by (region) (x)[10m:5m])', 3_600_000);
  const ev2 = engine.evaluate(
    sub,
    centralPlan(sub),
    [
      { member: 'eu-west', sub: -1, body: raw([1, 2, 3]) },
      { member: 'us-east', sub: -1, body: raw([10, 20, 30]) },
    ],
    1000,
  );
  assert.deepEqual(JSON.parse(isFailure(ev2) ? JSON.stringify(ev2) : ev2.data), {
    resultType: 'vector',
    result: [
      { metric: { region: 'eu' }, value: [3600, '3'] },
      { metric: { region: 'us' }, value: [3600, '30'] },
    ],
  });
  const limited = engine.evaluate(
    sub,
    centralPlan(sub),
    [{ member: 'eu-west', sub: -1, body: raw([1, 2, 3]) }],
    2,
  );
  assert.ok(
    isFailure(limited) &&
      limited.failure.errorType === 'execution' &&
      /more than 2 samples/.test(limited.failure.error),
  );
});

test("bad queries and selectors are bad_data with the parser's position", () => {
  const p = engine.plan(at('sum(rate(x[5m])'));
  assert.ok(isFailure(p));
  assert.equal(p.failure.errorType, 'bad_data');
  assert.match(p.failure.error, /^invalid parameter "query": 1:\d+: parse error/);
  const s = engine.selectors(['up{'], members);
  assert.ok(isFailure(s) && s.failure.errorType === 'bad_data');
  const ok = engine.selectors(['up{cluster="us-east"}', 'down'], members);
  assert.deepEqual(ok, [
    { member: 'eu-west', matchers: ['{__name__="down"}'] },
    { member: 'us-east', matchers: ['{__name__="up"}', '{__name__="down"}'] },
  ]);
});

test('queries that read app or revision, or merge apps without their pods, are evaluated in the hub', () => {
  const pushed: [string, boolean][] = [
    ['x', true],
    ['rate(x[5m])', true],
    ['sum without (instance) (x)', true],
    ['topk by (cluster, pod, namespace) (1, x)', true],
    ['x / ignoring (job) y', true],
    ['sum by (cluster, namespace, pod) (x)', false],
    ['sum by (cluster) (x)', false],
    ['x / on (cluster, pod) y', false],
  ];
  for (const [q, workload] of pushed) {
    const p = plan(at(q));
    assert.equal(p.mode, 'pushdown', q);
    assert.equal(p.mode === 'pushdown' && p.workload === true, workload, `${q}: workload`);
  }
  const central: [string, RegExp][] = [
    ['x{app="a"}', /selects by the app label/],
    ['rate(x{revision=~"r.*"}[5m])', /selects by the revision label/],
    ['sum by (app, cluster) (x)', /groups by the app or revision label/],
    ['count by (cluster, revision) (x)', /groups by/],
    ['sum without (pod) (x)', /merges series of different apps/],
    ['topk without (namespace) (1, x)', /merges series of different apps/],
    ['x / ignoring (pod) y', /merges series of different apps/],
    ['x * on (cluster, app) y', /vector matching names/],
    ['label_replace(x, "a", "$1", "app", "(.*)")', /names the app label/],
    ['label_replace(x, "pod", "", "", "")', /not the namespace and pod/],
  ];
  for (const [q, why] of central) {
    const p = plan(at(q));
    assert.equal(p.mode, 'central', q);
    assert.match(p.mode === 'central' ? p.reason : '', why, q);
  }
  // Members never see app or revision: matchers on them are the hub's, and the largest parts
  // that keep pods apart still run on the members.
  const sel = centralPlan(at('x{app="a", job="j"}'));
  assert.deepEqual(
    sel.fetches?.filter((f) => f.member === 'eu-west').map((f) => f.query),
    ['{__name__="x",job="j",pod!=""}[299999ms]'],
  );
  // A matcher that accepts no app (app!="a", app="") also selects series without a pod.
  const negative = centralPlan(at('x{app!="a"}'));
  assert.deepEqual(
    negative.fetches?.filter((f) => f.member === 'eu-west').map((f) => f.query),
    ['{__name__="x"}[299999ms]'],
  );
  const byApp = centralPlan(at('sum by (app, cluster) (rate(x[5m]))'));
  assert.deepEqual(
    byApp.subs?.map((s) => [s.members[0]?.query, s.workload]),
    [['rate({__name__="x"}[5m])', true]],
  );
  const withoutPod = centralPlan(at('sum without (pod) (x)'));
  assert.deepEqual(
    withoutPod.subs?.map((s) => [s.members[0]?.query, s.workload]),
    [['{__name__="x"}', true]],
  );
});

const answerOf = (resultType: string, result: unknown[], warnings?: string[]) =>
  new TextEncoder().encode(
    JSON.stringify({ status: 'success', data: { resultType, result }, ...(warnings ? { warnings } : {}) }),
  );

function evaluated(q: EngineQuery, p: CentralPlan, inputs: Parameters<PromqlEngine['evaluate']>[2]) {
  const resolve = (cluster: string, namespace: string, pod: string) =>
    namespace === 'shop' && pod.startsWith('web-')
      ? (['web', cluster === 'eu-west' ? 'r2' : 'r1'] as const)
      : pod.startsWith('db-')
        ? (['db', ''] as const)
        : null;
  const ev = engine.evaluate(q, p, inputs, 1000, resolve);
  if (isFailure(ev)) throw new Error(ev.failure.error);
  return { ...(JSON.parse(ev.data) as { result: unknown }), warnings: ev.warnings };
}

test("the hub sets app and revision from each series' pod before evaluating, and passes members' warnings on", () => {
  const series = (pods: [string, string, number][]) =>
    answerOf(
      'vector',
      pods.map(([ns, pod, v]) => ({
        metric: { __name__: 'x', namespace: ns, pod, app: 'own' },
        value: [3600, String(v)],
      })),
    );
  const q = at('sum by (app, revision) (x)', 3_600_000);
  const p = centralPlan(q);
  const eu = series([
    ['shop', 'web-1', 1],
    ['shop', 'db-0', 10],
    ['shop', 'gone-0', 100],
  ]);
  const us = answerOf(
    'vector',
    [{ metric: { __name__: 'x', namespace: 'shop', pod: 'web-2' }, value: [3600, '2'] }],
    ['some samples were dropped'],
  );
  const got = evaluated(q, p, [
    { member: 'eu-west', sub: 0, body: eu },
    { member: 'us-east', sub: 0, body: us },
  ]);
  const sorted = (r: unknown) => (r as unknown[]).map((x) => JSON.stringify(x)).sort();
  assert.deepEqual(
    sorted(got.result),
    sorted([
      { metric: {}, value: [3600, '100'] },
      { metric: { app: 'db' }, value: [3600, '10'] },
      { metric: { app: 'web', revision: 'r1' }, value: [3600, '2'] },
      { metric: { app: 'web', revision: 'r2' }, value: [3600, '1'] },
    ]),
  );
  assert.deepEqual(got.warnings, ['cluster "us-east": some samples were dropped']);
  // Raw samples (a subquery stays in the hub) are enriched too.
  const raw = answerOf('matrix', [
    {
      metric: { __name__: 'x', namespace: 'shop', pod: 'web-1' },
      values: [
        [3000, '1'],
        [3300, '2'],
        [3600, '3'],
      ],
    },
  ]);
  const sq = at('max_over_time(sum by (app) (x{app="web"})[10m:5m])', 3_600_000);
  assert.deepEqual(evaluated(sq, centralPlan(sq), [{ member: 'eu-west', sub: -1, body: raw }]).result, [
    { metric: { app: 'web' }, value: [3600, '3'] },
  ]);
});

test('plans carry everything their evaluation needs: two queries planned, then evaluated in turn', () => {
  const a = at('sum by (app) (x)', 3_600_000);
  const b = at('count(y)', 3_600_000);
  const pa = centralPlan(a);
  const pb = centralPlan(b);
  const vec = (name: string) =>
    answerOf('vector', [{ metric: { __name__: name, namespace: 'shop', pod: 'web-1' }, value: [3600, '5'] }]);
  // Evaluated in the opposite order of planning, each over its own plan.
  const gotB = evaluated(b, pb, [
    { member: 'eu-west', sub: 0, body: answerOf('vector', [{ metric: {}, value: [3600, '4'] }]) },
  ]);
  const gotA = evaluated(a, pa, [{ member: 'eu-west', sub: 0, body: vec('x') }]);
  assert.deepEqual(gotA.result, [{ metric: { app: 'web' }, value: [3600, '5'] }]);
  assert.deepEqual(gotB.result, [{ metric: {}, value: [3600, '4'] }]);
});

test('metadata selectors that read app or revision are matched again in the hub', () => {
  const s = engine.selectors(['x{app="web"}'], members, true);
  assert.deepEqual(s, [
    { member: 'eu-west', matchers: ['{__name__="x",pod!=""}'], filter: true },
    { member: 'us-east', matchers: ['{__name__="x",pod!=""}'], filter: true },
  ]);
  assert.deepEqual(
    engine.matchSeries(
      ['x{app="web"}', '{revision=~"r[0-9]"}'],
      [
        { __name__: 'x', app: 'web' },
        { __name__: 'x', app: 'db' },
        { __name__: 'y', revision: 'r2' },
      ],
    ),
    [true, false, true],
  );
});
