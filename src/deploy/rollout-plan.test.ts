import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRollout, rollbackPolicy } from './rollout-plan.ts';
import type { ClusterObservation, PlanDecision, PlanInput } from './rollout-plan.ts';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const GOOD = { revision: 4, digest: 'sha256:good' };
const NEW = { revision: 5, digest: 'sha256:new' };
const FIX = { revision: 6, digest: 'sha256:fix' };

const healthy = { state: 'Healthy', message: 'all objects healthy' } as const;
const progressing = {
  state: 'Progressing',
  message: 'Deployment shop/web: 1 of 3 replicas updated',
} as const;
const crashing = {
  state: 'Failed',
  message: 'workload failed: Pod shop/web-1-x: container app is waiting: CrashLoopBackOff',
} as const;

/** A reachable cluster that runs `revision`, applied a minute before T0, with the given health. */
function on(revision: number, health: ClusterObservation['health'] = healthy): ClusterObservation {
  return { reachable: true, appliedRevision: revision, appliedAt: T0 - MIN, health };
}

const threeWaves = [
  { name: 'canary', clusters: ['eu-1'], pauseSeconds: 0 },
  { name: 'europe', clusters: ['eu-2', 'eu-3'], pauseSeconds: 0 },
  { name: 'rest', clusters: ['us-1'], pauseSeconds: 0 },
];

function input(overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    generation: 7,
    desired: NEW,
    lastGood: GOOD,
    waves: threeWaves,
    maxUnavailableClusters: 0,
    rollback: { automatic: true, when: ['AnyClusterFailed'] },
    mode: 'RollingOut',
    clusters: { 'eu-1': on(4), 'eu-2': on(4), 'eu-3': on(4), 'us-1': on(4) },
    now: T0,
    progressDeadlineSeconds: 600,
    ...overrides,
  };
}

function condition(d: PlanDecision, type: string) {
  const c = d.conditions.find((x) => x.type === type);
  assert.ok(c, `condition ${type}`);
  return c;
}

function applied(d: PlanDecision): string[] {
  return d.apply.map((a) => `${a.cluster}@${a.revision}`);
}

// --- rolling out ---------------------------------------------------------------------------

test('a Parallel rollout applies desired to every cluster at once', () => {
  const d = planRollout(
    input({ waves: [{ name: 'all', clusters: ['eu-1', 'eu-2', 'eu-3', 'us-1'], pauseSeconds: 0 }] }),
  );
  assert.deepEqual(applied(d), ['eu-1@5', 'eu-2@5', 'eu-3@5', 'us-1@5']);
  assert.equal(d.phase, 'Progressing');
  assert.equal(d.mode, 'RollingOut');
  assert.equal(d.currentWave, 'all');
});

test('a new revision goes to the first wave only', () => {
  const d = planRollout(input());
  assert.deepEqual(applied(d), ['eu-1@5']);
  assert.equal(d.currentWave, 'canary');
  assert.equal(d.phase, 'Progressing');
  assert.equal(condition(d, 'Progressing').status, 'True');
  assert.equal(condition(d, 'Ready').status, 'False');
  assert.deepEqual(d.clusterPhases['eu-2'], {
    phase: 'Pending',
    revision: 4,
    message: 'runs revision 4; revision 5 not applied yet',
  });
});

test('starts wave 2 only when wave 1 is Healthy', () => {
  const waiting = planRollout(input({ clusters: { ...input().clusters, 'eu-1': on(5, progressing) } }));
  assert.deepEqual(applied(waiting), []);
  assert.equal(waiting.currentWave, 'canary');
  assert.match(
    condition(waiting, 'Progressing').message,
    /waiting for wave canary to be healthy before wave europe/,
  );
  assert.deepEqual(waiting.clusterPhases['eu-1'], {
    phase: 'Progressing',
    revision: 5,
    message: progressing.message,
  });

  const next = planRollout(input({ clusters: { ...input().clusters, 'eu-1': on(5) } }));
  assert.deepEqual(applied(next), ['eu-2@5', 'eu-3@5']);
  assert.equal(next.currentWave, 'europe');
});

