// The Application controller: render → revision → plan → apply → observe, level-triggered. Each
// reconcile reads the Application, its revisions, the Clusters and the members' live objects
// from caches, asks the pure planner what to do, does it, and writes status. Everything it needs
// to continue after a restart is in the hub (status and ApplicationRevisions).
import { API_VERSION } from '../api/group.ts';
import type { Application, ApplicationStatus, HookEvent, HookRunStatus } from '../api/application.ts';
import type { ApplicationRevision } from '../api/application-revision.ts';
import type { Cluster } from '../api/cluster.ts';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { kubeTime, setCondition, type Condition } from '../kube/conditions.ts';
import { errorMessage } from '../kube/errors.ts';
import { sameContent } from '../kube/same-content.ts';
import { recordEvent } from '../kube/events.ts';
import { Informer } from '../kube/informer.ts';
import { WorkQueue, type ReconcileResult } from '../kube/work-queue.ts';
import type { MemberConnections } from '../fleet/member-connections.ts';
import type { DeployMetrics } from './deploy-metrics.ts';
import type { ReconcileMetrics } from '../kube/reconcile-metrics.ts';
import { ApplicationHealthGauges } from './health-gauges.ts';
import type { Logger } from '../logging/logger.ts';
import { applyAll, deleteFinishedHooks, dryRun, ownershipConflicts, prune } from './apply.ts';
import { ensureNamespace, objectKey, objectRef } from '../kube/objects.ts';
import { APPLICATION_LABEL } from '../api/labels.ts';
import { applicationLabelValue } from './ownership.ts';
import {
  exemptFromDrift,
  foundationObjects,
  hookEventsOf,
  hookOf,
  hooksFor,
  releaseAction,
} from './hooks.ts';
import { advanceHooks } from './hook-runner.ts';
import { driftedFields } from './drift.ts';
import { MemberObjectWatch } from './member-object-watch.ts';
import { resolvePlacement } from '../fleet/placement.ts';
import { renderApplication, type RenderEnv } from './render.ts';
import { holdsSecretValues, type ClusterObjects } from './revision-secrets.ts';
import {
  createRevision,
  revisionDigestKey,
  revisionName,
  revisionsOf,
  revisionsToPrune,
  withStoredSecrets,
} from './revisions.ts';
import {
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  planRollout,
  rollbackPolicy,
  type PlanDecision,
  type PlanInput,
} from './rollout-plan.ts';
import { targetFromCluster } from '../fleet/targets.ts';
import type { DeployError, RenderOutcome, WorkloadHealth } from './deploy-types.ts';
import { FINALIZER, ROLLBACK_ANNOTATION } from '../api/labels.ts';
import type { TargetCluster } from '../fleet/targets.ts';
import { planWaves } from './waves.ts';
import { assessHealth } from './workload-health.ts';

/** Any new value re-fetches the source now (a poke for git sources). */
export const REFRESH_ANNOTATION = 'meridian.dev/refresh';

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

export interface DeployControllerOptions {
  readonly hub: ClusterClient;
  readonly clusters: Informer<Cluster>;
  readonly members: MemberConnections;
  readonly log: Logger;
  readonly metrics: ReconcileMetrics & DeployMetrics;
  readonly cacheDir: string;
  /** How often a git source is polled for new commits. */
  readonly gitPollMs?: number;
  /** Directory local chart/kustomize paths may be read from; unset = local paths refused. */
  readonly localSourceRoot?: string;
  /** The helm and kubectl to render with, or their lookup (see RenderEnv.tools). */
  readonly tools?: RenderEnv['tools'];
}

interface CachedRender {
  readonly key: string;
  readonly at: number;
  readonly outcome: RenderOutcome;
}

type DeployStatus = ApplicationStatus;
type ClusterStatus = NonNullable<DeployStatus['clusters']>[number];

const isPostEvent = (e: HookEvent): boolean => e.startsWith('post-');

const appKey = (a: { metadata: { namespace?: string; name: string } }): string =>
  `${a.metadata.namespace}/${a.metadata.name}`;

/** Whether an apply failed for want of a connection (retry when the cluster is back), not a rejection. */
export function isTransientApplyError(message: string | undefined): boolean {
  return (
    message !== undefined &&
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|socket hang up|no answer within|not connected/.test(
      message,
    )
  );
}

export function formatDeployError(e: DeployError): string {
  const where = [e.cluster ? `cluster ${e.cluster}` : '', e.object ?? '', e.field ?? '']
    .filter(Boolean)
    .join(': ');
  return where ? `${where}: ${e.message}` : e.message;
}

export class DeployController {
  readonly apps: Informer<Application>;
  readonly revisions: Informer<ApplicationRevision>;
  private readonly queue: WorkQueue;
  private readonly watch: MemberObjectWatch;
  private readonly renders = new Map<string, CachedRender>();
  /** Objects whose live state changed since the last drift check, per app key. */
  private readonly dirty = new Map<string, Set<string>>();
  private readonly healthGauges: ApplicationHealthGauges;
  /** The key of the digests standing in for Secret values in revisions (loaded once). */
  private digestKey: Promise<Buffer> | undefined;
  /**
   * Per app key, its revisions with their Secrets put back, by uid and store: a revision's content
   * never changes, so each store is read once. Only the app's current revisions are kept.
   */
  private readonly fullRevisions = new Map<string, Map<string, ApplicationRevision>>();

  constructor(private readonly opts: DeployControllerOptions) {
    this.healthGauges = new ApplicationHealthGauges(opts.metrics.applicationClusterHealthy);
    this.apps = new Informer<Application>(opts.hub, API_VERSION, 'Application', {
      onError: (err) => opts.log.warn({ err }, 'application watch failed; retrying'),
      // Every Application is looked at again at least this often, whatever events were missed.
      resyncMs: 5 * 60_000,
    });
    this.revisions = new Informer<ApplicationRevision>(opts.hub, API_VERSION, 'ApplicationRevision', {
      onError: (err) => opts.log.warn({ err }, 'revision watch failed; retrying'),
    });
    this.queue = new WorkQueue((k) => this.reconcile(k), {
      concurrency: 4,
      onError: (key, err, attempt) => {
        opts.metrics.reconciles.inc({ controller: 'application', result: 'error' });
        opts.log.warn({ application: key, err: errorMessage(err), attempt }, 'application reconcile failed');
      },
    });
    this.watch = new MemberObjectWatch(opts.members, opts.log, (cluster, _ev, obj) => {
      const owner = obj.metadata.labels?.[APPLICATION_LABEL];
      if (!owner) return;
      const [ns, name] = owner.split('.', 2) as [string, string];
      const key = `${ns}/${name}`;
      let set = this.dirty.get(key);
      if (!set) this.dirty.set(key, (set = new Set()));
      set.add(`${cluster}#${objectKey(obj)}`);
      this.queue.add(key);
    });
  }

