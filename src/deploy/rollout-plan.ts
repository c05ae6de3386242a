// The rollout state machine: from the desired revision, the last good one and what every cluster
// runs and how healthy it is, decide what to apply where and which phase the Application is in.
// Level-triggered and pure: the same input always gives the same decision, so a controller may
// restart at any point and converge. Rollback is fleet-wide: when any cluster fails on the new
// revision, every cluster goes back to the last revision that was Healthy everywhere.
import type { ApplicationPhase, ClusterPhase, Rollback, RollbackTrigger } from '../api/application.ts';
import type { WorkloadHealth } from './types.ts';
import { REST_WAVE } from './waves.ts';
import type { PlannedWave } from './waves.ts';

/** A rendered revision: its number and the digest of its content. */
export interface RevisionRef {
  readonly revision: number;
  readonly digest: string;
}

export type RolloutMode = 'RollingOut' | 'RollingBack';

/** What the controller observed of the Application in one placed cluster. */
export interface ClusterObservation {
  readonly reachable: boolean;
  /**
   * The revision last applied there, or attempted: a failed server-side apply may have changed
   * some objects, so the cluster counts as having received it.
   */
  readonly appliedRevision?: number;
  /** When that apply (or attempt) happened, ms since the epoch; starts the progress deadline. */
  readonly appliedAt?: number;
  /** Set when that apply failed. */
  readonly applyError?: string;
  /** Health of what is applied; undefined when unknown (e.g. unreachable, cache not synced). */
  readonly health?: WorkloadHealth;
}

export interface PlanInput {
  /** Application metadata.generation; copied to the conditions' observedGeneration. */
  readonly generation: number;
  /** The revision the spec renders to now. */
  readonly desired: RevisionRef;
  /** The last revision that was Healthy everywhere: the rollback target. */
  readonly lastGood?: RevisionRef;
  /** Digest of a revision that was rolled back: not rolled forward to again until the spec changes. */
  readonly blockedDigest?: string;
  /** Waves in order (from planWaves); placed clusters no wave names are treated as a last wave. */
  readonly waves: readonly PlannedWave[];
  /** Clusters of earlier waves allowed to be not Healthy (but never Failed) when a wave starts. */
  readonly maxUnavailableClusters: number;
  readonly rollback: { readonly automatic: boolean; readonly when: readonly RollbackTrigger[] };
  /** Current mode, from status. */
  readonly mode: RolloutMode;
  /** Every placed cluster, by name. */
  readonly clusters: Readonly<Record<string, ClusterObservation>>;
  /** Now, ms since the epoch. */
  readonly now: number;
  /** When each wave became healthy (ms), as returned by the previous decision; drives pauseSeconds. */
  readonly waveHealthySince?: Readonly<Record<string, number>>;
  /** spec.rollout.progressDeadlineSeconds; bounds how long an unreachable cluster is waited for. */
  readonly progressDeadlineSeconds?: number;
  /** The cause recorded when the current rollback started, for messages while it runs. */
  readonly rollbackCause?: string;
}

export interface ClusterPlan {
  readonly phase: ClusterPhase;
  /** The revision applied there. */
  readonly revision?: number;
  readonly message: string;
}

export type PlanConditionType = 'Ready' | 'Progressing' | 'RolledBack' | 'Stalled';

export interface PlanCondition {
  readonly type: PlanConditionType;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration: number;
}

export interface PlanDecision {
  /** Apply these now (idempotent; empty when waiting), ordered by wave then cluster name. */
  readonly apply: { readonly cluster: string; readonly revision: number }[];
  readonly mode: RolloutMode;
  readonly phase: ApplicationPhase;
  readonly clusterPhases: Record<string, ClusterPlan>;
  /** Set when desired became Healthy everywhere. */
  readonly newLastGood?: RevisionRef;
  /** Set when a rollback starts: the digest not to roll forward to again. */
  readonly blockDigest?: string;
  /** Set when a rollback starts: which clusters failed and why. */
  readonly rollbackCause?: string;
  /** The wave being rolled out. */
  readonly currentWave?: string;
  /** Ready, Progressing, RolledBack and Stalled, always all four, in that order. */
  readonly conditions: PlanCondition[];
  /** When each wave became healthy: store it and pass it back as `waveHealthySince`. */
  readonly waveHealthySince: Record<string, number>;
  /** The earliest time (ms) the decision changes with no new observation (a pause or deadline ends). */
  readonly recheckAt?: number;
}

