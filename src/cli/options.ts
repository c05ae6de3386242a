// Shared CLI option parsing and exit codes: 0 success, 1 the operation failed, 2 bad usage or
// input (unknown flag, invalid value), 3 the thing asked about is missing or not ready.
import { InvalidArgumentError } from 'commander';

export const EXIT = { ok: 0, failed: 1, usage: 2, notReady: 3 } as const;

/** Parses a positive integer option, with the option named in the error. */
export function intOption(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}
