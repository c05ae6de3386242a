// Helpers for the tests of the hub's worker processes (DNS and edge): a bounded wait for every
// worker to apply the table, a timed table change, and a stand-in hub killed with SIGKILL.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { waitFor } from './harness.ts';

/** What the tests need of GslbDnsWorkers and EdgeGatewayWorkers. */
interface Workers {
  synced(): Promise<void>;
  answeredPerWorker(): Promise<number[]>;
  pids(): number[];
}

/** Waits until a new worker has taken the place of `gone` (killed, or stuck); returns the PIDs then. */
export const replacementOf = (workers: Workers, gone: number): Promise<number[]> =>
  waitFor(`a new worker in place of ${gone}`, 20_000, () => {
    const p = workers.pids();
    return p.length === 2 && !p.includes(gone) ? p : undefined;
  });

/** Every running worker has served something since it started. */
export async function assertEveryWorkerServed(workers: Workers): Promise<void> {
  const perWorker = await workers.answeredPerWorker();
  assert.ok(
    perWorker.every((n) => n > 0),
    `every worker served some: ${perWorker.join(', ')}`,
  );
}

/** Every worker has applied the current table (bounded: a test fails, it does not hang). */
export const syncedWithin5s = (workers: Workers): Promise<void> =>
  Promise.race([
    workers.synced(),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('workers did not apply the table within 5 s')), 5_000).unref(),
    ),
  ]);

/**
 * Makes a table `change`, checks that every worker applied it within 500 ms, then that every worker
 * serves some of the `load` sent after it (`load` checks the answers), and finally `undo`es it.
 */
export async function assertChangeReachesEveryWorker(
  t: TestContext,
  workers: Workers,
  change: () => void,
  load: () => Promise<void>,
  undo: () => void,
): Promise<void> {
  const t0 = performance.now();
  change();
  try {
    await syncedWithin5s(workers);
    const took = performance.now() - t0;
    t.diagnostic(`every worker applied the change after ${took.toFixed(1)} ms`);
    assert.ok(took < 500, `every worker applied the change after ${took.toFixed(0)} ms`);
    const before = await workers.answeredPerWorker();
    await load();
    const perWorker = await workers.answeredPerWorker();
    assert.ok(
      perWorker.every((n, i) => n > before[i]!),
      `every worker served after the change: ${before.join(', ')} → ${perWorker.join(', ')}`,
    );
  } finally {
    undo();
    await syncedWithin5s(workers);
  }
}

/** PIDs of the processes whose parent is `pid` (from /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so split after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Runs `script` (an ES module from the repository root that prints its workers' PIDs as a JSON
 * array), kills it with SIGKILL and waits (10 s at most) until every one of its workers has exited.
 */
export async function assertWorkersDieWithHub(script: string): Promise<void> {
  const hub = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, MERIDIAN_LOG_LEVEL: 'warn' },
  });
  const pids = await new Promise<number[]>((resolve, reject) => {
    hub.stdout.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()) as number[]));
    hub.once('exit', (code) => reject(new Error(`stand-in hub exited with ${code}`)));
  });
  assert.equal(pids.length, 2);
  assert.ok(pids.every(alive));
  hub.kill('SIGKILL');
  await waitFor('every worker exits', 10_000, async () => (pids.some(alive) ? undefined : true));
}
