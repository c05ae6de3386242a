// Passive outlier ejection for the edge gateway (the Envoy model): a cluster that fails N requests
// in a row for a host is taken out of that host's rotation for a while, longer each time it is
// ejected again, and never so many clusters at once that the host is left with nothing.
//
// Tracked per (host, cluster), not per cluster: the gateway's upstream for a host is that host's
// application behind the cluster's ingress, so a 503 from one broken application must not take
// the cluster away from every other host it serves. A cluster whose listener is down fails every
// host's requests and so is ejected for each of them within N requests anyway. The max-ejected
// fraction is also per host: it bounds what one host's requests can lose.
//
// Pure: every function takes the time (`now`, ms) and returns a new record; the gateway keeps the
// records.

/** Tunables; defaults follow Envoy's outlier detection except where noted. */
export interface OutlierSettings {
  /** Consecutive failures (connect error, timeout, 502/503/504) that eject. Envoy: 5. */
  readonly consecutiveFailures: number;
  /** First ejection lasts this long; the n-th lasts n times as long. Envoy: 30 s. */
  readonly baseEjectionMs: number;
  /** Cap on one ejection's length. Envoy: 300 s. */
  readonly maxEjectionMs: number;
  /**
   * Most clusters of one host that may be ejected at once, in percent of its clusters; at least
   * one may always be ejected when the host has two or more (as Envoy does), never all of them.
   * Envoy's default is 10 %; a host has a handful of clusters, not hundreds of endpoints, so 50.
   */
  readonly maxEjectedPercent: number;
  /** Each such stretch without an ejection forgives one past ejection. Envoy: its 10 s interval. */
  readonly decayMs: number;
}

export const DEFAULT_OUTLIER_SETTINGS: OutlierSettings = {
  consecutiveFailures: 5,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectedPercent: 50,
  decayMs: 10_000,
};

/** What the detector remembers about one (host, cluster). */
export interface OutlierRecord {
  readonly consecutiveFailures: number;
  /** Past ejections not yet forgiven: the next ejection lasts (ejections + 1) × base. */
  readonly ejections: number;
  /** End of the current or last ejection (ms); 0 when never ejected. */
  readonly ejectedUntil: number;
}

export const FRESH_RECORD: OutlierRecord = { consecutiveFailures: 0, ejections: 0, ejectedUntil: 0 };

/** The other clusters of the same host, as far as the ejection budget is concerned. */
export interface EjectionBudget {
  /** Clusters the host has (including this one). */
  readonly clusters: number;
  /** Of those, how many are ejected right now (not counting this one). */
  readonly ejectedOthers: number;
}

export interface OutlierVerdict {
  readonly record: OutlierRecord;
  /** Set when this outcome ejected the cluster: for how long (ms). */
  readonly ejectedForMs?: number;
}

/** True while the record's ejection lasts. */
export function isEjected(record: OutlierRecord, now: number): boolean {
  return now < record.ejectedUntil;
}

/** How many of a host's `clusters` may be ejected at the same time. */
export function maxEjectable(clusters: number, settings: OutlierSettings): number {
  if (clusters < 2) return 0;
  const byPercent = Math.floor((clusters * settings.maxEjectedPercent) / 100);
  return Math.min(clusters - 1, Math.max(1, byPercent));
}

/** Whether an upstream answer counts against the cluster (the gateway also retries on these). */
export function isFailureStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

/**
 * A request to the cluster succeeded: the failure streak ends. If it was ejected (and tried anyway
 * because every cluster of the host was), it has just proved itself, so the ejection ends now.
 * Returns the same object when nothing changes, so the hot path allocates nothing.
 */
export function recordSuccess(record: OutlierRecord, now: number): OutlierRecord {
  if (isEjected(record, now)) return { ...record, consecutiveFailures: 0, ejectedUntil: now };
  if (record.consecutiveFailures === 0) return record;
  return { ...record, consecutiveFailures: 0 };
}

/**
 * Ends an ejection early because the active health check saw the cluster go down and come back
 * (Envoy's `successful_active_health_check_uneject_host`): the listener is back, so waiting out
 * the ejection would only keep traffic away from a recovered cluster. Past ejections still count.
 */
export function reinstate(record: OutlierRecord, now: number): OutlierRecord {
  return isEjected(record, now) ? { ...record, consecutiveFailures: 0, ejectedUntil: now } : record;
}

/** A request to the cluster failed; ejects it when the streak reaches the threshold and budget allows. */
export function recordFailure(
  record: OutlierRecord,
  now: number,
  budget: EjectionBudget,
  settings: OutlierSettings,
): OutlierVerdict {
  // Already out: failures of requests sent anyway (every cluster ejected) do not extend it.
  if (isEjected(record, now)) return { record };
  const streak = record.consecutiveFailures + 1;
  if (
    streak < settings.consecutiveFailures ||
    budget.ejectedOthers >= maxEjectable(budget.clusters, settings)
  ) {
    return { record: { ...record, consecutiveFailures: streak } };
  }
  const forgiven = record.ejectedUntil > 0 ? Math.floor((now - record.ejectedUntil) / settings.decayMs) : 0;
  const cap = Math.max(settings.baseEjectionMs, settings.maxEjectionMs);
  // Counted only up to where the cap bites, so forgiving a long-flapping cluster takes bounded time.
  const ejections = Math.min(
    Math.max(0, record.ejections - Math.max(0, forgiven)) + 1,
    Math.ceil(cap / settings.baseEjectionMs),
  );
  const ejectedForMs = Math.min(settings.baseEjectionMs * ejections, cap);
  // The streak restarts: after the ejection the cluster gets N fresh chances, as in Envoy.
  return { record: { consecutiveFailures: 0, ejections, ejectedUntil: now + ejectedForMs }, ejectedForMs };
}
