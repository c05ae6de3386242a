// Turns what the member caches hold into the planner's input for one service: exports with their
// local Service facts, and each cluster's own endpoints. Pure over the objects it is given.
import type { ServiceExport } from '../api/mcs.ts';
import { FIELD_MANAGER, type KubeObject } from '../kube/cluster-client.ts';
import {
  SLICE_MANAGED_BY,
  SLICE_MANAGED_BY_LABEL,
  MCS_SERVICE_NAME_LABEL,
  SERVICE_NAME_LABEL,
} from './endpoint-plan.ts';
import type { EndpointSliceObject, ServiceObject } from './mesh-members.ts';
import type { ExportFacts, SourceEndpoint } from './mesh-types.ts';

/** Label on Services Meridian derives for imported services (never exported, never the user's). */
export const DERIVED_LABEL = 'meridian.dev/mcs-derived';

/**
 * A Service Meridian derived: our label, no selector, and no field manager but Meridian's. A user
 * who applies or edits a Service over it (with a selector or without) has made it theirs.
 */
export const isDerived = (s: ServiceObject | undefined): boolean =>
  s?.metadata.labels?.[DERIVED_LABEL] === 'true' && s.spec?.selector === undefined && onlyMeridianManages(s);

/** The derived Service of the import `name` (carries the imported name in its MCS label). */
export const isDerivedFor = (s: ServiceObject | undefined, name: string): boolean =>
  isDerived(s) && s?.metadata.labels?.[MCS_SERVICE_NAME_LABEL] === name;

/** A Service earlier versions derived under the imported name itself (no MCS label), still only ours. */
export const isLegacyDerived = (s: ServiceObject | undefined): boolean =>
  isDerived(s) && s?.metadata.labels?.[MCS_SERVICE_NAME_LABEL] === undefined;

/** Every managedFields entry is Meridian's (none at all counts as ours: the label says so). */
function onlyMeridianManages(o: KubeObject): boolean {
  const entries = (o.metadata['managedFields'] ?? []) as { manager?: string }[];
  return entries.every((e) => e.manager === FIELD_MANAGER);
}

/** The facts of one cluster's export of a service. */
export function exportFacts(
  cluster: string,
  exp: ServiceExport & KubeObject,
  service: ServiceObject | undefined,
): ExportFacts {
  const userService = service && !isDerived(service) ? service : undefined;
  return {
    cluster,
    createdAt: exp.metadata.creationTimestamp ?? '',
    type: userService?.spec?.clusterIP === 'None' ? 'Headless' : 'ClusterSetIP',
    serviceExists: userService !== undefined,
    externalName: userService?.spec?.type === 'ExternalName',
    ports: (userService?.spec?.ports ?? []).map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      protocol: p.protocol ?? 'TCP',
      ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
      port: p.port,
      ...(typeof p.targetPort === 'number' ? { targetPort: p.targetPort } : {}),
    })),
    ...affinityFacts(userService),
    ...(userService?.spec?.ipFamilies?.length ? { ipFamilies: [...userService.spec.ipFamilies] } : {}),
    ...(userService?.spec?.internalTrafficPolicy
      ? { internalTrafficPolicy: userService.spec.internalTrafficPolicy }
      : {}),
    ...(userService?.spec?.trafficDistribution
      ? { trafficDistribution: userService.spec.trafficDistribution }
      : {}),
    ...(exp.spec?.exportedLabels ? { exportedLabels: { ...exp.spec.exportedLabels } } : {}),
    ...(exp.spec?.exportedAnnotations ? { exportedAnnotations: { ...exp.spec.exportedAnnotations } } : {}),
  };
}

function affinityFacts(
  service: ServiceObject | undefined,
): Pick<ExportFacts, 'sessionAffinity' | 'affinityTimeoutSeconds'> {
  if (service?.spec?.sessionAffinity !== 'ClientIP') return {};
  const timeout = service.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  return {
    sessionAffinity: 'ClientIP',
    ...(timeout !== undefined ? { affinityTimeoutSeconds: timeout } : {}),
  };
}

/** A cluster's own endpoints of a service: its EndpointSlices not published by Meridian. */
export function sourceEndpoints(slices: readonly EndpointSliceObject[]): SourceEndpoint[] {
  const out: SourceEndpoint[] = [];
  for (const s of slices) {
    if (s.metadata.labels?.[SLICE_MANAGED_BY_LABEL] === SLICE_MANAGED_BY) continue;
    const ports = (s.ports ?? [])
      .filter((p) => p.port !== undefined)
      .map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port!,
        protocol: p.protocol ?? 'TCP',
        ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
      }));
    for (const e of s.endpoints ?? []) {
      out.push({
        addresses: e.addresses,
        ready: e.conditions?.ready !== false,
        ...(e.hostname ? { hostname: e.hostname } : {}),
        ...(e.nodeName ? { nodeName: e.nodeName } : {}),
        ...(e.zone ? { zone: e.zone } : {}),
        ...(e.targetRef ? { targetRef: e.targetRef } : {}),
        ports,
      });
    }
  }
  return out;
}

/** Slices of `namespace/service` in a cache listing. */
export function slicesOf(
  all: readonly EndpointSliceObject[],
  namespace: string,
  service: string,
): EndpointSliceObject[] {
  return all.filter(
    (s) => s.metadata.namespace === namespace && s.metadata.labels?.[SERVICE_NAME_LABEL] === service,
  );
}