test('a later wave starts only when every cluster of every earlier wave is Healthy', () => {
  const clusters = { 'eu-1': on(5), 'eu-2': on(5), 'eu-3': on(5, progressing), 'us-1': on(4) };
  assert.deepEqual(applied(planRollout(input({ clusters }))), []);
  const d = planRollout(input({ clusters: { ...clusters, 'eu-3': on(5) } }));
  assert.deepEqual(applied(d), ['us-1@5']);
  assert.equal(d.currentWave, 'rest');
});

test('a wave already on desired is not applied again', () => {
  const d = planRollout(
    input({ clusters: { ...input().clusters, 'eu-1': on(5), 'eu-2': on(5, progressing) } }),
  );
  assert.deepEqual(applied(d), ['eu-3@5']);
});

test('waits pauseSeconds after a wave is healthy before starting the next', () => {
  const waves = [{ ...threeWaves[0]!, pauseSeconds: 300 }, threeWaves[1]!, threeWaves[2]!];
  const clusters = { ...input().clusters, 'eu-1': on(5) };
  const first = planRollout(input({ waves, clusters }));
  assert.deepEqual(applied(first), []);
  assert.deepEqual(first.waveHealthySince, { canary: T0 });
  assert.equal(first.recheckAt, T0 + 300_000);
  assert.match(
    condition(first, 'Progressing').message,
    /wave canary is healthy; pausing 300s before wave europe \(300s left\)/,
  );

  const during = planRollout(
    input({ waves, clusters, now: T0 + 299_000, waveHealthySince: first.waveHealthySince }),
  );
  assert.deepEqual(applied(during), []);
  assert.match(condition(during, 'Progressing').message, /\(1s left\)/);

  const after = planRollout(
    input({ waves, clusters, now: T0 + 300_000, waveHealthySince: first.waveHealthySince }),
  );
  assert.deepEqual(applied(after), ['eu-2@5', 'eu-3@5']);
  assert.deepEqual(after.waveHealthySince, { canary: T0 });
});

test('the pause starts over when a wave stops being healthy during it', () => {
  const waves = [{ ...threeWaves[0]!, pauseSeconds: 300 }, threeWaves[1]!, threeWaves[2]!];
  const flapped = planRollout(
    input({
      waves,
      clusters: { ...input().clusters, 'eu-1': on(5, progressing) },
      now: T0 + 200_000,
      waveHealthySince: { canary: T0 },
    }),
  );
  assert.deepEqual(flapped.waveHealthySince, {});
  const again = planRollout(
    input({
      waves,
      clusters: { ...input().clusters, 'eu-1': on(5) },
      now: T0 + 400_000,
      waveHealthySince: {},
    }),
  );
  assert.deepEqual(applied(again), []);
  assert.equal(again.recheckAt, T0 + 700_000);
});

test('maxUnavailableClusters lets the next wave start with one cluster still progressing', () => {
  const clusters = { 'eu-1': on(5), 'eu-2': on(5, progressing), 'eu-3': on(5), 'us-1': on(4) };
  assert.deepEqual(applied(planRollout(input({ clusters }))), []);
  const d = planRollout(input({ clusters, maxUnavailableClusters: 1 }));
  assert.deepEqual(applied(d), ['us-1@5']);
  const two = { ...clusters, 'eu-3': on(5, progressing) };
  assert.deepEqual(applied(planRollout(input({ clusters: two, maxUnavailableClusters: 1 }))), []);
});

test('maxUnavailableClusters does not let a wave start before the earlier waves received desired', () => {
  const d = planRollout(input({ maxUnavailableClusters: 5 }));
  assert.deepEqual(applied(d), ['eu-1@5']);
});

