// The GlobalIngress controller (leader only): resolves host conflicts and placement, writes the
// generated Ingress/HTTPRoute/Service into every placed member and removes them elsewhere, runs
// the health checks, and writes per-cluster health to status. The DNS and the edge gateway read
// that status (see table-sync.ts), so what they serve is always what status says.
import { API_VERSION } from '../../api/group.ts';
import type { Application } from '../../api/application.ts';
import type { Cluster } from '../../api/cluster.ts';
import type {
  GlobalIngress,
  GlobalIngressClusterStatus,
  GlobalIngressStatus,
} from '../../api/global-ingress.ts';
import type { ClusterClient, KubeObject } from '../../kube/cluster-client.ts';
import { kubeTime, setCondition, type Condition } from '../../kube/conditions.ts';
import { errorMessage } from '../../kube/errors.ts';
import { recordEvent } from '../../kube/events.ts';
import type { Informer } from '../../kube/informer.ts';
import { sameContent } from '../../kube/same-content.ts';
import { WorkQueue, type ReconcileResult } from '../../kube/work-queue.ts';
import type { MemberConnections } from '../../fleet/member-connections.ts';
import type { TrafficMetrics } from './traffic-metrics.ts';
import type { ReconcileMetrics } from '../../kube/reconcile-metrics.ts';
import type { Logger } from '../../logging/logger.ts';
import { resolvePlacement } from '../../fleet/placement.ts';
import { targetFromCluster } from '../../fleet/targets.ts';
import { FINALIZER } from '../../api/labels.ts';
import type { HealthState } from './health-state.ts';
import { HealthMonitor, type SliceCache } from './health-monitor.ts';
import { resolveHostClaims } from './host-claims.ts';
import { GLOBAL_INGRESS_LABEL, globalIngressLabelValue } from './generate.ts';
import { syncMember, pruneMember } from './member-sync.ts';

export interface TrafficControllerOptions {
  readonly hub: ClusterClient;
  readonly clusters: Informer<Cluster>;
  readonly applications: Informer<Application>;
  readonly ingresses: Informer<GlobalIngress>;
  readonly members: MemberConnections;
  readonly log: Logger;
  readonly metrics: ReconcileMetrics & TrafficMetrics;
  /** Members' EndpointSlices from a watch cache, when one is synced (the mesh service keeps one). */
  readonly endpointSlices?: SliceCache;
}

/** Status is rewritten at least this often while nothing changes, so lastCheck stays honest. */
const HEARTBEAT_MS = 30_000;

const giKey = (g: { metadata: { namespace?: string; name: string } }): string =>
  `${g.metadata.namespace}/${g.metadata.name}`;

interface Placed {
  readonly namespace: string;
  readonly clusters: readonly string[];
}

export class TrafficController {
  private readonly queue: WorkQueue;
  private readonly monitor: HealthMonitor;
  /** What the last reconcile decided, per GlobalIngress key (status writes between reconciles use it). */
  private readonly placed = new Map<string, Placed>();
  private readonly lastWrite = new Map<string, number>();
  private readonly conditions = new Map<string, Condition[]>();

  constructor(private readonly opts: TrafficControllerOptions) {
    this.queue = new WorkQueue((k) => this.reconcile(k), {
      concurrency: 4,
      onError: (key, err, attempt) => {
        opts.metrics.reconciles.inc({ controller: 'globalingress', result: 'error' });
        opts.log.warn(
          { globalIngress: key, err: errorMessage(err), attempt },
          'globalingress reconcile failed',
        );
      },
    });
    this.monitor = new HealthMonitor(
      opts.members,
      opts.log,
      (key, cluster, prev, next) => void this.transition(key, cluster, prev, next),
      (key) => void this.writeStatus(key).catch((e: unknown) => this.statusFailed(key, e)),
      opts.endpointSlices,
    );
  }

  async start(): Promise<void> {
    const all = () => {
      for (const g of this.opts.ingresses.list()) this.queue.add(giKey(g));
    };
    this.opts.ingresses.on((ev, g, old) => {
      // Our own status writes come back as events; only spec or metadata changes matter here.
      if (ev === 'update' && old && sameContent(old.spec, g.spec) && sameMeta(old, g)) return;
      // Host claims tie a GlobalIngress to those naming one of its hosts (old or new): the winner
      // of a conflict may change. Only those are re-examined, not every GlobalIngress.
      for (const key of this.sharingHosts([g, ...(old ? [old] : [])])) this.queue.add(key);
    });
    this.opts.applications.on((_ev, a, old) => {
      if (old && sameContent(old.spec.placement, a.spec.placement)) return;
      for (const g of this.opts.ingresses.list()) {
        if (g.metadata.namespace === a.metadata.namespace && g.spec.applicationRef?.name === a.metadata.name)
          this.queue.add(giKey(g));
      }
    });
    // Placement reads every Cluster (labels, readiness), and clusters change rarely: all of them.
    this.opts.clusters.on((_ev, c, old) => {
      if (old && sameContent(old.spec, c.spec) && sameContent(old.metadata.labels, c.metadata.labels)) return;
      all();
    });
    all();
  }

