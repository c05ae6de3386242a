// `npm run bench [name…]`: runs each benchmark in bench/ (or the named ones) one after another,
// each in its own process so one's leftovers cannot skew the next.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.replace(/\.ts$/, ''));
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const name of chosen) {
  if (!all.includes(name)) {
    process.stderr.write(`unknown benchmark "${name}" (have: ${all.join(', ')})\n`);
    process.exit(2);
  }
  process.stdout.write(`\n## ${name}\n\ncommand: npm run bench ${name}\n\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${name}.ts`)], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