test('maxUnavailableClusters never lets a Failed cluster through', () => {
  const clusters = { 'eu-1': on(5, crashing), 'eu-2': on(4), 'eu-3': on(4), 'us-1': on(4) };
  const d = planRollout(
    input({ clusters, maxUnavailableClusters: 3, rollback: { automatic: false, when: [] } }),
  );
  assert.deepEqual(applied(d), []);
  assert.equal(d.phase, 'Failed');
});

test('placed clusters that no wave names roll out in a final wave', () => {
  const waves = [{ name: 'canary', clusters: ['eu-1', 'gone-1'], pauseSeconds: 0 }];
  const d = planRollout(input({ waves, clusters: { ...input().clusters, 'eu-1': on(5) } }));
  assert.deepEqual(applied(d), ['eu-2@5', 'eu-3@5', 'us-1@5']);
  assert.equal(d.currentWave, 'rest');
  assert.equal(d.clusterPhases['gone-1'], undefined);
});

test('Healthy everywhere on desired makes the Application Healthy and desired the last good revision', () => {
  const clusters = { 'eu-1': on(5), 'eu-2': on(5), 'eu-3': on(5), 'us-1': on(5) };
  const d = planRollout(input({ clusters }));
  assert.equal(d.phase, 'Healthy');
  assert.deepEqual(d.newLastGood, NEW);
  assert.deepEqual(d.apply, []);
  assert.equal(d.currentWave, undefined);
  assert.deepEqual(condition(d, 'Ready'), {
    type: 'Ready',
    status: 'True',
    reason: 'Healthy',
    message: 'revision 5 is healthy in all 4 clusters',
    observedGeneration: 7,
  });
  assert.equal(condition(d, 'Progressing').status, 'False');
});

test('the first rollout of an Application becomes the last good revision when Healthy', () => {
  const clusters = { 'eu-1': on(5), 'eu-2': on(5), 'eu-3': on(5), 'us-1': on(5) };
  const d = planRollout(input({ clusters, lastGood: undefined }));
  assert.deepEqual(d.newLastGood, NEW);
});

test('conditions always come as Ready, Progressing, RolledBack, Stalled with the generation', () => {
  for (const d of [planRollout(input()), planRollout(input({ clusters: {} }))]) {
    assert.deepEqual(
      d.conditions.map((c) => c.type),
      ['Ready', 'Progressing', 'RolledBack', 'Stalled'],
    );
    assert.ok(d.conditions.every((c) => c.observedGeneration === 7));
  }
});

// --- failures and rollback -----------------------------------------------------------------

test('rolls every cluster back when wave 2 fails', () => {
  const clusters = { 'eu-1': on(5), 'eu-2': on(5, crashing), 'eu-3': on(5, progressing), 'us-1': on(4) };
  const d = planRollout(input({ clusters }));
  assert.equal(d.mode, 'RollingBack');
  assert.equal(d.phase, 'RollingBack');
  // All at once, no waves: canary and europe go back; us-1 never left revision 4.
  assert.deepEqual(applied(d), ['eu-1@4', 'eu-2@4', 'eu-3@4']);
  assert.equal(d.blockDigest, NEW.digest);
  assert.equal(d.rollbackCause, `revision 5 failed in cluster eu-2: ${crashing.message}`);
  assert.equal(d.clusterPhases['eu-2']?.phase, 'Failed');
  assert.match(d.clusterPhases['eu-2']?.message ?? '', /CrashLoopBackOff; rolling back to revision 4/);
  assert.equal(d.clusterPhases['eu-1']?.phase, 'Progressing');
  assert.equal(d.clusterPhases['us-1']?.phase, 'Pending');
  assert.equal(condition(d, 'Progressing').reason, 'RollingBack');
  assert.match(
    condition(d, 'Ready').message,
    /rolling back every cluster to revision 4: revision 5 failed in cluster eu-2/,
  );
  assert.deepEqual(d.waveHealthySince, {});
});

