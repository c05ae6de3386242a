// The local fleet's small state files shared between its processes (pod addresses, faults, demo
// traffic): written whole through a temporary file and a rename, so a reader in another process
// never sees half a file, and read as undefined while absent or unreadable.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export function writeJsonAtomic(
  file: string,
  value: unknown,
  opts: { mode?: number; pretty?: boolean } = {},
): void {
  const text = opts.pretty === false ? JSON.stringify(value) : `${JSON.stringify(value, null, 2)}\n`;
  writeFileSync(`${file}.tmp`, text, opts.mode === undefined ? {} : { mode: opts.mode });
  renameSync(`${file}.tmp`, file);
}

/** The parsed file; undefined when it is absent or not JSON (a reader retries on the next change). */
export function readJsonFile<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
