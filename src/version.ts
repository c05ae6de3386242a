// Meridian's version, from package.json, so the CLI, the OpenAPI document and buildinfo agree.
// The compiled build (dist/) sits at the same depth as src/, so '../package.json' is the package's
// own in both.
import { readFileSync } from 'node:fs';

export const MERIDIAN_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** How this process runs Meridian: the compiled build or the TypeScript sources through tsx. */
export const MERIDIAN_BUILD: 'compiled' | 'source' = import.meta.url.endsWith('.js') ? 'compiled' : 'source';