  async start(): Promise<void> {
    this.apps.start();
    this.revisions.start();
    await Promise.all([this.apps.waitForSync(), this.revisions.waitForSync()]);
    this.apps.on((_ev, a) => this.queue.add(appKey(a)));
    this.revisions.on((_ev, r) => this.queue.add(`${r.metadata.namespace}/${r.spec.application}`));
    // Placement, readiness and versions of clusters feed every Application.
    this.opts.clusters.on(() => {
      for (const a of this.apps.list()) this.queue.add(appKey(a));
    });
    for (const a of this.apps.list()) this.queue.add(appKey(a));
  }

  async stop(): Promise<void> {
    this.queue.stop();
    await Promise.all([this.apps.stop(), this.revisions.stop(), this.watch.stopAll()]);
  }

  private targets(): TargetCluster[] {
    return this.opts.clusters.list().map(targetFromCluster);
  }

  private isNamespaced = (cluster: string, apiVersion: string, kind: string): boolean | undefined => {
    // Discovery answers asynchronously; rendering needs a synchronous answer, so the well-known
    // kinds are answered here and the rest resolved from the cluster's cached discovery.
    return namespacedByKind(cluster, apiVersion, kind, this.discovered);
  };
  private readonly discovered = new Map<string, boolean>();

  private async discover(cluster: string, apiVersion: string, kind: string): Promise<void> {
    const key = `${cluster}|${apiVersion}|${kind}`;
    if (this.discovered.has(key)) return;
    const conn = this.opts.members.get(cluster);
    if (!conn) return;
    const info = await conn.client.resourceInfo(apiVersion, kind).catch(() => undefined);
    if (info) this.discovered.set(key, info.namespaced);
  }

  private async render(
    app: Application,
    targets: readonly TargetCluster[],
    revision: number,
  ): Promise<RenderOutcome> {
    const key = JSON.stringify([
      app.metadata.generation,
      app.metadata.annotations?.[REFRESH_ANNOTATION] ?? '',
      targets.map((t) => [t.name, t.region, t.zone, t.kubernetesVersion, t.labels]),
    ]);
    const cached = this.renders.get(appKey(app));
    const isGit = 'git' in app.spec.source;
    const fresh =
      cached && cached.key === key && (!isGit || Date.now() - cached.at < (this.opts.gitPollMs ?? 30_000));
    if (fresh) return cached.outcome;
    // One set of options for both renders: the second (after discovery) once lost localRoot.
    const renderOptions = {
      revision,
      isNamespaced: this.isNamespaced,
      cacheDir: this.opts.cacheDir,
      localRoot: this.opts.localSourceRoot,
      tools: this.opts.tools,
    };
    let outcome = await renderApplication(app, [...targets], renderOptions);
    if (!outcome.ok && outcome.errors.some((e) => e.code === 'UnknownKind')) {
      // Learn the kinds the render met through discovery, then render once more.
      await Promise.all(
        outcome.errors
          .filter((e) => e.code === 'UnknownKind' && e.cluster)
          .map((e) => {
            const m = /kind (\S+) \(apiVersion (\S+)\)/.exec(e.message);
            return m ? this.discover(e.cluster!, m[2]!, m[1]!) : Promise.resolve();
          }),
      );
      outcome = await renderApplication(app, [...targets], renderOptions);
    }
    this.renders.set(appKey(app), { key, at: Date.now(), outcome });
    return outcome;
  }

  private async writeStatus(app: Application, status: DeployStatus): Promise<void> {
    if (sameContent(app.status ?? {}, status)) return;
    await this.opts.hub.applyStatus({
      apiVersion: API_VERSION,
      kind: 'Application',
      metadata: { name: app.metadata.name, namespace: app.metadata.namespace },
      status,
    } as KubeObject);
  }

  private event(app: Application, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.opts.log.info({ application: appKey(app), reason }, message);
    void recordEvent(this.opts.hub, { regarding: app as unknown as KubeObject, type, reason, message }).catch(
      () => undefined,
    );
  }

  private conditionsWith(status: DeployStatus, c: Omit<Condition, 'lastTransitionTime'>): Condition[] {
    return setCondition(status.conditions as Condition[] | undefined, c, new Date());
  }

