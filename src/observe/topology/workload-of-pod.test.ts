import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appOf, workloadOfPod, type WorkloadInfo } from './workload-of-pod.ts';

const w = (kind: WorkloadInfo['kind'], name: string): WorkloadInfo => ({ kind, name, app: name });

test('matches Deployment, StatefulSet and DaemonSet pod names to their workload', () => {
  const all = [w('Deployment', 'app2'), w('StatefulSet', 'db'), w('DaemonSet', 'agent')];
  assert.equal(workloadOfPod('app2-7d4b9c8f6-x2x9q', all)?.name, 'app2');
  assert.equal(workloadOfPod('db-0', all)?.name, 'db');
  assert.equal(workloadOfPod('db-12', all)?.kind, 'StatefulSet');
  assert.equal(workloadOfPod('agent-abcde', all)?.name, 'agent');
});

test('prefers the longest workload name and refuses names that only share a prefix', () => {
  const all = [w('Deployment', 'api'), w('Deployment', 'api-gateway')];
  assert.equal(workloadOfPod('api-gateway-5c9d7b-k2p4z', all)?.name, 'api-gateway');
  assert.equal(workloadOfPod('api-5c9d7b-k2p4z', all)?.name, 'api');
  assert.equal(workloadOfPod('apiserver-5c9d7b-k2p4z', all), undefined);
  assert.equal(workloadOfPod('api-0', all), undefined, 'a StatefulSet-like name is not a Deployment pod');
  assert.equal(workloadOfPod('db-0', [w('Deployment', 'db')]), undefined);
});

test('app comes from the standard label, then app, then the name', () => {
  assert.equal(appOf('x', { 'app.kubernetes.io/name': 'shop', app: 'old' }), 'shop');
  assert.equal(appOf('x', { app: 'old' }), 'old');
  assert.equal(appOf('x', undefined), 'x');
});
