// The metrics benchmarks' fixture: three member Prometheus servers and one holding their union
// (TSDB blocks written with promtool from one data shape), a local fleet of hub + 1 member whose API
// server stands in for all three Clusters, and a hub answering the fleet metrics API. Everything is
// stopped by `stop()`, on failure too.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePromql } from '../../src/observe/metrics/promql-build.ts';
import {
  cli,
  fleetUp,
  joinMembers,
  serviceAccountToken,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
} from '../../test/support/harness.ts';
import {
  createBlocks,
  openMetrics,
  prometheusLayout,
  startPrometheus,
  type DataShape,
  type PrometheusProcess,
} from '../../test/support/prometheus-servers.ts';

export interface MetricsFleet {
  /** A viewer's bearer token for the hub's API. */
  readonly token: string;
  stop(): Promise<void>;
}

export interface MetricsFleetOptions {
  /** For logs and temporary names, e.g. `metrics-corpus`. */
  readonly name: string;
  readonly fleet: TestFleet;
  readonly hubPort: number;
  readonly shape: DataShape;
  readonly progress: (msg: string) => void;
  /** Runs once the Prometheus servers answer, before the fleet starts (e.g. remote writes). */
  readonly afterPrometheus?: () => Promise<void>;
}

export async function startMetricsFleet(o: MetricsFleetOptions): Promise<MetricsFleet> {
  const { clusters, union } = prometheusLayout(o.fleet);
  const dir = mkdtempSync(join(tmpdir(), `meridian-${o.name}-bench-`));
  const proms: PrometheusProcess[] = [];
  let hub: HubProcess | undefined;
  const stop = async (): Promise<void> => {
    if (hub) writeFileSync(join(tmpdir(), `meridian-${o.name}-bench-hub.log`), hub.logs());
    await hub?.stop('SIGKILL');
    await Promise.all(proms.map((p) => p.stop()));
    await cli(['fleet', 'down'], o.fleet.env);
    rmSync(o.fleet.home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    o.progress('building the PromQL engine (cached after the first run)');
    await ensurePromql();
    o.progress('writing TSDB blocks (promtool) and starting 4 Prometheus servers');
    clusters.forEach((c, i) => createBlocks(dir, c.name, openMetrics(o.shape, [i], false)));
    createBlocks(dir, 'union', openMetrics(o.shape, [0, 1, 2], true));
    proms.push(
      ...(await Promise.all([
        ...clusters.map((c) => startPrometheus(dir, c.name, c.listen)),
        startPrometheus(dir, 'union', union),
      ])),
    );
    await o.afterPrometheus?.();
    o.progress('starting the local fleet (hub + 1 member) and the hub');
    await fleetUp(o.fleet, 1);
    hub = await startHub(o.fleet, `${o.name}-bench-hub`, o.hubPort);
    await joinMembers(
      o.fleet,
      clusters.map((c) => c.name),
      {
        prometheusUrl: (m) => `http://${clusters.find((c) => c.name === m)!.listen}`,
        context: () => 'eu-west', // one member's API server stands in for all three
      },
    );
    const token = await serviceAccountToken(o.fleet, 'metrics-bench', 'meridian-viewer');
    await waitFor('the hub to see the three members', 120_000, async () => {
      const r = await fetch(`http://127.0.0.1:${o.hubPort}/api/v1/label/cluster/values`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const b = (await r.json()) as { data?: string[] };
      return b.data?.length === 3 ? true : undefined;
    });
    return { token, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
