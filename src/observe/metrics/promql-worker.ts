// The PromQL worker thread (started by promql-thread.ts): loads the engine once and runs the
// hub's calls one at a time. `resolve` during an evaluation asks the hub and waits on the shared
// buffer for its answer.
import { parentPort, workerData } from 'node:worker_threads';
import { isFailure, loadPromqlEngine, type ResolveWorkload } from './promql-engine.ts';
import type { FromPromqlWorker, ToPromqlWorker } from './promql-thread.ts';

const port = parentPort!;
const { control, data } = workerData as { control: Int32Array; data: Uint8Array };
const engine = await loadPromqlEngine();
const RESOLVE_WAIT_MS = 2_000;
/** Central plans made here, by reference: evaluating one again reuses its decoded request. */
const plans = new Map<number, object>();
const MAX_PLANS = 256;
let nextRef = 1;

/** A synchronous resolve for call `id`, each pod asked once per evaluation. */
function resolver(id: number): ResolveWorkload {
  const seen = new Map<string, readonly [string, string] | null>();
  return (cluster, namespace, pod) => {
    const key = `${cluster}\u0000${namespace}\u0000${pod}`;
    const hit = seen.get(key);
    if (hit !== undefined) return hit;
    Atomics.store(control, 0, 0);
    port.postMessage({ id, op: 'resolve', key: [cluster, namespace, pod] } satisfies FromPromqlWorker);
    let answer: readonly [string, string] | null = null;
    if (Atomics.wait(control, 0, 0, RESOLVE_WAIT_MS) !== 'timed-out' || Atomics.load(control, 0) === 1) {
      const text = new TextDecoder().decode(data.slice(0, Atomics.load(control, 1)));
      answer = JSON.parse(text) as readonly [string, string] | null;
    }
    seen.set(key, answer);
    return answer;
  };
}

function run(m: ToPromqlWorker): { value: unknown; ref?: number } {
  const a = m.args as [never, never, never, never];
  switch (m.method) {
    case 'plan': {
      const plan = engine.plan(a[0]);
      if (isFailure(plan) || plan.mode !== 'central') return { value: plan };
      const ref = nextRef++;
      plans.set(ref, plan);
      if (plans.size > MAX_PLANS) plans.delete(plans.keys().next().value!);
      return { value: plan, ref };
    }
    case 'evaluate': {
      const plan = (m.ref !== undefined ? plans.get(m.ref) : undefined) ?? a[1];
      return {
        value: engine.evaluate(a[0], plan as never, a[2], a[3], m.resolve ? resolver(m.id) : undefined),
      };
    }
    case 'selectors':
      return { value: engine.selectors(a[0], a[1], a[2]) };
    case 'matchSeries':
      return { value: engine.matchSeries(a[0], a[1]) };
  }
}

// The first plan pays for warming the engine up (a few hundred ms): not a caller's call.
engine.plan({
  query: 'sum by (a) (rate(up[5m])) / on (a) sum by (a) (up)',
  start: 0,
  end: 0,
  step: 0,
  members: [],
});
port.postMessage({ op: 'ready' } satisfies FromPromqlWorker);
port.on('message', (m: ToPromqlWorker) => {
  try {
    port.postMessage({ id: m.id, op: 'done', ...run(m) } satisfies FromPromqlWorker);
  } catch (e) {
    port.postMessage({
      id: m.id,
      op: 'failed',
      message: e instanceof Error ? e.message : String(e),
    } satisfies FromPromqlWorker);
  }
});