  /** Keys of `changed` and of every GlobalIngress that names one of their hosts. */
  private sharingHosts(changed: readonly GlobalIngress[]): Set<string> {
    const keys = new Set(changed.map(giKey));
    const hosts = new Set(changed.flatMap((g) => g.spec.hosts.map((h) => h.toLowerCase())));
    for (const g of this.opts.ingresses.list()) {
      if (g.spec.hosts.some((h) => hosts.has(h.toLowerCase()))) keys.add(giKey(g));
    }
    return keys;
  }

  async stop(): Promise<void> {
    this.queue.stop();
    this.monitor.stop();
  }

  private async reconcile(key: string): Promise<ReconcileResult> {
    const [ns, name] = key.split('/', 2) as [string, string];
    const gi = this.opts.ingresses.get(name, ns);
    if (!gi) {
      this.monitor.remove(key);
      this.placed.delete(key);
      this.conditions.delete(key);
      return;
    }
    this.opts.metrics.reconciles.inc({ controller: 'globalingress', result: 'ok' });
    if (gi.metadata.deletionTimestamp) return this.finalize(gi);
    if (!(gi.metadata.finalizers as string[] | undefined)?.includes(FINALIZER)) {
      await this.opts.hub.apply(
        {
          apiVersion: API_VERSION,
          kind: 'GlobalIngress',
          metadata: { name, namespace: ns, finalizers: [FINALIZER] },
        },
        { force: true },
      );
    }
    const now = new Date();
    const conflicts = resolveHostClaims(this.opts.ingresses.list()).get(key) ?? [];
    let conditions = (gi.status?.conditions ?? []) as Condition[];
    const gen = gi.metadata.generation;
    if (conflicts.length > 0) {
      const c = conflicts[0]!;
      const message = `host ${c.host} is already published by GlobalIngress ${c.heldBy} (the older one wins); nothing is generated for this one`;
      conditions = setCondition(
        conditions,
        { type: 'Conflict', status: 'True', reason: 'HostConflict', message, observedGeneration: gen },
        now,
      );
      conditions = setCondition(
        conditions,
        { type: 'Ready', status: 'False', reason: 'HostConflict', message, observedGeneration: gen },
        now,
      );
      this.monitor.remove(key);
      this.placed.delete(key);
      const pending = await this.pruneEverywhere(gi, new Set());
      await this.putStatus(gi, { observedGeneration: gen, clusters: [], conditions });
      return pending ? { requeueAfterMs: 5_000 } : undefined;
    }
    conditions = setCondition(
      conditions,
      {
        type: 'Conflict',
        status: 'False',
        reason: 'NoConflict',
        message: 'every host is published by this GlobalIngress',
        observedGeneration: gen,
      },
      now,
    );

    // Placement: the GlobalIngress's own, or its Application's.
    let placementSpec = gi.spec.placement;
    let namespace = ns;
    if (gi.spec.applicationRef) {
      const app = this.opts.applications.get(gi.spec.applicationRef.name, ns);
      if (!app) {
        return this.blocked(
          gi,
          conditions,
          'ApplicationNotFound',
          `spec.applicationRef.name: Application ${ns}/${gi.spec.applicationRef.name} does not exist`,
        );
      }
      placementSpec = app.spec.placement;
      namespace = app.spec.destinationNamespace ?? ns;
    }
    namespace = gi.spec.destinationNamespace ?? namespace;
    const placement = resolvePlacement(placementSpec ?? {}, this.opts.clusters.list().map(targetFromCluster));
    if (!placement.ok) {
      const e = placement.errors[0]!;
      const field = gi.spec.applicationRef
        ? `Application ${ns}/${gi.spec.applicationRef.name}: ${e.field}`
        : e.field;
      return this.blocked(gi, conditions, 'InvalidPlacement', `${field}: ${e.message}`);
    }
    const clusters = placement.targets.map((t) => t.name);
    this.placed.set(key, { namespace, clusters });

    // Generated objects: write where placed, remove everywhere else.
    const problems: string[] = [];
    let retry = false;
    for (const cluster of clusters) {
      const conn = this.opts.members.get(cluster);
      if (!conn) {
        problems.push(`cluster ${cluster}: not connected`);
        retry = true;
        continue;
      }
      const r = await syncMember(conn.client, gi, namespace);
      problems.push(...r.warnings.map((w) => `cluster ${cluster}: ${w}`));
      // A missing Service may be on its way (the Application is still rolling out): look again soon.
      if (r.warnings.length > 0) retry = true;
      if (r.error) {
        problems.push(`cluster ${cluster}: ${r.error}`);
        retry = true;
      }
    }
    if (await this.pruneEverywhere(gi, new Set(clusters))) retry = true;
    conditions = setCondition(
      conditions,
      problems.length === 0
        ? {
            type: 'Programmed',
            status: 'True',
            reason: 'Generated',
            message: `ingress objects are in place in ${clusters.length} cluster(s)`,
            observedGeneration: gen,
          }
        : {
            type: 'Programmed',
            status: 'False',
            reason: 'GenerateFailed',
            message: problems.join('; '),
            observedGeneration: gen,
          },
      now,
    );

    // Health checks of every placed cluster with an ingress address.
    const hc = gi.spec.healthCheck ?? {};
    const monitored = clusters.flatMap((c) => {
      const ing = this.opts.clusters.get(c)?.spec.ingress;
      const address = ing?.addresses[0];
      return address ? [{ name: c, address, port: ing.port ?? 443 }] : [];
    });
    this.monitor.set(key, {
      clusters: monitored,
      host: gi.spec.hosts[0]!,
      path: hc.path ?? '/healthz',
      intervalMs: (hc.intervalSeconds ?? 10) * 1000,
      timeoutMs: (hc.timeoutSeconds ?? 3) * 1000,
      healthyThreshold: hc.healthyThreshold ?? 2,
      unhealthyThreshold: hc.unhealthyThreshold ?? 3,
      namespace,
      services: [...new Set(gi.spec.rules.map((r) => r.service))],
    });
    await this.writeStatus(key, conditions);
    return retry ? { requeueAfterMs: 5_000 } : undefined;
  }

