// An Application as a reader without access to Secrets may see it. Its spec can carry secret
// material inline: Secret objects in `source.manifests` or in override `patches`, Helm `values`
// (passwords are a common chart value), credentials in a repository URL; and its
// `kubectl.kubernetes.io/last-applied-configuration` annotation copies the whole spec. So the
// hub's viewer role does not read Applications from the API server; it reads them through the
// hub's `GET /api/v1/applications`, redacted here: Secret `data`/`stringData` and every string in
// Helm values become REDACTED (keys kept, so the shape stays readable), URL credentials are
// dropped, and so are the annotation and managedFields. Over-redacting Helm values is deliberate:
// which chart value is a password cannot be known. Pure.
import type { Application } from './application.ts';

export const REDACTED = '<redacted>';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObject = (v: Json | undefined): v is { [k: string]: Json } =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every string leaf replaced by REDACTED; numbers and booleans kept. */
function redactLeaves(v: Json): Json {
  if (typeof v === 'string') return REDACTED;
  if (Array.isArray(v)) return v.map(redactLeaves);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactLeaves(x)]));
  return v;
}

/** `https://user:token@host/…` without its credentials. */
function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

function redactSpec(v: Json, key?: string): Json {
  if (typeof v === 'string') return key === 'url' || key === 'repoURL' ? withoutCredentials(v) : v;
  if (Array.isArray(v)) return v.map((x) => redactSpec(x));
  if (!isObject(v)) return v;
  const secret = v['kind'] === 'Secret';
  const out: { [k: string]: Json } = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'values' && isObject(x)) out[k] = redactLeaves(x);
    else if (secret && (k === 'data' || k === 'stringData') && isObject(x))
      out[k] = Object.fromEntries(Object.keys(x).map((name) => [name, REDACTED]));
    else out[k] = redactSpec(x, k);
  }
  return out;
}

/** The Application with its secret material replaced by REDACTED. */
export function redactApplication(app: Application): Application {
  const { managedFields: _managedFields, ...metadata } = app.metadata as Application['metadata'] & {
    managedFields?: unknown;
  };
  const annotations = metadata.annotations ? { ...metadata.annotations } : undefined;
  if (annotations) delete annotations[LAST_APPLIED];
  return {
    ...app,
    metadata: { ...metadata, ...(annotations ? { annotations } : {}) },
    spec: redactSpec(app.spec as unknown as Json) as unknown as Application['spec'],
  };
}
