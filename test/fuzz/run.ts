// `npm run chaos`: the fuzz targets (targets.ts) in full, CHAOS_MS per target (default 60 s),
// with a seed from CHAOS_SEED or the clock (printed, so a failure can be replayed). Prints a
// table of inputs, crashes, hangs and the slowest input per target for docs/reliability.md, and
// each crash's or hang's input (base64). Exits 1 on any crash or hang.
import { cpus, loadavg } from 'node:os';
import { TARGETS, fuzz } from './targets.ts';

const ms = Number(process.env['CHAOS_MS'] ?? 60_000);
const seed = Number(process.env['CHAOS_SEED'] ?? Date.now() % 2 ** 31);
process.stdout.write(
  `seed ${seed}, ${ms / 1000} s per target; ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(
      ' ',
    )}\n\n| target | inputs | crashes | hangs (>100 ms) | slowest input (ms) |\n|---|---|---|---|---|\n`,
);
let bad = 0;
const details: string[] = [];
for (const [i, t] of TARGETS.entries()) {
  const r = fuzz(t, ms, seed + i);
  bad += r.crashes.length + r.hangs.length;
  process.stdout.write(
    `| ${r.target} | ${r.inputs} | ${r.crashes.length} | ${r.hangs.length} | ${r.slowestMs.toFixed(1)} |\n`,
  );
  for (const c of r.crashes) details.push(`crash in ${r.target}: ${c.error}\n  input ${c.input}`);
  for (const h of r.hangs) details.push(`hang in ${r.target}: ${h.ms.toFixed(0)} ms\n  input ${h.input}`);
}
if (details.length) process.stdout.write(`\n${details.join('\n')}\n`);
process.exit(bad > 0 ? 1 : 0);
