import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterClient } from '../../kube/cluster-client.ts';
import { lineLabels, noWorkloads, type LogTarget, type PodObject } from './log-targets.ts';

const target: LogTarget = { cluster: 'eu-west', region: 'europe', client: {} as ClusterClient };
const pod = (labels?: Record<string, string>): PodObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-7d9f8-abcde', namespace: 'shop', labels },
});

test("a line carries its workload's app and revision, as the pod's series and spans do", () => {
  const labels = lineLabels(target, pod({ app: 'web-canary' }), 'main', () => ({
    app: 'web',
    revision: '3',
  }));
  assert.deepEqual(labels, {
    cluster: 'eu-west',
    region: 'europe',
    namespace: 'shop',
    pod: 'web-7d9f8-abcde',
    container: 'main',
    app: 'web',
    revision: '3',
  });
});

test('a pod no known workload owns takes its app from its own labels, and has no revision', () => {
  const labels = lineLabels(target, pod({ 'app.kubernetes.io/name': 'web' }), 'main', noWorkloads);
  assert.equal(labels.app, 'web');
  assert.equal('revision' in labels, false);
  assert.equal('app' in lineLabels(target, pod(), 'main', noWorkloads), false);
});
