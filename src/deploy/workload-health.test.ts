import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../kube/cluster-client.ts';
import { assessHealth, expectedObjectsPresent } from './workload-health.ts';

const T0 = Date.UTC(2026, 0, 1);
const opts = { appliedAt: T0, now: T0 + 10_000, progressDeadlineSeconds: 600 };

function obj(
  apiVersion: string,
  kind: string,
  name: string,
  rest: Record<string, unknown> = {},
  generation?: number,
): KubeObject {
  return {
    apiVersion,
    kind,
    metadata: { name, namespace: 'shop', ...(generation !== undefined ? { generation } : {}) },
    ...rest,
  };
}

function deployment(status: Record<string, unknown>, replicas = 3, generation = 2): KubeObject {
  return obj('apps/v1', 'Deployment', 'web', { spec: { replicas }, status }, generation);
}

const healthyDeploymentStatus = {
  observedGeneration: 2,
  replicas: 3,
  updatedReplicas: 3,
  availableReplicas: 3,
  readyReplicas: 3,
};

function pod(
  name: string,
  owner: { kind: string; name: string },
  containerStatuses: unknown[],
  restartPolicy = 'Always',
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', ownerReferences: [{ apiVersion: 'apps/v1', ...owner }] },
    spec: { restartPolicy },
    status: { containerStatuses },
  };
}

function waiting(reason: string, message?: string): unknown {
  return { name: 'app', state: { waiting: { reason, ...(message ? { message } : {}) } } };
}

test('a Deployment with every replica updated and available is Healthy', () => {
  const h = assessHealth([deployment(healthyDeploymentStatus)], [], opts);
  assert.equal(h.state, 'Healthy');
});

test('a Deployment whose controller has not observed the new generation is Progressing', () => {
  const h = assessHealth([deployment({ ...healthyDeploymentStatus, observedGeneration: 1 })], [], opts);
  assert.equal(h.state, 'Progressing');
  assert.match(h.message, /Deployment shop\/web: waiting for the controller to observe generation 2/);
});

test('a Deployment with replicas still updating is Progressing and says how many', () => {
  const h = assessHealth([deployment({ ...healthyDeploymentStatus, updatedReplicas: 1 })], [], opts);
  assert.equal(h.state, 'Progressing');
  assert.match(h.message, /Deployment shop\/web: 1 of 3 replicas updated/);
});

test('a Deployment with old replicas left is Progressing', () => {
  const h = assessHealth([deployment({ ...healthyDeploymentStatus, replicas: 4 })], [], opts);
  assert.equal(h.state, 'Progressing');
  assert.match(h.message, /1 old replica pending termination/);
});

test('a Deployment with updated replicas not yet available is Progressing', () => {
  const h = assessHealth([deployment({ ...healthyDeploymentStatus, availableReplicas: 2 })], [], opts);
  assert.equal(h.state, 'Progressing');
  assert.match(h.message, /2 of 3 updated replicas available/);
});

test('a Deployment without spec.replicas wants one replica', () => {
  const d = obj('apps/v1', 'Deployment', 'web', {
    spec: {},
    status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
  });
  d.metadata.generation = 1;
  assert.equal(assessHealth([d], [], opts).state, 'Healthy');
  const none = obj('apps/v1', 'Deployment', 'web', { spec: {}, status: {} });
  assert.equal(assessHealth([none], [], opts).state, 'Progressing');
});

test('a Deployment with ProgressDeadlineExceeded has Failed', () => {
  const h = assessHealth(
    [
      deployment({
        ...healthyDeploymentStatus,
        updatedReplicas: 1,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "web-5d8f" has timed out progressing.',
          },
        ],
      }),
    ],
    [],
    opts,
  );
  assert.equal(h.state, 'Failed');
  assert.match(h.message, /workload failed: Deployment shop\/web: ProgressDeadlineExceeded/);
});

test('a pod of the Deployment in CrashLoopBackOff fails the workload', () => {
  const h = assessHealth(
    [deployment({ ...healthyDeploymentStatus, availableReplicas: 2 })],
    [
      pod('web-5d8f-abcde', { kind: 'ReplicaSet', name: 'web-5d8f' }, [
        waiting('CrashLoopBackOff', 'back-off 5m0s restarting failed container'),
      ]),
    ],
    opts,
  );
  assert.equal(h.state, 'Failed');
  assert.match(
    h.message,
    /workload failed: Pod shop\/web-5d8f-abcde: container app is waiting: CrashLoopBackOff/,
  );
});