test('a rollback names every failed cluster in its cause', () => {
  const clusters = {
    'eu-1': on(5),
    'eu-2': on(5, crashing),
    'eu-3': { ...on(5), applyError: 'admission webhook denied' },
  };
  const d = planRollout(input({ clusters: { ...clusters, 'us-1': on(4) } }));
  assert.equal(
    d.rollbackCause,
    `revision 5 failed in cluster eu-2: ${crashing.message}; revision 5 failed in cluster eu-3: apply of revision 5 failed: admission webhook denied`,
  );
});

test('an apply error on desired counts as a failure and rolls back', () => {
  const d = planRollout(
    input({ clusters: { ...input().clusters, 'eu-1': { ...on(5), applyError: 'forbidden' } } }),
  );
  assert.equal(d.mode, 'RollingBack');
  assert.deepEqual(applied(d), ['eu-1@4']);
  assert.match(d.rollbackCause ?? '', /cluster eu-1: apply of revision 5 failed: forbidden/);
});

test('a cluster still Progressing past the progress deadline has failed and rolls back', () => {
  const clusters = { ...input().clusters, 'eu-1': { ...on(5, progressing), appliedAt: T0 - 600_000 } };
  const d = planRollout(input({ clusters }));
  assert.equal(d.mode, 'RollingBack');
  assert.match(d.rollbackCause ?? '', /cluster eu-1: progress deadline exceeded: Deployment shop\/web/);
  const early = planRollout(
    input({ clusters: { ...clusters, 'eu-1': { ...on(5, progressing), appliedAt: T0 - 599_000 } } }),
  );
  assert.equal(early.phase, 'Progressing');
  assert.equal(early.recheckAt, T0 + 1000);
});

test('a restart in a cluster whose rollout was Healthy is Progressing, never a failure, past the deadline', () => {
  // The canary finished long ago (a wave pause longer than the deadline); someone restarts it.
  const restarted: ClusterObservation = { ...on(5, progressing), appliedAt: T0 - 3_600_000, rolledOut: true };
  const d = planRollout(input({ clusters: { ...input().clusters, 'eu-1': restarted } }));
  assert.equal(d.mode, 'RollingOut');
  assert.equal(d.blockDigest, undefined);
  assert.equal(d.clusterPhases['eu-1']?.phase, 'Progressing');
  assert.match(d.clusterPhases['eu-1']?.message ?? '', /not held to its deadline/);
  // The workload's own failure still fails it.
  const crashed = planRollout(
    input({ clusters: { ...input().clusters, 'eu-1': { ...restarted, health: crashing } } }),
  );
  assert.equal(crashed.mode, 'RollingBack');
});

test('treats an unreachable cluster as not healthy and fails it after the deadline', () => {
  const silent: ClusterObservation = { ...on(5, healthy), reachable: false };
  const waiting = planRollout(input({ clusters: { ...input().clusters, 'eu-1': silent } }));
  assert.equal(waiting.phase, 'Progressing');
  assert.deepEqual(applied(waiting), []);
  assert.equal(waiting.clusterPhases['eu-1']?.phase, 'Progressing');
  assert.match(waiting.clusterPhases['eu-1']?.message ?? '', /unreachable/);
  assert.equal(waiting.recheckAt, T0 - MIN + 600_000);

  const late = planRollout(
    input({ clusters: { ...input().clusters, 'eu-1': silent }, now: T0 - MIN + 600_000 }),
  );
  assert.equal(late.mode, 'RollingBack');
  assert.deepEqual(applied(late), ['eu-1@4']);
  assert.match(
    late.rollbackCause ?? '',
    /cluster eu-1: cluster unreachable 600s after revision 5 was applied/,
  );
});

