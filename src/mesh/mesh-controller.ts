// The mesh controller (leader only): for every service exported anywhere in the cluster set, plan
// imports, derived Services and EndpointSlices for every member (pure planner in
// endpoint-plan.ts), converge each member to it, set the ServiceExport conditions, and record an
// Event on every failover and recovery. Keyed by `namespace/name`; level-triggered from the
// member caches, so a restart replans from scratch and writes nothing that is already right.
import type { Cluster } from '../api/cluster.ts';
import { API_VERSION } from '../api/group.ts';
import { MCS_API_VERSION, type ServiceExport } from '../api/mcs.ts';
import type { TrafficPolicy } from '../api/traffic-policy.ts';
import type { MemberConnections } from '../fleet/member-connections.ts';
import type { MeshMetrics } from './mesh-metrics.ts';
import type { ReconcileMetrics } from '../kube/reconcile-metrics.ts';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { findCondition, setCondition, type Condition } from '../kube/conditions.ts';
import { errorMessage } from '../kube/errors.ts';
import { recordEvent } from '../kube/events.ts';
import { Informer } from '../kube/informer.ts';
import { sameContent } from '../kube/same-content.ts';
import { WorkQueue, type ReconcileResult } from '../kube/work-queue.ts';
import type { Logger } from '../logging/logger.ts';
import { planService } from './endpoint-plan.ts';
import { exportFacts, isDerived, slicesOf, sourceEndpoints } from './facts.ts';
import { applyDecision, removeFromMember } from './member-apply.ts';
import { MeshMembers, type CrdState, type EndpointSliceObject, type MeshMember } from './mesh-members.ts';
import type {
  ClusterDecision,
  ExportStatus,
  FailoverState,
  MemberFacts,
  SourceEndpoint,
} from './mesh-types.ts';

export interface MeshControllerOptions {
  readonly hub: ClusterClient;
  readonly clusters: Informer<Cluster>;
  readonly members: MemberConnections;
  readonly log: Logger;
  readonly metrics: ReconcileMetrics & MeshMetrics;
  /** How long a recovered preferred group must stay healthy before traffic returns (default 3 s). */
  readonly holdDownMs?: number;
}

/** The Cluster condition that says how cross-cluster services stand in that member. */
export const MCS_CONDITION = 'MultiClusterServices';
const MESH_FIELD_MANAGER = 'meridian-mesh';

/** How long a member's caches may take to sync before the others are planned without it. */
const SYNC_GRACE_MS = 20_000;

export class MeshController {
  readonly policies: Informer<TrafficPolicy>;
  private readonly queue: WorkQueue;
  private readonly watch: MeshMembers;
  /** Failover state per service key, per importing cluster (in memory: a restart re-decides). */
  private readonly state = new Map<string, Record<string, FailoverState>>();
  /** Services planned at least once, so their objects are cleaned when the last export goes. */
  private readonly known = new Set<string>();
  private startedAt = Date.now();
  /** API writes to members, for the benchmark and the "no writes at rest" test. */
  writes = 0;

  constructor(private readonly opts: MeshControllerOptions) {
    this.policies = new Informer<TrafficPolicy>(opts.hub, API_VERSION, 'TrafficPolicy', {
      onError: (err) => opts.log.warn({ err }, 'trafficpolicy watch failed; retrying'),
    });
    this.queue = new WorkQueue((k) => this.reconcile(k), {
      concurrency: 4,
      onError: (key, err, attempt) => {
        opts.metrics.reconciles.inc({ controller: 'mesh', result: 'error' });
        opts.log.warn({ service: key, err: errorMessage(err), attempt }, 'mesh reconcile failed');
      },
    });
    this.watch = new MeshMembers(
      opts.members,
      opts.log,
      (k) => this.queue.add(k),
      () => this.all(),
      (cluster, state) => void this.writeCrdCondition(cluster, state),
    );
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    this.policies.start();
    await this.policies.waitForSync();
    this.policies.on((_e, p) => this.queue.add(`${p.metadata.namespace}/${p.spec.service}`));
    // Readiness, region and gateway of clusters feed every plan.
    this.opts.clusters.on((_e, c, old) => {
      if (old && sameContent(old.spec, c.spec) && readyOf(old) === readyOf(c)) return;
      this.all();
    });
    this.watch.start();
  }

  async stop(): Promise<void> {
    this.queue.stop();
    await Promise.all([this.policies.stop(), this.watch.stop()]);
  }

  /**
   * A member's EndpointSlices from the mesh's watch cache, while it is synced and its watch is
   * healthy (undefined otherwise: a stale cache must not stand in for an unreachable member).
   */
  endpointSlices(cluster: string): EndpointSliceObject[] | undefined {
    const m = this.watch.get(cluster);
    if (!m?.synced || m.slices.failures > 0) return undefined;
    return m.slices.list();
  }

