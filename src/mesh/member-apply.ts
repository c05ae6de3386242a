// Converges one member to the planner's decision for one service: namespace, derived Service,
// ServiceImport and Meridian's EndpointSlices. Everything is compared with the member's cache
// first and written only when it differs, so a steady fleet (or a restarted hub) makes no writes.
import { MCS_API_VERSION, type ServiceImport } from '../api/mcs.ts';
import type { KubeObject } from '../kube/cluster-client.ts';
import { sameContent } from '../kube/same-content.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from './endpoint-plan.ts';
import { DERIVED_LABEL, isDerived } from './facts.ts';
import type { EndpointSliceObject, MeshMember, ServiceObject } from './member-watch.ts';
import type { ClusterDecision, PlannedEndpointSlice } from './types.ts';

const MANAGED = { 'app.kubernetes.io/managed-by': 'meridian' } as const;
/** Namespaces the mesh created (so only those are ever removed again). */
export const NAMESPACE_LABEL = 'meridian.dev/mcs-namespace';

/** Annotations on each ServiceImport saying which endpoints are in use there and why. */
export const ACTIVE_GROUP_ANNOTATION = 'meridian.dev/active-group';
export const REASON_ANNOTATION = 'meridian.dev/failover-reason';
export const LOCAL_READY_ANNOTATION = 'meridian.dev/local-ready';
export const REMOTE_READY_ANNOTATION = 'meridian.dev/remote-ready';
export const LOCALITY_ANNOTATION = 'meridian.dev/locality';

export interface ApplyOutcome {
  writes: number;
}

function sliceObject(ns: string, s: PlannedEndpointSlice): EndpointSliceObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: s.name, namespace: ns, labels: { ...s.labels } },
    addressType: s.addressType,
    endpoints: s.endpoints.map((e) => ({
      addresses: [...e.addresses],
      conditions: { ready: e.conditions.ready },
      ...(e.zone ? { zone: e.zone } : {}),
    })),
    ports: s.ports.map((p) => ({ ...p })),
  };
}

const sliceBody = (s: EndpointSliceObject) => ({
  labels: s.metadata.labels,
  addressType: s.addressType,
  endpoints: (s.endpoints ?? []).map((e) => ({
    addresses: e.addresses,
    ready: e.conditions?.ready !== false,
    zone: e.zone,
  })),
  ports: s.ports ?? [],
});

/** Our slices of `ns/name` in the member's cache. */
function ourSlices(m: MeshMember, ns: string, name: string): EndpointSliceObject[] {
  return m.slices
    .list()
    .filter(
      (s) =>
        s.metadata.namespace === ns &&
        s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY &&
        s.metadata.labels[SERVICE_NAME_LABEL] === name,
    );
}