  /** Status from the last placement and the current health; written when it changed or on heartbeat. */
  private async writeStatus(key: string, conditionsIn?: Condition[]): Promise<void> {
    const [ns, name] = key.split('/', 2) as [string, string];
    const gi = this.opts.ingresses.get(name, ns);
    const placed = this.placed.get(key);
    if (!gi || !placed) return;
    const states = this.monitor.states(key);
    const now = Date.now();
    const previous = new Map((gi.status?.clusters ?? []).map((c) => [c.name, c]));
    const clusters: GlobalIngressClusterStatus[] = placed.clusters.map((c) => {
      const cluster = this.opts.clusters.get(c);
      const s = states?.get(c);
      const drained = cluster?.spec.traffic?.drained === true;
      if (!cluster?.spec.ingress) {
        return {
          name: c,
          healthy: false,
          reason: 'NoIngressAddress',
          message: `Cluster ${c} has no spec.ingress.addresses`,
          drained,
        };
      }
      const healthy = s?.healthy ?? true;
      const out: GlobalIngressClusterStatus = {
        name: c,
        healthy,
        reason: s?.reason ?? 'Pending',
        message: s?.message ?? 'not checked yet',
        lastTransitionTime: kubeTime(s?.since ?? now),
        lastCheck: previous.get(c)?.lastCheck ?? kubeTime(now),
        drained,
      };
      return s?.readyEndpoints !== undefined ? { ...out, readyEndpoints: s.readyEndpoints } : out;
    });
    // The conditions this controller last decided, not the cache's: a health round racing a
    // reconcile must not write back conditions the reconcile just replaced.
    let conditions =
      conditionsIn ?? this.conditions.get(key) ?? ((gi.status?.conditions ?? []) as Condition[]);
    const inRotation = clusters.filter((c) => c.healthy && !c.drained).map((c) => c.name);
    for (const c of clusters) {
      this.opts.metrics.gslbClusterHealthy.set(
        { namespace: ns, globalingress: name, cluster: c.name },
        c.healthy && !c.drained ? 1 : 0,
      );
    }
    conditions = setCondition(
      conditions,
      inRotation.length > 0
        ? {
            type: 'Ready',
            status: 'True',
            reason: 'Serving',
            message: `serving from ${inRotation.join(', ')}`,
            observedGeneration: gi.metadata.generation,
          }
        : {
            type: 'Ready',
            status: 'False',
            reason: 'NoHealthyCluster',
            message:
              clusters.length === 0
                ? 'placement selects no cluster'
                : 'no placed cluster is healthy; DNS answers with every cluster',
            observedGeneration: gi.metadata.generation,
          },
      new Date(now),
    );
    this.conditions.set(key, conditions);
    const status: GlobalIngressStatus = { observedGeneration: gi.metadata.generation, clusters, conditions };
    const stripChecks = (s: GlobalIngressStatus | undefined) => ({
      ...s,
      clusters: s?.clusters?.map((c) => ({ ...c, lastCheck: undefined })),
    });
    const changed = !sameContent(stripChecks(gi.status), stripChecks(status));
    if (!changed && now - (this.lastWrite.get(key) ?? 0) < HEARTBEAT_MS) return;
    for (const c of status.clusters ?? []) if (states?.has(c.name)) c.lastCheck = kubeTime(now);
    await this.putStatus(gi, status);
    this.lastWrite.set(key, now);
  }