test('a pod missing its Secret or ConfigMap progresses for 30 s after it was created, then fails', () => {
  const missing = (ageMs: number): KubeObject => {
    const p = pod('web-1-x', { kind: 'ReplicaSet', name: 'web-1' }, [
      waiting('CreateContainerConfigError', 'secret "db-credentials" not found'),
    ]);
    p.metadata.creationTimestamp = new Date(opts.now - ageMs).toISOString();
    return p;
  };
  const young = assessHealth([deployment(healthyDeploymentStatus)], [missing(5_000)], opts);
  assert.equal(young.state, 'Progressing');
  assert.match(young.message, /CreateContainerConfigError \(secret "db-credentials" not found\)/);
  const old = assessHealth([deployment(healthyDeploymentStatus)], [missing(31_000)], opts);
  assert.equal(old.state, 'Failed');
  assert.match(old.message, /workload failed: .*CreateContainerConfigError/);
});

test('image pull, config and pull-backoff errors fail the workload', () => {
  for (const reason of ['ImagePullBackOff', 'ErrImagePull', 'CreateContainerConfigError']) {
    const h = assessHealth(
      [deployment(healthyDeploymentStatus)],
      [pod('web-1-x', { kind: 'ReplicaSet', name: 'web-1' }, [waiting(reason)])],
      opts,
    );
    assert.equal(h.state, 'Failed', reason);
    assert.match(h.message, new RegExp(reason));
  }
});

test('a failing init container fails the workload too', () => {
  const p = pod('web-1-x', { kind: 'ReplicaSet', name: 'web-1' }, []);
  p.status = {
    initContainerStatuses: [{ name: 'migrate', state: { waiting: { reason: 'CrashLoopBackOff' } } }],
  };
  const h = assessHealth([deployment(healthyDeploymentStatus)], [p], opts);
  assert.equal(h.state, 'Failed');
  assert.match(h.message, /init container migrate is waiting: CrashLoopBackOff/);
});

test('a transient waiting reason such as ContainerCreating does not fail the workload', () => {
  const h = assessHealth(
    [deployment({ ...healthyDeploymentStatus, availableReplicas: 2 })],
    [pod('web-1-x', { kind: 'ReplicaSet', name: 'web-1' }, [waiting('ContainerCreating')])],
    opts,
  );
  assert.equal(h.state, 'Progressing');
});

test('pods of other workloads do not count against the app', () => {
  const crashing = [waiting('CrashLoopBackOff')];
  const pods = [
    pod('webhook-1-x', { kind: 'ReplicaSet', name: 'webhook-1' }, crashing), // `webhook-`, not `web-`
    pod('other-1-x', { kind: 'ReplicaSet', name: 'other-1' }, crashing),
    pod('db-0', { kind: 'StatefulSet', name: 'db' }, crashing),
    pod('orphan', { kind: 'Node', name: 'n1' }, crashing),
  ];
  const h = assessHealth([deployment(healthyDeploymentStatus)], pods, opts);
  assert.equal(h.state, 'Healthy', h.message);
});

test('a pod being deleted does not fail the workload', () => {
  const p = pod('web-1-x', { kind: 'ReplicaSet', name: 'web-1' }, [waiting('CrashLoopBackOff')]);
  p.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
  assert.equal(assessHealth([deployment(healthyDeploymentStatus)], [p], opts).state, 'Healthy');
});

test('a pod in another namespace does not count against the app', () => {
  const p = pod('web-1-x', { kind: 'ReplicaSet', name: 'web-1' }, [waiting('CrashLoopBackOff')]);
  p.metadata.namespace = 'other';
  assert.equal(assessHealth([deployment(healthyDeploymentStatus)], [p], opts).state, 'Healthy');
});

function statefulSet(status: Record<string, unknown>, spec: Record<string, unknown> = { replicas: 2 }) {
  return obj('apps/v1', 'StatefulSet', 'db', { spec, status }, 4);
}
const healthySts = {
  observedGeneration: 4,
  replicas: 2,
  readyReplicas: 2,
  updatedReplicas: 2,
  currentRevision: 'db-7c9',
  updateRevision: 'db-7c9',
};

test('a StatefulSet with all replicas updated, ready and on the update revision is Healthy', () => {
  assert.equal(assessHealth([statefulSet(healthySts)], [], opts).state, 'Healthy');
});

