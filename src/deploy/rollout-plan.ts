// The rollout state machine: from the desired revision, the last good one and what every cluster
// runs and how healthy it is, decide what to apply where and which phase the Application is in.
// Level-triggered and pure: the same input always gives the same decision, so a controller may
// restart at any point and converge. Rollback is fleet-wide: when any cluster fails on the new
// revision, every cluster goes back to the last revision that was Healthy everywhere.
import type { ApplicationPhase, ClusterPhase, Rollback, RollbackTrigger } from '../api/application.ts';
import { planConditions, type ConditionMessages, type ConditionOutcome } from './rollout-conditions.ts';
import type { PlanCondition } from './rollout-conditions.ts';
import type { WorkloadHealth } from './deploy-types.ts';
import { REST_WAVE, type PlannedWave } from './waves.ts';

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
  /**
   * The applied revision has been Healthy here once: its rollout is over, so the progress deadline
   * no longer applies. A later restart or scale by someone else is Progressing, not a failed
   * rollout; only the workload's own failure (crash loop, ProgressDeadlineExceeded, failed Job) fails it.
   */
  readonly rolledOut?: boolean;
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

export type { PlanCondition, PlanConditionType } from './rollout-conditions.ts';

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

type Standings = Map<string, Standing>;

interface Context {
  readonly input: PlanInput;
  /** Waves restricted to the placed clusters, every placed cluster in exactly one. */
  readonly waves: readonly PlannedWave[];
  /** Placed cluster names in wave order, then by name. */
  readonly ordered: readonly string[];
  readonly deadlineSeconds: number;
}

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
    const clusters = w.clusters.filter((c) => placed.has(c) && !seen.has(c)).sort();
    for (const c of clusters) seen.add(c);
    if (clusters.length > 0) waves.push({ ...w, clusters });
  }
  const rest = [...placed].filter((c) => !seen.has(c));
  const last = waves.at(-1);
  if (rest.length > 0 && last?.name === REST_WAVE)
    waves[waves.length - 1] = { ...last, clusters: [...last.clusters, ...rest].sort() };
  else if (rest.length > 0) waves.push({ name: REST_WAVE, clusters: rest.sort(), pauseSeconds: 0 });
  const deadline = input.progressDeadlineSeconds;
  return {
    input,
    waves,
    ordered: waves.flatMap((w) => w.clusters),
    deadlineSeconds: deadline !== undefined && deadline > 0 ? deadline : DEFAULT_PROGRESS_DEADLINE_SECONDS,
  };
}

/** Where `name` stands on `target`: never Healthy without a fresh, reachable, healthy observation. */
function standing(ctx: Context, name: string, target: RevisionRef): Standing {
  const obs = ctx.input.clusters[name];
  if (!obs || obs.appliedRevision !== target.revision) {
    const from = obs?.appliedRevision === undefined ? '' : `runs revision ${obs.appliedRevision}; `;
    return { state: 'Pending', message: `${from}revision ${target.revision} not applied yet` };
  }
  const deadlineAt = obs.appliedAt !== undefined ? obs.appliedAt + ctx.deadlineSeconds * 1000 : undefined;
  const overdue = deadlineAt !== undefined && ctx.input.now >= deadlineAt;
  // After the rollout was Healthy here, a Progressing workload waits without a deadline.
  const waitRolledOut = (message: string): Standing => ({ state: 'Progressing', message });
  // Not there yet: Progressing until the progress deadline, Failed (saying why) after it.
  const wait = (message: string, failure: string): Standing =>
    overdue ? { state: 'Failed', message: failure } : { state: 'Progressing', message, deadlineAt };
  const limit = `${ctx.deadlineSeconds}s`;
  // An unreachable cluster's apply error and last health are about the outage, not the revision:
  // wait for it, but only until the progress deadline — unless the revision was Healthy there
  // already: an outage after the rollout is not the revision's failure (no fleet-wide rollback).
  if (!obs.reachable && obs.rolledOut) {
    return waitRolledOut(
      `cluster unreachable; revision ${target.revision} was Healthy here (after the rollout: not held to its deadline)`,
    );
  }
  if (!obs.reachable) {
    return wait(
      'cluster unreachable; waiting until the progress deadline',
      `cluster unreachable ${limit} after revision ${target.revision} was applied (progress deadline exceeded)`,
    );
  }
  if (obs.applyError !== undefined) {
    return { state: 'Failed', message: `apply of revision ${target.revision} failed: ${obs.applyError}` };
  }
  const health = obs.health;
  if (!health) {
    if (obs.rolledOut) return waitRolledOut('health not known yet');
    return wait('health not known yet', `health still unknown after ${limit} (progress deadline exceeded)`);
  }
  if (health.state === 'Progressing') {
    if (obs.rolledOut)
      return waitRolledOut(`${health.message} (after the rollout: not held to its deadline)`);
    return wait(health.message, `progress deadline exceeded: ${health.message}`);
  }
  return { state: health.state, message: health.message };
}

