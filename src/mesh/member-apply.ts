// Converges one member to the planner's decision for one service: namespace, ServiceImport, its
// derived Service (a name of its own, owned by the ServiceImport) and Meridian's EndpointSlices.
// Everything is compared with the member's cache first and written only when it differs, so a
// steady fleet (or a restarted hub) makes no writes. Nothing Meridian did not create is ever
// written over or deleted: a Service of the plain name is the user's, and a namespace the mesh
// created goes only when nothing but the mesh's objects is left in it.
import { createHash } from 'node:crypto';
import { MCS_API_VERSION, type ServiceImport } from '../api/mcs.ts';
import { setCondition, type Condition } from '../kube/conditions.ts';
import type { KubeObject } from '../kube/cluster-client.ts';
import { MeridianError } from '../kube/errors.ts';
import { listNamespaceContents } from '../kube/namespace-contents.ts';
import { sameContent } from '../kube/same-content.ts';
import {
  derivedServiceName,
  SLICE_MANAGED_BY,
  SLICE_MANAGED_BY_LABEL,
  MCS_SERVICE_NAME_LABEL,
} from './endpoint-plan.ts';
import { DERIVED_LABEL, isDerivedFor, isLegacyDerived } from './facts.ts';
import type { EndpointSliceObject, MeshMember, ServiceObject } from './mesh-members.ts';
import { namespaceBlockers } from './namespace-cleanup.ts';
import type { ClusterDecision, PlannedEndpointSlice } from './mesh-types.ts';
import { ACTIVE_GROUP_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, REASON_ANNOTATION } from '../api/labels.ts';

const MANAGED = { [MANAGED_BY_LABEL]: MANAGED_BY } as const;
/** Namespaces the mesh created (so only those are ever removed again). */
export const NAMESPACE_LABEL = 'meridian.dev/mcs-namespace';
/** On the ServiceImport: the Service that carries its address in this member (mcs-api's annotation). */
export const DERIVED_SERVICE_ANNOTATION = 'multicluster.kubernetes.io/derived-service';

export const LOCAL_READY_ANNOTATION = 'meridian.dev/local-ready';
export const REMOTE_READY_ANNOTATION = 'meridian.dev/remote-ready';
export const LOCALITY_ANNOTATION = 'meridian.dev/locality';
/** Digest of the exported labels and annotations last put on the ServiceImport. */
export const EXPORTED_METADATA_ANNOTATION = 'meridian.dev/exported-metadata';

export interface ApplyOutcome {
  writes: number;
  /** Why a namespace the mesh created was kept (objects that are not the mesh's, or an incomplete view). */
  keptNamespace?: string;
}

interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

const ownerOf = (name: string, uid: string): OwnerReference[] => [
  { apiVersion: MCS_API_VERSION, kind: 'ServiceImport', name, uid },
];

const isOurImport = (o: KubeObject | undefined): boolean =>
  o?.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;

function sliceObject(ns: string, s: PlannedEndpointSlice, owner: OwnerReference[]): EndpointSliceObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: s.name, namespace: ns, labels: { ...s.labels }, ownerReferences: owner },
    addressType: s.addressType,
    endpoints: s.endpoints.map((e) => ({
      addresses: [...e.addresses],
      conditions: { ready: e.conditions.ready },
      ...(e.hostname ? { hostname: e.hostname } : {}),
      ...(e.zone ? { zone: e.zone } : {}),
    })),
    ports: s.ports.map((p) => ({ ...p })),
  };
}

const ownerUids = (o: KubeObject): string[] =>
  ((o.metadata.ownerReferences ?? []) as { uid?: string }[]).map((r) => r.uid ?? '').sort();

const sliceBody = (s: EndpointSliceObject) => ({
  labels: s.metadata.labels,
  owners: ownerUids(s),
  addressType: s.addressType,
  endpoints: (s.endpoints ?? []).map((e) => ({
    addresses: e.addresses,
    ready: e.conditions?.ready !== false,
    hostname: e.hostname,
    zone: e.zone,
  })),
  ports: s.ports ?? [],
});

/**
 * A digest of the exported labels and annotations: only our own annotation keys are compared with
 * the live ServiceImport, so this is how a later reconcile sees one added or removed.
 */
function exportedDigest(
  labels: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>>,
): string {
  const sorted = (m: Readonly<Record<string, string>>) =>
    Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1));
  const text = JSON.stringify([sorted(labels), sorted(annotations)]);
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Kubernetes' default ClientIP affinity timeout (3 hours). */
const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10_800;

/**
 * spec.sessionAffinity(Config) for a planned affinity. The config is always written with ClientIP,
 * so Meridian owns it and server-side apply removes it with the affinity (a Service with None and a
 * leftover config is invalid).
 */
function affinitySpec(a: { sessionAffinity?: 'ClientIP'; affinityTimeoutSeconds?: number }): {
  sessionAffinity?: 'ClientIP';
  sessionAffinityConfig?: { clientIP: { timeoutSeconds: number } };
} {
  if (a.sessionAffinity !== 'ClientIP') return {};
  const timeoutSeconds = a.affinityTimeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  return { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds } } };
}