test('a StatefulSet mid rolling update is Progressing', () => {
  const h = assessHealth([statefulSet({ ...healthySts, updateRevision: 'db-8aa' })], [], opts);
  assert.equal(h.state, 'Progressing');
  assert.match(h.message, /StatefulSet shop\/db: rolling update to db-8aa not finished \(current db-7c9\)/);
  const notReady = assessHealth([statefulSet({ ...healthySts, readyReplicas: 1 })], [], opts);
  assert.match(notReady.message, /1 of 2 replicas ready/);
  const stale = assessHealth([statefulSet({ ...healthySts, observedGeneration: 3 })], [], opts);
  assert.match(stale.message, /observe generation 4/);
});

test('a StatefulSet with OnDelete updates is Healthy once its replicas are ready', () => {
  const s = statefulSet(
    { ...healthySts, updatedReplicas: 0, updateRevision: 'db-8aa' },
    { replicas: 2, updateStrategy: { type: 'OnDelete' } },
  );
  assert.equal(assessHealth([s], [], opts).state, 'Healthy');
});

test('a crash-looping StatefulSet pod fails the workload', () => {
  const h = assessHealth(
    [statefulSet({ ...healthySts, readyReplicas: 1 })],
    [pod('db-1', { kind: 'StatefulSet', name: 'db' }, [waiting('CrashLoopBackOff')])],
    opts,
  );
  assert.equal(h.state, 'Failed');
  assert.match(h.message, /Pod shop\/db-1/);
});

function daemonSet(status: Record<string, unknown>) {
  return obj('apps/v1', 'DaemonSet', 'agent', { spec: {}, status }, 1);
}

test('a DaemonSet is Healthy when every scheduled pod is updated and available', () => {
  const ok = {
    observedGeneration: 1,
    desiredNumberScheduled: 3,
    updatedNumberScheduled: 3,
    numberAvailable: 3,
  };
  assert.equal(assessHealth([daemonSet(ok)], [], opts).state, 'Healthy');
  const updating = assessHealth([daemonSet({ ...ok, updatedNumberScheduled: 2 })], [], opts);
  assert.equal(updating.state, 'Progressing');
  assert.match(updating.message, /DaemonSet shop\/agent: 2 of 3 pods updated/);
  const unavailable = assessHealth([daemonSet({ ...ok, numberAvailable: 1 })], [], opts);
  assert.match(unavailable.message, /1 of 3 pods available/);
  const crash = assessHealth(
    [daemonSet(ok)],
    [pod('agent-x', { kind: 'DaemonSet', name: 'agent' }, [waiting('ImagePullBackOff')])],
    opts,
  );
  assert.equal(crash.state, 'Failed');
});

function job(conditions: unknown[], status: Record<string, unknown> = {}) {
  return obj('batch/v1', 'Job', 'migrate', { spec: {}, status: { conditions, ...status } });
}

test('a Job is Healthy when Complete and Failed when its Failed condition is True', () => {
  assert.equal(assessHealth([job([{ type: 'Complete', status: 'True' }])], [], opts).state, 'Healthy');
  const failed = assessHealth(
    [
      job([
        {
          type: 'Failed',
          status: 'True',
          reason: 'BackoffLimitExceeded',
          message: 'Job has reached the backoff limit',
        },
      ]),
    ],
    [],
    opts,
  );
  assert.equal(failed.state, 'Failed');
  assert.match(
    failed.message,
    /Job shop\/migrate: failed \(BackoffLimitExceeded: Job has reached the backoff limit\)/,
  );
});

test('a running Job is Progressing', () => {
  const h = assessHealth([job([], { active: 1 })], [], opts);
  assert.equal(h.state, 'Progressing');
  assert.match(h.message, /Job shop\/migrate: running \(1 active, 0 succeeded\)/);
});

test('a pod that exited non-zero with restartPolicy Never fails the workload', () => {
  const terminated = [{ name: 'app', state: { terminated: { exitCode: 2, reason: 'Error' } } }];
  const h = assessHealth(
    [job([], { active: 1 })],
    [pod('migrate-x', { kind: 'Job', name: 'migrate' }, terminated, 'Never')],
    opts,
  );
  assert.equal(h.state, 'Failed');
  assert.match(h.message, /Pod shop\/migrate-x: container app exited with code 2 \(Error\)/);
  const restarting = assessHealth(
    [job([], { active: 1 })],
    [pod('migrate-x', { kind: 'Job', name: 'migrate' }, terminated, 'OnFailure')],
    opts,
  );
  assert.equal(restarting.state, 'Progressing');
  const succeeded = assessHealth(
    [job([{ type: 'Complete', status: 'True' }])],
    [
      pod(
        'migrate-x',
        { kind: 'Job', name: 'migrate' },
        [{ name: 'app', state: { terminated: { exitCode: 0 } } }],
        'Never',
      ),
    ],
    opts,
  );
  assert.equal(succeeded.state, 'Healthy');
});

