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
    )}\n\n| target | inputs | crashes | hangs (>100 ms, replayed) | one-off stalls (not on replay) | slowest input (ms) |\n|---|---|---|---|---|---|\n`,
);
let bad = 0;
const details: string[] = [];
for (const [i, t] of TARGETS.entries()) {
  const r = fuzz(t, ms, seed + i);
  // On a shared machine a GC pause or a descheduling can stall any input: one over 100 ms counts
  // as a hang only if it is over 100 ms again in each of three replays.
  const replayed = (input: string): boolean =>
    fuzz({ ...t, seeds: [Buffer.from(input, 'base64')] }, 0, 0).hangs.length > 0;
  const hangs = r.hangs.filter((h) => [0, 1, 2].every(() => replayed(h.input)));
  const stalls = r.hangs.length - hangs.length;
  bad += r.crashes.length + hangs.length;
  process.stdout.write(
    `| ${r.target} | ${r.inputs} | ${r.crashes.length} | ${hangs.length} | ${stalls} | ${r.slowestMs.toFixed(1)} |\n`,
  );
  for (const c of r.crashes) details.push(`crash in ${r.target}: ${c.error}\n  input ${c.input}`);
  for (const h of hangs) details.push(`hang in ${r.target}: ${h.ms.toFixed(0)} ms\n  input ${h.input}`);
}
if (details.length) process.stdout.write(`\n${details.join('\n')}\n`);
process.exit(bad > 0 ? 1 : 0);
