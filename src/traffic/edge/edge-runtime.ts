// The edge gateway's shared state behind the listeners: the keep-alive pool of each upstream, the
// passive outlier records of each (host, cluster), metrics and the access log. The request and
// WebSocket proxies use only this.
import type { Logger } from '../../logging/logger.ts';
import type { EdgeMetrics } from './edge-metrics.ts';
import {
  FRESH_RECORD,
  isEjected,
  recordFailure,
  recordSuccess,
  reinstate,
  type OutlierRecord,
  type OutlierSettings,
} from './outlier-detector.ts';
import type { ClusterTarget, HostRoute } from '../routing/routing.ts';
import { UpstreamPool } from './upstream-pool.ts';

export interface EdgeSettings {
  readonly connectTimeoutMs: number;
  /** Longest wait for response headers, and longest silence within a body. */
  readonly upstreamTimeoutMs: number;
  /** Most clusters one request is sent to. */
  readonly maxAttempts: number;
  readonly maxConnectionsPerUpstream: number;
  readonly accessLog: boolean;
  readonly outlier: OutlierSettings;
}

/** One access log record (also what the metrics are derived from). */
export interface AccessRecord {
  readonly host: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** Cluster that answered (or was last tried); '' when none was. */
  readonly cluster: string;
  readonly attempts: number;
  readonly ms: number;
  /** Response body bytes sent to the client (both directions for a WebSocket tunnel). */
  readonly bytes: number;
  readonly client: string;
}

export class EdgeRuntime {
  private readonly pools = new Map<string, UpstreamPool>();
  private readonly outliers = new Map<string, Map<string, OutlierRecord>>();
  /** Per host: ejected clusters the routing table has since shown unhealthy (see `reinstate`). */
  private readonly downWhileEjected = new Map<string, Set<string>>();
  /** Proxied requests not finished yet (graceful stop waits for them). */
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];
  /** Set by a graceful stop: responses from now on close their connection. */
  draining = false;
  /** Open WebSocket (upgrade) tunnels: closed on stop, not waited for. */
  readonly tunnels = new Set<{ destroy(): void }>();

  constructor(
    readonly settings: EdgeSettings,
    readonly logger: Logger,
    readonly metrics: EdgeMetrics,
    /** Writes one access log line (called only when `settings.accessLog` is on). */
    private readonly writeAccess: (rec: AccessRecord) => void,
  ) {}

  /**
   * The keep-alive connection pool to one upstream address. One request per connection at a time:
   * with pipelining a slow response would hold up the ones queued behind it, and a failed
   * connection would take several requests down with it.
   */
  pool(address: string, port: number): UpstreamPool {
    const key = `${address}|${port}`;
    let p = this.pools.get(key);
    if (!p) {
      p = new UpstreamPool(address, port, {
        connections: this.settings.maxConnectionsPerUpstream,
        connectTimeoutMs: this.settings.connectTimeoutMs,
        timeoutMs: this.settings.upstreamTimeoutMs,
      });
      this.pools.set(key, p);
    }
    return p;
  }

  /** The clusters to try, best first: ejected ones are skipped unless every one is ejected. */
  candidates(route: HostRoute, ranked: readonly ClusterTarget[], now: number): readonly ClusterTarget[] {
    const max = this.settings.maxAttempts;
    const records = this.outliers.get(route.host);
    let list = ranked;
    if (records) {
      this.reinstateRecovered(route, records, now);
      const live = ranked.filter((c) => {
        const r = records.get(c.name);
        return r === undefined || !isEjected(r, now);
      });
      if (live.length > 0) list = live;
    }
    return list.length > max ? list.slice(0, max) : list;
  }

  /**
   * Lifts the ejection of a cluster that the active health check marked unhealthy and then healthy
   * again while it was ejected. Runs only for hosts that have had a failure, over their few clusters.
   */
  private reinstateRecovered(route: HostRoute, records: Map<string, OutlierRecord>, now: number): void {
    let down = this.downWhileEjected.get(route.host);
    for (const c of route.clusters) {
      const r = records.get(c.name);
      if (r === undefined || !isEjected(r, now)) {
        down?.delete(c.name);
      } else if (!c.healthy) {
        if (!down) this.downWhileEjected.set(route.host, (down = new Set()));
        down.add(c.name);
      } else if (down?.delete(c.name)) {
        records.set(c.name, reinstate(r, now));
        this.logger.info(
          { host: route.host, cluster: c.name },
          'edge gateway: ejected cluster healthy again',
        );
      }
    }
  }

  succeeded(route: HostRoute, cluster: ClusterTarget, now: number): void {
    const records = this.outliers.get(route.host);
    const r = records?.get(cluster.name);
    if (records === undefined || r === undefined) return;
    const next = recordSuccess(r, now);
    if (next !== r) records.set(cluster.name, next);
  }

  failed(route: HostRoute, cluster: ClusterTarget, now: number): void {
    let records = this.outliers.get(route.host);
    if (!records) this.outliers.set(route.host, (records = new Map()));
    let ejectedOthers = 0;
    for (const c of route.clusters) {
      const r = records.get(c.name);
      if (c.name !== cluster.name && r !== undefined && isEjected(r, now)) ejectedOthers++;
    }
    const verdict = recordFailure(
      records.get(cluster.name) ?? FRESH_RECORD,
      now,
      { clusters: route.clusters.length, ejectedOthers },
      this.settings.outlier,
    );
    records.set(cluster.name, verdict.record);
    if (verdict.ejectedForMs !== undefined) {
      this.metrics.ejection(cluster.name);
      this.logger.warn(
        { host: route.host, cluster: cluster.name, ejectedForMs: verdict.ejectedForMs },
        'edge gateway: cluster ejected for consecutive failures',
      );
    }
  }

  /** A proxied request started; pair with `finished`. */
  begin(): void {
    this.inflight++;
  }

  /**
   * Records an answered request in the metrics (unless already `counted`) and the access log;
   * `metricsHost` replaces a host that matched no route, so unknown names mint no series.
   */
  record(rec: AccessRecord, counted = false, metricsHost = rec.host): void {
    if (!counted) this.metrics.request(metricsHost, rec.cluster, rec.status, rec.ms / 1000);
    if (this.settings.accessLog) this.writeAccess(rec);
  }

  /** Records a finished proxied request (see `begin`). */
  finished(rec: AccessRecord): void {
    this.record(rec);
    if (--this.inflight === 0 && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Resolves when no proxied request is in flight, or after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<void> {
    if (this.inflight === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Closes every upstream connection (in-flight requests fail). */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}
