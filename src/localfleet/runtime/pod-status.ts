// The status the pod runtime writes for a pod it runs, as a kubelet would: container states from
// the processes, phase from them and the restart policy, ContainersReady/Ready from readiness (and
// the `meridian.dev/simulate` fault). Pure; transition times are kept while a condition holds.
import type { ContainerState, ContainerStatus, PodCondition, PodObject, PodStatus } from './pod-object.ts';

/** What the runtime knows about one container right now. */
export interface ContainerView {
  readonly name: string;
  readonly image: string;
  readonly state: ContainerState;
  readonly lastState: ContainerState;
  readonly restartCount: number;
  readonly ready: boolean;
  readonly started: boolean;
  /** Stopped for good (restart policy), with this exit code. */
  readonly finalExitCode?: number;
}

export const SIMULATE_ANNOTATION = 'meridian.dev/simulate';
export type Simulate = 'none' | 'not-ready' | 'crash';

export function simulateOf(pod: PodObject): Simulate {
  const v = pod.metadata.annotations?.[SIMULATE_ANNOTATION];
  return v === 'not-ready' || v === 'crash' ? v : 'none';
}

/** A local image's id in container statuses: no registry digest exists, the name stands for it. */
export const imageId = (image: string): string => `meridian.local/image@${image}`;

function phaseOf(pod: PodObject, cs: readonly ContainerView[]): string {
  const policy = pod.spec.restartPolicy ?? 'Always';
  if (cs.length > 0 && cs.every((c) => c.finalExitCode !== undefined)) {
    if (policy !== 'Always' && cs.every((c) => c.finalExitCode === 0)) return 'Succeeded';
    if (policy === 'Never' || policy === 'OnFailure') return 'Failed';
  }
  // A kubelet never moves a pod back to Pending (say, while a restarted runtime starts it again).
  if (pod.status?.phase === 'Running') return 'Running';
  return cs.some((c) => c.started || c.restartCount > 0 || c.finalExitCode !== undefined)
    ? 'Running'
    : 'Pending';
}

/** Keeps the previous transition time while the condition's status is unchanged. */
function condition(
  prev: readonly PodCondition[] | undefined,
  type: string,
  ok: boolean,
  nowIso: string,
  reason?: string,
  message?: string,
): PodCondition {
  const status = ok ? 'True' : 'False';
  const old = prev?.find((c) => c.type === type);
  const c: PodCondition = {
    type,
    status,
    lastTransitionTime: old?.status === status && old.lastTransitionTime ? old.lastTransitionTime : nowIso,
  };
  if (!ok && reason) c.reason = reason;
  if (!ok && message) c.message = message;
  return c;
}

/** The status fields the runtime owns (podIP and hostIP stay kwok's). */
export function podStatus(pod: PodObject, cs: readonly ContainerView[], nowIso: string): PodStatus {
  const prev = pod.status?.conditions;
  const phase = phaseOf(pod, cs);
  const unready = cs.filter((c) => !c.ready).map((c) => c.name);
  const containersReady = unready.length === 0 && phase === 'Running';
  const simulate = simulateOf(pod);
  const ready = containersReady && simulate === 'none';
  const completed = phase === 'Succeeded' || phase === 'Failed';
  const reason = completed ? 'PodCompleted' : 'ContainersNotReady';
  const message = completed
    ? undefined
    : unready.length > 0
      ? `containers with unready status: [${unready.join(' ')}]`
      : simulate !== 'none'
        ? `simulated fault (${SIMULATE_ANNOTATION}=${simulate})`
        : undefined;
  const containerStatuses: ContainerStatus[] = cs.map((c) => ({
    name: c.name,
    image: c.image,
    imageID: imageId(c.image),
    ...(c.state.running || c.state.terminated
      ? { containerID: `meridian://${pod.metadata.uid ?? ''}-${c.name}` }
      : {}),
    ready: c.ready,
    started: c.started,
    restartCount: c.restartCount,
    state: c.state,
    lastState: c.lastState,
  }));
  return {
    phase,
    conditions: [
      condition(prev, 'PodScheduled', true, nowIso),
      condition(prev, 'Initialized', true, nowIso),
      condition(prev, 'ContainersReady', containersReady, nowIso, reason, message),
      condition(prev, 'Ready', ready, nowIso, reason, message),
    ],
    containerStatuses,
  };
}