export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

/** spec.rollback with its defaults: automatic, on any cluster failing. */
export function rollbackPolicy(rollback: Rollback | undefined): PlanInput['rollback'] {
  return {
    automatic: rollback?.automatic ?? true,
    when: rollback?.when ?? ['AnyClusterFailed'],
  };
}

/** Where one cluster stands with respect to a target revision. */
type Standing =
  | { readonly state: 'Pending'; readonly message: string }
  | { readonly state: 'Progressing'; readonly message: string; readonly deadlineAt?: number }
  | { readonly state: 'Healthy'; readonly message: string }
  | { readonly state: 'Failed'; readonly message: string };

interface Context {
  readonly input: PlanInput;
  /** Waves restricted to the placed clusters, every placed cluster in exactly one. */
  readonly waves: readonly PlannedWave[];
  /** Placed cluster names in wave order, then by name. */
  readonly ordered: readonly string[];
  readonly deadlineSeconds: number;
  readonly cause?: string;
}

type ConditionSpec = readonly [status: PlanCondition['status'], reason: string, message: string];

/** Decides what to apply where and the Application's phase. Total and deterministic. */
export function planRollout(input: PlanInput): PlanDecision {
  const ctx = context(input);
  const { desired, lastGood } = input;
  const blocked = input.blockedDigest !== undefined && input.blockedDigest === desired.digest;

  if (ctx.ordered.length === 0) return noClusters(ctx);
  if (lastGood && (blocked || input.mode === 'RollingBack')) {
    const back = holdOnLastGood(ctx, lastGood, blocked);
    if (back) return back;
  }
  if (blocked) return blockedWithoutTarget(ctx);
  if (lastGood && lastGood.revision === desired.revision && lastGood.digest === desired.digest) {
    return steady(ctx);
  }
  return rollOut(ctx);
}

function context(input: PlanInput): Context {
  const placed = new Set(Object.keys(input.clusters));
  const seen = new Set<string>();
  const waves: PlannedWave[] = [];
  for (const w of input.waves) {
    const clusters = w.clusters.filter((c) => placed.has(c) && !seen.has(c)).sort(byName);
    for (const c of clusters) seen.add(c);
    if (clusters.length > 0) waves.push({ ...w, clusters });
  }
  const rest = [...placed].filter((c) => !seen.has(c)).sort(byName);
  if (rest.length > 0) {
    const last = waves[waves.length - 1];
    if (last && last.name === REST_WAVE)
      waves[waves.length - 1] = { ...last, clusters: [...last.clusters, ...rest].sort(byName) };
    else waves.push({ name: REST_WAVE, clusters: rest, pauseSeconds: 0 });
  }
  const deadline = input.progressDeadlineSeconds;
  return {
    input,
    waves,
    ordered: waves.flatMap((w) => w.clusters),
    deadlineSeconds: deadline !== undefined && deadline > 0 ? deadline : DEFAULT_PROGRESS_DEADLINE_SECONDS,
    cause: input.rollbackCause,
  };
}

