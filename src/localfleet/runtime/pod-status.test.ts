import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PodObject } from './pod-object.ts';
import { podStatus, type ContainerView } from './pod-status.ts';

const NOW = '2026-01-01T00:00:10Z';
const pod = (annotations: Record<string, string> = {}, restartPolicy?: 'Never'): PodObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'n', uid: 'u', annotations },
  spec: {
    containers: [{ name: 'c', image: 'meridian.local/x' }],
    ...(restartPolicy ? { restartPolicy } : {}),
  },
  status: {
    podIP: '10.1.0.1',
    conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: '2026-01-01T00:00:00Z' }],
  },
});
const view = (v: Partial<ContainerView>): ContainerView => ({
  name: 'c',
  image: 'meridian.local/x',
  state: { running: { startedAt: NOW } },
  lastState: {},
  restartCount: 0,
  ready: true,
  started: true,
  ...v,
});
const cond = (s: ReturnType<typeof podStatus>, type: string) => s.conditions!.find((c) => c.type === type)!;

test('a running, ready container makes the pod Running and Ready', () => {
  const s = podStatus(pod(), [view({})], NOW);
  assert.equal(s.phase, 'Running');
  assert.equal(cond(s, 'Ready').status, 'True');
  assert.equal(cond(s, 'Ready').lastTransitionTime, NOW);
  assert.equal(s.containerStatuses![0]!.ready, true);
});

test('an unready container makes the pod NotReady, naming it; the transition time is kept', () => {
  const s = podStatus(pod(), [view({ ready: false })], NOW);
  assert.equal(cond(s, 'Ready').status, 'False');
  assert.equal(cond(s, 'Ready').message, 'containers with unready status: [c]');
  assert.equal(cond(s, 'Ready').lastTransitionTime, '2026-01-01T00:00:00Z');
});

test('the simulate annotation takes a ready pod out of Ready', () => {
  const s = podStatus(pod({ 'meridian.dev/simulate': 'not-ready' }), [view({})], NOW);
  assert.equal(cond(s, 'ContainersReady').status, 'True');
  assert.equal(cond(s, 'Ready').status, 'False');
});

test('never started is Pending; crash looping is Running with the restart count', () => {
  assert.equal(
    podStatus(
      pod(),
      [view({ started: false, ready: false, state: { waiting: { reason: 'ContainerCreating' } } })],
      NOW,
    ).phase,
    'Pending',
  );
  const s = podStatus(
    pod(),
    [
      view({
        started: false,
        ready: false,
        restartCount: 2,
        state: { waiting: { reason: 'CrashLoopBackOff' } },
      }),
    ],
    NOW,
  );
  assert.equal(s.phase, 'Running');
  assert.equal(s.containerStatuses![0]!.restartCount, 2);
});

test('a container that stopped for good ends the pod Succeeded or Failed by its exit code', () => {
  const done = (code: number) =>
    podStatus(
      pod({}, 'Never'),
      [
        view({
          ready: false,
          started: false,
          finalExitCode: code,
          state: { terminated: { exitCode: code } },
        }),
      ],
      NOW,
    );
  assert.equal(done(0).phase, 'Succeeded');
  assert.equal(done(1).phase, 'Failed');
  assert.equal(cond(done(0), 'Ready').reason, 'PodCompleted');
});

test('a Running pod does not go back to Pending while its container starts again', () => {
  const p = pod();
  p.status!.phase = 'Running';
  const s = podStatus(
    p,
    [view({ started: false, ready: false, state: { waiting: { reason: 'ContainerCreating' } } })],
    NOW,
  );
  assert.equal(s.phase, 'Running');
});
