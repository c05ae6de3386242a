// Runs the Helm hooks of one event in one cluster, as Helm does: one at a time in weight order,
// each created and then waited for (Jobs until Complete, Pods until Succeeded), deleted when its
// hook-delete-policy says so. Never blocks: each call goes as far as it can now and returns what
// the cluster's status must remember (the run), so the next reconcile continues from there.
import type { HookRunStatus } from '../api/application.ts';
import { REVISION_ANNOTATION } from '../api/labels.ts';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { kubeTime } from '../kube/conditions.ts';
import { apiErrorToDeployError, applyHook, deleteFinishedHooks } from './apply.ts';
import { objectRef } from '../kube/objects.ts';
import { hooksFor, nextHookStep } from './hooks.ts';
import type { DeployError } from './deploy-types.ts';

/** What one call did besides its outcome: hooks that succeeded, and those their policy deleted. */
interface HookRunReport {
  readonly succeeded: readonly string[];
  readonly deleted: readonly string[];
}

export type HookRunOutcome = HookRunReport &
  (
    | /** Every hook of the event has finished. */ { readonly state: 'finished' }
    | /** A hook is running: remember `run` and look again later. */ {
        readonly state: 'waiting';
        readonly run: HookRunStatus;
      }
    | /** A hook failed, timed out, or could not be created. */ {
        readonly state: 'failed';
        readonly error: DeployError;
      }
  );

export interface HookRunOptions {
  /** How long one hook may run (the Application's progress deadline). */
  readonly deadlineSeconds: number;
  readonly force: boolean;
  readonly replace: boolean;
}

/** Advances `run` over `objects` (one revision's objects in one cluster) as far as it can now. */
export async function advanceHooks(
  client: ClusterClient,
  objects: readonly KubeObject[],
  run: HookRunStatus,
  opts: HookRunOptions,
): Promise<HookRunOutcome> {
  const hooks = hooksFor(objects, run.event);
  const succeeded: string[] = [];
  const deleted: string[] = [];
  const report = { succeeded, deleted };
  let current = run;
  // Each hook is created at most once per call: a hook whose live copy never shows this revision
  // (a mutating webhook rewriting annotations) waits for the next reconcile instead of spinning.
  const created = new Set<number>();
  for (;;) {
    const hook = hooks[current.done];
    let live: KubeObject | null = null;
    if (hook && current.startedAt !== undefined) {
      try {
        live =
          (await client.get(hook.apiVersion, hook.kind, hook.metadata.name, hook.metadata.namespace)) ?? null;
      } catch (e) {
        return { state: 'failed', error: apiErrorToDeployError(client.name, hook, e), ...report };
      }
    }
    const step = nextHookStep({
      hooks,
      event: current.event,
      done: current.done,
      ...(current.startedAt !== undefined ? { startedAt: Date.parse(current.startedAt) } : {}),
      live,
      now: Date.now(),
      deadlineSeconds: opts.deadlineSeconds,
      revisionAnnotation: REVISION_ANNOTATION,
    });
    switch (step.action) {
      case 'finished':
        return { state: 'finished', ...report };
      case 'create': {
        if (created.has(current.done)) return { state: 'waiting', run: current, ...report };
        created.add(current.done);
        const err = await applyHook(client, step.hook, opts);
        if (err) return { state: 'failed', error: err, ...report };
        current = {
          revision: current.revision,
          event: current.event,
          done: current.done,
          startedAt: kubeTime(Date.now()),
        };
        continue;
      }
      case 'wait':
        return { state: 'waiting', run: { ...current, message: step.message }, ...report };
      case 'next':
        if (step.live)
          deleted.push(...(await deleteFinishedHooks(client, [{ desired: step.hook, live: step.live }])));
        succeeded.push(objectRef(step.hook));
        current = { revision: current.revision, event: current.event, done: current.done + 1 };
        continue;
      case 'fail':
        if (live) deleted.push(...(await deleteFinishedHooks(client, [{ desired: step.hook, live }])));
        return {
          state: 'failed',
          error: {
            code: 'HookFailed',
            cluster: client.name,
            object: objectRef(step.hook),
            message: step.message,
          },
          ...report,
        };
    }
  }
}