/** Where `name` stands on `target`: never Healthy without a fresh, reachable, healthy observation. */
function standing(ctx: Context, name: string, target: RevisionRef): Standing {
  const obs = ctx.input.clusters[name];
  const now = ctx.input.now;
  if (!obs || obs.appliedRevision !== target.revision) {
    const from = obs?.appliedRevision;
    return {
      state: 'Pending',
      message:
        from === undefined
          ? `revision ${target.revision} not applied yet`
          : `runs revision ${from}; revision ${target.revision} not applied yet`,
    };
  }
  const deadlineAt = obs.appliedAt !== undefined ? obs.appliedAt + ctx.deadlineSeconds * 1000 : undefined;
  const overdue = deadlineAt !== undefined && now >= deadlineAt;
  // An unreachable cluster's apply error and last health are about the outage, not the revision:
  // wait for it, but only until the progress deadline.
  if (!obs.reachable) {
    return overdue
      ? {
          state: 'Failed',
          message: `cluster unreachable ${ctx.deadlineSeconds}s after revision ${target.revision} was applied (progress deadline exceeded)`,
        }
      : {
          state: 'Progressing',
          message: 'cluster unreachable; waiting until the progress deadline',
          deadlineAt,
        };
  }
  if (obs.applyError !== undefined) {
    return { state: 'Failed', message: `apply of revision ${target.revision} failed: ${obs.applyError}` };
  }
  const health = obs.health;
  if (!health) {
    return overdue
      ? {
          state: 'Failed',
          message: `health still unknown after ${ctx.deadlineSeconds}s (progress deadline exceeded)`,
        }
      : { state: 'Progressing', message: 'health not known yet', deadlineAt };
  }
  switch (health.state) {
    case 'Healthy':
      return { state: 'Healthy', message: health.message };
    case 'Failed':
      return { state: 'Failed', message: health.message };
    case 'Progressing':
      return overdue
        ? { state: 'Failed', message: `progress deadline exceeded: ${health.message}` }
        : { state: 'Progressing', message: health.message, deadlineAt };
  }
}

function standings(ctx: Context, target: RevisionRef): Map<string, Standing> {
  return new Map(ctx.ordered.map((c) => [c, standing(ctx, c, target)]));
}

/** Applies `target` to every cluster not on it, and retries where the last apply of it failed. */
function converge(ctx: Context, target: RevisionRef): PlanDecision['apply'] {
  return ctx.ordered
    .filter((c) => {
      const obs = ctx.input.clusters[c];
      return obs?.appliedRevision !== target.revision || obs.applyError !== undefined;
    })
    .map((cluster) => ({ cluster, revision: target.revision }));
}

function clusterPlan(
  ctx: Context,
  name: string,
  s: Standing,
  notHealthy: ClusterPhase = 'Progressing',
): ClusterPlan {
  const revision = ctx.input.clusters[name]?.appliedRevision;
  const phase: ClusterPhase = s.state === 'Progressing' ? notHealthy : s.state;
  return revision === undefined ? { phase, message: s.message } : { phase, revision, message: s.message };
}

function clusterPlans(
  ctx: Context,
  all: Map<string, Standing>,
  notHealthy?: ClusterPhase,
): Record<string, ClusterPlan> {
  const out: Record<string, ClusterPlan> = {};
  for (const [name, s] of all) out[name] = clusterPlan(ctx, name, s, notHealthy);
  return out;
}

function conditions(
  ctx: Context,
  ready: ConditionSpec,
  progressing: ConditionSpec,
  rolledBack: ConditionSpec,
  stalled: ConditionSpec,
): PlanCondition[] {
  const types: [PlanConditionType, ConditionSpec][] = [
    ['Ready', ready],
    ['Progressing', progressing],
    ['RolledBack', rolledBack],
    ['Stalled', stalled],
  ];
  return types.map(([type, [status, reason, message]]) => ({
    type,
    status,
    reason,
    message,
    observedGeneration: ctx.input.generation,
  }));
}

function names(list: readonly string[]): string {
  return list.join(', ');
}

function failures(all: Map<string, Standing>): [string, Standing][] {
  return [...all].filter(([, s]) => s.state === 'Failed');
}

function describeFailures(revision: number, failed: readonly [string, Standing][]): string {
  return failed.map(([c, s]) => `revision ${revision} failed in cluster ${c}: ${s.message}`).join('; ');
}

function earliest(times: readonly (number | undefined)[]): number | undefined {
  const defined = times.filter((t): t is number => t !== undefined);
  return defined.length > 0 ? Math.min(...defined) : undefined;
}

function deadlines(all: Map<string, Standing>): (number | undefined)[] {
  return [...all.values()].map((s) => (s.state === 'Progressing' ? s.deadlineAt : undefined));
}

function readyCount(all: Map<string, Standing>): string {
  const healthy = [...all.values()].filter((s) => s.state === 'Healthy').length;
  return `${healthy}/${all.size} clusters healthy`;
}

function withRecheck(decision: PlanDecision, recheckAt: number | undefined): PlanDecision {
  return recheckAt === undefined ? decision : { ...decision, recheckAt };
}

