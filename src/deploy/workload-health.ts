// Health of an Application's objects in one cluster, judged from live objects and their pods the
// way `kubectl rollout status` and Argo CD's health checks do: a workload is Healthy only when its
// controller has observed the newest spec and every replica runs it. Pure: no I/O.
import type { KubeObject } from '../kube/cluster-client.ts';
import type { WorkloadHealth } from './deploy-types.ts';

export interface HealthOptions {
  /** When the revision was applied to this cluster (ms since the epoch). */
  readonly appliedAt: number;
  /** Now (ms since the epoch). */
  readonly now: number;
  /**
   * A cluster not Healthy this long after appliedAt has failed. Undefined once the revision was
   * Healthy here: later changes by others are judged by the workloads alone.
   */
  readonly progressDeadlineSeconds?: number;
  /** The rendered objects of the revision; any of them missing from `objects` is Progressing. */
  readonly expected?: readonly KubeObject[];
}

type Verdict = WorkloadHealth['state'];
interface Finding {
  readonly state: Verdict;
  readonly message: string;
}

/** Container waiting reasons that will not resolve by waiting. */
const FATAL_WAITING_REASONS = new Set(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull']);

/**
 * A container waiting on a Secret or ConfigMap that is not there yet (CreateContainerConfigError)
 * is retried by the kubelet, and the object often lands moments later (applied by the same revision
 * in another batch, or by another tool): Progressing while the pod is younger than this, Failed after.
 */
const CONFIG_ERROR_GRACE_MS = 30_000;

/** How many findings a message names before summarising the rest. */
const MAX_NAMED = 3;

/** Assesses the live objects of one Application in one cluster (and the pods of its workloads). */
export function assessHealth(
  objects: readonly KubeObject[],
  pods: readonly KubeObject[],
  opts: HealthOptions,
): WorkloadHealth {
  const findings: Finding[] = [];
  if (opts.expected) {
    const present = expectedObjectsPresent(opts.expected, objects);
    if (present.state !== 'Healthy') findings.push(present);
  }
  for (const obj of objects) findings.push(objectHealth(obj));
  for (const pod of pods) {
    if (!ownedByApp(pod, objects)) continue;
    const f = podFailure(pod, opts.now);
    if (f) findings.push(f);
  }

  const failed = findings.filter((f) => f.state === 'Failed');
  if (failed.length > 0) return { state: 'Failed', message: `workload failed: ${summarise(failed)}` };
  const progressing = findings.filter((f) => f.state === 'Progressing');
  if (progressing.length > 0) {
    const deadline =
      opts.progressDeadlineSeconds === undefined
        ? Infinity
        : opts.appliedAt + opts.progressDeadlineSeconds * 1000;
    if (opts.now >= deadline) {
      return {
        state: 'Failed',
        message: `progress deadline exceeded: not healthy ${opts.progressDeadlineSeconds}s after apply: ${summarise(progressing)}`,
      };
    }
    return { state: 'Progressing', message: summarise(progressing) };
  }
  const n = objects.length;
  return { state: 'Healthy', message: `${n} object${n === 1 ? '' : 's'} healthy` };
}

/** Healthy when every expected object exists live; Progressing naming the missing ones otherwise. */
export function expectedObjectsPresent(
  expected: readonly KubeObject[],
  live: readonly KubeObject[],
): WorkloadHealth {
  const missing = expected.filter((e) => !live.some((l) => sameObject(e, l)));
  if (missing.length === 0) return { state: 'Healthy', message: 'all expected objects exist' };
  return {
    state: 'Progressing',
    message: summarise(missing.map((m) => ({ state: 'Progressing', message: `${ref(m)}: not found yet` }))),
  };
}

function summarise(findings: readonly Finding[]): string {
  const named = findings.slice(0, MAX_NAMED).map((f) => f.message);
  const rest = findings.length - named.length;
  return rest > 0 ? `${named.join('; ')}; and ${rest} more` : named.join('; ');
}

function objectHealth(obj: KubeObject): Finding {
  if (obj.metadata.deletionTimestamp) {
    return { state: 'Progressing', message: `${ref(obj)}: being deleted` };
  }
  const group = apiGroup(obj.apiVersion);
  if (group === 'apps') {
    switch (obj.kind) {
      case 'Deployment':
        return deploymentHealth(obj);
      case 'StatefulSet':
        return statefulSetHealth(obj);
      case 'DaemonSet':
        return daemonSetHealth(obj);
    }
  }
  if (group === 'batch' && obj.kind === 'Job') return jobHealth(obj);
  return { state: 'Healthy', message: `${ref(obj)}: exists` };
}

/** A finding when the workload controller has not yet seen the newest spec. */
function generationLag(obj: KubeObject, status: Record<string, unknown>): Finding | undefined {
  const generation = obj.metadata.generation;
  const observed = num(status.observedGeneration);
  if (generation !== undefined && (observed === undefined || observed < generation)) {
    return {
      state: 'Progressing',
      message: `${ref(obj)}: waiting for the controller to observe generation ${generation} (observed ${observed ?? 'none'})`,
    };
  }
  return undefined;
}

function deploymentHealth(obj: KubeObject): Finding {
  const spec = record(obj.spec);
  const status = record(obj.status);
  const lag = generationLag(obj, status);
  if (lag) return lag;
  const progressing = conditions(status).find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      state: 'Failed',
      message: `${ref(obj)}: ProgressDeadlineExceeded${progressing.message ? ` (${progressing.message})` : ''}`,
    };
  }
  const want = num(spec.replicas) ?? 1;
  const updated = num(status.updatedReplicas) ?? 0;
  const total = num(status.replicas) ?? 0;
  const available = num(status.availableReplicas) ?? 0;
  if (updated < want) {
    return { state: 'Progressing', message: `${ref(obj)}: ${updated} of ${want} replicas updated` };
  }
  if (total > updated) {
    return {
      state: 'Progressing',
      message: `${ref(obj)}: ${total - updated} old replica${total - updated === 1 ? '' : 's'} pending termination`,
    };
  }
  if (available < want || updated !== want) {
    return {
      state: 'Progressing',
      message: `${ref(obj)}: ${available} of ${want} updated replicas available`,
    };
  }
  return { state: 'Healthy', message: `${ref(obj)}: ${want} replicas available` };
}

