// CPU time of a benchmarked server: its own (all threads) and its child processes' (nginx
// workers, node:cluster workers), from /proc, in seconds. One reading for every bench.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** utime + stime (clock ticks) and the parent pid of a process; undefined once it has exited. */
function stat(pid: string): { ticks: number; ppid: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // [0] is field 3 (state)
    return { ticks: Number(f[11]) + Number(f[12]), ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds `pid` and its descendants have used so far. */
export function processCpuSeconds(pid: number): number {
  const all = new Map<number, { ticks: number; ppid: number }>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const s = stat(p);
    if (s) all.set(Number(p), s);
  }
  let ticks = 0;
  const visit = (p: number): void => {
    ticks += all.get(p)?.ticks ?? 0;
    for (const [child, s] of all) if (s.ppid === p) visit(child);
  };
  visit(pid);
  return ticks / CLK_TCK;
}