  /** Members whose caches are synced: only these are planned for (others are waited for). */
  private synced(): MeshMember[] {
    return this.watch.list().filter((m) => m.synced);
  }

  /** Queues every exported service and every service we have objects for. */
  private all(): void {
    const keys = new Set(this.known);
    for (const m of this.synced()) {
      for (const e of m.exports.list()) keys.add(`${e.metadata.namespace}/${e.metadata.name}`);
      for (const i of m.imports.list()) keys.add(`${i.metadata.namespace}/${i.metadata.name}`);
    }
    for (const k of keys) this.queue.add(k);
  }

  private async reconcile(key: string): Promise<ReconcileResult> {
    const [ns, name] = key.split('/', 2) as [string, string];
    // Planning with part of the cluster set would withdraw the others' endpoints and write them
    // back a moment later (a restarted hub must write nothing), so wait for every member's caches;
    // one that cannot sync within the grace period is planned without.
    const now = Date.now();
    const waiting = this.opts.clusters.list().some((c) => {
      const m = this.watch.get(c.metadata.name);
      return m ? !m.synced && now - m.since < SYNC_GRACE_MS : now - this.startedAt < SYNC_GRACE_MS;
    });
    if (waiting) return { requeueAfterMs: 250 };
    const members = this.synced();
    const clusters: MemberFacts[] = this.opts.clusters
      .list()
      .filter((c) => members.some((m) => m.name === c.metadata.name))
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
      .map((c) => ({
        name: c.metadata.name,
        region: c.spec.region,
        ready: readyOf(c),
        ...(c.spec.eastWestGateway ? { eastWestGateway: c.spec.eastWestGateway } : {}),
      }));
    const byName = new Map(members.map((m) => [m.name, m]));
    const exports = [];
    const endpoints: Record<string, readonly SourceEndpoint[]> = {};
    const namespacePresentIn: string[] = [];
    for (const c of clusters) {
      const m = byName.get(c.name)!;
      const svc = m.services.get(name, ns);
      const exp = m.exports.get(name, ns);
      if (exp) exports.push(exportFacts(c.name, exp, svc));
      // Only an exported Service's endpoints join the service (KEP-1645).
      if (exp && svc && !isDerived(svc))
        endpoints[c.name] = sourceEndpoints(slicesOf(m.slices.list(), ns, name));
      if (m.namespaces.get(ns)) namespacePresentIn.push(c.name);
    }
    const policy = this.policies
      .list()
      .filter((p) => p.metadata.namespace === ns && p.spec.service === name)
      .sort((a, b) =>
        (a.metadata.creationTimestamp ?? '') < (b.metadata.creationTimestamp ?? '') ? -1 : 1,
      )[0];
    const plan = planService({
      namespace: ns,
      service: name,
      clusters,
      exports,
      endpoints,
      namespacePresentIn,
      policy: policy?.spec,
      previous: this.state.get(key),
      now: Date.now(),
      holdDownMs: this.opts.holdDownMs ?? 3_000,
    });

    let pending = false;
    if (!plan.merged) {
      // No valid export left: remove imports, derived Services and slices everywhere.
      for (const m of members) {
        const removed = await removeFromMember(m, ns, name);
        this.writes += removed.writes;
        if (removed.keptNamespace)
          this.opts.log.info(
            { service: key, cluster: m.name, namespace: ns },
            `namespace ${ns} that Meridian created is kept: ${removed.keptNamespace}`,
          );
      }
      this.state.delete(key);
      this.known.delete(key);
    } else {
      this.known.add(key);
      const next: Record<string, FailoverState> = {};
      let recheck: number | undefined;
      // Members are independent: write them concurrently, so one slow member delays nobody else.
      await Promise.all(
        plan.clusters.map(async (d) => {
          next[d.cluster] = d.state;
          if (d.recheckAfterMs !== undefined) recheck = Math.min(recheck ?? Infinity, d.recheckAfterMs);
          const m = byName.get(d.cluster)!;
          try {
            this.writes += (await applyDecision(m, ns, name, d)).writes;
          } catch (e) {
            pending = true;
            this.opts.log.warn(
              { service: key, cluster: d.cluster, err: errorMessage(e) },
              'mesh apply failed',
            );
          }
          if (d.changed && d.transition) void this.announce(key, m, d, policy);
        }),
      );
      this.state.set(key, next);
      if (recheck !== undefined && !pending) {
        await this.writeExportStatus(plan.exports, byName, ns, name, true);
        return { requeueAfterMs: Math.max(50, recheck) };
      }
    }
    await this.writeExportStatus(plan.exports, byName, ns, name, !pending);
    this.opts.metrics.reconciles.inc({ controller: 'mesh', result: pending ? 'retry' : 'ok' });
    return pending ? { requeueAfterMs: 2_000 } : undefined;
  }

