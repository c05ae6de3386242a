import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../kube/cluster-client.ts';
import {
  deleteFinishedHook,
  exemptFromDrift,
  foundationObjects,
  hookEventsOf,
  hookOf,
  hooksFor,
  hookState,
  isImmutableRefusal,
  nextHookStep,
  recreateHook,
  releaseAction,
  releaseObjects,
  replaceAllowed,
  type HookRunInput,
} from './hooks.ts';

const obj = (kind: string, name: string, annotations?: Record<string, string>, extra = {}): KubeObject => ({
  apiVersion:
    kind === 'Job' ? 'batch/v1' : kind === 'CustomResourceDefinition' ? 'apiextensions.k8s.io/v1' : 'v1',
  kind,
  metadata: { name, namespace: 'ns', ...(annotations ? { annotations } : {}) },
  ...extra,
});
const hook = (name: string, events: string, weight?: number, policy?: string): KubeObject =>
  obj('Job', name, {
    'helm.sh/hook': events,
    ...(weight !== undefined ? { 'helm.sh/hook-weight': String(weight) } : {}),
    ...(policy ? { 'helm.sh/hook-delete-policy': policy } : {}),
  });

describe('Helm hooks', () => {
  test('hookOf reads events, weight and delete policy (before-hook-creation by default)', () => {
    assert.equal(hookOf(obj('ConfigMap', 'c')), undefined);
    assert.deepEqual(hookOf(hook('a', 'pre-install, pre-upgrade', -5, 'hook-succeeded')), {
      events: ['pre-install', 'pre-upgrade'],
      weight: -5,
      deletePolicies: ['hook-succeeded'],
    });
    assert.deepEqual(hookOf(hook('b', 'post-upgrade')), {
      events: ['post-upgrade'],
      weight: 0,
      deletePolicies: ['before-hook-creation'],
    });
  });

  test('the hooks of an event run by weight, then as rendered; test hooks belong to no event', () => {
    const objects = [
      obj('CustomResourceDefinition', 'crd'),
      obj('ConfigMap', 'cm'),
      hook('post', 'post-install'),
      hook('pre-late', 'pre-install', 5),
      hook('pre-early', 'pre-install,pre-upgrade', -1),
      hook('pre-same-weight', 'pre-install', 5),
      hook('on-delete', 'pre-delete'),
      hook('test', 'test'),
      hook('legacy-test', 'test-success'),
      hook('legacy-test-failure', 'test-failure'),
      obj('Namespace', 'ns'),
      obj('Service', 'svc'),
    ];
    const names = (os: KubeObject[]) => os.map((o) => o.metadata.name);
    assert.deepEqual(names(hooksFor(objects, 'pre-install')), ['pre-early', 'pre-late', 'pre-same-weight']);
    assert.deepEqual(names(hooksFor(objects, 'pre-upgrade')), ['pre-early']);
    assert.deepEqual(names(hooksFor(objects, 'post-install')), ['post']);
    assert.deepEqual(names(hooksFor(objects, 'pre-delete')), ['on-delete']);
    assert.deepEqual(names(hooksFor(objects, 'post-upgrade')), []);
    // The release's objects never include hooks (tests included): CRDs and Namespaces first.
    assert.deepEqual(names(releaseObjects(objects)), ['crd', 'ns', 'cm', 'svc']);
    assert.deepEqual(names(foundationObjects(objects)), ['crd', 'ns']);
  });

  test('each cluster installs its first revision, upgrades to later ones, and rolls back', () => {
    assert.equal(releaseAction(undefined, false), 'install');
    // A cluster that joins the placement at revision 7 installs it.
    assert.equal(releaseAction(undefined, true), 'install');
    assert.equal(releaseAction(3, false), 'upgrade');
    assert.equal(releaseAction(3, true), 'rollback');
    assert.deepEqual(hookEventsOf('install'), { pre: 'pre-install', post: 'post-install' });
    assert.deepEqual(hookEventsOf('upgrade'), { pre: 'pre-upgrade', post: 'post-upgrade' });
    assert.deepEqual(hookEventsOf('rollback'), { pre: 'pre-rollback', post: 'post-rollback' });
  });

  test('a hook Job is done when Complete and failed when Failed; a Pod when it succeeds; others at once', () => {
    const job = (conditions: object[], active = 0) => ({
      ...hook('j', 'pre-install'),
      status: { conditions, active },
    });
    assert.deepEqual(hookState(job([{ type: 'Complete', status: 'True' }])), { state: 'Succeeded' });
    assert.deepEqual(
      hookState(
        job([
          {
            type: 'Failed',
            status: 'True',
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
          },
        ]),
      ),
      { state: 'Failed', message: 'BackoffLimitExceeded: Job has reached the specified backoff limit' },
    );
    assert.equal(hookState(job([{ type: 'Complete', status: 'False' }], 1)).state, 'Running');
    assert.equal(hookState(job([])).state, 'Running');
    const pod = (phase: string) => ({ ...obj('Pod', 'p'), status: { phase } });
    assert.deepEqual(hookState(pod('Succeeded')), { state: 'Succeeded' });
    assert.equal(hookState(pod('Failed')).state, 'Failed');
    assert.equal(hookState(pod('Running')).state, 'Running');
    assert.deepEqual(hookState(obj('ConfigMap', 'c')), { state: 'Succeeded' });
  });

  describe('running the hooks of an event, one at a time', () => {
    const REV = 'meridian.dev/revision';
    const at = (o: KubeObject, rev: string, status?: object): KubeObject => ({
      ...o,
      metadata: { ...o.metadata, annotations: { ...o.metadata.annotations, [REV]: rev } },
      ...(status ? { status } : {}),
    });
    const first = at(hook('first', 'pre-upgrade', -1), '2');
    const second = at(hook('second', 'pre-upgrade', 1), '2');
    const base: HookRunInput = {
      hooks: [first, second],
      event: 'pre-upgrade',
      done: 0,
      live: null,
      now: 100_000,
      deadlineSeconds: 60,
      revisionAnnotation: REV,
    };
    const running = at(first, '2', { active: 1 });

    test('a hook not yet created is created; a created one is waited for until its deadline', () => {
      assert.deepEqual(nextHookStep(base), { action: 'create', hook: first });
      const wait = nextHookStep({ ...base, startedAt: 90_000, live: running });
      assert.equal(wait.action, 'wait');
      assert.match(wait.action === 'wait' ? wait.message : '', /pre-upgrade hook Job ns\/first/);
      assert.equal(wait.action === 'wait' ? wait.deadlineAt : 0, 150_000);
      const late = nextHookStep({ ...base, startedAt: 30_000, live: running });
      assert.equal(late.action, 'fail');
      assert.match(late.action === 'fail' ? late.message : '', /pre-upgrade hook did not finish within 60s/);
    });

    test('a finished hook lets the next one go; past the last, the event is finished', () => {
      const done = at(first, '2', { conditions: [{ type: 'Complete', status: 'True' }] });
      assert.deepEqual(nextHookStep({ ...base, startedAt: 90_000, live: done }), {
        action: 'next',
        hook: first,
        live: done,
      });
      assert.deepEqual(nextHookStep({ ...base, done: 1 }), { action: 'create', hook: second });
      assert.deepEqual(nextHookStep({ ...base, done: 2 }), { action: 'finished' });
      // Deleted after it was created (its TTL, a delete policy): it ran.
      assert.deepEqual(nextHookStep({ ...base, startedAt: 90_000, live: null }), {
        action: 'next',
        hook: first,
        live: null,
      });
    });

    test('a failed hook fails the run, naming why; a live copy of an earlier revision is created again', () => {
      const failed = at(first, '2', {
        conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }],
      });
      assert.deepEqual(nextHookStep({ ...base, startedAt: 90_000, live: failed }), {
        action: 'fail',
        hook: first,
        message: 'pre-upgrade hook failed: BackoffLimitExceeded',
      });
      const old = at(first, '1', { conditions: [{ type: 'Complete', status: 'True' }] });
      assert.deepEqual(nextHookStep({ ...base, startedAt: 90_000, live: old }), {
        action: 'create',
        hook: first,
      });
    });
  });

  test('hooks, and a TTL Job the TTL controller removed or is removing, are not drift; a deleted ordinary Job is', () => {
    const ttlJob = obj('Job', 'migrate', undefined, { spec: { ttlSecondsAfterFinished: 30 } });
    assert.equal(exemptFromDrift(ttlJob, null), true);
    assert.equal(exemptFromDrift(ttlJob, ttlJob), false);
    // The TTL controller deletes in the foreground: the Job lingers with a deletionTimestamp.
    const going = { ...ttlJob, metadata: { ...ttlJob.metadata, deletionTimestamp: '2026-12-08T00:00:00Z' } };
    assert.equal(exemptFromDrift(ttlJob, going), true);
    const plainGoing = { ...obj('Job', 'plain'), metadata: { name: 'plain', deletionTimestamp: 'x' } };
    assert.equal(exemptFromDrift(obj('Job', 'plain'), plainGoing), false);
    assert.equal(exemptFromDrift(obj('Job', 'plain'), null), false);
    assert.equal(exemptFromDrift(hook('h', 'post-install'), null), true);
    // Test hooks are never applied by a rollout: never missing, never drift.
    assert.equal(exemptFromDrift(hook('t', 'test'), null), true);
    assert.equal(exemptFromDrift(hook('t', 'test-success'), null), true);
  });

  test('a hook from another revision is re-created (before-hook-creation), not one of this revision', () => {
    const at = (rev: string) => ({
      ...hook('h', 'pre-upgrade'),
      metadata: { name: 'h', annotations: { 'helm.sh/hook': 'pre-upgrade', 'meridian.dev/revision': rev } },
    });
    assert.equal(recreateHook(at('2'), at('1'), 'meridian.dev/revision'), true);
    assert.equal(recreateHook(at('2'), at('2'), 'meridian.dev/revision'), false);
    assert.equal(recreateHook(at('2'), null, 'meridian.dev/revision'), false);
  });

  test('hook-succeeded deletes a complete hook; hook-failed a failed one', () => {
    const done = {
      ...hook('h', 'post-install'),
      status: { conditions: [{ type: 'Complete', status: 'True' }] },
    };
    const failed = { ...done, status: { conditions: [{ type: 'Failed', status: 'True' }] } };
    const succeededPolicy = hook('h', 'post-install', 0, 'hook-succeeded');
    assert.equal(deleteFinishedHook(succeededPolicy, done), true);
    assert.equal(deleteFinishedHook(succeededPolicy, failed), false);
    assert.equal(deleteFinishedHook(hook('h', 'post-install', 0, 'hook-failed'), failed), true);
    assert.equal(deleteFinishedHook(hook('h', 'post-install'), done), false);
  });

  test('replace is allowed by sync.replace or the object annotation; immutable refusals are recognised', () => {
    assert.equal(replaceAllowed(obj('Job', 'j'), true), true);
    assert.equal(replaceAllowed(obj('Job', 'j'), false), false);
    assert.equal(
      replaceAllowed(obj('Job', 'j', { 'meridian.dev/sync-options': 'Replace=true' }), undefined),
      true,
    );
    assert.equal(
      isImmutableRefusal('Job.batch "j" is invalid: spec.template: Invalid value: ...: field is immutable'),
      true,
    );
    assert.equal(isImmutableRefusal('spec.replicas: Invalid value: -1'), false);
  });
});