  /**
   * Input the user must fix: Ready=False naming cluster/object/field (an Event when it is new),
   * nothing applied anywhere, and a slow retry (a spec change reconciles at once anyway).
   */
  private async notReady(
    app: Application,
    status: DeployStatus,
    reason: string,
    errors: readonly DeployError[],
    placed?: number,
  ): Promise<ReconcileResult> {
    const msg = errors.slice(0, 3).map(formatDeployError).join('; ');
    // Never rolled out: say so in PHASE and READY rather than leaving them blank.
    if (status.phase === undefined) status.phase = 'Failed';
    if (status.readyClusters === undefined && placed !== undefined) status.readyClusters = `0/${placed}`;
    status.conditions = this.conditionsWith(status, {
      type: 'Ready',
      status: 'False',
      reason,
      message: `Application ${appKey(app)}: ${msg}${errors.length > 3 ? ` (and ${errors.length - 3} more)` : ''}`,
      observedGeneration: app.metadata.generation,
    });
    if (!sameContent(status.conditions, app.status?.conditions)) this.event(app, 'Warning', reason, msg);
    await this.writeStatus(app, status);
    return { requeueAfterMs: 30_000 };
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [ns, name] = key.split('/') as [string, string];
    // Read fresh: the cache may not yet hold the status this controller wrote a moment ago, and
    // status carries the rollout's memory (history, last good revision, rollback state).
    const app = this.apps.get(name, ns)
      ? await this.opts.hub.get<Application & KubeObject>(API_VERSION, 'Application', name, ns)
      : undefined;
    if (!app) {
      this.renders.delete(key);
      this.fullRevisions.delete(key);
      this.dirty.delete(key);
      return;
    }
    // Revisions with their Secrets as rendered; those whose stored Secrets cannot be read are
    // kept redacted and never applied (`unusable` says why).
    const { revs, unusable } = await this.loadRevisions(app, revisionsOf(app, this.revisions.list()));
    if (app.metadata.deletionTimestamp) return this.finalize(app, revs);
    if (!(app.metadata.finalizers as string[] | undefined)?.includes(FINALIZER)) {
      await this.opts.hub.apply(
        {
          apiVersion: API_VERSION,
          kind: 'Application',
          metadata: { name, namespace: ns, finalizers: [FINALIZER] },
        },
        { force: true },
      );
    }
    const status: DeployStatus = structuredClone((app.status ?? {}) as DeployStatus);
    const gen = app.metadata.generation;

    // 1. Placement.
    const all = this.targets();
    const placement = resolvePlacement(app.spec.placement, all);
    if (!placement.ok) {
      return this.notReady(app, status, 'InvalidPlacement', placement.errors);
    }
    const targets = placement.targets;

    // 2. Render every cluster; any error anywhere changes nothing anywhere.
    const nextNumber = (revs[0]?.spec.revision ?? 0) + 1;
    const rendered = await this.render(app, targets, nextNumber);
    if (!rendered.ok) {
      return this.notReady(app, status, 'RenderFailed', rendered.errors, targets.length);
    }

    // 3. The revision of this content: reuse one with the same digest, else validate and create.
    let desired = revs.find((r) => r.spec.digest === rendered.digest);
    if (!desired) {
      const errors: DeployError[] = [];
      const namespace = app.spec.destinationNamespace ?? ns;
      await Promise.all(
        rendered.clusters.map(async (rc) => {
          const conn = this.opts.members.get(rc.cluster);
          const target = targets.find((t) => t.name === rc.cluster);
          // An unreachable cluster cannot validate; it must not hold the others back. Whatever it
          // rejects when it returns fails the apply there, which the rollout plan handles.
          if (!conn || !target?.ready) return;
          const found = await dryRun(
            conn.client,
            rc.objects,
            namespace,
            app.spec.sync?.force === true,
            app.spec.sync?.replace === true,
          );
          if (found.some((e) => e.code === 'TransportError' || e.code === 'Timeout')) return;
          errors.push(...found);
          if (app.spec.sync?.adopt !== true && app.spec.sync?.force !== true) {
            const appLabel = applicationLabelValue(ns, app.metadata.name);
            errors.push(...(await ownershipConflicts(conn.client, rc.objects, appLabel)));
          }
        }),
      );
      if (errors.length > 0) {
        return this.notReady(app, status, 'ValidationFailed', errors, targets.length);
      }
      const created = await createRevision(
        this.opts.hub,
        app,
        nextNumber,
        rendered.digest,
        rendered.clusters,
        rendered.sourceCommit,
        await this.revisionDigestKey(),
      );
      // What was rendered, Secrets included (the stored revision has them redacted).
      desired = {
        ...created,
        spec: {
          ...created.spec,
          clusters: Object.fromEntries(
            rendered.clusters.map((c) => [c.cluster, c.objects]),
          ) as ApplicationRevision['spec']['clusters'],
        },
      };
      this.event(
        app,
        'Normal',
        'RevisionCreated',
        `revision ${nextNumber} (${rendered.digest.slice(0, 19)}…) for ${targets.map((t) => t.name).join(', ')}`,
      );
      for (const notice of rendered.notices ?? []) this.event(app, 'Normal', 'BuiltinValues', notice);
      revs.unshift(desired);
    }
    // Recorded whenever it is missing, not only at creation: the status read from the cache may
    // predate the write that first recorded it.
    if (!(status.history ?? []).some((h) => h.revision === desired.spec.revision)) {
      status.history = [
        ...(status.history ?? []),
        {
          revision: desired.spec.revision,
          digest: desired.spec.digest,
          outcome: 'Progressing' as const,
          startedAt: kubeTime(Date.now()),
        },
      ].slice(-(app.spec.revisionHistoryLimit ?? 10));
    }
    const byNumber = new Map(revs.map((r) => [r.spec.revision, r]));

    // 4. A manual rollback request: go back to that revision everywhere and hold there.
    const rollbackReq = app.metadata.annotations?.[ROLLBACK_ANNOTATION];
    if (rollbackReq && rollbackReq !== status.handledRollbackRequest) {
      status.handledRollbackRequest = rollbackReq;
      const to = Number(rollbackReq.split('@')[0]) || status.lastGoodRevision;
      const target = to !== undefined ? byNumber.get(to) : undefined;
      if (target && target.spec.revision !== desired.spec.revision) {
        status.lastGoodRevision = target.spec.revision;
        status.blockedDigest = desired.spec.digest;
        status.mode = 'RollingBack';
        status.rollbackCause = `manual rollback to revision ${target.spec.revision}`;
        this.event(app, 'Normal', 'RollbackRequested', status.rollbackCause);
      } else {
        this.event(
          app,
          'Warning',
          'RollbackRejected',
          `revision ${rollbackReq.split('@')[0]} does not exist or is already the current one`,
        );
      }
    }

    // 5. Observe every placed cluster.
    const waves = planWaves(app.spec.rollout, targets);
    if (!waves.ok) {
      return this.notReady(app, status, 'InvalidRollout', waves.errors);
    }
    const deadline = app.spec.rollout?.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
    const prevClusters = new Map((status.clusters ?? []).map((c) => [c.name, c]));
    const observed: Record<string, PlanInput['clusters'][string]> = {};
    for (const t of targets) {
      const prev = prevClusters.get(t.name);
      const reachable = t.ready && this.opts.members.get(t.name) !== undefined && !this.watch.failing(t.name);
      let health: WorkloadHealth | undefined;
      const appliedRev = prev?.revision !== undefined ? byNumber.get(prev.revision) : undefined;
      const rolledOut = prev?.rolledOutAt !== undefined;
      if (reachable && appliedRev && !prev?.applyError) {
        health = await this.health(
          t.name,
          appliedRev,
          Date.parse(prev?.appliedAt ?? '') || Date.now(),
          rolledOut ? undefined : deadline,
        );
        // Not Healthy before its post-* hooks have run (their own deadline fails them).
        const run = prev?.hooks;
        if (
          health &&
          health.state !== 'Failed' &&
          run?.revision === prev?.revision &&
          run &&
          isPostEvent(run.event)
        )
          health = { state: 'Progressing', message: run.message ?? `${run.event} hooks to run` };
      }
      observed[t.name] = {
        reachable,
        appliedRevision: prev?.revision,
        appliedAt: prev?.appliedAt ? Date.parse(prev.appliedAt) : undefined,
        // A transient failure on a cluster that answers again is retried below, not a failure.
        applyError: reachable && isTransientApplyError(prev?.applyError) ? undefined : prev?.applyError,
        health,
        rolledOut,
      };
    }
    const lastGood =
      status.lastGoodRevision !== undefined ? byNumber.get(status.lastGoodRevision) : undefined;
    const input: PlanInput = {
      generation: gen ?? 0,
      desired: { revision: desired.spec.revision, digest: desired.spec.digest },
      lastGood: lastGood ? { revision: lastGood.spec.revision, digest: lastGood.spec.digest } : undefined,
      blockedDigest: status.blockedDigest,
      waves: waves.waves,
      maxUnavailableClusters: app.spec.rollout?.maxUnavailableClusters ?? 0,
      rollback: rollbackPolicy(app.spec.rollback),
      mode: status.mode ?? 'RollingOut',
      clusters: observed,
      now: Date.now(),
      waveHealthySince: Object.fromEntries(
        Object.entries(status.waveHealthySince ?? {}).map(([k, v]) => [k, Date.parse(v)]),
      ),
      progressDeadlineSeconds: deadline,
      rollbackCause: status.rollbackCause,
    };
    const planned = planRollout(input);
    // An apply that failed only because the cluster could not be reached is retried as soon as it
    // answers again: the planner counts the attempt (its deadline runs), but nothing landed.
    const retries = targets
      .filter(
        (t) => observed[t.name]!.reachable && isTransientApplyError(prevClusters.get(t.name)?.applyError),
      )
      .filter((t) => !planned.apply.some((a) => a.cluster === t.name))
      .map((t) => ({ cluster: t.name, revision: prevClusters.get(t.name)!.revision! }));
    const decision: PlanDecision =
      retries.length > 0 ? { ...planned, apply: [...planned.apply, ...retries] } : planned;

    // 6. Act.
    const clusterStatus = new Map(
      targets.map((t) => [
        t.name,
        { ...(prevClusters.get(t.name) ?? { name: t.name, phase: 'Pending' as const }) },
      ]),
    );
    const rollingBack = decision.mode === 'RollingBack';
    const hookOpts = {
      deadlineSeconds: deadline,
      force: app.spec.sync?.force === true,
      replace: app.spec.sync?.replace === true,
    };
    await Promise.all(
      decision.apply.map(async ({ cluster, revision }) => {
        const rev = byNumber.get(revision);
        const cs = clusterStatus.get(cluster)!;
        const objects = rev?.spec.clusters[cluster] as KubeObject[] | undefined;
        if (!rev || !objects) {
          cs.message = `revision ${revision} has no manifests for this cluster`;
          return;
        }
        const why = unusable.get(revision);
        if (why !== undefined) {
          cs.applyError = why;
          this.event(app, 'Warning', 'ApplyFailed', why);
          return;
        }
        const previous =
          cs.revision !== undefined
            ? (byNumber.get(cs.revision)?.spec.clusters[cluster] as KubeObject[] | undefined)
            : undefined;
        const events = hookEventsOf(releaseAction(cs.revision, rollingBack));
        const applied = (err: DeployError | undefined): void => {
          if (cs.revision !== revision) delete cs.rolledOutAt;
          cs.revision = revision;
          cs.appliedAt = kubeTime(Date.now());
          if (err) {
            cs.applyError = formatDeployError(err);
            this.event(
              app,
              'Warning',
              err.code === 'HookFailed' ? 'HookFailed' : 'ApplyFailed',
              cs.applyError,
            );
          } else delete cs.applyError;
        };
        // pre-* hooks first, each waited for across reconciles (the planner keeps asking for this
        // apply while the cluster is not on the revision); the release's objects only after them.
        const pre: HookRunStatus =
          cs.hooks?.revision === revision && cs.hooks.event === events.pre
            ? cs.hooks
            : { revision, event: events.pre, done: 0 };
        // Once per run: the namespace and CRDs its hooks may need.
        const starting = pre.done === 0 && pre.startedAt === undefined;
        const prepared = starting ? await this.prepare(app, cluster, objects) : undefined;
        if (prepared) {
          delete cs.hooks;
          return applied(prepared);
        }
        const preOutcome = await this.runHooks(app, cluster, cs, objects, pre, hookOpts);
        if (preOutcome === 'waiting') return;
        if (preOutcome !== 'finished') return applied(preOutcome);
        applied(await this.applyTo(app, cluster, objects, previous));
        if (cs.applyError || hooksFor(objects, events.post).length === 0) return;
        // post-* hooks right after the objects are applied, as Helm runs them; the cluster is not
        // Healthy before they finish (see the health above).
        const post: HookRunStatus = { revision, event: events.post, done: 0 };
        const postOutcome = await this.runHooks(app, cluster, cs, objects, post, hookOpts);
        if (postOutcome !== 'waiting' && postOutcome !== 'finished') applied(postOutcome);
      }),
    );
    // post-* hooks of what was applied earlier go on; a pre-* run whose apply is no longer wanted
    // (a rollback started meanwhile) is dropped.
    const applyingNow = new Set(decision.apply.map((a) => a.cluster));
    await Promise.all(
      [...clusterStatus].map(async ([cname, cs]) => {
        const run = cs.hooks;
        if (!run || applyingNow.has(cname)) return;
        if (!isPostEvent(run.event) || run.revision !== cs.revision || cs.applyError) {
          delete cs.hooks;
          return;
        }
        const objects = byNumber.get(run.revision)?.spec.clusters[cname] as KubeObject[] | undefined;
        if (!objects || !observed[cname]?.reachable) return;
        const outcome = await this.runHooks(app, cname, cs, objects, run, hookOpts);
        if (outcome === 'waiting' || outcome === 'finished') return;
        cs.applyError = formatDeployError(outcome);
        this.event(app, 'Warning', 'HookFailed', cs.applyError);
      }),
    );

    // 7. Drift: objects that changed in members since last look, where nothing is being applied.
    const applying = new Set(decision.apply.map((a) => a.cluster));
    await this.checkDrift(app, clusterStatus, byNumber, applying, unusable);

    // 8. Clusters that left the placement: remove what Meridian put there.
    for (const [cname, prev] of prevClusters) {
      if (clusterStatus.has(cname)) continue;
      const objs =
        prev.revision !== undefined
          ? (byNumber.get(prev.revision)?.spec.clusters[cname] as KubeObject[] | undefined)
          : undefined;
      const conn = this.opts.members.get(cname);
      if (objs && conn) {
        const errs = await prune(conn.client, objs, [], this.pruneScope(app, cname));
        if (errs.length > 0) {
          clusterStatus.set(cname, {
            ...prev,
            message: `cleanup failed: ${errs.map(formatDeployError).join('; ')}`,
          });
          continue;
        }
      }
      this.event(
        app,
        'Normal',
        'ClusterRemoved',
        `cluster ${cname} left the placement; its objects were removed`,
      );
    }

    // 9. Status.
    this.applyDecision(app, status, decision, clusterStatus, desired, gen);
    if (decision.blockDigest) {
      this.event(app, 'Warning', 'RollingBack', decision.rollbackCause ?? 'rolling back');
    }
    if (decision.phase !== app.status?.phase) {
      this.opts.metrics.reconciles.inc({ controller: 'application', result: `phase-${decision.phase}` });
      if (decision.phase === 'RolledBack')
        this.opts.metrics.rollbacks.inc({
          namespace: app.metadata.namespace ?? '',
          application: app.metadata.name,
        });
      if (decision.phase === 'RolledBack')
        this.event(
          app,
          'Warning',
          'RolledBack',
          `every cluster is back on revision ${status.lastGoodRevision}: ${status.rollbackCause ?? ''}`,
        );
      if (decision.phase === 'Healthy')
        this.event(
          app,
          'Normal',
          'RolloutComplete',
          `revision ${desired.spec.revision} is Healthy in every cluster`,
        );
    }
    await this.writeStatus(app, status);
    await this.recordOutcomes(app, status);
    await this.pruneHistory(app, revs, status);
    this.opts.metrics.reconciles.inc({ controller: 'application', result: 'ok' });
    const busy =
      decision.phase === 'Progressing' || decision.phase === 'RollingBack' || decision.apply.length > 0;
    const idleMs = 'git' in app.spec.source ? (this.opts.gitPollMs ?? 30_000) : 30_000;
    const untilRecheck =
      decision.recheckAt !== undefined ? Math.max(100, decision.recheckAt - Date.now()) : idleMs;
    return { requeueAfterMs: busy ? Math.min(1_000, untilRecheck) : Math.min(idleMs, untilRecheck) };
  }