  /** Valid / Conflict from the plan, Ready when every member holds what the plan says. */
  private async writeExportStatus(
    statuses: readonly ExportStatus[],
    members: ReadonlyMap<string, MeshMember>,
    ns: string,
    name: string,
    applied: boolean,
  ): Promise<void> {
    const now = new Date();
    await Promise.all(statuses.map((s) => this.writeOneExportStatus(s, members, ns, name, applied, now)));
  }

  private async writeOneExportStatus(
    s: ExportStatus,
    members: ReadonlyMap<string, MeshMember>,
    ns: string,
    name: string,
    applied: boolean,
    now: Date,
  ): Promise<void> {
    const m = members.get(s.cluster);
    const exp = m?.exports.get(name, ns);
    if (!m || !exp) return;
    const current = ((exp as ServiceExport).status?.conditions ?? []) as Condition[];
    let conditions = current;
    for (const c of s.conditions) conditions = setCondition(conditions, { ...c }, now);
    conditions = setCondition(
      conditions,
      !s.valid
        ? {
            type: 'Ready',
            status: 'False',
            reason: 'Invalid',
            message: findCondition(conditions, 'Valid')?.message ?? 'invalid export',
          }
        : applied
          ? {
              type: 'Ready',
              status: 'True',
              reason: 'Imported',
              message: `imported into ${members.size} cluster(s)`,
            }
          : {
              type: 'Ready',
              status: 'False',
              reason: 'Pending',
              message: 'not every member holds the import yet',
            },
      now,
    );
    if (sameContent(current, conditions)) return;
    try {
      await m.client.applyStatus({
        apiVersion: MCS_API_VERSION,
        kind: 'ServiceExport',
        metadata: { name, namespace: ns },
        status: { conditions },
      });
      this.writes++;
    } catch (e) {
      this.opts.log.warn(
        { service: `${ns}/${name}`, cluster: s.cluster, err: errorMessage(e) },
        'export status write failed',
      );
    }
  }

  /**
   * The state of a member's MCS CRDs as the Cluster's `MultiClusterServices` condition, under a field
   * manager of its own so the fleet controller's status writes leave it alone.
   */
  private async writeCrdCondition(cluster: string, state: CrdState): Promise<void> {
    const current = this.opts.clusters.get(cluster);
    const conditions = setCondition(
      (current?.status?.conditions ?? []) as Condition[],
      {
        type: MCS_CONDITION,
        status: state.ok ? 'True' : 'False',
        reason: state.reason,
        message: state.message,
      },
      new Date(),
    );
    const condition = findCondition(conditions, MCS_CONDITION);
    try {
      await this.opts.hub.applyStatus(
        {
          apiVersion: API_VERSION,
          kind: 'Cluster',
          metadata: { name: cluster },
          status: { conditions: [condition] },
        },
        MESH_FIELD_MANAGER,
      );
    } catch (e) {
      this.opts.log.warn(
        { cluster, err: errorMessage(e) },
        'could not write the MultiClusterServices condition',
      );
    }
  }

  /** An Event in the importing member (on the ServiceImport) and on the hub's TrafficPolicy. */
  private async announce(
    key: string,
    m: MeshMember,
    d: ClusterDecision,
    policy: TrafficPolicy | undefined,
  ): Promise<void> {
    const [ns, name] = key.split('/', 2) as [string, string];
    const type = d.transition === 'Failover' ? 'Warning' : 'Normal';
    const reason = d.transition === 'Failover' ? 'Failover' : 'Recovered';
    const message = `cluster ${d.cluster}: ${d.reason}`;
    this.opts.log.info(
      { service: key, cluster: d.cluster, activeGroup: d.activeGroup, transition: d.transition },
      message,
    );
    this.opts.metrics.meshFailovers.inc({ cluster: d.cluster, direction: reason });
    try {
      const imp = m.imports.get(name, ns) as KubeObject | undefined;
      await recordEvent(m.client, {
        regarding: {
          apiVersion: MCS_API_VERSION,
          kind: 'ServiceImport',
          metadata: { name, namespace: ns, uid: imp?.metadata.uid },
        },
        type,
        reason,
        message,
      });
      if (policy) await recordEvent(this.opts.hub, { regarding: policy, type, reason, message });
    } catch (e) {
      this.opts.log.warn({ service: key, err: errorMessage(e) }, 'failover event not recorded');
    }
  }
}

function readyOf(c: Cluster): boolean {
  return findCondition(c.status?.conditions as never, 'Ready')?.status === 'True';
}
