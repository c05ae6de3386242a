// Which workload a pod belongs to, from the pod's name alone: spans carry `k8s.pod.name` but no
// owner, and asking each member for every pod would cost a round trip per span. Controllers name
// pods predictably: Deployment `<name>-<pod-template-hash>-<5>`, DaemonSet `<name>-<5>`,
// StatefulSet `<name>-<ordinal>`.

export interface WorkloadInfo {
  readonly kind: 'Deployment' | 'StatefulSet' | 'DaemonSet';
  readonly name: string;
  /** `app.kubernetes.io/name`, else `app`, else the workload's name. */
  readonly app: string;
  /** The Meridian Application (`<namespace>.<name>` label value), when Meridian deployed it. */
  readonly application?: string;
  /** The Meridian revision the workload runs, when Meridian deployed it. */
  readonly revision?: string;
}

const SUFFIX: Record<WorkloadInfo['kind'], RegExp> = {
  Deployment: /^-[a-z0-9]{1,10}-[a-z0-9]{5}$/,
  DaemonSet: /^-[a-z0-9]{5}$/,
  StatefulSet: /^-\d+$/,
};

/**
 * The workload among `candidates` (one namespace) whose pods are named like `pod`; the longest
 * name wins so `api` and `api-gateway` are told apart. Pure.
 */
export function workloadOfPod(pod: string, candidates: Iterable<WorkloadInfo>): WorkloadInfo | undefined {
  let best: WorkloadInfo | undefined;
  for (const w of candidates) {
    if (!pod.startsWith(w.name) || (best && best.name.length >= w.name.length)) continue;
    if (SUFFIX[w.kind].test(pod.slice(w.name.length))) best = w;
  }
  return best;
}

/** The app a set of labels names: `app.kubernetes.io/name`, else `app`. Pure. */
export function appLabel(labels: Readonly<Record<string, string>> | undefined): string | undefined {
  return labels?.['app.kubernetes.io/name'] ?? labels?.['app'];
}

/** The app name the topology shows for a workload with these labels (its name without one). Pure. */
export function appOf(name: string, labels: Readonly<Record<string, string>> | undefined): string {
  return appLabel(labels) ?? name;
}
