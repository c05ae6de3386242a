// What the demo's traffic generator has seen, kept in `<fleet>/demo-traffic.json` so scenario
// commands, `meridian demo status` and tests in other processes read it. Pure except the file I/O
// at the bottom.
import { join } from 'node:path';
import { percentile as nearestRank } from '../../observe/traces/service-graph.ts';
import { readJsonFile, writeJsonAtomic } from '../json-file.ts';
import type { ShopResult } from './shop-client.ts';

/** How many recent results the file keeps (a few minutes at the default rate). */
export const RECENT = 600;
/** How many written order ids it keeps, for checking they stay readable. */
export const ORDERS_KEPT = 2_000;

export interface TrafficStats {
  readonly pid: number;
  readonly target: string;
  readonly rps: number;
  readonly startedAt: number;
  readonly until: number;
  readonly updatedAt: number;
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  /** Successful answers by the cluster that served APP 1, APP 2 and by APP 1's version. */
  readonly byApp1Cluster: Readonly<Record<string, number>>;
  readonly byApp2Cluster: Readonly<Record<string, number>>;
  readonly byVersion: Readonly<Record<string, number>>;
  /** Ids of orders stored (most recent last). */
  readonly orders: readonly number[];
  /** The most recent results, oldest first. */
  readonly recent: readonly ShopResult[];
}

export function emptyStats(
  pid: number,
  target: string,
  rps: number,
  startedAt: number,
  until: number,
): TrafficStats {
  return {
    pid,
    target,
    rps,
    startedAt,
    until,
    updatedAt: startedAt,
    sent: 0,
    ok: 0,
    failed: 0,
    byApp1Cluster: {},
    byApp2Cluster: {},
    byVersion: {},
    orders: [],
    recent: [],
  };
}

const bump = (m: Readonly<Record<string, number>>, k: string | undefined): Record<string, number> =>
  k === undefined ? { ...m } : { ...m, [k]: (m[k] ?? 0) + 1 };

/** A request that failed by the demo's standard: no answer or a 5xx (a 404 for an id is an answer). */
export const failed = (r: ShopResult): boolean => r.status === 0 || r.status >= 500;

/** `stats` with one more result. */
export function record(stats: TrafficStats, r: ShopResult): TrafficStats {
  const ok = !failed(r);
  return {
    ...stats,
    updatedAt: Math.max(stats.updatedAt, r.at + r.ms),
    sent: stats.sent + 1,
    ok: stats.ok + (ok ? 1 : 0),
    failed: stats.failed + (ok ? 0 : 1),
    byApp1Cluster: ok ? bump(stats.byApp1Cluster, r.app1Cluster) : stats.byApp1Cluster,
    byApp2Cluster: ok ? bump(stats.byApp2Cluster, r.app2Cluster) : stats.byApp2Cluster,
    byVersion: ok ? bump(stats.byVersion, r.app1Version) : stats.byVersion,
    orders: r.orderId === undefined ? stats.orders : [...stats.orders, r.orderId].slice(-ORDERS_KEPT),
    recent: [...stats.recent, r].slice(-RECENT),
  };
}

export interface WindowSummary {
  readonly requests: number;
  readonly failed: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  /** "app1 cluster → app2 cluster" → count, successful answers only. */
  readonly paths: Readonly<Record<string, number>>;
}

/** Nearest-rank percentile of ascending values (the service graph's); undefined when empty. */
export const percentile = (sorted: readonly number[], p: number): number | undefined =>
  sorted.length === 0 ? undefined : nearestRank(sorted, p);

/** The results sent in [from, to): counts, latency and which clusters served them. */
export function summarize(results: readonly ShopResult[], from: number, to = Infinity): WindowSummary {
  const inWindow = results.filter((r) => r.at >= from && r.at < to);
  const ms = inWindow.map((r) => r.ms).sort((a, b) => a - b);
  const paths: Record<string, number> = {};
  for (const r of inWindow) {
    if (failed(r)) continue;
    const k = `${r.app1Cluster ?? '?'} → ${r.app2Cluster ?? '-'}`;
    paths[k] = (paths[k] ?? 0) + 1;
  }
  return {
    requests: inWindow.length,
    failed: inWindow.filter(failed).length,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    paths,
  };
}

/** One line for a summary: `42 requests, 0 failed, p50 12 ms, p99 40 ms; eu-west → eu-west 14, …`. */
export function describeSummary(s: WindowSummary): string {
  const paths = Object.entries(s.paths)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const lat = s.p50Ms === undefined ? '' : `, p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms`;
  return `${s.requests} requests, ${s.failed} failed${lat}${paths ? `; served (app1 → app2): ${paths}` : ''}`;
}

export const trafficStatsFile = (fleetDir: string): string => join(fleetDir, 'demo-traffic.json');

export function writeTrafficStats(fleetDir: string, stats: TrafficStats): void {
  writeJsonAtomic(trafficStatsFile(fleetDir), stats, { pretty: false });
}

export function readTrafficStats(fleetDir: string): TrafficStats | undefined {
  return readJsonFile<TrafficStats>(trafficStatsFile(fleetDir));
}
