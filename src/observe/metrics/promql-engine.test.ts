// The Go side's decisions, through the real WebAssembly module: which queries are pushed down,
// what each member is asked, which raw-sample windows central evaluation fetches, and that the
// engine evaluates over stamped member answers.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isFailure,
  loadPromqlEngine,
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

test('each member stamps its cluster and region where series enter the query', () => {
  const p = plan(at('rate(x{job="a"}[5m]) / on (cluster, instance) y'));
  assert.equal(p.mode, 'pushdown');
  assert.deepEqual(p.mode === 'pushdown' ? (p.members ?? []).map((m) => m.query) : [], [
    'label_replace(label_replace(rate({__name__="x",job="a"}[5m]), "cluster", "eu-west", "", ""), "region", "eu", "", "") / on (cluster, instance) label_replace(label_replace({__name__="y"}, "cluster", "eu-west", "", ""), "region", "eu", "", "")',
    'label_replace(label_replace(rate({__name__="x",job="a"}[5m]), "cluster", "us-east", "", ""), "region", "us", "", "") / on (cluster, instance) label_replace(label_replace({__name__="y"}, "cluster", "us-east", "", ""), "region", "us", "", "")',
  ]);
});

test('an aggregation grouping by cluster is stamped once, on its output, with only the labels it keeps', () => {
  const p = plan(at('sum by (cluster, job) (rate(x{job="a"}[5m]))'));
  assert.equal(p.mode, 'pushdown');
  assert.deepEqual(p.mode === 'pushdown' ? p.members : [], [
    {
      member: 'eu-west',
      query:
        'label_replace(sum by (cluster, job) (rate({__name__="x",job="a"}[5m])), "cluster", "eu-west", "", "")',
    },
    {
      member: 'us-east',
      query:
        'label_replace(sum by (cluster, job) (rate({__name__="x",job="a"}[5m])), "cluster", "us-east", "", "")',
    },
  ]);
  // topk keeps its input series' labels, so those are stamped where they enter.
  const t = plan(at('topk by (cluster) (3, x)'));
  assert.match(
    t.mode === 'pushdown' ? (t.members?.[0]?.query ?? '') : '',
    /^topk by \(cluster\) \(3, label_replace\(label_replace/,
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
    'label_replace(label_replace({__name__=~".+"}, "cluster", "eu-west", "", ""), "region", "eu", "", "")',
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
  const stamped = (e: string) =>
    `label_replace(label_replace(${e}, "cluster", "eu-west", "", ""), "region", "eu", "", "")`;
  // Sums, counts, minima, maxima and groups aggregate per cluster on the members first (and
  // stamp their output, once per group).
  assert.deepEqual(parts('sum(rate(x[5m]))'), [
    stamped('sum by (cluster, region) (rate({__name__="x"}[5m]))'),
  ]);
  assert.deepEqual(parts('count without (instance, cluster) (x)'), [
    `count without (instance) (${stamped('{__name__="x"}')})`,
  ]);
  assert.deepEqual(parts('topk(5, x)'), [stamped('{__name__="x"}')]);
  assert.deepEqual(parts('histogram_quantile(0.9, sum by (le) (rate(b[5m])))'), [
    stamped('sum by (le, cluster, region) (rate({__name__="b"}[5m]))'),
  ]);
  assert.deepEqual(parts('sort_desc(sum by (cluster) (x))'), [
    'label_replace(sum by (cluster) ({__name__="x"}), "cluster", "eu-west", "", "")',
  ]);
  assert.deepEqual(parts('x / on (instance) group_left quantile by (instance) (0.5, y)'), [
    stamped('{__name__="x"}'),
    stamped('{__name__="y"}'),
  ]);
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
  const ev = engine.evaluate(
    at('sum by (region) (x)', 3_600_000),
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
  // A range answer's missing steps read as "no value", not as the previous step's value.
  const gaps = engine.evaluate(
    at('sum(x)', 3_600_000, 60_000, 3_480_000),
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
  const limited = engine.evaluate(sub, [{ member: 'eu-west', sub: -1, body: raw([1, 2, 3]) }], 2);
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