  private applyDecision(
    app: Application,
    status: DeployStatus,
    d: PlanDecision,
    clusterStatus: Map<string, NonNullable<DeployStatus['clusters']>[number]>,
    desired: ApplicationRevision,
    gen: number | undefined,
  ): void {
    status.observedGeneration = gen;
    status.revision = desired.spec.revision;
    status.digest = desired.spec.digest;
    status.phase = d.phase;
    status.mode = d.mode;
    if (d.newLastGood) status.lastGoodRevision = d.newLastGood.revision;
    if (d.blockDigest) {
      status.blockedDigest = d.blockDigest;
      status.rollbackCause = d.rollbackCause;
    }
    if (status.blockedDigest && status.blockedDigest !== desired.spec.digest && d.mode === 'RollingOut') {
      // The spec moved on: the block only ever held the rolled-back content.
      delete status.blockedDigest;
    }
    for (const [cname, cp] of Object.entries(d.clusterPhases)) {
      const cs = clusterStatus.get(cname);
      if (!cs) continue;
      cs.phase = cp.phase;
      cs.message = cs.applyError ?? cs.hooks?.message ?? cp.message;
      if (cp.phase === 'Healthy' && cs.rolledOutAt === undefined) cs.rolledOutAt = kubeTime(Date.now());
    }
    status.clusters = [...clusterStatus.values()].sort((a, b) => a.name.localeCompare(b.name));
    this.healthGauges.set(
      app.metadata.namespace ?? '',
      app.metadata.name,
      status.clusters.map((c) => ({
        cluster: c.name,
        region: this.opts.clusters.get(c.name)?.spec.region ?? '',
        revision: c.revision,
        healthy: c.phase === 'Healthy',
      })),
    );
    const healthy = status.clusters.filter((c) => c.phase === 'Healthy').length;
    status.readyClusters = `${healthy}/${status.clusters.length}`;
    // What runs (printed as REVISION): after a rollback the revision rolled back to, not the blocked one.
    const running = status.clusters.flatMap((c) => (c.revision === undefined ? [] : [c.revision]));
    if (running.length > 0) status.runningRevision = Math.min(...running);
    else delete status.runningRevision;
    let conds = status.conditions as Condition[] | undefined;
    for (const c of d.conditions) conds = setCondition(conds, { ...c, observedGeneration: gen }, new Date());
    status.conditions = conds;
    const now = kubeTime(Date.now());
    const before = new Map((status.history ?? []).map((h) => [h.revision, h.outcome]));
    status.history = (status.history ?? []).map((h) => {
      if (h.outcome !== 'Progressing') return h;
      if (h.revision === desired.spec.revision && d.phase === 'Healthy')
        return { ...h, outcome: 'Succeeded', finishedAt: now };
      if (h.revision === desired.spec.revision && (d.phase === 'RolledBack' || d.phase === 'RollingBack'))
        return { ...h, outcome: 'RolledBack', finishedAt: now };
      if (h.revision === desired.spec.revision && d.phase === 'Failed')
        return { ...h, outcome: 'Failed', finishedAt: now };
      if (h.revision !== desired.spec.revision)
        return { ...h, outcome: 'Failed', finishedAt: h.finishedAt ?? now };
      return h;
    });
    for (const h of status.history) {
      if (before.get(h.revision) === 'Progressing' && h.outcome !== 'Progressing')
        this.opts.metrics.rollouts.inc({
          namespace: app.metadata.namespace ?? '',
          application: app.metadata.name,
          outcome: h.outcome,
        });
    }
    status.waveHealthySince = Object.fromEntries(
      Object.entries(d.waveHealthySince).map(([k, v]) => [k, kubeTime(v)]),
    );
  }

