import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memberNamespaces, type SecretObject } from './member-connections.ts';

const secret = (annotation?: string): SecretObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: {
    name: 'cluster-eu-west-kubeconfig',
    ...(annotation === undefined ? {} : { annotations: { 'meridian.dev/member-namespaces': annotation } }),
  },
});

test('a member joined with --namespaces is watched in those namespaces; otherwise cluster-wide', () => {
  assert.deepEqual(memberNamespaces(secret('team-a,team-b')), ['team-a', 'team-b']);
  assert.deepEqual(memberNamespaces(secret(' team-a , ')), ['team-a']);
  assert.equal(memberNamespaces(secret('*')), undefined);
  assert.equal(memberNamespaces(secret('')), undefined);
  assert.equal(memberNamespaces(secret()), undefined, 'a Secret from before least-privilege joins');
});