test('an unreachable cluster is never counted Healthy, even when everything else is', () => {
  const clusters = { 'eu-1': on(5), 'eu-2': on(5), 'eu-3': on(5), 'us-1': { ...on(5), reachable: false } };
  const d = planRollout(input({ clusters }));
  assert.equal(d.phase, 'Progressing');
  assert.equal(d.newLastGood, undefined);
});

test('an unreachable cluster is waited for despite an apply error until the deadline', () => {
  const d = planRollout(
    input({
      clusters: {
        ...input().clusters,
        'eu-1': { ...on(5), reachable: false, applyError: 'connection refused' },
      },
    }),
  );
  assert.equal(d.phase, 'Progressing');
});

test('a cluster whose health is unknown is not healthy and fails after the deadline', () => {
  const unknown: ClusterObservation = { reachable: true, appliedRevision: 5, appliedAt: T0 - MIN };
  const d = planRollout(input({ clusters: { ...input().clusters, 'eu-1': unknown } }));
  assert.equal(d.phase, 'Progressing');
  assert.equal(d.clusterPhases['eu-1']?.message, 'health not known yet');
  const late = planRollout(input({ clusters: { ...input().clusters, 'eu-1': unknown }, now: T0 + 600_000 }));
  assert.equal(late.mode, 'RollingBack');
});

test('without automatic rollback a failure stops the rollout in phase Failed', () => {
  const clusters = { 'eu-1': on(5), 'eu-2': on(5, crashing), 'eu-3': on(4), 'us-1': on(4) };
  const d = planRollout(input({ clusters, rollback: { automatic: false, when: ['AnyClusterFailed'] } }));
  assert.equal(d.phase, 'Failed');
  assert.equal(d.mode, 'RollingOut');
  assert.deepEqual(d.apply, []);
  assert.equal(d.blockDigest, undefined);
  assert.equal(d.rollbackCause, undefined);
  const stalled = condition(d, 'Stalled');
  assert.equal(stalled.status, 'True');
  assert.equal(stalled.reason, 'RolloutFailed');
  assert.match(stalled.message, /revision 5 failed in cluster eu-2: .*automatic rollback is off/);
  assert.equal(d.clusterPhases['eu-2']?.phase, 'Failed');
});

test('automatic rollback without the AnyClusterFailed trigger stops in Failed too', () => {
  const clusters = { ...input().clusters, 'eu-1': on(5, crashing) };
  const d = planRollout(input({ clusters, rollback: { automatic: true, when: [] } }));
  assert.equal(d.phase, 'Failed');
  assert.deepEqual(d.apply, []);
});

test('no last good revision: failure ends in Failed', () => {
  const fresh: ClusterObservation = { reachable: true };
  const clusters = { 'eu-1': on(5, crashing), 'eu-2': fresh, 'eu-3': fresh, 'us-1': fresh };
  const d = planRollout(input({ clusters, lastGood: undefined }));
  assert.equal(d.phase, 'Failed');
  assert.equal(d.mode, 'RollingOut');
  assert.deepEqual(d.apply, []);
  assert.equal(d.blockDigest, undefined);
  const stalled = condition(d, 'Stalled');
  assert.equal(stalled.status, 'True');
  assert.equal(stalled.reason, 'NoRollbackTarget');
  assert.match(stalled.message, /nothing to roll back to/);
});

test('a rollback in progress waits for every cluster to be Healthy on the last good revision', () => {
  const clusters = { 'eu-1': on(4, progressing), 'eu-2': on(4), 'eu-3': on(4), 'us-1': on(4) };
  const d = planRollout(
    input({
      clusters,
      mode: 'RollingBack',
      blockedDigest: NEW.digest,
      rollbackCause: 'revision 5 failed in cluster eu-2: x',
    }),
  );
  assert.equal(d.phase, 'RollingBack');
  assert.equal(d.mode, 'RollingBack');
  assert.deepEqual(d.apply, []);
  assert.equal(d.blockDigest, undefined);
  assert.equal(condition(d, 'RolledBack').status, 'False');
  assert.match(
    condition(d, 'Progressing').message,
    /rolling back to revision 4 \(3\/4 clusters healthy; waiting for eu-1\): revision 5 failed in cluster eu-2: x/,
  );
});

