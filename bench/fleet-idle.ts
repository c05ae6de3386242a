// Benchmark: what the local fleet costs at rest under several Go GC settings of its control
// planes (the choice behind CONTROL_PLANE_GO_ENV in src/localfleet/components.ts). For each
// setting: `fleet up` (hub + 3 members, reference system deployed), let it settle, then CPU of every
// fleet process over 60 s and memory (PSS) per cluster; then `fleet down`. One fleet at a time.
// BENCH_IDLE_SETTINGS="GOGC=25 GOMEMLIMIT=100MiB;GOGC=100 GOMEMLIMIT=off" picks the settings.
import { rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { COMPONENT_ORDER } from '../src/localfleet/components.ts';
import { cli, newFleetHome, readPidFile } from '../test/support/harness.ts';
import { byKind, fleetIdleCpu, processMemMiB } from './process-cpu.ts';

const SETTINGS = (
  process.env['BENCH_IDLE_SETTINGS'] ??
  [
    'GOGC=25 GOMEMLIMIT=100MiB', // the setting before issue 15
    'GOGC=100 GOMEMLIMIT=off', // Go's defaults
    'GOGC=50 GOMEMLIMIT=off',
    'GOGC=100 GOMEMLIMIT=200MiB',
    'GOGC=200 GOMEMLIMIT=180MiB',
  ].join(';')
)
  .split(';')
  .map((s) => s.trim())
  .filter(Boolean);
const SETTLE_S = Number(process.env['BENCH_IDLE_SETTLE_S'] ?? 30);
const WINDOW_S = Number(process.env['BENCH_IDLE_WINDOW_S'] ?? 60);
const CLUSTERS = ['hub', 'eu-west', 'us-east', 'ap-south'];

const pssMiB = (pid: number): number => processMemMiB(pid, 'Pss');

const rows: string[] = [];
for (const [i, setting] of SETTINGS.entries()) {
  const fleet = newFleetHome(`127.81.${i * 2}`);
  const env = { ...fleet.env, MERIDIAN_FLEET_GO_ENV: setting };
  const t0 = performance.now();
  const up = await cli(['fleet', 'up', '--members', '3', '--subnet', fleet.subnet], env, 600_000);
  const upSeconds = (performance.now() - t0) / 1000;
  if (up.code !== 0) throw new Error(`fleet up (${setting}) failed:\n${up.stderr}`);
  try {
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    const load = loadavg()[0]!;
    const idle = await fleetIdleCpu(fleet.dir, WINDOW_S);
    const kinds = byKind(idle.perProcess);
    const pss = CLUSTERS.map((c) =>
      COMPONENT_ORDER.reduce((s, name) => s + pssMiB(readPidFile(join(fleet.dir, c, `${name}.pid`))), 0),
    );
    const apiPss = CLUSTERS.map((c) => pssMiB(readPidFile(join(fleet.dir, c, 'kube-apiserver.pid'))));
    const pct = (k: string): string => (kinds.get(k) ?? 0).toFixed(1);
    rows.push(
      `| \`${setting}\` | ${idle.totalPercent.toFixed(1)} | ${pct('kube-apiserver')} | ${pct('etcd')} | ${pct('kube-controller-manager')} | ${pct('kube-scheduler')} | ${pct('kwok')} | ${pct('meridian-hub')} | ${Math.max(...pss).toFixed(0)} | ${Math.max(...apiPss).toFixed(0)} | ${upSeconds.toFixed(1)} | ${load.toFixed(2)} |`,
    );
    process.stdout.write(`${rows.at(-1)}\n`);
  } finally {
    await cli(['fleet', 'down'], fleet.env);
    rmSync(fleet.home, { recursive: true, force: true });
  }
}

process.stdout.write(
  [
    '',
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; settle ${SETTLE_S} s, window ${WINDOW_S} s`,
    '',
    '| control-plane Go setting | fleet idle CPU (% of one core) | kube-apiservers | etcds | controller-managers | schedulers | kwoks | hub process | max PSS per cluster (MiB) | max PSS per API server (MiB) | fleet up (s) | load avg (1 min) at window start |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
