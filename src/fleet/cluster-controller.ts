// The fleet controller: keeps a connection to every registered Cluster, probes its API server on a
// short period, and writes the Cluster's status (Ready condition, version, nodes, latency) to the
// hub. Level-triggered: each tick reads the Cluster and Secret caches afresh, so a restart at any
// moment converges to the same statuses.
import { API_VERSION } from '../api/group.ts';
import type { Cluster, ClusterStatus } from '../api/cluster.ts';
import type { ClusterClient } from '../kube/cluster-client.ts';
import { findCondition } from '../kube/conditions.ts';
import { errorMessage } from '../kube/errors.ts';
import { recordEvent } from '../kube/events.ts';
import { Informer } from '../kube/informer.ts';
import type { Logger } from '../logging/logger.ts';
import type { FleetMetrics } from './fleet-metrics.ts';
import type { ReconcileMetrics } from '../kube/reconcile-metrics.ts';
import { DEFAULT_HEALTH_POLICY, nextClusterStatus, type ProbeResult } from './cluster-health.ts';
import { MemberConnections, type MemberConnection, type SecretObject } from './member-connections.ts';

export const CREDENTIALS_NAMESPACE = 'meridian-system';
export const CREDENTIALS_LABEL = 'meridian.dev/cluster-credentials';

export interface ClusterControllerOptions {
  readonly hub: ClusterClient;
  readonly log: Logger;
  readonly metrics: ReconcileMetrics & FleetMetrics;
  readonly probeIntervalMs?: number;
  readonly probeTimeoutMs?: number;
}

export class ClusterController {
  readonly clusters: Informer<Cluster>;
  readonly secrets: Informer<SecretObject>;
  readonly members: MemberConnections;
  private readonly failures = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: ClusterControllerOptions) {
    this.clusters = new Informer<Cluster>(opts.hub, API_VERSION, 'Cluster', {
      onError: (err) => opts.log.warn({ err }, 'cluster watch failed; retrying'),
    });
    this.secrets = new Informer<SecretObject>(opts.hub, 'v1', 'Secret', {
      namespace: CREDENTIALS_NAMESPACE,
      labelSelector: `${CREDENTIALS_LABEL}=true`,
      onError: (err) => opts.log.warn({ err }, 'secret watch failed; retrying'),
    });
    this.members = new MemberConnections(opts.log);
  }

  async start(): Promise<void> {
    this.clusters.start();
    this.secrets.start();
    await Promise.all([this.clusters.waitForSync(), this.secrets.waitForSync()]);
    // A new or changed Cluster is probed at once rather than at the next tick.
    this.clusters.on((ev, c) => {
      if (ev === 'delete') void this.members.drop(c.metadata.name);
      else void this.reconcile(c.metadata.name);
    });
    this.tick();
  }

  private tick(): void {
    if (this.stopped) return;
    for (const c of this.clusters.list()) void this.reconcile(c.metadata.name);
    for (const name of this.members.names()) {
      if (!this.clusters.get(name)) void this.members.drop(name);
    }
    this.timer = setTimeout(() => this.tick(), this.opts.probeIntervalMs ?? 2_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([this.clusters.stop(), this.secrets.stop()]);
    await this.members.closeAll();
  }

  private async probe(conn: MemberConnection): Promise<ProbeResult> {
    const started = performance.now();
    try {
      const v = await conn.client.version(this.opts.probeTimeoutMs ?? 1_500);
      const latencyMs = performance.now() - started;
      this.opts.metrics.clusterProbeSeconds.observe({ cluster: conn.name }, latencyMs / 1000);
      let nodeCount = conn.nodes.list().length;
      if (!conn.nodes.synced) {
        const nodes = await conn.client.list('v1', 'Node', { timeoutMs: this.opts.probeTimeoutMs ?? 1_500 });
        nodeCount = nodes.items.length;
      }
      return { ok: true, version: v.gitVersion, nodeCount, latencyMs };
    } catch (e) {
      return { ok: false, reason: 'APIServerUnreachable', message: errorMessage(e) };
    }
  }

  /** One reconcile of one Cluster; never runs twice at once for the same name. */
  async reconcile(name: string): Promise<void> {
    if (this.inFlight.has(name) || this.stopped) return;
    this.inFlight.add(name);
    try {
      const cluster = this.clusters.get(name);
      if (!cluster) return;
      const ref = cluster.spec.kubeconfigSecretRef;
      const secret = this.secrets.get(ref.name, ref.namespace);
      const conn = await this.members.ensure(cluster, secret);
      let probe: ProbeResult;
      let failures: number;
      if ('error' in conn) {
        probe = { ok: false, reason: conn.reason, message: conn.error };
        failures = DEFAULT_HEALTH_POLICY.failureThreshold; // Bad credentials need no second opinion.
      } else {
        probe = await this.probe(conn);
        failures = probe.ok ? 0 : (this.failures.get(name) ?? 0) + 1;
      }
      this.failures.set(name, failures);
      const fresh = this.clusters.get(name) ?? cluster;
      const decision = nextClusterStatus(
        fresh.status,
        probe,
        failures,
        fresh.metadata.generation,
        new Date(),
      );
      const ready = findCondition(decision.status.conditions as never, 'Ready');
      this.opts.metrics.clusterReady.set(
        { cluster: name, region: fresh.spec.region },
        ready?.status === 'True' ? 1 : 0,
      );
      if (decision.write) await this.writeStatus(fresh, decision.status);
      this.opts.metrics.reconciles.inc({ controller: 'cluster', result: 'ok' });
    } catch (e) {
      this.opts.metrics.reconciles.inc({ controller: 'cluster', result: 'error' });
      this.opts.log.warn({ cluster: name, err: errorMessage(e) }, 'cluster reconcile failed');
    } finally {
      this.inFlight.delete(name);
    }
  }

  private async writeStatus(cluster: Cluster, status: ClusterStatus): Promise<void> {
    const before = findCondition(cluster.status?.conditions as never, 'Ready');
    const after = findCondition(status.conditions as never, 'Ready');
    await this.opts.hub.applyStatus({
      apiVersion: API_VERSION,
      kind: 'Cluster',
      metadata: { name: cluster.metadata.name },
      status,
    });
    if (after && before?.status !== after.status) {
      this.opts.log.info(
        { cluster: cluster.metadata.name, ready: after.status, reason: after.reason },
        'cluster readiness changed',
      );
      await recordEvent(this.opts.hub, {
        regarding: cluster,
        type: after.status === 'True' ? 'Normal' : 'Warning',
        reason: after.status === 'True' ? 'ClusterReady' : after.reason,
        message: after.message,
      }).catch((e: unknown) => this.opts.log.warn({ err: errorMessage(e) }, 'could not record event'));
    }
  }
}