  /** Health of one cluster from the watch caches (and its pods, while not yet healthy). */
  private async health(
    cluster: string,
    rev: ApplicationRevision,
    appliedAt: number,
    deadlineSeconds: number | undefined,
  ): Promise<WorkloadHealth | undefined> {
    // Hooks are judged while they run (advanceHooks), not as part of the release: a failed hook
    // Job of a rolled-back revision must not fail the revision rolled back to.
    const objects = ((rev.spec.clusters[cluster] ?? []) as KubeObject[]).filter((o) => !hookOf(o));
    const live: KubeObject[] = [];
    for (const o of objects) {
      const l = this.watch.get(cluster, o);
      if (l === undefined) return undefined; // cache not ready: unknown, never assumed healthy
      if (l !== null) live.push(l);
    }
    let pods: KubeObject[] = [];
    const conn = this.opts.members.get(cluster);
    const namespaces = [
      ...new Set(
        objects
          .filter((o) => WORKLOAD_KINDS.has(o.kind))
          .map((o) => o.metadata.namespace)
          .filter(Boolean),
      ),
    ] as string[];
    if (conn && namespaces.length > 0) {
      try {
        const lists = await Promise.all(
          namespaces.map((n) =>
            conn.client.list<KubeObject>('v1', 'Pod', { namespace: n, timeoutMs: 3_000 }),
          ),
        );
        // List items come without apiVersion/kind; health messages name objects by kind.
        pods = lists.flatMap((l) => l.items.map((p) => ({ ...p, apiVersion: 'v1', kind: 'Pod' })));
      } catch {
        return undefined;
      }
    }
    return assessHealth(live, pods, {
      appliedAt,
      now: Date.now(),
      ...(deadlineSeconds !== undefined ? { progressDeadlineSeconds: deadlineSeconds } : {}),
    });
  }

