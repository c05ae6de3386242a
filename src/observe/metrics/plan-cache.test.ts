// The plan cache: bounded LRU, and through the real engine, a cached plan is only ever reused
// where planning again would give the same plan (each case below would answer wrongly with a
// key that left out what it varies).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PlanCache, planKey, type CachedPlan } from './plan-cache.ts';
import {
  isFailure,
  loadPromqlEngine,
  type CentralPlan,
  type EngineQuery,
  type PlanMember,
  type PromqlEngine,
  type QueryPlan,
} from './promql-engine.ts';

let engine: PromqlEngine;
before(async () => {
  engine = await loadPromqlEngine();
});

const two: PlanMember[] = [
  { name: 'eu-west', region: 'eu' },
  { name: 'us-east', region: 'us' },
];
const T = 3_600_000;
const instant = (query: string, end = T, members = two): EngineQuery => ({
  query,
  start: end,
  end,
  step: 0,
  members,
});
const range = (query: string, end = T, members = two): EngineQuery => ({
  query,
  start: end - 600_000,
  end,
  step: 60_000,
  members,
});

function plan(q: EngineQuery): QueryPlan {
  const p = engine.plan(q);
  if (isFailure(p)) throw new Error(p.failure.error);
  return p;
}

const pushdown = (members: string[]): CachedPlan => ({
  plan: {
    mode: 'pushdown',
    resultType: 'vector',
    members: members.map((m) => ({ member: m, query: 'x', stamp: null })),
  },
  text: '{}',
});

test('the cache keeps the most recently used plans within its entry and size bounds', () => {
  const c = new PlanCache(2, 1000);
  c.set('a', pushdown(['a']));
  c.set('b', pushdown(['b']));
  assert.ok(c.get('a'));
  c.set('c', pushdown(['c'])); // b is the least recently used
  assert.equal(c.get('b'), undefined);
  assert.ok(c.get('a') && c.get('c'));
  // Over the size bound, the oldest go first; an entry larger than the whole bound is not kept.
  const sized = new PlanCache(10, 20);
  sized.set('k1', { ...pushdown(['a']), text: 'x'.repeat(8) });
  sized.set('k2', { ...pushdown(['a']), text: 'x'.repeat(8) });
  assert.equal(sized.size, 2);
  sized.set('k3', { ...pushdown(['a']), text: 'x'.repeat(8) });
  assert.deepEqual([sized.get('k1'), !!sized.get('k2'), !!sized.get('k3')], [undefined, true, true]);
  sized.set('huge', { ...pushdown(['a']), text: 'x'.repeat(30) });
  assert.equal(sized.get('huge'), undefined);
  // A plan with raw-sample fetches depends on the query's times: never kept.
  const fetching: CentralPlan = {
    mode: 'central',
    reason: 'r',
    resultType: 'vector',
    rewritten: 'absent(x)',
    fetches: [{ member: 'a', query: 'x[5m]', time: 1 }],
  };
  c.set('f', { plan: fetching, text: '{}' });
  assert.equal(c.get('f'), undefined);
});

test('a repeated query text reuses its plan at any time, frozen so no caller can change it', () => {
  for (const q of ['topk(5, memory_bytes)', 'sum by (cluster, job) (rate(x[5m]))', 'sum(rate(x[5m]))']) {
    const first = plan(instant(q));
    assert.equal(plan(instant(q, T + 60_000)), first, q);
    assert.ok(
      Object.isFrozen(first) && Object.isFrozen(first.mode === 'central' ? first.subs : first.members),
    );
    assert.equal(plan(range(q, T + 30_000)), plan(range(q)), `${q} (range)`);
  }
});

test('instant and range queries of one text get their own plans', () => {
  const i = plan(instant('rate(x[5m])'));
  const r = plan(range('rate(x[5m])'));
  assert.deepEqual([i.resultType, r.resultType], ['vector', 'matrix']);
  // A range selector is a valid instant query but not a range query.
  assert.equal(plan(instant('x[5m]')).resultType, 'matrix');
  const bad = engine.plan(range('x[5m]'));
  assert.ok(
    isFailure(bad) && /invalid expression type "range vector" for range query/.test(bad.failure.error),
  );
});

test('a member added or a region renamed is planned afresh', () => {
  const q = 'sum by (region) (x)';
  const before = plan(instant(q)) as CentralPlan;
  assert.deepEqual(
    before.subs?.[0]?.members.map((m) => m.member),
    ['eu-west', 'us-east'],
  );
  const three = [...two, { name: 'ap-south', region: 'ap' }];
  const after = plan(instant(q, T, three)) as CentralPlan;
  assert.deepEqual(
    after.subs?.[0]?.members.map((m) => m.member),
    ['eu-west', 'us-east', 'ap-south'],
  );
  const renamed = [two[0]!, { name: 'us-east', region: 'us2' }];
  const stamp = (p: QueryPlan) =>
    p.mode === 'pushdown' ? p.members?.map((m) => m.stamp?.['region']) : undefined;
  assert.deepEqual(stamp(plan(instant('sum by (cluster, region) (x)'))), ['eu', 'us']);
  assert.deepEqual(stamp(plan(instant('sum by (cluster, region) (x)', T, renamed))), ['eu', 'us2']);
});

test("a plan with raw-sample fetches follows the query's time", () => {
  const windows = (p: QueryPlan) =>
    p.mode === 'central' ? (p.fetches ?? []).map((f) => `${f.member} ${f.query}@${f.time}`) : [];
  const q = 'absent(x)';
  const now = windows(plan(instant(q)));
  const later = windows(plan(instant(q, T + 60_000)));
  assert.deepEqual(now, [
    'eu-west {__name__="x"}[299999ms]@3600000',
    'us-east {__name__="x"}[299999ms]@3600000',
  ]);
  assert.deepEqual(later, [
    'eu-west {__name__="x"}[299999ms]@3660000',
    'us-east {__name__="x"}[299999ms]@3660000',
  ]);
});

test('the key holds the query text whole, whatever it contains', () => {
  const a = planKey(instant('x\n["eu-west","eu"]'));
  const b = planKey({ ...instant('x'), members: [...two, { name: 'eu-west', region: 'eu' }] });
  assert.notEqual(a, b);
  assert.notEqual(planKey(instant('x')), planKey(range('x')));
});

test('a cached central plan evaluates at each new time over that time’s answers', () => {
  const q = 'topk(1, x)';
  const body = (t: number, v: string) =>
    new TextEncoder().encode(
      JSON.stringify({
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: { __name__: 'x' }, value: [t / 1000, v] }] },
      }),
    );
  for (const [end, eu, us] of [
    [T, '1', '2'],
    [T + 60_000, '5', '3'],
  ] as const) {
    const qq = instant(q, end);
    const p = plan(qq) as CentralPlan;
    const ev = engine.evaluate(
      qq,
      p,
      [
        { member: 'eu-west', sub: 0, body: body(end, eu) },
        { member: 'us-east', sub: 0, body: body(end, us) },
      ],
      1000,
    );
    assert.ok(!isFailure(ev));
    const top = Number(eu) > Number(us) ? ['eu-west', eu] : ['us-east', us];
    assert.deepEqual(JSON.parse(ev.data), {
      resultType: 'vector',
      result: [
        {
          metric: { __name__: 'x', cluster: top[0], region: top[0] === 'eu-west' ? 'eu' : 'us' },
          value: [end / 1000, top[1]],
        },
      ],
    });
  }
});
