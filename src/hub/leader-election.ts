// Leader election on a coordination.k8s.io Lease, the way client-go does it: the holder renews
// every retry period; a standby takes over once the lease has not been renewed for its duration.
// Writes go through resourceVersion-checked updates, so two candidates can never both win.
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { isConflict, isNotFound } from '../kube/rest.ts';
import type { Logger } from '../logging/logger.ts';
import { sleep } from '../kube/sleep.ts';

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  readonly retryPeriodMs: number;
  readonly log: Logger;
}

/** Whether a lease held by someone else may be taken now. Pure; exported for tests. */
export function leaseExpired(spec: Lease['spec'], now: number): boolean {
  if (!spec?.holderIdentity) return true;
  const renew = spec.renewTime ? Date.parse(spec.renewTime) : 0;
  return now > renew + (spec.leaseDurationSeconds ?? 15) * 1000;
}

const microTime = (d: number): string => new Date(d).toISOString().replace('Z', '000Z');

export class LeaderElector {
  private leading = false;
  private lastRenew = 0;

  constructor(
    private readonly hub: ClusterClient,
    private readonly opts: LeaderElectionOptions,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.opts;
    const now = Date.now();
    let lease: Lease | undefined;
    try {
      lease = await this.hub.rest.get<Lease>(
        `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`,
        { timeoutMs: 5_000 },
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (!lease) {
      await this.hub.rest.request('POST', `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, {
        timeoutMs: 5_000,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const mine = spec.holderIdentity === identity;
    if (!mine && !leaseExpired(spec, now)) return false;
    const next: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds,
        renewTime: microTime(now),
        acquireTime: mine ? spec.acquireTime : microTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    await this.hub.rest.request(
      'PUT',
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`,
      {
        body: next,
        timeoutMs: 5_000,
      },
    );
    return true;
  }

  /**
   * Runs until `signal` aborts: calls `onStarted` when leadership is won and `onStopped` when it
   * is lost (a leader that cannot renew before its lease runs out steps down on its own).
   */
  async run(signal: AbortSignal, onStarted: () => void, onStopped: () => void): Promise<void> {
    const { log, retryPeriodMs, leaseDurationSeconds } = this.opts;
    while (!signal.aborted) {
      try {
        const ok = await this.tryAcquireOrRenew();
        if (ok) this.lastRenew = Date.now();
        if (ok && !this.leading) {
          this.leading = true;
          log.info({ lease: this.opts.name, identity: this.opts.identity }, 'became leader');
          onStarted();
        } else if (!ok && this.leading) {
          this.stepDown(onStopped, 'lease taken by another holder');
        }
      } catch (e) {
        if (!isConflict(e)) log.warn({ err: e }, 'lease renewal failed');
        // Renewal failures are tolerated until the lease would expire for everyone else.
        if (this.leading && Date.now() - this.lastRenew > leaseDurationSeconds * 1000 - retryPeriodMs) {
          this.stepDown(onStopped, 'could not renew the lease in time');
        }
      }
      await sleep(retryPeriodMs, signal);
    }
    if (this.leading) {
      await this.release().catch(() => undefined);
      this.stepDown(onStopped, 'shutting down');
    }
  }

  private stepDown(onStopped: () => void, why: string): void {
    this.leading = false;
    this.opts.log.warn({ lease: this.opts.name, why }, 'lost leadership');
    onStopped();
  }

  /** On clean shutdown, hand the lease over at once instead of making the standby wait. */
  private async release(): Promise<void> {
    const { namespace, name, identity } = this.opts;
    const lease = await this.hub.rest.get<Lease>(
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`,
      {
        timeoutMs: 3_000,
      },
    );
    if (lease.spec?.holderIdentity !== identity) return;
    await this.hub.rest.request(
      'PUT',
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`,
      {
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', renewTime: microTime(0) } },
        timeoutMs: 3_000,
      },
    );
  }
}
