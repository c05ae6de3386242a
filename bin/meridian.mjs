#!/usr/bin/env node
// Entry point of `meridian`. An installed package runs the compiled build (dist/, made by
// `npm run build`). A checkout runs the TypeScript sources through tsx, so no build step stands
// between an edit and a run — unless a build exists that is newer than every source file, which
// then starts in a fraction of the time. MERIDIAN_RUN=source|compiled chooses explicitly.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const compiled = new URL('dist/cli/main.js', root);
const source = new URL('src/cli/main.ts', root);
const stamp = new URL('dist/build-stamp.json', root);

/** The newest modification time of any file under `dir`. */
function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(`${e.parentPath ?? e.path}/${e.name}`).mtimeMs);
  }
  return newest;
}

function runCompiled() {
  const choice = process.env.MERIDIAN_RUN;
  if (choice === 'source') return false;
  if (choice === 'compiled') return true;
  if (!existsSync(compiled) || !existsSync(stamp)) return false;
  if (!existsSync(source)) return true;
  // A build older than the sources would run yesterday's code: use the sources instead.
  return statSync(stamp).mtimeMs >= newestMtime(new URL('src/', root));
}

if (runCompiled()) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
}