  /**
   * What pruning in `cluster` must leave alone: objects not labelled as this Application's, and
   * objects the other Applications' applied revisions still render there.
   */
  private pruneScope(app: Application, cluster: string): { appLabel: string; stillRendered: Set<string> } {
    const stillRendered = new Set<string>();
    const revisions = this.revisions.list();
    for (const other of this.apps.list()) {
      if (appKey(other) === appKey(app)) continue;
      const status = other.status as DeployStatus | undefined;
      const applied = status?.clusters?.find((c) => c.name === cluster)?.revision;
      if (applied === undefined) continue;
      const rev = revisions.find(
        (r) =>
          r.metadata.namespace === other.metadata.namespace &&
          r.spec.application === other.metadata.name &&
          r.spec.revision === applied,
      );
      for (const o of (rev?.spec.clusters[cluster] ?? []) as KubeObject[]) stillRendered.add(objectKey(o));
    }
    return {
      appLabel: applicationLabelValue(app.metadata.namespace ?? 'default', app.metadata.name),
      stillRendered,
    };
  }

  /** Creates the destination namespace and the revision's CRDs and Namespaces: hooks may need them. */
  private async prepare(
    app: Application,
    cluster: string,
    objects: readonly KubeObject[],
  ): Promise<DeployError | undefined> {
    const conn = this.opts.members.get(cluster);
    if (!conn) return { code: 'Unreachable', cluster, message: 'cluster is not connected' };
    for (const o of objects) this.watch.ensure(cluster, o.apiVersion, o.kind, o.metadata.namespace);
    try {
      await ensureNamespace(conn.client, app.spec.destinationNamespace ?? app.metadata.namespace!);
    } catch (e) {
      return { code: 'ApplyFailed', cluster, message: `namespace: ${errorMessage(e)}` };
    }
    return applyAll(conn.client, foundationObjects(objects), {
      force: app.spec.sync?.force === true,
      replace: app.spec.sync?.replace === true,
    });
  }

  /**
   * Runs the hooks of `run` in `cluster` as far as they go now. While one runs, `cs.hooks` holds the
   * run (so the next reconcile, or a restarted hub, goes on from there); once they all finished,
   * or one failed, it is cleared. Succeeded hooks become Events.
   */
  private async runHooks(
    app: Application,
    cluster: string,
    cs: ClusterStatus,
    objects: readonly KubeObject[],
    run: HookRunStatus,
    opts: { deadlineSeconds: number; force: boolean; replace: boolean },
  ): Promise<'finished' | 'waiting' | DeployError> {
    const conn = this.opts.members.get(cluster);
    if (!conn) return { code: 'Unreachable', cluster, message: 'cluster is not connected' };
    const outcome = await advanceHooks(conn.client, objects, run, opts);
    for (const h of outcome.succeeded)
      this.event(app, 'Normal', 'HookSucceeded', `cluster ${cluster}: ${run.event} hook ${h} finished`);
    if (outcome.deleted.length > 0)
      this.event(
        app,
        'Normal',
        'HookDeleted',
        `cluster ${cluster}: ${outcome.deleted.join(', ')} finished (hook-delete-policy)`,
      );
    if (outcome.state === 'waiting') {
      cs.hooks = outcome.run;
      return 'waiting';
    }
    delete cs.hooks;
    return outcome.state === 'finished' ? 'finished' : outcome.error;
  }

  /** Applies the release's objects (hooks are run apart) and prunes what left the revision. */
  private async applyTo(
    app: Application,
    cluster: string,
    objects: KubeObject[],
    previous: KubeObject[] | undefined,
  ): Promise<DeployError | undefined> {
    const conn = this.opts.members.get(cluster);
    if (!conn) return { code: 'Unreachable', cluster, message: 'cluster is not connected' };
    for (const o of objects) this.watch.ensure(cluster, o.apiVersion, o.kind, o.metadata.namespace);
    const err = await applyAll(conn.client, objects, {
      force: app.spec.sync?.force === true,
      replace: app.spec.sync?.replace === true,
    });
    if (err) return err;
    if (previous && app.spec.sync?.prune !== false) {
      const errs = await prune(conn.client, previous, objects, this.pruneScope(app, cluster));
      if (errs.length > 0) return errs[0];
    }
    return undefined;
  }

