// A container's environment as the kubelet builds it: service links, then envFrom, then env (each
// later source overrides), `$(VAR)` references expanded against what is defined so far, downward
// API fields and ConfigMap/Secret keys resolved. Pure: lookups come in as functions.
import type { ServiceAddress } from './service-addresses.ts';
import type { Container, PodObject } from './pod-object.ts';

export interface EnvLookups {
  /** A ConfigMap's `data`, undefined when it does not exist. */
  configMap(name: string): Readonly<Record<string, string>> | undefined;
  /** A Secret's decoded `data`, undefined when it does not exist. */
  secret(name: string): Readonly<Record<string, string>> | undefined;
}

export type EnvResult = { ok: true; env: Record<string, string> } | { ok: false; error: string };

const envName = (s: string): string => s.toUpperCase().replace(/-/g, '_');

/** The kubelet's service-link variables for the Services of the pod's namespace. */
export function serviceLinkEnv(services: readonly ServiceAddress[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const svc of [...services].sort((a, b) => a.name.localeCompare(b.name))) {
    const first = svc.ports[0];
    if (!first) continue;
    const name = envName(svc.name);
    const host = svc.loopback;
    env[`${name}_SERVICE_HOST`] = host;
    env[`${name}_SERVICE_PORT`] = String(first.port);
    for (const p of svc.ports) {
      if (p.name) env[`${name}_SERVICE_PORT_${envName(p.name)}`] = String(p.port);
    }
    const proto = (p: { protocol: string }): string => (p.protocol || 'TCP').toLowerCase();
    env[`${name}_PORT`] = `${proto(first)}://${host}:${first.port}`;
    for (const p of svc.ports) {
      const prefix = `${name}_PORT_${p.port}_${(p.protocol || 'TCP').toUpperCase()}`;
      env[prefix] = `${proto(p)}://${host}:${p.port}`;
      env[`${prefix}_PROTO`] = proto(p);
      env[`${prefix}_PORT`] = String(p.port);
      env[`${prefix}_ADDR`] = host;
    }
  }
  return env;
}

/** Expands `$(VAR)` from `defined`; unknown references stay as written, `$$` escapes a `$`. */
export function expandEnvRefs(s: string, defined: Readonly<Record<string, string>>): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '$' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const n = s[i + 1]!;
    if (n === '$') {
      out += '$';
      i++;
    } else if (n === '(') {
      const end = s.indexOf(')', i + 2);
      if (end < 0) {
        out += s.slice(i);
        break;
      }
      const ref = s.slice(i + 2, end);
      out += Object.prototype.hasOwnProperty.call(defined, ref) ? defined[ref] : `$(${ref})`;
      i = end;
    } else out += c;
  }
  return out;
}

/** The value of a downward-API `fieldRef`, or undefined for a path the kubelet does not serve. */
export function fieldRefValue(pod: PodObject, path: string): string | undefined {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]!] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace ?? 'default';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? 'default';
    case 'status.podIP':
      return pod.status?.podIP ?? '';
    case 'status.podIPs':
      return (pod.status?.podIPs ?? []).map((p) => p.ip).join(',');
    case 'status.hostIP':
      return pod.status?.hostIP ?? '';
    default:
      return undefined;
  }
}

/**
 * The container's environment (without the runtime's own variables). A missing ConfigMap, Secret
 * or key that is not optional is an error, as the kubelet's CreateContainerConfigError.
 */
export function containerEnv(
  pod: PodObject,
  container: Container,
  lookups: EnvLookups,
  services: readonly ServiceAddress[],
): EnvResult {
  const ns = pod.metadata.namespace ?? 'default';
  const env: Record<string, string> = pod.spec.enableServiceLinks === false ? {} : serviceLinkEnv(services);
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const kind = from.configMapRef ? 'configmap' : 'secret';
    const data = from.configMapRef ? lookups.configMap(ref.name) : lookups.secret(ref.name);
    if (!data) {
      if (ref.optional) continue;
      return { ok: false, error: `${kind} "${ref.name}" not found in namespace ${ns}` };
    }
    for (const [k, v] of Object.entries(data)) env[`${prefix}${k}`] = v;
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom === undefined) {
      env[e.name] = expandEnvRefs(e.value ?? '', env);
      continue;
    }
    const vf = e.valueFrom;
    const keyRef = vf.configMapKeyRef ?? vf.secretKeyRef;
    if (keyRef) {
      const kind = vf.configMapKeyRef ? 'configmap' : 'secret';
      const data = vf.configMapKeyRef ? lookups.configMap(keyRef.name) : lookups.secret(keyRef.name);
      const v = data?.[keyRef.key];
      if (v === undefined) {
        if (keyRef.optional) continue;
        return {
          ok: false,
          error: data
            ? `couldn't find key ${keyRef.key} in ${kind} ${ns}/${keyRef.name}`
            : `${kind} "${keyRef.name}" not found in namespace ${ns}`,
        };
      }
      env[e.name] = v;
    } else if (vf.fieldRef) {
      const v = fieldRefValue(pod, vf.fieldRef.fieldPath);
      if (v === undefined)
        return { ok: false, error: `env ${e.name}: unsupported fieldPath ${vf.fieldRef.fieldPath}` };
      env[e.name] = v;
    } else if (vf.resourceFieldRef) {
      // Limits are not enforced for local processes; "unbounded" reads as 0 here.
      env[e.name] = '0';
    }
  }
  return { ok: true, env };
}
