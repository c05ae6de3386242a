// Helm hooks and ephemeral objects, judged like Helm and the Job TTL controller would: which rendered
// objects are hooks, in what order a revision's objects are applied, which objects drift checks
// leave alone, and when an object is deleted and re-created instead of patched. Pure.
import type { KubeObject } from '../kube/cluster-client.ts';

export const HOOK_ANNOTATION = 'helm.sh/hook';
export const HOOK_WEIGHT_ANNOTATION = 'helm.sh/hook-weight';
export const HOOK_DELETE_POLICY_ANNOTATION = 'helm.sh/hook-delete-policy';
/** Per-object sync options, Argo CD style: `Replace=true` deletes and re-creates on immutable changes. */
export const SYNC_OPTIONS_ANNOTATION = 'meridian.dev/sync-options';

export type HookStage = 'pre' | 'post' | 'other';

export interface Hook {
  /** pre-install/pre-upgrade run before the release's objects, post-* after; other hooks never run. */
  readonly stage: HookStage;
  readonly weight: number;
  readonly deletePolicies: readonly string[];
}

const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** The object's Helm hook, or undefined when it is an ordinary object. */
export function hookOf(obj: KubeObject): Hook | undefined {
  const a = obj.metadata.annotations ?? {};
  const events = list(a[HOOK_ANNOTATION]);
  if (events.length === 0) return undefined;
  const stage: HookStage = events.some((e) => e === 'pre-install' || e === 'pre-upgrade')
    ? 'pre'
    : events.some((e) => e === 'post-install' || e === 'post-upgrade')
      ? 'post'
      : 'other';
  const weight = Number.parseInt(a[HOOK_WEIGHT_ANNOTATION] ?? '0', 10);
  const policies = list(a[HOOK_DELETE_POLICY_ANNOTATION]);
  return {
    stage,
    weight: Number.isFinite(weight) ? weight : 0,
    // Helm 3's default: a hook is deleted before its next creation.
    deletePolicies: policies.length > 0 ? policies : ['before-hook-creation'],
  };
}

const isFoundation = (o: KubeObject): boolean =>
  (o.kind === 'CustomResourceDefinition' && o.apiVersion.startsWith('apiextensions.k8s.io/')) ||
  (o.kind === 'Namespace' && o.apiVersion === 'v1');

/**
 * Apply order with hooks, as Helm installs: CRDs and Namespaces, pre-install/upgrade hooks by weight,
 * the release's objects, post-install/upgrade hooks by weight. Hooks of other events (delete,
 * rollback, test) are left out: Helm runs them only on those events. `objects` is in apply order.
 */
export function orderWithHooks(objects: readonly KubeObject[]): KubeObject[] {
  const byWeight = (stage: HookStage) =>
    objects
      .map((o, i) => ({ o, i, h: hookOf(o) }))
      .filter((x) => x.h?.stage === stage)
      .sort((a, b) => a.h!.weight - b.h!.weight || a.i - b.i)
      .map((x) => x.o);
  const plain = objects.filter((o) => hookOf(o) === undefined);
  return [
    ...plain.filter(isFoundation),
    ...byWeight('pre'),
    ...plain.filter((o) => !isFoundation(o)),
    ...byWeight('post'),
  ];
}

/**
 * Whether a drift check leaves `desired` alone given its live state (null: gone): hooks are run
 * once per revision and deleted by their policies, and a Job with ttlSecondsAfterFinished is
 * removed by the TTL controller once finished (deleted in the foreground, so it stays a while with a
 * deletionTimestamp and a finalizer before it is gone); neither is drift.
 */
export function exemptFromDrift(desired: KubeObject, live: KubeObject | null): boolean {
  if (hookOf(desired)) return true;
  if (isTtlJob(desired) && (live === null || live.metadata.deletionTimestamp !== undefined)) return true;
  return false;
}

function isTtlJob(o: KubeObject): boolean {
  if (o.kind !== 'Job' || !o.apiVersion.startsWith('batch/')) return false;
  const spec = o['spec'] as { ttlSecondsAfterFinished?: unknown } | undefined;
  return typeof spec?.ttlSecondsAfterFinished === 'number';
}

/** Whether a hook's live copy from an earlier revision is deleted before this one is created. */
export function recreateHook(
  desired: KubeObject,
  live: KubeObject | null,
  revisionAnnotation: string,
): boolean {
  const hook = hookOf(desired);
  if (!hook || live === null) return false;
  const liveRev = live.metadata.annotations?.[revisionAnnotation];
  const wantRev = desired.metadata.annotations?.[revisionAnnotation];
  return hook.deletePolicies.includes('before-hook-creation') && liveRev !== wantRev;
}

/** Whether a finished hook is deleted now (hook-succeeded / hook-failed policies). */
export function deleteFinishedHook(desired: KubeObject, live: KubeObject): boolean {
  const hook = hookOf(desired);
  if (!hook) return false;
  const conds = (
    (live['status'] as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions ?? []
  ).filter((c) => c.status === 'True');
  const done = conds.some((c) => c.type === 'Complete');
  const failed = conds.some((c) => c.type === 'Failed');
  return (
    (done && hook.deletePolicies.includes('hook-succeeded')) ||
    (failed && hook.deletePolicies.includes('hook-failed'))
  );
}

/** Whether an immutable-field refusal of `obj` may be resolved by deleting and re-creating it. */
export function replaceAllowed(obj: KubeObject, syncReplace: boolean | undefined): boolean {
  if (syncReplace === true) return true;
  return list(obj.metadata.annotations?.[SYNC_OPTIONS_ANNOTATION]).includes('Replace=true');
}

/** Whether an API error message is the server refusing a change to an immutable field. */
export function isImmutableRefusal(message: string): boolean {
  return /field is immutable|may not change once set|updates to .* are forbidden/i.test(message);
}