function noClusters(ctx: Context): PlanDecision {
  const msg = 'no cluster is placed';
  return {
    apply: [],
    mode: ctx.input.mode,
    phase: 'Progressing',
    clusterPhases: {},
    conditions: conditions(
      ctx,
      ['False', 'NoClusters', msg],
      ['True', 'WaitingForClusters', `${msg}; waiting for clusters to match the placement`],
      ['False', 'NoClusters', msg],
      ['False', 'NoClusters', msg],
    ),
    waveHealthySince: {},
  };
}

/**
 * The fleet held on the last good revision: while rolling back, and after, until the spec renders
 * to a digest other than the rolled-back one. Returns undefined when the spec has moved on and the
 * rollback has settled, so the new revision may roll out.
 */
function holdOnLastGood(ctx: Context, lastGood: RevisionRef, blocked: boolean): PlanDecision | undefined {
  const all = standings(ctx, lastGood);
  const states = [...all.values()].map((s) => s.state);
  const settled = !states.includes('Pending') && !states.includes('Progressing');
  if (!blocked && settled) return undefined;

  const { desired } = ctx.input;
  const cause =
    ctx.cause ??
    (blocked
      ? `revision ${desired.revision} (digest ${desired.digest}) failed`
      : `the revision with digest ${ctx.input.blockedDigest ?? 'unknown'} failed`);
  const apply = converge(ctx, lastGood);
  const clusterPhases: Record<string, ClusterPlan> = {};
  for (const [name, s] of all) {
    clusterPhases[name] =
      s.state === 'Pending'
        ? clusterPlan(ctx, name, {
            state: 'Pending',
            message: `rolling back to revision ${lastGood.revision}`,
          })
        : clusterPlan(ctx, name, s);
  }
  const base = { apply, mode: 'RollingBack' as const, clusterPhases, waveHealthySince: {} };
  const failed = failures(all);

  if (states.every((s) => s === 'Healthy')) {
    const msg = `rolled back to revision ${lastGood.revision}: ${cause}`;
    const hold = blocked
      ? `revision ${desired.revision} is not rolled out again until the spec changes`
      : `rolling out revision ${desired.revision}`;
    return {
      ...base,
      phase: 'RolledBack',
      conditions: conditions(
        ctx,
        ['False', 'RolledBack', `running revision ${lastGood.revision}; ${cause}`],
        ['False', 'RolledBack', `${msg}; ${hold}`],
        ['True', 'RolledBack', msg],
        ['True', 'RevisionRolledBack', `${cause}; change the spec to roll out a fixed revision`],
      ),
    };
  }
  if (settled) {
    // Every cluster is on the last good revision and none is still progressing, yet some failed.
    const msg = `rollback to revision ${lastGood.revision} failed: ${describeFailures(lastGood.revision, failed)}`;
    return {
      ...base,
      phase: 'Failed',
      conditions: conditions(
        ctx,
        ['False', 'RollbackFailed', msg],
        ['False', 'RollbackFailed', msg],
        ['False', 'RollbackFailed', `${msg} (after ${cause})`],
        ['True', 'RollbackFailed', msg],
      ),
    };
  }
  const pending = [...all].filter(([, s]) => s.state !== 'Healthy' && s.state !== 'Failed').map(([c]) => c);
  const msg = `rolling back to revision ${lastGood.revision} (${readyCount(all)}; waiting for ${names(pending)}): ${cause}`;
  return withRecheck(
    {
      ...base,
      phase: 'RollingBack',
      conditions: conditions(
        ctx,
        ['False', 'RollingBack', msg],
        ['True', 'RollingBack', msg],
        ['False', 'RollingBack', msg],
        ['False', 'RollingBack', msg],
      ),
    },
    earliest(deadlines(all)),
  );
}

/** The spec renders to a rolled-back digest but there is no revision to hold the fleet on. */
function blockedWithoutTarget(ctx: Context): PlanDecision {
  const { desired } = ctx.input;
  const msg = `revision ${desired.revision} (digest ${desired.digest}) was rolled back and no last good revision is known; change the spec`;
  return {
    apply: [],
    mode: ctx.input.mode,
    phase: 'Failed',
    clusterPhases: clusterPlans(ctx, standings(ctx, desired)),
    conditions: conditions(
      ctx,
      ['False', 'RolloutBlocked', msg],
      ['False', 'RolloutBlocked', msg],
      ['False', 'NoRollbackTarget', msg],
      ['True', 'RolloutBlocked', msg],
    ),
    waveHealthySince: {},
  };
}

