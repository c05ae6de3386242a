// Helm hooks and ephemeral objects, judged like Helm and the Job TTL controller would: which rendered
// objects are hooks, in what order a revision's objects are applied, when a running hook has
// finished or failed, which objects drift checks leave alone, and when an object is deleted and
// re-created instead of patched. Pure.
import type { HookEvent } from '../api/application.ts';
import type { KubeObject } from '../kube/cluster-client.ts';
import { objectRef } from '../kube/objects.ts';

export const HOOK_ANNOTATION = 'helm.sh/hook';
export const HOOK_WEIGHT_ANNOTATION = 'helm.sh/hook-weight';
export const HOOK_DELETE_POLICY_ANNOTATION = 'helm.sh/hook-delete-policy';
/** Per-object sync options, Argo CD style: `Replace=true` deletes and re-creates on immutable changes. */
export const SYNC_OPTIONS_ANNOTATION = 'meridian.dev/sync-options';

export interface Hook {
  readonly events: readonly string[];
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
  const weight = Number.parseInt(a[HOOK_WEIGHT_ANNOTATION] ?? '0', 10);
  const policies = list(a[HOOK_DELETE_POLICY_ANNOTATION]);
  return {
    events,
    weight: Number.isFinite(weight) ? weight : 0,
    // Helm 3's default: a hook is deleted before its next creation.
    deletePolicies: policies.length > 0 ? policies : ['before-hook-creation'],
  };
}

const isFoundation = (o: KubeObject): boolean =>
  (o.kind === 'CustomResourceDefinition' && o.apiVersion.startsWith('apiextensions.k8s.io/')) ||
  (o.kind === 'Namespace' && o.apiVersion === 'v1');

/**
 * The hooks of `event` in the order Helm runs them: by weight, then as rendered. Test hooks
 * (`test`, legacy `test-success`/`test-failure`) belong to no event here: only `helm test` runs them.
 */
export function hooksFor(objects: readonly KubeObject[], event: HookEvent): KubeObject[] {
  return objects
    .map((o, i) => ({ o, i, w: hookOf(o)?.weight ?? 0 }))
    .filter((x) => hookOf(x.o)?.events.includes(event))
    .sort((a, b) => a.w - b.w || a.i - b.i)
    .map((x) => x.o);
}

/** CRDs and Namespaces of the release: applied before any hook, as Helm installs CRDs first. */
export function foundationObjects(objects: readonly KubeObject[]): KubeObject[] {
  return objects.filter((o) => hookOf(o) === undefined && isFoundation(o));
}

/** The release's own objects (no hooks) in apply order: CRDs and Namespaces first. */
export function releaseObjects(objects: readonly KubeObject[]): KubeObject[] {
  const plain = objects.filter((o) => hookOf(o) === undefined);
  return [...plain.filter(isFoundation), ...plain.filter((o) => !isFoundation(o))];
}

/** What applying a revision to one cluster is, in Helm's words. */
export type ReleaseAction = 'install' | 'upgrade' | 'rollback';

/**
 * Per cluster, as each member is its own Helm release: the first revision applied there is an
 * install (whatever its number: a cluster that joins the placement later installs), a later one an
 * upgrade, and going back to the last good revision (automatic or `meridian app rollback`) a rollback.
 */
export function releaseAction(appliedRevision: number | undefined, rollingBack: boolean): ReleaseAction {
  if (appliedRevision === undefined) return 'install';
  return rollingBack ? 'rollback' : 'upgrade';
}

/** The hook events run before and after the release's objects are applied for `action`. */
export function hookEventsOf(action: ReleaseAction): { pre: HookEvent; post: HookEvent } {
  switch (action) {
    case 'install':
      return { pre: 'pre-install', post: 'post-install' };
    case 'upgrade':
      return { pre: 'pre-upgrade', post: 'post-upgrade' };
    case 'rollback':
      return { pre: 'pre-rollback', post: 'post-rollback' };
  }
}