test('a rollback is done when every cluster is Healthy on the last good revision', () => {
  const clusters = { 'eu-1': on(4), 'eu-2': on(4), 'eu-3': on(4), 'us-1': on(4) };
  const cause = `revision 5 failed in cluster eu-2: ${crashing.message}`;
  const d = planRollout(
    input({ clusters, mode: 'RollingBack', blockedDigest: NEW.digest, rollbackCause: cause }),
  );
  assert.equal(d.phase, 'RolledBack');
  assert.equal(d.mode, 'RollingBack');
  assert.deepEqual(d.apply, []);
  const rolledBack = condition(d, 'RolledBack');
  assert.equal(rolledBack.status, 'True');
  assert.equal(rolledBack.message, `rolled back to revision 4: ${cause}`);
  assert.equal(condition(d, 'Ready').status, 'False');
  assert.equal(condition(d, 'Stalled').status, 'True');
  assert.equal(d.newLastGood, undefined);
});

test('does not roll forward to a rolled-back digest until the spec changes', () => {
  const clusters = { 'eu-1': on(4), 'eu-2': on(4), 'eu-3': on(4), 'us-1': on(4) };
  // The controller restarted and lost nothing but the mode: the digest alone holds the fleet.
  for (const mode of ['RollingBack', 'RollingOut'] as const) {
    const held = planRollout(input({ clusters, mode, blockedDigest: NEW.digest }));
    assert.equal(held.phase, 'RolledBack', mode);
    assert.deepEqual(held.apply, [], mode);
    assert.match(
      condition(held, 'Progressing').message,
      /revision 5 is not rolled out again until the spec changes/,
    );
  }
  const fixed = planRollout(
    input({ clusters, mode: 'RollingBack', blockedDigest: NEW.digest, desired: FIX }),
  );
  assert.equal(fixed.mode, 'RollingOut');
  assert.equal(fixed.phase, 'Progressing');
  assert.deepEqual(applied(fixed), ['eu-1@6']);
});

test('re-applies the last good revision to a cluster that drifted off it while rolled back', () => {
  const clusters = { 'eu-1': on(4), 'eu-2': on(5), 'eu-3': on(4), 'us-1': on(4) };
  const d = planRollout(input({ clusters, mode: 'RollingBack', blockedDigest: NEW.digest }));
  assert.deepEqual(applied(d), ['eu-2@4']);
  assert.equal(d.phase, 'RollingBack');
  assert.deepEqual(d.clusterPhases['eu-2'], {
    phase: 'Pending',
    revision: 5,
    message: 'rolling back to revision 4',
  });
});

test('a failed rollback apply is retried', () => {
  const clusters = {
    'eu-1': { ...on(4), applyError: 'timeout' },
    'eu-2': on(4, progressing),
    'eu-3': on(4),
    'us-1': on(4),
  };
  const d = planRollout(input({ clusters, mode: 'RollingBack', blockedDigest: NEW.digest }));
  assert.deepEqual(applied(d), ['eu-1@4']);
  assert.equal(d.phase, 'RollingBack');
});

test('a rollback that cannot become healthy settles in Failed', () => {
  const clusters = { 'eu-1': on(4, crashing), 'eu-2': on(4), 'eu-3': on(4), 'us-1': on(4) };
  const d = planRollout(input({ clusters, mode: 'RollingBack', blockedDigest: NEW.digest }));
  assert.equal(d.phase, 'Failed');
  assert.equal(condition(d, 'Stalled').reason, 'RollbackFailed');
  assert.match(
    condition(d, 'Stalled').message,
    /rollback to revision 4 failed: revision 4 failed in cluster eu-1/,
  );
});