/** Desired was Healthy everywhere before: keep every cluster on it; no waves, no rollback. */
function steady(ctx: Context): PlanDecision {
  const { desired } = ctx.input;
  const all = standings(ctx, desired);
  const apply = converge(ctx, desired);
  const clusterPhases = clusterPlans(ctx, all, 'Degraded');
  const base = { apply, mode: 'RollingOut' as const, clusterPhases, waveHealthySince: {} };
  const states = [...all.values()].map((s) => s.state);

  if (states.every((s) => s === 'Healthy')) {
    const msg = `revision ${desired.revision} is healthy in all ${all.size} clusters`;
    return {
      ...base,
      phase: 'Healthy',
      conditions: conditions(
        ctx,
        ['True', 'Healthy', msg],
        ['False', 'RolloutComplete', msg],
        ['False', 'NotRolledBack', msg],
        ['False', 'Healthy', msg],
      ),
    };
  }
  const pending = [...all].filter(([, s]) => s.state === 'Pending').map(([c]) => c);
  if (pending.length > 0) {
    const msg = `applying revision ${desired.revision} to ${names(pending)} (${readyCount(all)})`;
    return {
      ...base,
      phase: 'Progressing',
      conditions: conditions(
        ctx,
        ['False', 'Progressing', msg],
        ['True', 'RollingOut', msg],
        ['False', 'NotRolledBack', msg],
        ['False', 'Progressing', msg],
      ),
    };
  }
  const unhealthy = [...all]
    .filter(([, s]) => s.state !== 'Healthy')
    .map(([c, s]) => `cluster ${c}: ${s.message}`)
    .join('; ');
  const msg = `revision ${desired.revision} was healthy everywhere but is not now (${readyCount(all)}): ${unhealthy}`;
  return withRecheck(
    {
      ...base,
      phase: 'Degraded',
      conditions: conditions(
        ctx,
        ['False', 'Degraded', msg],
        ['False', 'Degraded', msg],
        ['False', 'NotRolledBack', msg],
        ['False', 'Degraded', msg],
      ),
    },
    earliest(deadlines(all)),
  );
}

/** A new revision goes out wave by wave; a failure rolls the fleet back or stops the rollout. */
function rollOut(ctx: Context): PlanDecision {
  const { input } = ctx;
  const { desired, lastGood } = input;
  const all = standings(ctx, desired);
  const failed = failures(all);
  if (failed.length > 0) return onFailure(ctx, all, failed);

  const maxUnavailable = Math.max(0, Math.floor(input.maxUnavailableClusters || 0));
  const since: Record<string, number> = {};
  const apply: PlanDecision['apply'] = [];
  let currentWave: string | undefined;
  let waiting: string | undefined;
  let pauseEnd: number | undefined;
  let pendingBefore = 0;
  let unhealthyBefore = 0;

  for (const [i, wave] of ctx.waves.entries()) {
    currentWave = wave.name;
    for (const c of wave.clusters) {
      const s = all.get(c);
      if (s?.state === 'Pending') apply.push({ cluster: c, revision: desired.revision });
      if (s?.state === 'Pending') pendingBefore++;
      if (s?.state !== 'Healthy') unhealthyBefore++;
    }
    const next = ctx.waves[i + 1];
    if (!next) break;
    // Clusters allowed to be unavailable must at least have received the revision.
    if (pendingBefore > 0 || unhealthyBefore > maxUnavailable) {
      waiting = `waiting for wave ${wave.name} to be healthy before wave ${next.name} (${unhealthyBefore} cluster${unhealthyBefore === 1 ? '' : 's'} of waves so far not healthy, ${maxUnavailable} allowed)`;
      break;
    }
    const healthySince = input.waveHealthySince?.[wave.name] ?? input.now;
    since[wave.name] = healthySince;
    const end = healthySince + wave.pauseSeconds * 1000;
    if (input.now < end) {
      pauseEnd = end;
      waiting = `wave ${wave.name} is healthy; pausing ${wave.pauseSeconds}s before wave ${next.name} (${Math.ceil((end - input.now) / 1000)}s left)`;
      break;
    }
  }

  const clusterPhases = clusterPlans(ctx, all);
  if ([...all.values()].every((s) => s.state === 'Healthy')) {
    const msg = `revision ${desired.revision} is healthy in all ${all.size} clusters`;
    const changed = !lastGood || lastGood.revision !== desired.revision || lastGood.digest !== desired.digest;
    return {
      apply: [],
      mode: 'RollingOut',
      phase: 'Healthy',
      clusterPhases,
      ...(changed ? { newLastGood: { revision: desired.revision, digest: desired.digest } } : {}),
      conditions: conditions(
        ctx,
        ['True', 'Healthy', msg],
        ['False', 'RolloutComplete', msg],
        ['False', 'NotRolledBack', msg],
        ['False', 'Healthy', msg],
      ),
      waveHealthySince: since,
    };
  }

  const wave = ctx.waves.find((w) => w.name === currentWave);
  const progress = `rolling out revision ${desired.revision}: wave ${currentWave ?? '?'} (${names(wave?.clusters ?? [])}); ${readyCount(all)}`;
  const msg = waiting ? `${progress}; ${waiting}` : progress;
  return withRecheck(
    {
      apply,
      mode: 'RollingOut',
      phase: 'Progressing',
      clusterPhases,
      ...(currentWave !== undefined ? { currentWave } : {}),
      conditions: conditions(
        ctx,
        ['False', 'Progressing', msg],
        ['True', 'RollingOut', msg],
        ['False', 'NotRolledBack', msg],
        ['False', 'Progressing', msg],
      ),
      waveHealthySince: since,
    },
    earliest([pauseEnd, ...deadlines(all)]),
  );
}