  private async checkDrift(
    app: Application,
    clusterStatus: Map<string, NonNullable<DeployStatus['clusters']>[number]>,
    byNumber: Map<number, ApplicationRevision>,
    applying: ReadonlySet<string>,
    unusable: ReadonlyMap<number, string>,
  ): Promise<void> {
    const key = appKey(app);
    const dirty = this.dirty.get(key);
    for (const [cname, cs] of clusterStatus) {
      if (applying.has(cname) || cs.revision === undefined || cs.applyError) continue;
      // Its Secrets could only be compared, and re-applied, redacted.
      if (unusable.has(cs.revision)) continue;
      const objects = (byNumber.get(cs.revision)?.spec.clusters[cname] ?? []) as KubeObject[];
      const conn = this.opts.members.get(cname);
      if (!conn) continue;
      for (const o of objects) this.watch.ensure(cname, o.apiVersion, o.kind, o.metadata.namespace);
      // Hooks run once per revision and finished TTL Jobs are gone for good: neither is drift.
      const exempt = (o: KubeObject): boolean => {
        const live = this.watch.get(cname, o);
        return live !== undefined && exemptFromDrift(o, live);
      };
      const finished = objects.flatMap((o) => {
        const live = this.watch.get(cname, o);
        return live ? [{ desired: o, live }] : [];
      });
      const removed = await deleteFinishedHooks(conn.client, finished);
      if (removed.length > 0)
        this.event(
          app,
          'Normal',
          'HookDeleted',
          `cluster ${cname}: ${removed.join(', ')} finished (hook-delete-policy)`,
        );
      const toCheck = objects.filter(
        (o) => (dirty?.has(`${cname}#${objectKey(o)}`) || this.watch.get(cname, o) === null) && !exempt(o),
      );
      for (const o of objects) dirty?.delete(`${cname}#${objectKey(o)}`);
      if (toCheck.length === 0) continue;
      const changes: string[] = [];
      for (const o of toCheck) {
        const live = this.watch.get(cname, o);
        if (live === undefined) continue;
        if (live === null) {
          changes.push(`${objectRef(o)} was deleted`);
          continue;
        }
        try {
          const wouldBe = await conn.client.apply(o, { dryRun: true, force: true });
          const fields = driftedFields(live, wouldBe);
          if (fields.length > 0) changes.push(`${objectRef(o)}: ${fields.join(', ')}`);
        } catch {
          // The next event or resync tries again.
        }
      }
      if (changes.length === 0) {
        if (cs.drifted) cs.drifted = false;
        continue;
      }
      cs.drifted = true;
      const selfHeal = app.spec.sync?.selfHeal !== false;
      this.event(
        app,
        'Warning',
        'Drifted',
        `cluster ${cname}: ${changes.join('; ')}${selfHeal ? ' — correcting' : ''}`,
      );
      if (selfHeal) {
        const err = await applyAll(
          conn.client,
          objects.filter((o) => !exempt(o)),
          { force: true, replace: app.spec.sync?.replace === true },
        );
        if (err) cs.message = `self-heal failed: ${formatDeployError(err)}`;
        else {
          cs.drifted = false;
          this.event(app, 'Normal', 'DriftCorrected', `cluster ${cname}: re-applied revision ${cs.revision}`);
        }
      }
    }
  }

  private revisionDigestKey(): Promise<Buffer> {
    this.digestKey ??= revisionDigestKey(this.opts.hub).catch((e: unknown) => {
      this.digestKey = undefined;
      throw e;
    });
    return this.digestKey;
  }

  /**
   * The app's revisions with their Secrets put back from their stores. A revision written before
   * Secrets were kept apart is rewritten redacted first (its values move to a store). One whose
   * store cannot be read stays redacted and is listed in `unusable` with the reason.
   */
  private async loadRevisions(
    app: Application,
    stored: readonly ApplicationRevision[],
  ): Promise<{ revs: ApplicationRevision[]; unusable: Map<number, string> }> {
    const key = appKey(app);
    const before = this.fullRevisions.get(key);
    const cache = new Map<string, ApplicationRevision>();
    const unusable = new Map<number, string>();
    const revs: ApplicationRevision[] = [];
    for (let rev of stored) {
      if (!rev.spec.secretsRef && holdsSecretValues(rev.spec.clusters as unknown as ClusterObjects)) {
        if (app.metadata.deletionTimestamp) {
          revs.push(rev);
          continue;
        }
        const clusters = Object.entries(rev.spec.clusters).map(([cluster, objects]) => ({
          cluster,
          objects: objects as KubeObject[],
        }));
        rev = await createRevision(
          this.opts.hub,
          app,
          rev.spec.revision,
          rev.spec.digest,
          clusters,
          rev.spec.sourceCommit,
          await this.revisionDigestKey(),
        );
        this.opts.log.info(
          { application: key, revision: rev.spec.revision },
          'revision rewritten with its Secrets redacted and stored apart',
        );
      }
      const id = `${rev.metadata.uid ?? rev.metadata.name}|${rev.spec.secretsRef?.name ?? ''}`;
      let full = before?.get(id);
      if (!full) {
        try {
          full = await withStoredSecrets(this.opts.hub, rev);
        } catch (e) {
          unusable.set(
            rev.spec.revision,
            `revision ${rev.spec.revision} cannot be applied: ${errorMessage(e)}`,
          );
          revs.push(rev);
          continue;
        }
      }
      cache.set(id, full);
      revs.push(full);
    }
    this.fullRevisions.set(key, cache);
    return { revs, unusable };
  }

  /** Each ApplicationRevision's own status says how its rollout went (its OUTCOME column). */
  private async recordOutcomes(app: Application, status: DeployStatus): Promise<void> {
    for (const h of status.history ?? []) {
      const name = revisionName(app.metadata.name, h.revision);
      const rev = this.revisions.get(name, app.metadata.namespace);
      if (!rev || rev.status?.outcome === h.outcome) continue;
      await this.opts.hub
        .applyStatus({
          apiVersion: API_VERSION,
          kind: 'ApplicationRevision',
          metadata: { name, namespace: app.metadata.namespace },
          status: {
            outcome: h.outcome,
            ...(h.startedAt ? { startedAt: h.startedAt } : {}),
            ...(h.finishedAt ? { finishedAt: h.finishedAt } : {}),
            ...(h.outcome === 'RolledBack' && status.rollbackCause ? { message: status.rollbackCause } : {}),
          },
        } as KubeObject)
        .catch((e: unknown) =>
          this.opts.log.warn(
            { application: appKey(app), revision: h.revision, err: errorMessage(e) },
            'revision outcome not recorded',
          ),
        );
    }
  }

