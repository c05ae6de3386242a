// Faults injected into the local fleet by `meridian demo fail|recover`, kept in one JSON file in
// the fleet directory: the CLI writes it, the pod runtime process (which serves the members'
// ingress addresses) watches it. A file, not a socket: it survives either side restarting, and
// `fleet status` can tell what is broken on purpose.
import { existsSync, readFileSync, renameSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FleetFaults {
  /** Members whose ingress address stops answering (connections refused). */
  readonly ingressDown: readonly string[];
  /** Members whose kube-apiserver is stopped (SIGSTOP), with the pid that was stopped. */
  readonly apiStopped: readonly { readonly cluster: string; readonly pid: number }[];
}

export const NO_FAULTS: FleetFaults = { ingressDown: [], apiStopped: [] };

export const faultFile = (fleetDir: string): string => join(fleetDir, 'faults.json');

export function readFaults(fleetDir: string): FleetFaults {
  const file = faultFile(fleetDir);
  if (!existsSync(file)) return NO_FAULTS;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<FleetFaults>;
    return {
      ingressDown: Array.isArray(v.ingressDown) ? v.ingressDown.filter((c) => typeof c === 'string') : [],
      apiStopped: Array.isArray(v.apiStopped)
        ? v.apiStopped.filter((a) => typeof a?.cluster === 'string' && Number.isInteger(a.pid))
        : [],
    };
  } catch {
    return NO_FAULTS; // A file being replaced is read again on the next change.
  }
}

export function writeFaults(fleetDir: string, faults: FleetFaults): void {
  const file = faultFile(fleetDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(faults, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file); // Readers never see half a file.
}

/** Calls `onChange` with the faults now and after every change of the file (polled). */
export function watchFaults(
  fleetDir: string,
  onChange: (f: FleetFaults) => void,
  intervalMs = 100,
): () => void {
  const file = faultFile(fleetDir);
  const read = (): void => onChange(readFaults(fleetDir));
  watchFile(file, { interval: intervalMs, persistent: false }, read);
  read();
  return () => unwatchFile(file, read);
}