function statefulSetHealth(obj: KubeObject): Finding {
  const spec = record(obj.spec);
  const status = record(obj.status);
  const lag = generationLag(obj, status);
  if (lag) return lag;
  const want = num(spec.replicas) ?? 1;
  const ready = num(status.readyReplicas) ?? 0;
  const strategy = str(record(spec.updateStrategy).type) ?? 'RollingUpdate';
  if (strategy === 'RollingUpdate') {
    const updated = num(status.updatedReplicas) ?? 0;
    if (updated !== want) {
      return { state: 'Progressing', message: `${ref(obj)}: ${updated} of ${want} replicas updated` };
    }
  }
  if (ready !== want) {
    return { state: 'Progressing', message: `${ref(obj)}: ${ready} of ${want} replicas ready` };
  }
  if (strategy === 'RollingUpdate') {
    const current = str(status.currentRevision);
    const update = str(status.updateRevision);
    if (current !== update) {
      return {
        state: 'Progressing',
        message: `${ref(obj)}: rolling update to ${update ?? 'unknown revision'} not finished (current ${current ?? 'none'})`,
      };
    }
  }
  return { state: 'Healthy', message: `${ref(obj)}: ${want} replicas ready` };
}

function daemonSetHealth(obj: KubeObject): Finding {
  const status = record(obj.status);
  const lag = generationLag(obj, status);
  if (lag) return lag;
  const desired = num(status.desiredNumberScheduled) ?? 0;
  const updated = num(status.updatedNumberScheduled) ?? 0;
  const available = num(status.numberAvailable) ?? 0;
  if (updated !== desired) {
    return { state: 'Progressing', message: `${ref(obj)}: ${updated} of ${desired} pods updated` };
  }
  if (available !== desired) {
    return { state: 'Progressing', message: `${ref(obj)}: ${available} of ${desired} pods available` };
  }
  return { state: 'Healthy', message: `${ref(obj)}: ${desired} pods available` };
}

function jobHealth(obj: KubeObject): Finding {
  const status = record(obj.status);
  const conds = conditions(status);
  const failed = conds.find((c) => c.type === 'Failed' && c.status === 'True');
  if (failed) {
    const why = [failed.reason, failed.message].filter(Boolean).join(': ');
    return { state: 'Failed', message: `${ref(obj)}: failed${why ? ` (${why})` : ''}` };
  }
  if (conds.some((c) => c.type === 'Complete' && c.status === 'True')) {
    return { state: 'Healthy', message: `${ref(obj)}: complete` };
  }
  const active = num(status.active) ?? 0;
  const succeeded = num(status.succeeded) ?? 0;
  return {
    state: 'Progressing',
    message: `${ref(obj)}: running (${active} active, ${succeeded} succeeded)`,
  };
}