test('a spec change during a rollback waits for the rollback to finish', () => {
  const clusters = { 'eu-1': on(4, progressing), 'eu-2': on(5), 'eu-3': on(4), 'us-1': on(4) };
  const d = planRollout(input({ clusters, mode: 'RollingBack', blockedDigest: NEW.digest, desired: FIX }));
  assert.equal(d.mode, 'RollingBack');
  assert.equal(d.phase, 'RollingBack');
  assert.deepEqual(applied(d), ['eu-2@4']);
});

test('the apply list is ordered by wave, then cluster name', () => {
  const waves = [
    { name: 'first', clusters: ['zz-1'], pauseSeconds: 0 },
    { name: 'second', clusters: ['bb-1', 'aa-1'], pauseSeconds: 0 },
  ];
  const clusters = { 'aa-1': on(5, crashing), 'bb-1': on(5), 'zz-1': on(5) };
  assert.deepEqual(applied(planRollout(input({ waves, clusters }))), ['zz-1@4', 'aa-1@4', 'bb-1@4']);
});

// --- placement changes and steady state ----------------------------------------------------

test('a cluster joining the placement gets the current revision', () => {
  const fresh: ClusterObservation = { reachable: true };
  // Mid-rollout, in the wave being rolled out: desired.
  const rolling = planRollout(
    input({
      waves: [{ name: 'canary', clusters: ['eu-1', 'new-1'], pauseSeconds: 0 }, ...threeWaves.slice(1)],
      clusters: { ...input().clusters, 'eu-1': on(5, progressing), 'new-1': fresh },
    }),
  );
  assert.deepEqual(applied(rolling), ['new-1@5']);
  assert.deepEqual(rolling.clusterPhases['new-1'], {
    phase: 'Pending',
    message: 'revision 5 not applied yet',
  });
  // Rolled back: the last good revision.
  const back = planRollout(
    input({
      mode: 'RollingBack',
      blockedDigest: NEW.digest,
      clusters: { ...input().clusters, 'new-1': fresh },
    }),
  );
  assert.deepEqual(applied(back), ['new-1@4']);
  // Healthy everywhere before: desired, right away.
  const steady = planRollout(
    input({
      desired: GOOD,
      clusters: { ...input().clusters, 'new-1': fresh },
    }),
  );
  assert.deepEqual(applied(steady), ['new-1@4']);
  assert.equal(steady.phase, 'Progressing');
});

test('a cluster joining a later wave waits for its wave', () => {
  const d = planRollout(
    input({ clusters: { ...input().clusters, 'eu-1': on(5, progressing), 'us-2': { reachable: true } } }),
  );
  assert.deepEqual(applied(d), []);
  assert.equal(d.clusterPhases['us-2']?.phase, 'Pending');
});

test('Degraded when desired was Healthy everywhere before but a cluster is not now', () => {
  const clusters = { 'eu-1': on(4), 'eu-2': on(4, crashing), 'eu-3': on(4), 'us-1': on(4, progressing) };
  const d = planRollout(input({ desired: GOOD, clusters }));
  assert.equal(d.phase, 'Degraded');
  assert.equal(d.mode, 'RollingOut');
  assert.deepEqual(d.apply, []);
  assert.equal(d.blockDigest, undefined);
  assert.equal(d.newLastGood, undefined);
  assert.equal(d.clusterPhases['eu-2']?.phase, 'Failed');
  assert.equal(d.clusterPhases['us-1']?.phase, 'Degraded');
  assert.match(condition(d, 'Ready').message, /cluster eu-2: workload failed.*cluster us-1: Deployment/);
});

test('Degraded when a cluster that was healthy becomes unreachable, and no rollback starts', () => {
  const clusters = { 'eu-1': on(4), 'eu-2': on(4), 'eu-3': on(4), 'us-1': { ...on(4), reachable: false } };
  const d = planRollout(input({ desired: GOOD, clusters, now: T0 + 3_600_000 }));
  assert.equal(d.phase, 'Degraded');
  assert.equal(d.mode, 'RollingOut');
  assert.deepEqual(d.apply, []);
});

