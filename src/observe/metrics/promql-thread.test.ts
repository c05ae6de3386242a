// The PromQL engine in its worker thread: the same answers as in-process (resolve round trips to
// this thread included), no costly query holds this thread's event loop, a full queue and a call
// past its deadline are refused as such, and a timed-out engine is replaced.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createLogger } from '../../logging/logger.ts';
import { isFailure, type CentralPlan, type EngineQuery } from './promql-engine.ts';
import { EngineBusyError, PromqlThread } from './promql-thread.ts';

const members = [
  { name: 'eu-west', region: 'eu' },
  { name: 'us-east', region: 'us' },
];
const at = (query: string, end = 3_600_000): EngineQuery => ({ query, start: end, end, step: 0, members });
const log = createLogger('promql-thread-test', process.stderr);
/** Within the budget (promql-budget.ts), and a few hundred ms of planning. */
const costly = Array(60).fill('sum(rate(x[5m]))').join(' / ');
const answerOf = (result: unknown[]) =>
  new TextEncoder().encode(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));

describe('the PromQL worker thread', () => {
  const thread = new PromqlThread({ log, maxPending: 2 });
  after(() => thread.close());

  test('plans and evaluates as the engine does, resolving pods through this thread', async () => {
    await thread.warm();
    const q = at('sum by (app, revision) (x)');
    const plan = await thread.plan(q);
    assert.ok(!isFailure(plan) && plan.mode === 'central', JSON.stringify(plan));
    const asked: string[] = [];
    const ev = await thread.evaluate(
      q,
      plan as CentralPlan,
      [
        {
          member: 'eu-west',
          sub: 0,
          body: answerOf([
            { metric: { __name__: 'x', namespace: 'shop', pod: 'web-1' }, value: [3600, '1'] },
            { metric: { __name__: 'x', namespace: 'shop', pod: 'web-1', le: '1' }, value: [3600, '2'] },
            { metric: { __name__: 'x', namespace: 'shop', pod: 'gone-0' }, value: [3600, '100'] },
          ]),
        },
      ],
      1000,
      (cluster, namespace, pod) => {
        asked.push(`${cluster}/${namespace}/${pod}`);
        return pod.startsWith('web-') ? ['web', 'r2'] : null;
      },
    );
    assert.ok(!isFailure(ev), JSON.stringify(ev));
    const result = (JSON.parse(ev.data) as { result: unknown[] }).result.map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(
      result,
      [
        JSON.stringify({ metric: {}, value: [3600, '100'] }),
        JSON.stringify({ metric: { app: 'web', revision: 'r2' }, value: [3600, '3'] }),
      ].sort(),
    );
    assert.deepEqual(asked.sort(), ['eu-west/shop/gone-0', 'eu-west/shop/web-1'], 'each pod asked once');
  });

  test('a costly plan does not hold the calling event loop for 100 ms', async () => {
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const t0 = performance.now();
    const p = await thread.plan(at(`${costly} + 0`));
    const took = performance.now() - t0;
    delay.disable();
    assert.ok(!isFailure(p));
    const maxMs = delay.max / 1e6;
    assert.ok(maxMs < 100, `held ${maxMs.toFixed(1)} ms while planning took ${took.toFixed(0)} ms`);
  });

  test('past maxPending calls a call is refused at once as busy', async () => {
    const running = [thread.plan(at(`${costly} + 1`)), thread.plan(at(`${costly} + 2`))];
    await assert.rejects(
      thread.plan(at('up')),
      (e: unknown) => e instanceof EngineBusyError && e.reason === 'busy',
    );
    await Promise.all(running);
  });
});

describe('a PromQL call past its deadline', () => {
  const thread = new PromqlThread({ log, callTimeoutMs: 200 });
  after(() => thread.close());

  test('answers timeout, and the next call gets a fresh engine (its load not counted)', async () => {
    // Over the service's budget (promql-budget.ts), which the thread itself does not check:
    // seconds of planning.
    const endless = Array(1000).fill('up').join(' + ');
    await assert.rejects(
      thread.plan(at(endless)),
      (e: unknown) =>
        e instanceof EngineBusyError && e.reason === 'timeout' && /timed out in plan/.test(e.message),
    );
    thread.callTimeoutMs = 60_000;
    const p = await thread.plan(at('rate(up[5m])'));
    assert.ok(!isFailure(p) && p.mode === 'pushdown', JSON.stringify(p));
  });
});
