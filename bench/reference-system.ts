// Benchmark: the reference system on the local fleet, end to end (issue 19).
// 1. Requests per second and latency through edge gateway → APP 1 → APP 2 → PostgreSQL (GET /items,
//    a closed loop of CONCURRENCY clients for LOAD_S seconds).
// 2. The latency a cross-cluster APP 2 adds over a local one, same run: GET /items through eu-west's
//    ingress with eu-west's APP 2 ready (local), then failed (remote).
// 3. Time from each scenario's fault to the first successful request on the new path, p50/p99 over
//    RUNS runs (release: RELEASE_RUNS).
// Starts its own fleet (fixed hub ports: nothing else may run a fleet with a hub meanwhile), or
// uses the running one in BENCH_FLEET_HOME. Loopback only; bounded in requests and time.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg, totalmem } from 'node:os';
import { setLoopbackOnly } from '../src/dial/dial-guard.ts';
import { sleep } from '../src/kube/sleep.ts';
import {
  drain,
  failCluster,
  failService,
  localDemoContext,
  recoverCluster,
  recoverRelease,
  recoverService,
  releaseBad,
  type DemoContext,
} from '../src/localfleet/demo/scenarios.ts';
import { ShopClient, type ShopResult } from '../src/localfleet/demo/shop-client.ts';
import { failed, percentile } from '../src/localfleet/demo/traffic-stats.ts';
import { cli, newFleetHome } from '../test/support/harness.ts';

const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 8);
const LOAD_S = Number(process.env['BENCH_LOAD_S'] ?? 15);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 20);
const RELEASE_RUNS = Number(process.env['BENCH_RELEASE_RUNS'] ?? RUNS);
const HOST = 'shop.meridian.local';

setLoopbackOnly(true);
const own = process.env['BENCH_FLEET_HOME'] === undefined;
const fleet = own ? newFleetHome('127.81.40') : undefined;
const dir = own ? fleet!.dir : join(process.env['BENCH_FLEET_HOME']!, 'fleet');
const say = (m: string): void => void process.stdout.write(`${m}\n`);
const quiet = (): void => undefined;
const ms = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(0));

function stats(values: readonly number[]): { p50?: number; p99?: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

async function closedLoop(client: ShopClient, seconds: number, concurrency: number): Promise<ShopResult[]> {
  const until = Date.now() + seconds * 1000;
  const out: ShopResult[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) out.push(await client.send('GET', '/items'));
    }),
  );
  return out;
}

async function sequential(client: ShopClient, n: number): Promise<ShopResult[]> {
  const out: ShopResult[] = [];
  for (let i = 0; i < n; i++) out.push(await client.send('GET', '/items'));
  return out;
}