export async function applyDecision(
  m: MeshMember,
  ns: string,
  name: string,
  d: ClusterDecision,
): Promise<ApplyOutcome> {
  const out: ApplyOutcome = { writes: 0 };
  const c = m.client;
  if (d.namespaceNeeded && !m.namespaces.get(ns)) {
    await c.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { ...MANAGED, [NAMESPACE_LABEL]: 'true' } },
    });
    out.writes++;
  }

  // The Service callers use: the user's own where it exists, else one we derive (selector-less).
  let live: ServiceObject | undefined = m.services.get(name, ns);
  if (d.derivedService && (!live || isDerived(live))) {
    const desired: ServiceObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns, labels: { ...MANAGED, [DERIVED_LABEL]: 'true' } },
      spec: {
        type: 'ClusterIP',
        ...(d.derivedService.clusterIP ? { clusterIP: d.derivedService.clusterIP } : {}),
        ports: d.derivedService.ports.map((p) => ({ ...p })),
      },
    };
    const liveSpec = live?.spec;
    const same =
      live !== undefined &&
      sameContent(
        liveSpec?.ports?.map((p) => ({
          name: p.name,
          protocol: p.protocol,
          appProtocol: p.appProtocol,
          port: p.port,
          targetPort: p.targetPort,
        })),
        desired.spec!.ports!.map((p) => ({
          name: p.name,
          protocol: p.protocol,
          appProtocol: p.appProtocol,
          port: p.port,
          targetPort: p.targetPort,
        })),
      );
    if (!same) {
      live = await c.apply(desired, { force: true });
      out.writes++;
    }
  } else if (!d.derivedService && live && isDerived(live)) {
    await c.delete('v1', 'Service', name, ns);
    out.writes++;
    live = undefined;
  }

  // The ServiceImport: spec from the merged exports, ips from the local Service, status clusters.
  const clusterIP = live?.spec?.clusterIP;
  const annotations = {
    [ACTIVE_GROUP_ANNOTATION]: d.activeGroup,
    [REASON_ANNOTATION]: d.reason,
    [LOCAL_READY_ANNOTATION]: String(d.localReady),
    [REMOTE_READY_ANNOTATION]: String(d.remoteReady),
    [LOCALITY_ANNOTATION]: d.locality,
  };
  const spec = {
    type: d.serviceImport.type,
    ports: d.serviceImport.ports.map((p) => ({ ...p })),
    ...(clusterIP && clusterIP !== 'None' ? { ips: [clusterIP] } : {}),
  };
  const imp = m.imports.get(name, ns);
  if (
    !imp ||
    !sameContent(imp.spec, spec) ||
    !sameContent(
      Object.fromEntries(Object.keys(annotations).map((k) => [k, imp.metadata.annotations?.[k]])),
      annotations,
    )
  ) {
    await c.apply<ServiceImport & KubeObject>(
      {
        apiVersion: MCS_API_VERSION,
        kind: 'ServiceImport',
        metadata: { name, namespace: ns, labels: { ...MANAGED }, annotations },
        spec,
      } as never,
      { force: true },
    );
    out.writes++;
  }
  const status = { clusters: d.serviceImport.clusters.map((cluster) => ({ cluster })) };
  if (!imp || !sameContent(imp.status, status)) {
    await c.applyStatus({
      apiVersion: MCS_API_VERSION,
      kind: 'ServiceImport',
      metadata: { name, namespace: ns },
      status,
    });
    out.writes++;
  }

  // Meridian's EndpointSlices next to the local ones.
  const keep = new Set<string>();
  for (const planned of d.endpointSlices) {
    keep.add(planned.name);
    const desired = sliceObject(ns, planned);
    const cur = m.slices.get(planned.name, ns);
    if (cur && sameContent(sliceBody(cur), sliceBody(desired))) continue;
    await c.apply(desired, { force: true });
    out.writes++;
  }
  for (const s of ourSlices(m, ns, name)) {
    if (keep.has(s.metadata.name)) continue;
    await c.delete('discovery.k8s.io/v1', 'EndpointSlice', s.metadata.name, ns);
    out.writes++;
  }
  return out;
}

/** Removes everything the mesh made for `ns/name` in one member (the last export went). */
export async function removeFromMember(m: MeshMember, ns: string, name: string): Promise<ApplyOutcome> {
  const out: ApplyOutcome = { writes: 0 };
  for (const s of ourSlices(m, ns, name)) {
    await m.client.delete('discovery.k8s.io/v1', 'EndpointSlice', s.metadata.name, ns);
    out.writes++;
  }
  if (m.imports.get(name, ns)) {
    await m.client.delete(MCS_API_VERSION, 'ServiceImport', name, ns);
    out.writes++;
  }
  if (isDerived(m.services.get(name, ns))) {
    await m.client.delete('v1', 'Service', name, ns);
    out.writes++;
  }
  // A namespace the mesh created goes too, once nothing but what we just removed lived in it.
  const namespace = m.namespaces.get(ns);
  const others = m.services.list().filter((s) => s.metadata.namespace === ns && s.metadata.name !== name);
  if (
    namespace?.metadata.labels?.[NAMESPACE_LABEL] === 'true' &&
    !namespace.metadata.deletionTimestamp &&
    others.length === 0
  ) {
    await m.client.delete('v1', 'Namespace', ns);
    out.writes++;
  }
  return out;
}