test('plain objects such as ConfigMaps and Services are Healthy when they exist', () => {
  const h = assessHealth(
    [obj('v1', 'ConfigMap', 'cfg'), obj('v1', 'Service', 'web'), obj('example.com/v1', 'Deployment', 'x')],
    [],
    opts,
  );
  assert.equal(h.state, 'Healthy');
  assert.equal(h.message, '3 objects healthy');
});

test('an object being deleted is Progressing', () => {
  const cm = obj('v1', 'ConfigMap', 'cfg');
  cm.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
  assert.equal(assessHealth([cm], [], opts).state, 'Progressing');
});

test('not healthy after the progress deadline has failed with progress deadline exceeded', () => {
  const d = deployment({ ...healthyDeploymentStatus, availableReplicas: 1 });
  const before = assessHealth([d], [], { ...opts, now: T0 + 599_999 });
  assert.equal(before.state, 'Progressing');
  const after = assessHealth([d], [], { ...opts, now: T0 + 600_000 });
  assert.equal(after.state, 'Failed');
  assert.match(
    after.message,
    /^progress deadline exceeded: not healthy 600s after apply: Deployment shop\/web/,
  );
  const healthy = assessHealth([deployment(healthyDeploymentStatus)], [], { ...opts, now: T0 + 10_000_000 });
  assert.equal(healthy.state, 'Healthy');
});

test('a failure names every failed object, summarising beyond three', () => {
  const pods = ['a', 'b', 'c', 'd', 'e'].map((s) =>
    pod(`web-1-${s}`, { kind: 'ReplicaSet', name: 'web-1' }, [waiting('CrashLoopBackOff')]),
  );
  const h = assessHealth([deployment(healthyDeploymentStatus)], pods, opts);
  assert.equal(h.state, 'Failed');
  assert.match(h.message, /web-1-a.*web-1-b.*web-1-c.*; and 2 more$/);
});

test('expectedObjectsPresent names the missing objects', () => {
  const expected = [
    obj('apps/v1', 'Deployment', 'web'),
    obj('v1', 'ConfigMap', 'cfg'),
    obj('v1', 'Service', 'web'),
  ];
  const live = [obj('apps/v1', 'Deployment', 'web'), obj('v1', 'Service', 'web')];
  const h = expectedObjectsPresent(expected, live);
  assert.equal(h.state, 'Progressing');
  assert.equal(h.message, 'ConfigMap shop/cfg: not found yet');
  assert.equal(expectedObjectsPresent(expected.slice(0, 1), live).state, 'Healthy');
});

test('expectedObjectsPresent matches by group, kind, namespace and name, not version', () => {
  const expected = [obj('autoscaling/v2', 'HorizontalPodAutoscaler', 'web')];
  assert.equal(
    expectedObjectsPresent(expected, [obj('autoscaling/v1', 'HorizontalPodAutoscaler', 'web')]).state,
    'Healthy',
  );
  const otherNs = obj('autoscaling/v2', 'HorizontalPodAutoscaler', 'web');
  otherNs.metadata.namespace = 'other';
  assert.equal(expectedObjectsPresent(expected, [otherNs]).state, 'Progressing');
  const unnamespaced: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' } };
  assert.equal(expectedObjectsPresent([unnamespaced], [obj('v1', 'ConfigMap', 'cfg')]).state, 'Healthy');
});

test('a missing expected object keeps the cluster Progressing until the deadline', () => {
  const expected = [obj('apps/v1', 'Deployment', 'web'), obj('v1', 'ConfigMap', 'cfg')];
  const live = [deployment(healthyDeploymentStatus)];
  const h = assessHealth(live, [], { ...opts, expected });
  assert.equal(h.state, 'Progressing');
  assert.match(h.message, /ConfigMap shop\/cfg: not found yet/);
  const late = assessHealth(live, [], { ...opts, expected, now: T0 + 601_000 });
  assert.equal(late.state, 'Failed');
  assert.equal(assessHealth(live, [], { ...opts, expected: expected.slice(0, 1) }).state, 'Healthy');
});
