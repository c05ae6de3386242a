import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../kube/cluster-client.ts';
import {
  deleteFinishedHook,
  exemptFromDrift,
  hookOf,
  isImmutableRefusal,
  orderWithHooks,
  recreateHook,
  replaceAllowed,
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
    assert.deepEqual(hookOf(hook('a', 'pre-install,pre-upgrade', -5, 'hook-succeeded')), {
      stage: 'pre',
      weight: -5,
      deletePolicies: ['hook-succeeded'],
    });
    assert.deepEqual(hookOf(hook('b', 'post-upgrade')), {
      stage: 'post',
      weight: 0,
      deletePolicies: ['before-hook-creation'],
    });
    assert.equal(hookOf(hook('c', 'pre-delete'))?.stage, 'other');
  });

  test('apply order: CRDs and Namespaces, pre hooks by weight, objects, post hooks; other hooks left out', () => {
    const ordered = orderWithHooks([
      obj('CustomResourceDefinition', 'crd'),
      obj('ConfigMap', 'cm'),
      hook('post', 'post-install'),
      hook('pre-late', 'pre-install', 5),
      hook('pre-early', 'pre-install', -1),
      hook('on-delete', 'pre-delete'),
      obj('Service', 'svc'),
    ]).map((o) => o.metadata.name);
    assert.deepEqual(ordered, ['crd', 'pre-early', 'pre-late', 'cm', 'svc', 'post']);
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