  private async pruneHistory(
    app: Application,
    revs: readonly ApplicationRevision[],
    status: DeployStatus,
  ): Promise<void> {
    const inUse = new Set<number>([
      status.revision ?? -1,
      status.lastGoodRevision ?? -1,
      ...(status.clusters ?? []).map((c) => c.revision ?? -1),
    ]);
    for (const r of revisionsToPrune(revs, app.spec.revisionHistoryLimit ?? 10, inUse)) {
      await this.opts.hub
        .delete(API_VERSION, 'ApplicationRevision', r.metadata.name, r.metadata.namespace)
        .catch(() => undefined);
    }
  }

  /**
   * Deletion: in every cluster, run the pre-delete hooks, remove what Meridian applied, run the
   * post-delete hooks, then let the Application go. A hook that fails or outlives the progress
   * deadline is reported (HookFailed) and the deletion goes on: a deleted Application cannot be
   * fixed, so holding its finalizer would only strand it.
   */
  private async finalize(app: Application, revs: readonly ApplicationRevision[]): Promise<ReconcileResult> {
    const byNumber = new Map(revs.map((r) => [r.spec.revision, r]));
    const status = structuredClone((app.status ?? {}) as DeployStatus);
    const opts = {
      deadlineSeconds: app.spec.rollout?.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS,
      force: app.spec.sync?.force === true,
      replace: app.spec.sync?.replace === true,
    };
    const pending: string[] = [];
    let hooksRunning = false;
    for (const cs of status.clusters ?? []) {
      const objs =
        cs.revision !== undefined
          ? (byNumber.get(cs.revision)?.spec.clusters[cs.name] as KubeObject[] | undefined)
          : undefined;
      if (!objs || cs.revision === undefined) continue;
      const conn = this.opts.members.get(cs.name);
      if (!conn) {
        pending.push(cs.name);
        continue;
      }
      const deleting = cs.hooks?.event === 'pre-delete' || cs.hooks?.event === 'post-delete';
      const run: HookRunStatus = deleting
        ? cs.hooks!
        : { revision: cs.revision, event: 'pre-delete', done: 0 };
      if (run.event === 'pre-delete') {
        const pre = await this.runHooks(app, cs.name, cs, objs, run, opts);
        if (pre === 'waiting') {
          hooksRunning = true;
          continue;
        }
        if (pre !== 'finished')
          this.event(app, 'Warning', 'HookFailed', `${formatDeployError(pre)}; deleting anyway`);
      }
      // The post-delete hooks are created below and stay (their delete policy decides).
      const removable = objs.filter((o) => !hookOf(o)?.events.includes('post-delete'));
      const errs = await prune(conn.client, removable, [], this.pruneScope(app, cs.name));
      if (errs.length > 0) {
        pending.push(cs.name);
        // The objects first; the post-delete hooks once they are gone.
        cs.hooks = { revision: cs.revision, event: 'post-delete', done: 0 };
        continue;
      }
      const postRun: HookRunStatus =
        run.event === 'post-delete' ? run : { revision: cs.revision, event: 'post-delete', done: 0 };
      if (hooksFor(objs, 'post-delete').length > 0) {
        const ns = app.spec.destinationNamespace ?? app.metadata.namespace!;
        await ensureNamespace(conn.client, ns).catch(() => undefined);
      }
      const post = await this.runHooks(app, cs.name, cs, objs, postRun, opts);
      if (post === 'waiting') {
        hooksRunning = true;
        continue;
      }
      if (post !== 'finished') this.event(app, 'Warning', 'HookFailed', formatDeployError(post));
      // Done here: nothing to run again should the finalizer wait for another cluster.
      cs.hooks = { revision: cs.revision, event: 'post-delete', done: hooksFor(objs, 'post-delete').length };
    }
    if (pending.length > 0 || hooksRunning) {
      await this.writeStatus(app, status).catch(() => undefined);
      if (pending.length > 0)
        this.opts.log.warn({ application: appKey(app), clusters: pending }, 'cleanup waits for clusters');
      return { requeueAfterMs: hooksRunning ? 1_000 : 5_000 };
    }
    await this.opts.hub.apply(
      {
        apiVersion: API_VERSION,
        kind: 'Application',
        metadata: { name: app.metadata.name, namespace: app.metadata.namespace, finalizers: [] },
      },
      { force: true },
    );
    this.renders.delete(appKey(app));
    this.fullRevisions.delete(appKey(app));
    this.healthGauges.delete(app.metadata.namespace ?? '', app.metadata.name);
    return;
  }
}

/** Whether a kind is namespaced: well-known kinds directly, others from discovery results. */
export function namespacedByKind(
  cluster: string,
  apiVersion: string,
  kind: string,
  discovered: ReadonlyMap<string, boolean>,
): boolean | undefined {
  const known = WELL_KNOWN_SCOPE[kind];
  if (known !== undefined) return known;
  return discovered.get(`${cluster}|${apiVersion}|${kind}`);
}

const WELL_KNOWN_SCOPE: Record<string, boolean> = {
  Namespace: false,
  CustomResourceDefinition: false,
  ClusterRole: false,
  ClusterRoleBinding: false,
  PersistentVolume: false,
  StorageClass: false,
  PriorityClass: false,
  IngressClass: false,
  Node: false,
  ValidatingWebhookConfiguration: false,
  MutatingWebhookConfiguration: false,
  Deployment: true,
  StatefulSet: true,
  DaemonSet: true,
  ReplicaSet: true,
  Job: true,
  CronJob: true,
  Pod: true,
  Service: true,
  ConfigMap: true,
  Secret: true,
  ServiceAccount: true,
  Role: true,
  RoleBinding: true,
  Ingress: true,
  NetworkPolicy: true,
  PersistentVolumeClaim: true,
  HorizontalPodAutoscaler: true,
  PodDisruptionBudget: true,
  EndpointSlice: true,
  ServiceExport: true,
  ServiceImport: true,
};