function standings(ctx: Context, target: RevisionRef): Standings {
  return new Map(ctx.ordered.map((c) => [c, standing(ctx, c, target)]));
}

/** The clusters whose standing is one of `states`, in wave order. */
function clustersIn(all: Standings, ...states: Standing['state'][]): string[] {
  return [...all].filter(([, s]) => states.includes(s.state)).map(([c]) => c);
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

/** Each cluster's phase and message; a Progressing standing becomes `notHealthy`. */
function clusterPlans(ctx: Context, all: Standings, notHealthy: ClusterPhase = 'Progressing') {
  const out: Record<string, ClusterPlan> = {};
  for (const [name, { state, message }] of all) {
    const revision = ctx.input.clusters[name]?.appliedRevision;
    const phase = state === 'Progressing' ? notHealthy : state;
    out[name] = revision === undefined ? { phase, message } : { phase, revision, message };
  }
  return out;
}

/** `all` with some standings rewritten, e.g. to say that the cluster is being rolled back. */
function restate(all: Standings, rewrite: (s: Standing, cluster: string) => Standing): Standings {
  return new Map([...all].map(([c, s]) => [c, rewrite(s, c)]));
}

/** What a decision does with the fleet; the outcome adds its phase and conditions. */
type Fleet = Omit<PlanDecision, 'phase' | 'conditions' | 'waveHealthySince'> &
  Partial<Pick<PlanDecision, 'waveHealthySince'>>;

function decide(
  ctx: Context,
  fleet: Fleet,
  phase: ApplicationPhase,
  outcome: ConditionOutcome,
  message: string,
  messages?: ConditionMessages,
): PlanDecision {
  const conditions = planConditions(outcome, ctx.input.generation, message, messages);
  return { waveHealthySince: {}, ...fleet, phase, conditions };
}

/** `recheckAt`: the earliest pause end or progress deadline, when there is one. */
function recheck(all: Standings, pauseEnd?: number): Pick<PlanDecision, 'recheckAt'> {
  const deadlines = [...all.values()].map((s) => (s.state === 'Progressing' ? s.deadlineAt : undefined));
  const times = [pauseEnd, ...deadlines].filter((t): t is number => t !== undefined);
  return times.length > 0 ? { recheckAt: Math.min(...times) } : {};
}

function describe(all: Standings, states: Standing['state'][], what: (c: string) => string): string {
  return [...all]
    .filter(([, s]) => states.includes(s.state))
    .map(([c, s]) => `${what(c)}: ${s.message}`)
    .join('; ');
}

function failures(all: Standings, revision: number): string {
  return describe(all, ['Failed'], (c) => `revision ${revision} failed in cluster ${c}`);
}

function allHealthy(all: Standings): boolean {
  return clustersIn(all, 'Healthy').length === all.size;
}

function readyCount(all: Standings): string {
  return `${clustersIn(all, 'Healthy').length}/${all.size} clusters healthy`;
}

function noClusters(ctx: Context): PlanDecision {
  const msg = 'no cluster is placed';
  const fleet: Fleet = { apply: [], mode: ctx.input.mode, clusterPhases: {} };
  return decide(ctx, fleet, 'Progressing', 'NoClusters', msg, {
    Progressing: `${msg}; waiting for clusters to match the placement`,
  });
}

/**
 * The fleet held on the last good revision: while rolling back, and after, until the spec renders
 * to a digest other than the rolled-back one. Returns undefined when the spec has moved on and the
 * rollback has settled, so the new revision may roll out.
 */
function holdOnLastGood(ctx: Context, lastGood: RevisionRef, blocked: boolean): PlanDecision | undefined {
  const all = standings(ctx, lastGood);
  const waiting = clustersIn(all, 'Pending', 'Progressing');
  if (!blocked && waiting.length === 0) return undefined;

  const { desired } = ctx.input;
  const cause =
    ctx.input.rollbackCause ??
    (blocked
      ? `revision ${desired.revision} (digest ${desired.digest}) failed`
      : `the revision with digest ${ctx.input.blockedDigest ?? 'unknown'} failed`);
  const back = `rolling back to revision ${lastGood.revision}`;
  const shown = restate(all, (s) => (s.state === 'Pending' ? { state: 'Pending', message: back } : s));
  const fleet: Fleet = {
    apply: converge(ctx, lastGood),
    mode: 'RollingBack',
    clusterPhases: clusterPlans(ctx, shown),
  };

  if (allHealthy(all)) {
    const msg = `rolled back to revision ${lastGood.revision}: ${cause}`;
    const next = blocked
      ? `revision ${desired.revision} is not rolled out again until the spec changes`
      : `rolling out revision ${desired.revision}`;
    return decide(ctx, fleet, 'RolledBack', 'RolledBack', `running revision ${lastGood.revision}; ${cause}`, {
      Progressing: `${msg}; ${next}`,
      RolledBack: msg,
      Stalled: `${cause}; change the spec to roll out a fixed revision`,
    });
  }
  if (waiting.length === 0) {
    // Every cluster is on the last good revision and none is still progressing, yet some failed.
    const msg = `rollback to revision ${lastGood.revision} failed: ${failures(all, lastGood.revision)}`;
    return decide(ctx, fleet, 'Failed', 'RollbackFailed', msg, { RolledBack: `${msg} (after ${cause})` });
  }
  const msg = `${back} (${readyCount(all)}; waiting for ${waiting.join(', ')}): ${cause}`;
  return decide(ctx, { ...fleet, ...recheck(all) }, 'RollingBack', 'RollingBack', msg);
}

/** The spec renders to a rolled-back digest but there is no revision to hold the fleet on. */
function blockedWithoutTarget(ctx: Context): PlanDecision {
  const { desired, mode } = ctx.input;
  const msg = `revision ${desired.revision} (digest ${desired.digest}) was rolled back and no last good revision is known; change the spec`;
  const fleet: Fleet = { apply: [], mode, clusterPhases: clusterPlans(ctx, standings(ctx, desired)) };
  return decide(ctx, fleet, 'Failed', 'RolloutBlocked', msg);
}

/** Desired is Healthy in every cluster: nothing to apply, the rollout is complete. */
function healthy(ctx: Context, all: Standings, extra: Pick<Fleet, 'newLastGood' | 'waveHealthySince'>) {
  const msg = `revision ${ctx.input.desired.revision} is healthy in all ${all.size} clusters`;
  const fleet: Fleet = { apply: [], mode: 'RollingOut', clusterPhases: clusterPlans(ctx, all), ...extra };
  return decide(ctx, fleet, 'Healthy', 'Healthy', msg);
}

/** Desired was Healthy everywhere before: keep every cluster on it; no waves, no rollback. */
function steady(ctx: Context): PlanDecision {
  const { desired } = ctx.input;
  const all = standings(ctx, desired);
  if (allHealthy(all)) return healthy(ctx, all, {});

  const fleet: Fleet = {
    apply: converge(ctx, desired),
    mode: 'RollingOut',
    clusterPhases: clusterPlans(ctx, all, 'Degraded'),
  };
  const pending = clustersIn(all, 'Pending');
  if (pending.length > 0) {
    const msg = `applying revision ${desired.revision} to ${pending.join(', ')} (${readyCount(all)})`;
    return decide(ctx, fleet, 'Progressing', 'Progressing', msg);
  }
  const unhealthy = describe(all, ['Progressing', 'Failed'], (c) => `cluster ${c}`);
  const msg = `revision ${desired.revision} was healthy everywhere but is not now (${readyCount(all)}): ${unhealthy}`;
  return decide(ctx, { ...fleet, ...recheck(all) }, 'Degraded', 'Degraded', msg);
}

/** A new revision goes out wave by wave; a failure rolls the fleet back or stops the rollout. */
function rollOut(ctx: Context): PlanDecision {
  const { input } = ctx;
  const { desired } = input;
  const all = standings(ctx, desired);
  if (clustersIn(all, 'Failed').length > 0) return onFailure(ctx, all);

  const maxUnavailable = Math.max(0, Math.floor(input.maxUnavailableClusters || 0));
  const since: Record<string, number> = {};
  const apply: PlanDecision['apply'] = [];
  let currentWave: string | undefined;
  let waiting: string | undefined;
  let pauseEnd: number | undefined;
  let unhealthyBefore = 0;

  for (const [i, wave] of ctx.waves.entries()) {
    currentWave = wave.name;
    for (const c of wave.clusters) {
      const state = all.get(c)?.state;
      if (state === 'Pending') apply.push({ cluster: c, revision: desired.revision });
      if (state !== 'Healthy') unhealthyBefore++;
    }
    const next = ctx.waves[i + 1];
    if (!next) break;
    // Clusters allowed to be unavailable must at least have received the revision.
    if (apply.length > 0 || unhealthyBefore > maxUnavailable) {
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

  // rollOut only runs when desired is not the last good revision, so it becomes the new one.
  const newLastGood = { revision: desired.revision, digest: desired.digest };
  if (allHealthy(all)) return healthy(ctx, all, { waveHealthySince: since, newLastGood });

  const wave = ctx.waves.find((w) => w.name === currentWave);
  const progress = `rolling out revision ${desired.revision}: wave ${currentWave ?? '?'} (${(wave?.clusters ?? []).join(', ')}); ${readyCount(all)}`;
  const fleet: Fleet = {
    apply,
    mode: 'RollingOut',
    clusterPhases: clusterPlans(ctx, all),
    ...(currentWave !== undefined ? { currentWave } : {}),
    waveHealthySince: since,
    ...recheck(all, pauseEnd),
  };
  return decide(ctx, fleet, 'Progressing', 'Progressing', waiting ? `${progress}; ${waiting}` : progress);
}

/** Some cluster failed on the desired revision: roll the fleet back, or stop. */
function onFailure(ctx: Context, all: Standings): PlanDecision {
  const { desired, lastGood, rollback } = ctx.input;
  const cause = failures(all, desired.revision);
  const automatic = rollback.automatic && rollback.when.includes('AnyClusterFailed');

  if (automatic && lastGood) {
    // Every cluster that is not on the last good revision goes back to it at once, no waves:
    // that is every cluster that received desired, and any that joined meanwhile.
    const apply = converge(ctx, lastGood);
    const goingBack = new Set(apply.map((a) => a.cluster));
    const back = `rolling back to revision ${lastGood.revision}`;
    const shown = restate(all, (s, cluster): Standing => {
      if (s.state === 'Failed') return { state: 'Failed', message: `${s.message}; ${back}` };
      if (!goingBack.has(cluster)) return s;
      return { state: s.state === 'Pending' ? 'Pending' : 'Progressing', message: back };
    });
    const fleet: Fleet = {
      apply,
      mode: 'RollingBack',
      clusterPhases: clusterPlans(ctx, shown),
      blockDigest: desired.digest,
      rollbackCause: cause,
    };
    const msg = `rolling back every cluster to revision ${lastGood.revision}: ${cause}`;
    return decide(ctx, fleet, 'RollingBack', 'RollingBack', msg);
  }

  const why = automatic
    ? 'no earlier revision was healthy in every cluster, so there is nothing to roll back to'
    : 'automatic rollback is off; the rollout is stopped: fix the spec or roll back by hand';
  const fleet: Fleet = { apply: [], mode: 'RollingOut', clusterPhases: clusterPlans(ctx, all) };
  return decide(ctx, fleet, 'Failed', automatic ? 'NoRollbackTarget' : 'RolloutFailed', `${cause}; ${why}`);
}
