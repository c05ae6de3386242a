// The pod runtime publishes its pod-IP → loopback map as a JSON file in the fleet directory, for
// `meridian fleet pods` and for consumers in other processes (`watchPodAddressFile`).
import { unwatchFile, watchFile } from 'node:fs';
import { readJsonFile, writeJsonAtomic } from '../json-file.ts';
import { join } from 'node:path';
import type { PodAddress, PodAddressMap } from './pod-addresses.ts';

/** One row of the published map: the contract's address plus what `fleet pods` shows. */
export interface PodAddressRow extends PodAddress {
  readonly ports: readonly number[];
  readonly ready: boolean;
  readonly restarts: number;
  readonly image: string;
}

export interface PodAddressFile {
  readonly updatedAt: string;
  readonly runtimePid: number;
  readonly pods: readonly PodAddressRow[];
}

export const podAddressFile = (fleetDir: string): string => join(fleetDir, 'pod-addresses.json');

export function writePodAddressFile(fleetDir: string, rows: readonly PodAddressRow[]): void {
  const file = podAddressFile(fleetDir);
  const body: PodAddressFile = { updatedAt: new Date().toISOString(), runtimePid: process.pid, pods: rows };
  writeJsonAtomic(file, body);
}

export function readPodAddressFile(fleetDir: string): PodAddressFile | undefined {
  return readJsonFile<PodAddressFile>(podAddressFile(fleetDir));
}

/**
 * A PodAddressMap read from the runtime's file, for a consumer in another process; polls the file
 * every `intervalMs`. `close()` stops watching.
 */
export function watchPodAddressFile(fleetDir: string, intervalMs = 250): PodAddressMap & { close(): void } {
  const file = podAddressFile(fleetDir);
  let rows: readonly PodAddressRow[] = readPodAddressFile(fleetDir)?.pods ?? [];
  const listeners = new Set<() => void>();
  const onFile = (): void => {
    rows = readPodAddressFile(fleetDir)?.pods ?? [];
    for (const l of listeners) l();
  };
  watchFile(file, { interval: intervalMs, persistent: false }, onFile);
  return {
    loopbackFor: (ip) => rows.find((r) => r.podIp === ip)?.loopback,
    list: () => rows,
    onChange: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close: () => unwatchFile(file, onFile),
  };
}
