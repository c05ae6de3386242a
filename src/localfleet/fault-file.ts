// Faults injected into the local fleet by `meridian demo fail|recover`, kept in one JSON file in
// the fleet directory: the CLI writes it, the pod runtime process (which serves the members'
// ingress addresses) watches it. A file, not a socket: it survives either side restarting, and
// `fleet status` can tell what is broken on purpose.
import { unwatchFile, watchFile } from 'node:fs';
import { readJsonFile, writeJsonAtomic } from './json-file.ts';
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
  const v = readJsonFile<Partial<FleetFaults>>(faultFile(fleetDir));
  // A file being replaced is read again on the next change.
  if (!v) return NO_FAULTS;
  return {
    ingressDown: Array.isArray(v.ingressDown) ? v.ingressDown.filter((c) => typeof c === 'string') : [],
    apiStopped: Array.isArray(v.apiStopped)
      ? v.apiStopped.filter((a) => typeof a?.cluster === 'string' && Number.isInteger(a.pid))
      : [],
  };
}

export function writeFaults(fleetDir: string, faults: FleetFaults): void {
  writeJsonAtomic(faultFile(fleetDir), faults, { mode: 0o600 });
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