/**
 * Whether a pod belongs to one of the app's workloads. The Deployment's newest ReplicaSet is not
 * known here, so any ReplicaSet named `<deployment>-…` counts.
 */
function ownedByApp(pod: KubeObject, objects: readonly KubeObject[]): boolean {
  const ns = pod.metadata.namespace;
  const owners = (pod.metadata.ownerReferences ?? []).map(record);
  return owners.some((o) => {
    const kind = str(o.kind);
    const name = str(o.name);
    if (!kind || !name) return false;
    return objects.some((w) => {
      if (ns !== undefined && w.metadata.namespace !== undefined && w.metadata.namespace !== ns) return false;
      const group = apiGroup(w.apiVersion);
      if (kind === 'ReplicaSet') {
        return group === 'apps' && w.kind === 'Deployment' && name.startsWith(`${w.metadata.name}-`);
      }
      if (kind === 'StatefulSet' || kind === 'DaemonSet') {
        return group === 'apps' && w.kind === kind && w.metadata.name === name;
      }
      if (kind === 'Job') return group === 'batch' && w.kind === 'Job' && w.metadata.name === name;
      return false;
    });
  });
}

/** A Failed finding when a container of the pod cannot succeed by waiting. */
function podFailure(pod: KubeObject, now: number): Finding | undefined {
  if (pod.metadata.deletionTimestamp) return undefined;
  const status = record(pod.status);
  const restartPolicy = str(record(pod.spec).restartPolicy) ?? 'Always';
  const statuses = [
    ...array(status.initContainerStatuses).map((s) => ({ s: record(s), init: true })),
    ...array(status.containerStatuses).map((s) => ({ s: record(s), init: false })),
  ];
  for (const { s, init } of statuses) {
    const container = `${init ? 'init container' : 'container'} ${str(s.name) ?? '?'}`;
    const state = record(s.state);
    const waiting = record(state.waiting);
    const reason = str(waiting.reason);
    const detail = str(waiting.message);
    if (reason === 'CreateContainerConfigError') {
      const created = Date.parse(str(pod.metadata.creationTimestamp) ?? '');
      const young = Number.isFinite(created) && now - created < CONFIG_ERROR_GRACE_MS;
      return {
        state: young ? 'Progressing' : 'Failed',
        message: `${ref(pod)}: ${container} is waiting: ${reason}${detail ? ` (${detail})` : ''}`,
      };
    }
    if (reason && FATAL_WAITING_REASONS.has(reason)) {
      return {
        state: 'Failed',
        message: `${ref(pod)}: ${container} is waiting: ${reason}${detail ? ` (${detail})` : ''}`,
      };
    }
    const terminated = record(state.terminated);
    const exitCode = num(terminated.exitCode);
    if (restartPolicy === 'Never' && exitCode !== undefined && exitCode !== 0) {
      const why = str(terminated.reason);
      return {
        state: 'Failed',
        message: `${ref(pod)}: ${container} exited with code ${exitCode}${why ? ` (${why})` : ''}`,
      };
    }
  }
  return undefined;
}

function sameObject(a: KubeObject, b: KubeObject): boolean {
  if (a.kind !== b.kind || apiGroup(a.apiVersion) !== apiGroup(b.apiVersion)) return false;
  if (a.metadata.name !== b.metadata.name) return false;
  // A rendered object without a namespace takes the destination namespace when applied.
  return a.metadata.namespace === undefined || a.metadata.namespace === b.metadata.namespace;
}

/** `Kind namespace/name`, or `Kind name` for cluster-scoped objects. */
function ref(obj: KubeObject): string {
  const ns = obj.metadata.namespace;
  return `${obj.kind} ${ns ? `${ns}/` : ''}${obj.metadata.name}`;
}

function apiGroup(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

interface StatusCondition {
  readonly type?: string;
  readonly status?: string;
  readonly reason?: string;
  readonly message?: string;
}

function conditions(status: Record<string, unknown>): StatusCondition[] {
  return array(status.conditions).map((c) => {
    const r = record(c);
    return { type: str(r.type), status: str(r.status), reason: str(r.reason), message: str(r.message) };
  });
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function array(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
