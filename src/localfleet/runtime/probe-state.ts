// The kubelet's probe and restart arithmetic, pure: probe defaults, consecutive-result thresholds,
// and the CrashLoopBackOff delay.
import type { Probe } from './pod-object.ts';

export interface ProbeTiming {
  readonly initialDelayMs: number;
  readonly periodMs: number;
  readonly timeoutMs: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

/** The probe's timing with the API's defaults (period 10 s, timeout 1 s, thresholds 1 and 3). */
export function probeTiming(p: Probe): ProbeTiming {
  const s = (v: number | undefined, d: number, min: number): number =>
    v === undefined || !Number.isFinite(v) ? d : Math.max(min, v);
  return {
    initialDelayMs: s(p.initialDelaySeconds, 0, 0) * 1000,
    periodMs: s(p.periodSeconds, 10, 1) * 1000,
    timeoutMs: s(p.timeoutSeconds, 1, 1) * 1000,
    successThreshold: s(p.successThreshold, 1, 1),
    failureThreshold: s(p.failureThreshold, 3, 1),
  };
}

export interface ProbeState {
  /** The probe's verdict as the kubelet reports it. */
  readonly ok: boolean;
  /** The last raw result and how many times in a row it came. */
  readonly last?: boolean;
  readonly run: number;
}

/** Readiness starts failed (not ready until it passes), liveness starts passed. */
export const initialProbeState = (kind: 'readiness' | 'liveness' | 'startup'): ProbeState => ({
  ok: kind === 'liveness',
  run: 0,
});

/** The state after one result: the verdict flips only after a threshold of equal results in a row. */
export function nextProbeState(s: ProbeState, result: boolean, t: ProbeTiming): ProbeState {
  const run = s.last === result ? s.run + 1 : 1;
  const needed = result ? t.successThreshold : t.failureThreshold;
  return { ok: run >= needed ? result : s.ok, last: result, run };
}

export const BACKOFF_BASE_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;

/**
 * How long to wait before starting a container again after its `crashes`-th exit in a row (1 for
 * the first): at once the first time, then 10 s, 20 s, 40 s, … up to 5 minutes, like the kubelet.
 */
export function restartDelayMs(crashes: number): number {
  if (crashes <= 1) return 0;
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (crashes - 2));
}

/** A run this long resets the backoff (the kubelet forgets a crash after twice the maximum). */
export const BACKOFF_RESET_MS = 2 * BACKOFF_MAX_MS;
