// Standard status conditions (type, status, reason, message, observedGeneration,
// lastTransitionTime) with the Kubernetes rule that the transition time moves only when the
// status itself changes.

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

/** A Kubernetes timestamp (RFC 3339, whole seconds), as `metav1.Time` serializes. */
export function kubeTime(at: Date | number): string {
  return new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Returns a new list with `next` set, keeping lastTransitionTime when the status is unchanged. */
export function setCondition(
  current: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: Date,
): Condition[] {
  const list = [...(current ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const lastTransitionTime = prev && prev.status === next.status ? prev.lastTransitionTime : kubeTime(now);
  const cond: Condition = { ...next, lastTransitionTime };
  if (i >= 0) list[i] = cond;
  else list.push(cond);
  return list;
}

export function findCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}