/** The affinity a live Service has, in affinitySpec's shape (the API server defaults None). */
const liveAffinity = (s: ServiceObject | undefined) =>
  s?.spec?.sessionAffinity === 'ClientIP'
    ? affinitySpec({
        sessionAffinity: 'ClientIP',
        ...(s.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds !== undefined
          ? { affinityTimeoutSeconds: s.spec.sessionAffinityConfig.clientIP.timeoutSeconds }
          : {}),
      })
    : {};

const portsOf = (s: ServiceObject | undefined) =>
  (s?.spec?.ports ?? []).map((p) => ({
    name: p.name,
    protocol: p.protocol,
    appProtocol: p.appProtocol,
    port: p.port,
    targetPort: p.targetPort,
  }));

/** Our slices of `ns/name` in the member's cache (plain-name and derived ones alike). */
function ourSlices(m: MeshMember, ns: string, name: string): EndpointSliceObject[] {
  return m.slices
    .list()
    .filter(
      (s) =>
        s.metadata.namespace === ns &&
        s.metadata.labels?.[SLICE_MANAGED_BY_LABEL] === SLICE_MANAGED_BY &&
        s.metadata.labels[MCS_SERVICE_NAME_LABEL] === name,
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

  const derivedName = d.derivedService.name;
  let derived: ServiceObject | undefined = m.services.get(derivedName, ns);
  if (derived && derived.metadata.labels?.[DERIVED_LABEL] !== 'true') {
    throw new MeridianError(
      'DerivedServiceTaken',
      `cluster ${m.name}: Service ${ns}/${derivedName} exists and is not Meridian's; the import of ${ns}/${name} is not served there`,
    );
  }
  const existing = m.imports.get(name, ns);
  if (existing && !isOurImport(existing)) {
    throw new MeridianError(
      'ServiceImportTaken',
      `cluster ${m.name}: ServiceImport ${ns}/${name} is managed by another MCS implementation`,
    );
  }

  // The ServiceImport first: the derived Service and the slices are owned by it.
  const annotations = {
    [DERIVED_SERVICE_ANNOTATION]: derivedName,
    [ACTIVE_GROUP_ANNOTATION]: d.activeGroup,
    [REASON_ANNOTATION]: d.reason,
    [LOCAL_READY_ANNOTATION]: String(d.localReady),
    [REMOTE_READY_ANNOTATION]: String(d.remoteReady),
    [LOCALITY_ANNOTATION]: d.locality,
    [EXPORTED_METADATA_ANNOTATION]: exportedDigest(d.serviceImport.labels, d.serviceImport.annotations),
  };
  // The exported labels and annotations go on the ServiceImport (ours win a clash).
  const labels = { ...d.serviceImport.labels, ...MANAGED };
  const allAnnotations = { ...d.serviceImport.annotations, ...annotations };
  // ips (and their ipFamilies) are the derived Service's address in this member; the other
  // Service fields are the oldest export's, as the KEP merges them.
  const importSpec = (svc: ServiceObject | undefined) => {
    const clusterIP = svc?.spec?.clusterIP;
    const addressed = d.serviceImport.type === 'ClusterSetIP' && clusterIP && clusterIP !== 'None';
    const fields = d.serviceImport.serviceFields;
    const families = addressed ? svc?.spec?.ipFamilies?.slice(0, 1) : fields.ipFamilies;
    return {
      type: d.serviceImport.type,
      ports: d.serviceImport.ports.map((p) => ({ ...p })),
      ...(addressed ? { ips: [clusterIP] } : {}),
      ...affinitySpec(d.serviceImport),
      ...(families?.length ? { ipFamilies: [...families] } : {}),
      ...(fields.internalTrafficPolicy ? { internalTrafficPolicy: fields.internalTrafficPolicy } : {}),
      ...(fields.trafficDistribution ? { trafficDistribution: fields.trafficDistribution } : {}),
    };
  };
  let imp: KubeObject | undefined = existing;
  const applyImport = async (spec: ReturnType<typeof importSpec>): Promise<void> => {
    if (
      imp &&
      sameContent(imp['spec'], spec) &&
      sameContent(
        Object.fromEntries(Object.keys(annotations).map((k) => [k, imp?.metadata.annotations?.[k]])),
        annotations,
      )
    )
      return;
    imp = await c.apply<ServiceImport & KubeObject>(
      {
        apiVersion: MCS_API_VERSION,
        kind: 'ServiceImport',
        metadata: { name, namespace: ns, labels, annotations: allAnnotations },
        spec,
      } as never,
      { force: true },
    );
    out.writes++;
  };
  await applyImport(importSpec(derived));
  const uid = imp!.metadata.uid!;
  const owner = ownerOf(name, uid);

  // The derived Service: selector-less, under its own name; its address is the ServiceImport's.
  const desired: ServiceObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: derivedName,
      namespace: ns,
      labels: { ...MANAGED, [DERIVED_LABEL]: 'true', [MCS_SERVICE_NAME_LABEL]: name },
      ownerReferences: owner,
    },
    spec: {
      type: 'ClusterIP',
      ...(d.derivedService.clusterIP ? { clusterIP: d.derivedService.clusterIP } : {}),
      ports: d.derivedService.ports.map((p) => ({ ...p })),
      ...affinitySpec(d.derivedService),
    },
  };
  const headless = d.derivedService.clusterIP === 'None';
  if (derived && (derived.spec?.clusterIP === 'None') !== headless) {
    // clusterIP is immutable: switching between ClusterSetIP and Headless takes a new Service.
    await c.delete('v1', 'Service', derivedName, ns);
    out.writes++;
    derived = undefined;
  }
  if (
    !derived ||
    !sameContent(portsOf(derived), portsOf(desired)) ||
    !sameContent(liveAffinity(derived), liveAffinity(desired)) ||
    !sameContent(ownerUids(derived), [uid]) ||
    derived.metadata.labels?.[MCS_SERVICE_NAME_LABEL] !== name
  ) {
    derived = await c.apply(desired, { force: true });
    out.writes++;
  }
  await applyImport(importSpec(derived));

  // Ready once the import has its address here (a headless import needs none), as mcs-api's
  // ServiceImport condition says; the transition time moves only when the status does.
  const address = derived.spec?.clusterIP;
  const ready = headless || (address !== undefined && address !== '' && address !== 'None');
  const prevStatus = existing?.['status'] as { conditions?: Condition[] } | undefined;
  const status = {
    clusters: d.serviceImport.clusters.map((cluster) => ({ cluster })),
    conditions: setCondition(
      prevStatus?.conditions,
      ready
        ? {
            type: 'Ready',
            status: 'True',
            reason: 'Ready',
            message: headless
              ? `served by headless Service ${derivedName}`
              : `served at ${address} by Service ${derivedName}`,
          }
        : {
            type: 'Ready',
            status: 'False',
            reason: 'Pending',
            message: `Service ${derivedName} has no cluster IP yet`,
          },
      new Date(),
    ),
  };
  if (!existing || !sameContent(existing['status'], status)) {
    await c.applyStatus({
      apiVersion: MCS_API_VERSION,
      kind: 'ServiceImport',
      metadata: { name, namespace: ns },
      status,
    });
    out.writes++;
  }

  // Meridian's EndpointSlices: the derived Service's, and remote ones under the plain name where
  // the service is exported here too.
  const keep = new Set<string>();
  for (const planned of [...d.derivedSlices, ...d.endpointSlices]) {
    keep.add(planned.name);
    const want = sliceObject(ns, planned, owner);
    const cur = m.slices.get(planned.name, ns);
    if (cur && sameContent(sliceBody(cur), sliceBody(want))) continue;
    await c.apply(want, { force: true });
    out.writes++;
  }
  for (const s of ourSlices(m, ns, name)) {
    if (keep.has(s.metadata.name)) continue;
    await c.delete('discovery.k8s.io/v1', 'EndpointSlice', s.metadata.name, ns);
    out.writes++;
  }
  // Earlier versions derived a Service under the plain name; remove one that is still only ours.
  if (isLegacyDerived(m.services.get(name, ns))) {
    await c.delete('v1', 'Service', name, ns);
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
  if (isOurImport(m.imports.get(name, ns))) {
    await m.client.delete(MCS_API_VERSION, 'ServiceImport', name, ns);
    out.writes++;
  }
  const derived = derivedServiceName(ns, name);
  if (isDerivedFor(m.services.get(derived, ns), name)) {
    await m.client.delete('v1', 'Service', derived, ns);
    out.writes++;
  }
  if (isLegacyDerived(m.services.get(name, ns))) {
    await m.client.delete('v1', 'Service', name, ns);
    out.writes++;
  }
  // A namespace the mesh created goes too, but only when nothing but the mesh's own objects (of
  // this service) and what Kubernetes puts in every namespace is left: asked live, of every kind.
  // Only when this call removed the import there (any other service's key would ask again and
  // again); a hub that dies in between leaves the namespace, never deletes too much.
  const namespace = m.namespaces.get(ns);
  if (
    out.writes === 0 ||
    namespace?.metadata.labels?.[NAMESPACE_LABEL] !== 'true' ||
    namespace.metadata.deletionTimestamp
  )
    return out;
  const contents = await listNamespaceContents(m.client, ns);
  if (!contents.complete) {
    out.keptNamespace = `cannot see all of it: ${contents.gaps.slice(0, 3).join('; ')}`;
    return out;
  }
  const blockers = namespaceBlockers(contents.objects, name);
  if (blockers.length) {
    const named = blockers.slice(0, 5).map((o) => `${o.kind} ${o.metadata.name}`);
    out.keptNamespace = `it holds objects Meridian did not create: ${named.join(', ')}${blockers.length > 5 ? ', …' : ''}`;
    return out;
  }
  await m.client.delete('v1', 'Namespace', ns);
  out.writes++;
  return out;
}
