// Decides a Cluster's status from its probe results. Pure: the controller feeds it the last probe
// and the current status and writes whatever it returns.
import type { ClusterStatus } from '../api/cluster.ts';
import { kubeTime, setCondition, type Condition } from '../kube/conditions.ts';
import { sameContent } from '../kube/same-content.ts';

export type ProbeResult =
  | { readonly ok: true; readonly version: string; readonly nodeCount: number; readonly latencyMs: number }
  | { readonly ok: false; readonly reason: string; readonly message: string };

export interface HealthPolicy {
  /** Consecutive failed probes before Ready turns False (one lost packet is not an outage). */
  readonly failureThreshold: number;
  /** Refresh lastProbeTime at least this often even when nothing else changed. */
  readonly heartbeatMs: number;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = { failureThreshold: 2, heartbeatMs: 30_000 };

export interface HealthDecision {
  readonly status: ClusterStatus;
  /** Whether the status differs enough from the current one to be written. */
  readonly write: boolean;
}

/** The next status of a Cluster after a probe. `failures` counts consecutive failures including this one. */
export function nextClusterStatus(
  current: ClusterStatus | undefined,
  probe: ProbeResult,
  failures: number,
  generation: number | undefined,
  now: Date,
  policy: HealthPolicy = DEFAULT_HEALTH_POLICY,
): HealthDecision {
  const conds = (current?.conditions ?? []) as Condition[];
  let status: ClusterStatus;
  if (probe.ok) {
    status = {
      ...current,
      observedGeneration: generation,
      kubernetesVersion: probe.version,
      nodeCount: probe.nodeCount,
      apiLatencyMs: Math.round(probe.latencyMs * 10) / 10,
      lastProbeTime: kubeTime(now),
      conditions: setCondition(
        conds,
        {
          type: 'Ready',
          status: 'True',
          reason: 'APIServerReachable',
          message: `API server answered (${probe.version}, ${probe.nodeCount} nodes)`,
          observedGeneration: generation,
        },
        now,
      ),
    };
  } else if (failures >= policy.failureThreshold || !conds.some((c) => c.type === 'Ready')) {
    status = {
      ...current,
      observedGeneration: generation,
      conditions: setCondition(
        conds,
        {
          type: 'Ready',
          status:
            current?.conditions === undefined && failures < policy.failureThreshold ? 'Unknown' : 'False',
          reason: probe.reason,
          message: probe.message,
          observedGeneration: generation,
        },
        now,
      ),
    };
  } else {
    return { status: current ?? {}, write: false };
  }
  return { status, write: mustWrite(current, status, now, policy) };
}

function mustWrite(
  current: ClusterStatus | undefined,
  next: ClusterStatus,
  now: Date,
  policy: HealthPolicy,
): boolean {
  if (!current) return true;
  const strip = (s: ClusterStatus): unknown => ({
    ...s,
    lastProbeTime: undefined,
    apiLatencyMs: undefined,
    // Messages carry the version and node count, already compared below; keep reason/status.
  });
  if (!sameContent(strip(current), strip(next))) return true;
  const last = current.lastProbeTime ? Date.parse(current.lastProbeTime) : 0;
  return next.lastProbeTime !== undefined && now.getTime() - last >= policy.heartbeatMs;
}