test('a failed re-apply of a healthy revision is retried without a rollback', () => {
  const clusters = { ...input().clusters, 'eu-1': { ...on(4), applyError: 'conflict' } };
  const d = planRollout(input({ desired: GOOD, clusters }));
  assert.equal(d.phase, 'Degraded');
  assert.deepEqual(applied(d), ['eu-1@4']);
});

test('Healthy and steady: nothing to apply and no new last good revision', () => {
  const d = planRollout(input({ desired: GOOD }));
  assert.equal(d.phase, 'Healthy');
  assert.deepEqual(d.apply, []);
  assert.equal(d.newLastGood, undefined);
  assert.equal(condition(d, 'Ready').status, 'True');
});

test('no placed cluster is Progressing, waiting for clusters', () => {
  const d = planRollout(input({ clusters: {} }));
  assert.equal(d.phase, 'Progressing');
  assert.deepEqual(d.apply, []);
  assert.equal(condition(d, 'Ready').reason, 'NoClusters');
  assert.equal(d.newLastGood, undefined);
});

test('a rolled-back digest with no last good revision is Failed and applies nothing', () => {
  const d = planRollout(input({ lastGood: undefined, blockedDigest: NEW.digest, mode: 'RollingBack' }));
  assert.equal(d.phase, 'Failed');
  assert.deepEqual(d.apply, []);
  assert.equal(condition(d, 'Stalled').status, 'True');
});

test('the decision is deterministic and leaves its input untouched', () => {
  const frozen = structuredClone(
    input({ clusters: { 'eu-1': on(5), 'eu-2': on(5, crashing), 'eu-3': on(4), 'us-1': on(4) } }),
  );
  deepFreeze(frozen);
  assert.deepEqual(planRollout(frozen), planRollout(structuredClone(frozen)));
});

test('the cluster order in the input does not change the decision', () => {
  const a = input({ clusters: { 'us-1': on(4), 'eu-3': on(5), 'eu-1': on(5), 'eu-2': on(5, progressing) } });
  const b = input({ clusters: { 'eu-1': on(5), 'eu-2': on(5, progressing), 'eu-3': on(5), 'us-1': on(4) } });
  assert.deepEqual(planRollout(a), planRollout(b));
});

test('rollbackPolicy defaults to automatic rollback when any cluster fails', () => {
  assert.deepEqual(rollbackPolicy(undefined), { automatic: true, when: ['AnyClusterFailed'] });
  assert.deepEqual(rollbackPolicy({ automatic: false }), { automatic: false, when: ['AnyClusterFailed'] });
  assert.deepEqual(rollbackPolicy({ when: [] }), { automatic: true, when: [] });
});

function deepFreeze(o: unknown): void {
  if (typeof o !== 'object' || o === null) return;
  Object.freeze(o);
  for (const v of Object.values(o)) deepFreeze(v);
}

test('a cluster that went unreachable after its rollout was Healthy is waited for past the deadline, no rollback', () => {
  const clusters = {
    ...input().clusters,
    'eu-1': { ...on(5), reachable: false, rolledOut: true },
  };
  const d = planRollout(input({ clusters, now: T0 + 3_600_000 }));
  assert.equal(d.mode, 'RollingOut');
  assert.notEqual(d.clusterPhases['eu-1']?.phase, 'Failed');
  assert.match(d.clusterPhases['eu-1']?.message ?? '', /unreachable.*not held to its deadline/);
  // The same outage before the rollout was Healthy there still fails it at the deadline.
  const early = planRollout(
    input({ clusters: { ...clusters, 'eu-1': { ...on(5), reachable: false } }, now: T0 + 3_600_000 }),
  );
  assert.equal(early.clusterPhases['eu-1']?.phase, 'Failed');
});
