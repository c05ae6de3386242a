// Starting and stopping the local fleet's processes. Each runs detached (it outlives `fleet up`),
// logs to a file in its cluster's directory, and has a pid file. Stopping also sweeps /proc for
// any process whose command line points into the fleet's directory, so nothing is left running
// even when a pid file was lost.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MeridianError } from '../kube/errors.ts';
import { sleep } from '../kube/sleep.ts';

export interface ProcessSpec {
  readonly name: string;
  readonly binary: string;
  readonly args: readonly string[];
  readonly dir: string;
  readonly env?: Record<string, string>;
}

export function pidFile(spec: { dir: string; name: string }): string {
  return join(spec.dir, `${spec.name}.pid`);
}

export function logFile(spec: { dir: string; name: string }): string {
  return join(spec.dir, `${spec.name}.log`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by its parent) still answers kill(0).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

export function readPid(spec: { dir: string; name: string }): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile(spec), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the process detached; returns its pid. Fails fast if it dies within the first moment. */
export async function startProcess(spec: ProcessSpec): Promise<number> {
  const existing = readPid(spec);
  if (existing !== undefined && isAlive(existing)) return existing;
  const out = openSync(logFile(spec), 'a');
  const child = spawn(spec.binary, spec.args, {
    cwd: spec.dir,
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, ...spec.env },
  });
  closeSync(out);
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', (e) =>
      reject(
        new MeridianError('ProcessStartFailed', `${spec.name}: cannot start ${spec.binary}: ${e.message}`),
      ),
    );
    child.once('spawn', () => resolve(child.pid!));
  });
  child.unref();
  writeFileSync(pidFile(spec), `${pid}\n`);
  return pid;
}

/** The last lines of a process's log, to explain a failure. */
export function logTail(spec: { dir: string; name: string }, lines = 15): string {
  try {
    return readFileSync(logFile(spec), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Pids of processes whose command line mentions `needle` (a fleet directory). */
export function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes(needle)) found.push(pid);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when every pid is gone. */
export async function stopPids(pids: readonly number[], graceMs = 5_000): Promise<void> {
  const live = pids.filter(isAlive);
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGTERM');
      // A process stopped on purpose (`meridian demo fail cluster` stops an API server) only
      // acts on SIGTERM once continued.
      process.kill(pid, 'SIGCONT');
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + graceMs;
  while (live.some(isAlive) && Date.now() < deadline) await sleep(100);
  for (const pid of live.filter(isAlive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const hardDeadline = Date.now() + 5_000;
  while (live.some(isAlive) && Date.now() < hardDeadline) await sleep(50);
}

/** Stops one process by its pid file and removes the file. */
export async function stopProcess(spec: { dir: string; name: string }, graceMs?: number): Promise<void> {
  const pid = readPid(spec);
  if (pid !== undefined) await stopPids([pid], graceMs);
  if (existsSync(pidFile(spec))) rmSync(pidFile(spec));
}
