// Health of one cluster for one GlobalIngress: consecutive check results against the healthy /
// unhealthy thresholds (so one lost probe does not flap DNS), combined with the passive signal
// that the backing workload has ready endpoints there.

export interface HealthThresholds {
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

export interface CheckResult {
  /** The active HTTP check passed (2xx/3xx with the right Host header within the timeout). */
  readonly ok: boolean;
  /** Why not, or what was seen, in words: `HTTP 200 in 3 ms`, `connect ECONNREFUSED`. */
  readonly detail: string;
  /** Ready endpoints of the least-served backing Service there; undefined when the member could not be read. */
  readonly readyEndpoints?: number;
}

export interface HealthState {
  readonly healthy: boolean;
  readonly reason: string;
  readonly message: string;
  readonly successes: number;
  readonly failures: number;
  readonly readyEndpoints?: number;
  /** Epoch ms of the last change of `healthy`. */
  readonly since: number;
}

/** A cluster starts healthy: a new GlobalIngress serves at once and the checks take it out if needed. */
export function initialHealth(now: number): HealthState {
  return {
    healthy: true,
    reason: 'Pending',
    message: 'not checked yet',
    successes: 0,
    failures: 0,
    since: now,
  };
}

/** The state after one more check. */
export function nextHealth(prev: HealthState, r: CheckResult, t: HealthThresholds, now: number): HealthState {
  const successes = r.ok ? prev.successes + 1 : 0;
  const failures = r.ok ? 0 : prev.failures + 1;
  const noReplicas = r.readyEndpoints === 0;
  let healthy = prev.healthy;
  if (prev.healthy && failures >= t.unhealthyThreshold) healthy = false;
  if (!prev.healthy && successes >= t.healthyThreshold) healthy = true;
  // The passive signal acts at once: an ingress that answers for a workload with nothing ready
  // behind it would only serve errors.
  if (noReplicas) healthy = false;
  let reason: string;
  let message: string;
  if (noReplicas) {
    reason = 'NoReadyReplicas';
    message = `a backing Service has no ready endpoints; ingress check: ${r.detail}`;
  } else if (healthy) {
    reason = 'Healthy';
    message = r.ok ? r.detail : `${r.detail} (${failures}/${t.unhealthyThreshold} failures)`;
  } else {
    reason = r.ok ? 'Recovering' : 'CheckFailed';
    message = r.ok ? `${r.detail} (${successes}/${t.healthyThreshold} successes)` : r.detail;
  }
  return {
    healthy,
    reason,
    message,
    successes,
    failures,
    readyEndpoints: r.readyEndpoints,
    since: healthy === prev.healthy ? prev.since : now,
  };
}
