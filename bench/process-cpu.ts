// CPU time of a benchmarked server: its own (all threads) and its child processes' (nginx
// workers, node:cluster workers), from /proc, in seconds. One reading for every bench.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

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

/** One process of the local fleet, named by its pid file (`eu-west/kube-apiserver`, `meridian-hub`). */
export interface FleetProcess {
  readonly name: string;
  readonly pid: number;
}

/** Every process of a local fleet that has a live pid file under `fleetDir` (one level deep). */
export function fleetProcesses(fleetDir: string): FleetProcess[] {
  const out: FleetProcess[] = [];
  const visit = (dir: string, prefix: string, depth: number): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && depth === 0) visit(join(dir, entry.name), `${entry.name}/`, 1);
      else if (entry.isFile() && entry.name.endsWith('.pid')) {
        const pid = Number(readFileSync(join(dir, entry.name), 'utf8').trim());
        if (pid > 0 && stat(String(pid))) out.push({ name: prefix + entry.name.slice(0, -4), pid });
      }
    }
  };
  visit(fleetDir, '', 0);
  return out;
}

/** CPU of every fleet process over `seconds` at rest, as a percentage of one core. */
export async function fleetIdleCpu(
  fleetDir: string,
  seconds: number,
): Promise<{ totalPercent: number; perProcess: Map<string, number> }> {
  const procs = fleetProcesses(fleetDir);
  const before = procs.map((p) => processCpuSeconds(p.pid));
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = (performance.now() - t0) / 1000;
  const perProcess = new Map<string, number>();
  procs.forEach((p, i) => perProcess.set(p.name, ((processCpuSeconds(p.pid) - before[i]!) / wall) * 100));
  const totalPercent = [...perProcess.values()].reduce((a, b) => a + b, 0);
  return { totalPercent, perProcess };
}

/** Sum of the idle percentages by process kind (`kube-apiserver` over every cluster, …). */
export function byKind(perProcess: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, pct] of perProcess) {
    const kind = name.slice(name.lastIndexOf('/') + 1);
    out.set(kind, (out.get(kind) ?? 0) + pct);
  }
  return out;
}

/** Resident (`Rss`) or proportional (`Pss`: shared pages split among their users) memory of `pid`, MiB. */
export function processMemMiB(pid: number, field: 'Rss' | 'Pss'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'),
    );
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
