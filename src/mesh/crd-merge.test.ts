import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MCS_VERSION, mcsCrds } from '../api/mcs.ts';
import { planCrd, type CrdObject, type CrdVersion } from './crd-merge.ts';

const ours = (): CrdObject => mcsCrds()[0] as CrdObject;
const summary = (c: CrdObject | undefined) =>
  c?.spec.versions.map((v) => `${v.name}:${v.served ? 's' : '-'}${v.storage ? 'S' : ''}`);
/** The live CRD as the API server returns it: defaulted fields, managedFields, storedVersions. */
function live(versions: CrdVersion[], manager: string, labels: Record<string, string> = {}): CrdObject {
  const base = ours();
  return {
    ...base,
    metadata: {
      name: base.metadata.name,
      resourceVersion: '42',
      labels,
      managedFields: [
        { manager, operation: 'Apply' },
        { manager: 'kube-apiserver', operation: 'Update', subresource: 'status' },
      ],
    },
    spec: { ...base.spec, versions, preserveUnknownFields: false },
    status: { storedVersions: versions.filter((v) => v.storage).map((v) => v.name) },
  };
}
const version = (name: string, served: boolean, storage: boolean, description = 'theirs'): CrdVersion => ({
  name,
  served,
  storage,
  schema: { openAPIV3Schema: { type: 'object', description } },
});

test('no CRD yet: Meridian installs its own', () => {
  const plan = planCrd(undefined, ours(), MCS_VERSION);
  assert.deepEqual(summary(plan.write), ['v1beta1:sS', 'v1alpha1:s']);
  assert.equal(plan.foreign, false);
});

test('Meridian’s own CRD already as wanted: nothing to write, defaulted fields notwithstanding', () => {
  const current = live(ours().spec.versions, 'meridian');
  assert.equal(planCrd(current, ours(), MCS_VERSION).write, undefined);
});

test('Meridian’s old v1alpha1-only CRD is upgraded: v1beta1 stored, v1alpha1 still served, nothing dropped', () => {
  const old = live([{ ...ours().spec.versions[1]!, storage: true }], 'meridian');
  const plan = planCrd(old, ours(), MCS_VERSION);
  assert.deepEqual(summary(plan.write), ['v1beta1:sS', 'v1alpha1:s']);
  assert.equal(
    plan.write?.metadata.resourceVersion,
    '42',
    'an update of what was read, never a blind overwrite',
  );
});

test('a foreign CRD that serves v1beta1 is used as it is, and the message says so', () => {
  const upstream = live(
    [version('v1alpha1', true, false), version('v1beta1', true, true)],
    'kubectl-create',
    {
      'multicluster.x-k8s.io/release-version': 'v0.5.0',
    },
  );
  const plan = planCrd(upstream, ours(), MCS_VERSION);
  assert.equal(plan.write, undefined);
  assert.equal(plan.foreign, true);
  assert.match(plan.message, /another installer .* as it is \(versions v1alpha1, v1beta1; storage v1beta1\)/);
  const betaOnly = live([version('v1beta1', true, true)], 'helm');
  assert.equal(planCrd(betaOnly, ours(), MCS_VERSION).write, undefined);
});

test('a foreign CRD without v1beta1 gets it merged in; its own versions and schemas stay', () => {
  const old = live([version('v1alpha1', true, true)], 'submariner');
  const plan = planCrd(old, ours(), MCS_VERSION);
  assert.deepEqual(summary(plan.write), ['v1beta1:sS', 'v1alpha1:s']);
  const alpha = plan.write?.spec.versions.find((v) => v.name === 'v1alpha1');
  assert.deepEqual(alpha?.['schema'], { openAPIV3Schema: { type: 'object', description: 'theirs' } });
  assert.match(plan.message, /merged .*added v1beta1/);
});

test('a newer foreign CRD keeps its stored version and every version it serves', () => {
  const newer = live([version('v1', true, true), version('v1alpha1', false, false)], 'other-mcs');
  const plan = planCrd(newer, ours(), MCS_VERSION);
  assert.deepEqual(summary(plan.write), ['v1beta1:s', 'v1alpha1:s', 'v1:sS']);
  assert.match(plan.message, /kept v1; storage v1/);
});
