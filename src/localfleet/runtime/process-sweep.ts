// Finding the pod processes of one fleet by the marker the runtime puts in their environment, so
// `fleet down` and a restarted runtime can stop every one of them, even when the runtime that
// started them was killed (pod processes run in their own process groups and outlive it).
import { readFileSync, readdirSync } from 'node:fs';

/** The environment variable every pod process carries, set to the fleet directory. */
export const POD_PROCESS_MARKER = 'MERIDIAN_POD_OF_FLEET';

/** Pids of processes whose environment has `MERIDIAN_POD_OF_FLEET=<fleetDir>`. */
export function podProcessesOf(fleetDir: string): number[] {
  const needle = `${POD_PROCESS_MARKER}=${fleetDir}\0`;
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (`${readFileSync(`/proc/${entry}/environ`, 'latin1')}\0`.includes(needle)) found.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}
