// Meridian's version, from package.json, so the CLI, the OpenAPI document and buildinfo agree.
import { readFileSync } from 'node:fs';

export const MERIDIAN_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