  private async putStatus(gi: GlobalIngress, status: GlobalIngressStatus): Promise<void> {
    if (sameContent(gi.status, status)) return;
    await this.opts.hub.applyStatus({
      apiVersion: API_VERSION,
      kind: 'GlobalIngress',
      metadata: { name: gi.metadata.name, namespace: gi.metadata.namespace },
      status,
    });
  }

  private statusFailed(key: string, e: unknown): void {
    this.opts.log.warn(
      { globalIngress: key, err: errorMessage(e) },
      'status write failed; retried next round',
    );
  }

  private async transition(
    key: string,
    cluster: string,
    prev: HealthState,
    next: HealthState,
  ): Promise<void> {
    const [ns, name] = key.split('/', 2) as [string, string];
    const gi = this.opts.ingresses.get(name, ns);
    if (!gi) return;
    this.opts.log.info(
      { globalIngress: key, cluster, healthy: next.healthy, reason: next.reason, message: next.message },
      'cluster health changed',
    );
    this.opts.metrics.gslbFailovers.inc({ cluster, direction: next.healthy ? 'recovered' : 'failed' });
    try {
      await this.writeStatus(key);
      await recordEvent(this.opts.hub, {
        regarding: gi,
        type: next.healthy ? 'Normal' : 'Warning',
        reason: next.healthy ? 'ClusterHealthy' : 'ClusterUnhealthy',
        message: next.healthy
          ? `cluster ${cluster} is back in rotation: ${next.message} (was ${prev.reason})`
          : `cluster ${cluster} left rotation: ${next.reason}: ${next.message}`,
      });
    } catch (e) {
      this.statusFailed(key, e);
    }
  }

  private async blocked(
    gi: GlobalIngress,
    conditions: Condition[],
    reason: string,
    message: string,
  ): Promise<ReconcileResult> {
    const now = new Date();
    const gen = gi.metadata.generation;
    const key = giKey(gi);
    // Keep serving what was placed before: a typo in placement must not take an app offline.
    conditions = setCondition(
      conditions,
      { type: 'Programmed', status: 'False', reason, message, observedGeneration: gen },
      now,
    );
    if (!this.placed.has(key)) {
      conditions = setCondition(
        conditions,
        { type: 'Ready', status: 'False', reason, message, observedGeneration: gen },
        now,
      );
      await this.putStatus(gi, { ...gi.status, observedGeneration: gen, conditions });
      return { requeueAfterMs: 30_000 };
    }
    await this.writeStatus(key, conditions);
    return { requeueAfterMs: 30_000 };
  }

  /** Deletes generated objects in every connected member not in `keep`; true when some member could not be reached. */
  private async pruneEverywhere(gi: GlobalIngress, keep: ReadonlySet<string>): Promise<boolean> {
    let pending = false;
    for (const cluster of this.opts.members.names()) {
      if (keep.has(cluster)) continue;
      const conn = this.opts.members.get(cluster);
      if (!conn) continue;
      const err = await pruneMember(conn.client, `${GLOBAL_INGRESS_LABEL}=${globalIngressLabelValue(gi)}`);
      if (err) {
        pending = true;
        this.opts.log.warn({ globalIngress: giKey(gi), cluster, err }, 'could not remove generated objects');
      }
    }
    return pending;
  }

  private async finalize(gi: GlobalIngress): Promise<ReconcileResult> {
    const key = giKey(gi);
    this.monitor.remove(key);
    this.placed.delete(key);
    const pending = await this.pruneEverywhere(gi, new Set());
    if (pending) return { requeueAfterMs: 5_000 };
    await this.opts.hub.apply(
      {
        apiVersion: API_VERSION,
        kind: 'GlobalIngress',
        metadata: { name: gi.metadata.name, namespace: gi.metadata.namespace, finalizers: [] },
      },
      { force: true },
    );
    return;
  }
}

function sameMeta(a: KubeObject, b: KubeObject): boolean {
  return (
    a.metadata.deletionTimestamp === b.metadata.deletionTimestamp &&
    sameContent(a.metadata.finalizers, b.metadata.finalizers) &&
    a.metadata.generation === b.metadata.generation
  );
}
