// Freezing a process (SIGSTOP) to stand in for a member whose API server does not answer.
// kill(2) returns once the signal is queued, not once the process has stopped: the kernel wakes
// one thread to carry out the group stop, and until that thread gets a CPU the others go on
// serving. On a loaded machine that took up to ~50 ms (measured against kube-apiserver), long
// enough for the hub to ask the member and get its answer: the CI failure of the topology test
// ("unreachable" member answered in 29 ms). So `freeze` returns only once /proc shows every
// thread of the process stopped; from then on nothing in it runs until SIGCONT.
import { readFileSync, readdirSync } from 'node:fs';

/** The state letter (R, S, D, T, …) of each thread of `pid`, from /proc; empty once it is gone. */
export function threadStates(pid: number): string[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const states: string[] = [];
  for (const t of tasks) {
    try {
      // The command name is in parentheses and may hold spaces or parentheses: the state follows
      // the last ')'.
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      states.push(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
    } catch {
      // The thread ended while we looked.
    }
  }
  return states;
}

/** SIGSTOP, then waits until every thread of `pid` is stopped; fails with the states last seen. */
export async function freeze(pid: number, timeoutMs = 5_000): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = threadStates(pid);
    if (states.length > 0 && states.every((s) => s === 'T')) return;
    if (Date.now() > deadline)
      throw new Error(
        `pid ${pid} not stopped ${timeoutMs} ms after SIGSTOP; thread states: ${states.join('') || 'gone'}`,
      );
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Lets a frozen process run again (harmless when it is not frozen). */
export function thaw(pid: number): void {
  process.kill(pid, 'SIGCONT');
}