type LiveConditions = {
  conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
};

/** Where a created hook stands, as Helm waits for it: Jobs until complete, Pods until succeeded. */
export type HookState =
  | { readonly state: 'Succeeded' }
  | { readonly state: 'Running'; readonly message: string }
  | { readonly state: 'Failed'; readonly message: string };

export function hookState(live: KubeObject): HookState {
  const status = live['status'] as (LiveConditions & { phase?: string; active?: number }) | undefined;
  if (live.kind === 'Job' && live.apiVersion.startsWith('batch/')) {
    const conds = (status?.conditions ?? []).filter((c) => c.status === 'True');
    const failed = conds.find((c) => c.type === 'Failed');
    if (failed)
      return {
        state: 'Failed',
        message: [failed.reason, failed.message].filter(Boolean).join(': ') || 'failed',
      };
    if (conds.some((c) => c.type === 'Complete')) return { state: 'Succeeded' };
    return { state: 'Running', message: `${status?.active ?? 0} active pod(s), not complete yet` };
  }
  if (live.kind === 'Pod' && live.apiVersion === 'v1') {
    if (status?.phase === 'Succeeded') return { state: 'Succeeded' };
    if (status?.phase === 'Failed') return { state: 'Failed', message: 'pod failed' };
    return { state: 'Running', message: `pod ${status?.phase ?? 'Pending'}, not succeeded yet` };
  }
  // Helm waits only for Jobs and Pods; any other hook is done once it exists.
  return { state: 'Succeeded' };
}

export interface HookRunInput {
  /** The event's hooks in run order (hooksFor). */
  readonly hooks: readonly KubeObject[];
  readonly event: HookEvent;
  /** How many have finished. */
  readonly done: number;
  /** When hook number `done` was created (ms), undefined when it is yet to be. */
  readonly startedAt?: number;
  /** Its live copy (null: not there). */
  readonly live: KubeObject | null;
  readonly now: number;
  /** How long one hook may run. */
  readonly deadlineSeconds: number;
  /** The annotation holding the revision of an applied object: a live copy of another is stale. */
  readonly revisionAnnotation: string;
}

/** What to do next with a cluster's running hooks: one hook at a time, each waited for. */
export type HookStep =
  | { readonly action: 'finished' }
  | { readonly action: 'create'; readonly hook: KubeObject }
  | {
      readonly action: 'wait';
      readonly hook: KubeObject;
      readonly message: string;
      readonly deadlineAt: number;
    }
  | { readonly action: 'next'; readonly hook: KubeObject; readonly live: KubeObject | null }
  | { readonly action: 'fail'; readonly hook: KubeObject; readonly message: string };

export function nextHookStep(input: HookRunInput): HookStep {
  const hook = input.hooks[input.done];
  if (!hook) return { action: 'finished' };
  if (input.startedAt === undefined) return { action: 'create', hook };
  const what = `${input.event} hook`;
  // Gone after it was created: deleted by its TTL or by someone who saw it finish.
  if (input.live === null) return { action: 'next', hook, live: null };
  const rev = (o: KubeObject) => o.metadata.annotations?.[input.revisionAnnotation];
  if (rev(input.live) !== rev(hook)) return { action: 'create', hook };
  const state = hookState(input.live);
  if (state.state === 'Succeeded') return { action: 'next', hook, live: input.live };
  if (state.state === 'Failed') return { action: 'fail', hook, message: `${what} failed: ${state.message}` };
  const deadlineAt = input.startedAt + input.deadlineSeconds * 1000;
  if (input.now >= deadlineAt)
    return {
      action: 'fail',
      hook,
      message: `${what} did not finish within ${input.deadlineSeconds}s (progress deadline): ${state.message}`,
    };
  return {
    action: 'wait',
    hook,
    message: `waiting for ${what} ${objectRef(hook)}: ${state.message}`,
    deadlineAt,
  };
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