/** Some cluster failed on the desired revision: roll the fleet back, or stop. */
function onFailure(ctx: Context, all: Map<string, Standing>, failed: [string, Standing][]): PlanDecision {
  const { desired, lastGood, rollback } = ctx.input;
  const cause = describeFailures(desired.revision, failed);
  const automatic = rollback.automatic && rollback.when.includes('AnyClusterFailed');
  const clusterPhases = clusterPlans(ctx, all);

  if (automatic && lastGood) {
    // Every cluster that is not on the last good revision goes back to it at once, no waves:
    // that is every cluster that received desired, and any that joined meanwhile.
    const apply = converge(ctx, lastGood);
    const back = new Set(apply.map((a) => a.cluster));
    for (const [name, s] of all) {
      if (s.state === 'Failed') {
        clusterPhases[name] = clusterPlan(ctx, name, {
          state: 'Failed',
          message: `${s.message}; rolling back to revision ${lastGood.revision}`,
        });
      } else if (back.has(name)) {
        clusterPhases[name] = clusterPlan(ctx, name, {
          state: s.state === 'Pending' ? 'Pending' : 'Progressing',
          message: `rolling back to revision ${lastGood.revision}`,
        });
      }
    }
    const msg = `rolling back every cluster to revision ${lastGood.revision}: ${cause}`;
    return {
      apply,
      mode: 'RollingBack',
      phase: 'RollingBack',
      clusterPhases,
      blockDigest: desired.digest,
      rollbackCause: cause,
      conditions: conditions(
        ctx,
        ['False', 'RollingBack', msg],
        ['True', 'RollingBack', msg],
        ['False', 'RollingBack', msg],
        ['False', 'RollingBack', msg],
      ),
      waveHealthySince: {},
    };
  }

  const [reason, why] =
    automatic && !lastGood
      ? [
          'NoRollbackTarget',
          'no earlier revision was healthy in every cluster, so there is nothing to roll back to',
        ]
      : [
          'RolloutFailed',
          'automatic rollback is off; the rollout is stopped: fix the spec or roll back by hand',
        ];
  const msg = `${cause}; ${why}`;
  return {
    apply: [],
    mode: 'RollingOut',
    phase: 'Failed',
    clusterPhases,
    conditions: conditions(
      ctx,
      ['False', reason, msg],
      ['False', reason, msg],
      ['False', reason, msg],
      ['True', reason, msg],
    ),
    waveHealthySince: {},
  };
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