async function main(ctx: DemoContext): Promise<void> {
  const rows: string[] = [];
  // 1. Throughput and latency end to end.
  const edge = new ShopClient(ctx.edge, HOST);
  await sequential(edge, 20); // warm connections and pools
  const load0 = loadavg()[0]!;
  const results = await closedLoop(edge, LOAD_S, CONCURRENCY);
  const ok = results.filter((r) => !failed(r));
  const lat = stats(ok.map((r) => r.ms));
  rows.push(
    `| edge → APP 1 → APP 2 → PostgreSQL, GET /items, ${CONCURRENCY} clients × ${LOAD_S} s | ${(ok.length / LOAD_S).toFixed(0)} req/s | p50 ${ms(lat.p50)} ms, p99 ${ms(lat.p99)} ms | ${results.length - ok.length} failed | ${load0.toFixed(2)} |`,
  );
  say(rows.at(-1)!);
  edge.close();

  // 2. Local vs cross-cluster APP 2, same run, through eu-west's ingress.
  const m = ctx.state.layout.members.find((c) => c.name === 'eu-west')!;
  const euWest = new ShopClient(new URL(`http://${m.ingressAddress}:8080`), HOST);
  await sequential(euWest, 20);
  const load1 = loadavg()[0]!;
  const local = (await sequential(euWest, 300)).filter((r) => !failed(r) && r.app2Cluster === 'eu-west');
  await failService({ ...ctx, say: quiet }, 'app2', 'eu-west');
  await sequential(euWest, 20);
  const remote = (await sequential(euWest, 300)).filter((r) => !failed(r) && r.app2Cluster !== 'eu-west');
  await recoverService({ ...ctx, say: quiet }, 'app2', 'eu-west');
  euWest.close();
  const l = stats(local.map((r) => r.ms));
  const r = stats(remote.map((x) => x.ms));
  rows.push(
    `| eu-west APP 1 → local APP 2 (${local.length} requests) vs → remote APP 2 (${remote.length}) | p50 ${ms(l.p50)} → ${ms(r.p50)} ms | p99 ${ms(l.p99)} → ${ms(r.p99)} ms | added p50 ${ms((r.p50 ?? 0) - (l.p50 ?? 0))} ms | ${load1.toFixed(2)} |`,
  );
  say(rows.at(-1)!);

  // 3. Scenarios: fault → first successful request on the new path.
  const scenario = async (
    name: string,
    runs: number,
    once: () => Promise<number | undefined>,
  ): Promise<void> => {
    const load = loadavg()[0]!;
    const times: number[] = [];
    let missed = 0;
    for (let i = 0; i < runs; i++) {
      const t = await once();
      if (t === undefined) missed++;
      else times.push(t);
    }
    const s = stats(times);
    rows.push(
      `| ${name} | ${times.length}/${runs} runs | p50 ${ms(s.p50)} ms | p99 ${ms(s.p99)} ms | ${load.toFixed(2)} |`,
    );
    say(rows.at(-1)! + (missed ? `  (${missed} runs saw no new path)` : ''));
  };
  const q = { ...ctx, say: quiet };
  await scenario('fail service app2 in eu-west → APP 1 there served by a remote APP 2', RUNS, async () => {
    const rep = await failService(q, 'app2', 'eu-west');
    await recoverService(q, 'app2', 'eu-west');
    await sleep(4_000); // past the mesh's 3 s hold-down, back on the local APP 2
    return rep.newPathMs;
  });
  await scenario('fail cluster eu-west → GSLB DNS stops answering it', RUNS, async () => {
    const rep = await failCluster(q, 'eu-west');
    await recoverCluster(q, 'eu-west', 120_000);
    return rep.dnsMs;
  });
  await scenario('drain us-east → GSLB DNS stops answering it', RUNS, async () => {
    const rep = await drain(q, 'us-east', false);
    await drain(q, 'us-east', true);
    return rep.dnsMs;
  });
  await scenario('release bad → rolled back everywhere (fault = apply)', RELEASE_RUNS, async () => {
    await recoverRelease(q); // Healthy first (a cluster scenario may have left it Degraded a while)
    const rep = await releaseBad(q).catch(() => ({ rolledBackMs: undefined }));
    await recoverRelease(q);
    return rep.rolledBackMs;
  });

  say('\n| measurement | result | latency | | load (1 min) |\n| --- | --- | --- | --- | --- |');
  for (const row of rows) say(row);
  say(
    `\nmachine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; ${new Date().toISOString()}`,
  );
}

try {
  if (own) {
    const up = await cli(['fleet', 'up', '--subnet', fleet!.subnet, '--rps', '1'], fleet!.env, 900_000);
    if (up.code !== 0) throw new Error(`fleet up failed:\n${up.stderr}`);
  }
  if (own) process.env['MERIDIAN_HOME'] = fleet!.home;
  await main(localDemoContext(dir, say));
} finally {
  if (own) {
    await cli(['fleet', 'down'], fleet!.env);
    rmSync(fleet!.home, { recursive: true, force: true });
  }
}
