// Decides, for one exported service, what every member should hold (KEP-1645): the ServiceImport,
// its derived Service — a selector-less Service with a name of its own (`derived-<hash>`, as the
// upstream controller and GKE name it), so it never collides with a Service of the user's — and
// the derived Service's EndpointSlices, one set per exporting cluster, the importer's own included.
// Where the importer exports the service too, the remote instances are also published under the
// plain name (`name.ns.svc` then reaches local and remote instances alike); a Service that is not
// exported there keeps its cluster.local behaviour untouched. Locality and failover are expressed
// only through which remote endpoints are published ready, so plain kube-proxy (or any mesh
// reading EndpointSlices) follows them.
//
// Choices:
// - No TrafficPolicy means `Any` (KEP-1645: a service is the union of all its exports). A policy
//   without `locality` means `PreferLocal`, the CRD's default.
// - The importer's own endpoints are never re-published under the plain name (its own slices carry
//   them) and, in the derived Service, always keep their own readiness: Meridian cannot switch the
//   local ones off under the plain name, and the two names must not disagree.
// - A lost cluster (Ready=False) keeps its slices, with every endpoint not ready: nothing is deleted
//   anywhere, the switch is a status flip, and rejoining flips them back.
// - Remote endpoints carry no nodeName or targetRef: those name another cluster's node and pod, and
//   kube-proxy would take a same-named node for a local one (internalTrafficPolicy: Local).
// - minReadyLocal 0 keeps a cluster that runs the service strictly local; one that does not still
//   fails over, since it has nothing to stay on.
import { createHash } from 'node:crypto';
import type { Locality } from '../api/traffic-policy.ts';
import { mergeExports } from './port-merge.ts';
import type {
  ClusterDecision,
  EndpointPort,
  ExportCondition,
  ExportFacts,
  ExportStatus,
  FailoverGroup,
  FailoverState,
  MemberFacts,
  MergedService,
  PlannedEndpoint,
  PlannedEndpointSlice,
  ServicePlan,
  ServicePlanInput,
  SourceEndpoint,
} from './mesh-types.ts';

export const SLICE_MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const SLICE_MANAGED_BY = 'meridian.dev';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const SOURCE_CLUSTER_LABEL = 'multicluster.kubernetes.io/source-cluster';
export const MCS_SERVICE_NAME_LABEL = 'multicluster.kubernetes.io/service-name';

const NAME_MAX = 63;
// The API server's limit on endpoints per EndpointSlice.
const ENDPOINTS_PER_SLICE = 1000;

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const readyCount = (eps: readonly SourceEndpoint[] | undefined): number =>
  (eps ?? []).filter((e) => e.ready).length;
const addressType = (address: string): 'IPv4' | 'IPv6' => (address.includes(':') ? 'IPv6' : 'IPv4');
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';

/**
 * The name of the derived Service of `namespace/service` in every importing member:
 * `derived-` and the first 10 characters of the lowercase base32hex SHA-256 of `namespace/service`
 * (the upstream mcs-api controller's name). A DNS label, never a name a user picks by chance.
 */
export function derivedServiceName(namespace: string, service: string): string {
  const digest = createHash('sha256').update(`${namespace}/${service}`).digest();
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 10) {
      out += BASE32HEX[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 10) break;
  }
  return `derived-${out}`;
}

/** `<service>-mcs-<source>[-<n>]`; names over 63 characters keep a prefix and end in a hash of the whole. */
export function endpointSliceName(service: string, sourceCluster: string, index = 0): string {
  const full = `${service}-mcs-${sourceCluster}${index ? `-${index}` : ''}`;
  if (full.length <= NAME_MAX) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 10);
  return `${full.slice(0, NAME_MAX - hash.length - 1)}-${hash}`;
}

function exportStatus(
  e: ExportFacts,
  input: ServicePlanInput,
  merged: MergedService | undefined,
): ExportStatus {
  const ref = `Service ${input.namespace}/${input.service}`;
  const invalid = (reason: string, message: string): ExportStatus => ({
    cluster: e.cluster,
    valid: false,
    conditions: [{ type: 'Valid', status: 'False', reason, message }],
  });
  if (!e.serviceExists) return invalid('NoService', `${ref} does not exist in cluster ${e.cluster}`);
  if (e.externalName)
    return invalid('InvalidServiceType', `${ref} is of type ExternalName and cannot be exported`);
  // Its own lost properties, and those other exports lost to it (KEP-1645: every export in a
  // conflict says so; the older keeps the property).
  const own = merged?.exports.find((x) => x.cluster === e.cluster)?.conflicts ?? [];
  const against = (merged?.exports ?? []).flatMap((x) =>
    x.conflicts
      .filter((c) => c.with === e.cluster && x.cluster !== e.cluster)
      .map((c) => ({
        ...c,
        message: `cluster ${x.cluster} disagrees and loses: ${c.message.replace(/, whose export is older and wins$/, '')}`,
      })),
  );
  const conflicts = [...own, ...against];
  const conflict: ExportCondition = conflicts.length
    ? {
        type: 'Conflict',
        status: 'True',
        reason: [...new Set(conflicts.map((c) => c.reason))].join(','),
        message: conflicts.map((c) => c.message).join('; '),
      }
    : { type: 'Conflict', status: 'False', reason: 'NoConflicts', message: 'agrees with the other exports' };
  const valid: ExportCondition = {
    type: 'Valid',
    status: 'True',
    reason: 'Valid',
    message: `${ref} is exported`,
  };
  return { cluster: e.cluster, valid: true, conditions: [valid, conflict] };
}

interface Context {
  readonly input: ServicePlanInput;
  readonly merged: MergedService;
  readonly members: ReadonlyMap<string, MemberFacts>;
  /** Clusters with a valid export, in member order. */
  readonly sources: readonly string[];
  readonly exports: ReadonlyMap<string, ExportFacts>;
  readonly locality: Locality;
  readonly minReadyLocal: number;
}

// Ready endpoints a cluster offers to `importer`: its own always count, others only while Ready.
function readyFor(ctx: Context, cluster: string, importer: string): number {
  if (!ctx.sources.includes(cluster)) return 0;
  if (cluster === importer) return readyCount(ctx.input.endpoints[cluster]);
  return ctx.members.get(cluster)?.ready ? readyCount(ctx.input.endpoints[cluster]) : 0;
}

/** The cluster runs the service: its export is valid (a Service that is not exported does not count). */
function hasLocalService(ctx: Context, cluster: string): boolean {
  return ctx.sources.includes(cluster);
}

/** Candidate groups for `importer`, most preferred first; each source cluster is in one group. */
function rankGroups(ctx: Context, importer: MemberFacts): FailoverGroup[] {
  const { sources, members, input } = ctx;
  const groups: FailoverGroup[] = [];
  const covered = new Set<string>();
  const add = (id: string, label: string, candidates: readonly string[]): void => {
    const clusters = candidates.filter((c) => !covered.has(c));
    if (!clusters.length) return;
    for (const c of clusters) covered.add(c);
    const ready = clusters.reduce((sum, c) => sum + readyFor(ctx, c, importer.name), 0);
    const first = groups.length === 0 && ctx.locality !== 'Any';
    const sufficient = first
      ? ready >= ctx.minReadyLocal && (ready > 0 || clusters.some((c) => hasLocalService(ctx, c)))
      : ready > 0;
    groups.push({ id, label, clusters, ready, sufficient });
  };
  const remote = sources.filter((c) => c !== importer.name);
  const inRegion = (region: string) => remote.filter((c) => members.get(c)?.region === region);
  switch (ctx.locality) {
    case 'Any':
      add('all', 'all clusters', [importer.name, ...remote]);
      return groups;
    case 'PreferLocal':
      add(`cluster:${importer.name}`, `local cluster ${importer.name}`, [importer.name]);
      break;
    case 'PreferRegion':
      add(`region:${importer.region}`, `local region ${importer.region}`, [
        importer.name,
        ...inRegion(importer.region),
      ]);
      break;
  }
  const regions = new Set([...members.values()].map((m) => m.region));
  // A failover.order entry names a cluster or a region; a cluster name wins when both match.
  for (const entry of input.policy?.failover?.order ?? []) {
    if (members.has(entry))
      add(`cluster:${entry}`, `cluster ${entry}`, remote.includes(entry) ? [entry] : []);
    else if (regions.has(entry)) add(`region:${entry}`, `region ${entry}`, inRegion(entry));
  }
  const nearest = input.regionDistance?.[importer.region] ?? [];
  for (const region of new Set([importer.region, ...nearest, ...[...regions].sort(compareText)]))
    add(`region:${region}`, `region ${region}`, inRegion(region));
  return groups;
}

interface Choice {
  readonly active: FailoverGroup;
  readonly pending: { readonly group: FailoverGroup; readonly since: number } | undefined;
}

// Failing over is immediate; returning to a more preferred group waits until it has stayed
// sufficient for holdDownMs, so a flapping group does not drag traffic back and forth.
function choose(
  groups: readonly FailoverGroup[],
  previous: FailoverState | undefined,
  now: number,
  holdDownMs: number,
): Choice {
  const sufficient = groups.findIndex((g) => g.sufficient);
  // Nothing sufficient: the first group with any ready endpoint, else the most preferred.
  const anyReady = groups.findIndex((g) => g.ready > 0);
  const targetIndex = sufficient >= 0 ? sufficient : Math.max(0, anyReady);
  const target = groups[targetIndex];
  if (!target) throw new Error('endpoint-plan: no candidate group');
  const prevIndex = groups.findIndex((g) => g.id === previous?.activeGroup);
  const prev = groups[prevIndex];
  if (!previous || !prev?.sufficient || prevIndex <= targetIndex)
    return { active: target, pending: undefined };
  const since = previous.pending?.group === target.id ? previous.pending.since : now;
  if (now - since >= holdDownMs) return { active: target, pending: undefined };
  return { active: prev, pending: { group: target, since } };
}

function reasonFor(
  ctx: Context,
  groups: readonly FailoverGroup[],
  choice: Choice,
  holdDownMs: number,
  now: number,
): string {
  const { active, pending } = choice;
  if (ctx.locality === 'Any')
    return `locality Any: every ready endpoint of the cluster set is used (${active.ready} ready)`;
  const first = groups[0];
  if (!first) return 'no candidate group';
  const firstSays = `${first.label} has ${plural(first.ready, 'ready endpoint')} (minReadyLocal ${ctx.minReadyLocal})`;
  if (pending) {
    const left = holdDownMs - (now - pending.since);
    return (
      `${pending.group.label} is healthy again (${pending.group.ready} ready); staying on ${active.label} ` +
      `until it has held for ${holdDownMs} ms (${left} ms left)`
    );
  }
  if (active === first && first.sufficient) return firstSays;
  if (active.sufficient) return `${firstSays}; failing over to ${active.label} (${active.ready} ready)`;
  if (active.ready > 0)
    return `${firstSays} and no other group has ready endpoints; staying on ${active.label}`;
  return 'no ready endpoints in any cluster';
}

function portKey(p: EndpointPort): string {
  return `${p.name ?? ''}/${p.port}/${p.protocol}/${p.appProtocol ?? ''}`;
}

/** Slices of `source`'s endpoints for the Service `serviceName` (the plain or the derived one) in `importer`. */
function slicesFrom(
  ctx: Context,
  source: string,
  importer: string,
  importerActive: ReadonlySet<string>,
  serviceName: string,
): PlannedEndpointSlice[] {
  const { input } = ctx;
  const endpoints = input.endpoints[source] ?? [];
  if (!endpoints.length) return [];
  const own = source === importer;
  const member = ctx.members.get(source);
  const active = own || (importerActive.has(source) && member?.ready === true);
  const labels = {
    [SLICE_MANAGED_BY_LABEL]: SLICE_MANAGED_BY,
    [SERVICE_NAME_LABEL]: serviceName,
    [SOURCE_CLUSTER_LABEL]: source,
    [MCS_SERVICE_NAME_LABEL]: input.service,
  };
  // The importer reaches its own pods directly, even when others go through its gateway.
  const gateway = own ? undefined : member?.eastWestGateway;
  if (gateway) {
    // Behind a gateway every instance is one address: the gateway, ready while any instance is.
    const ports = (ctx.exports.get(source)?.ports ?? []).map((p): EndpointPort => ({
      ...(p.name ? { name: p.name } : {}),
      port: gateway.port,
      protocol: p.protocol ?? 'TCP',
      ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    }));
    const endpoint: PlannedEndpoint = {
      addresses: [gateway.address],
      conditions: { ready: active && endpoints.some((e) => e.ready) },
    };
    const name = endpointSliceName(serviceName, source);
    return [
      {
        name,
        sourceCluster: source,
        labels,
        addressType: addressType(gateway.address),
        endpoints: [endpoint],
        ports,
      },
    ];
  }
  // Slice-level ports and address type: endpoints that differ in either need slices of their own.
  const buckets = new Map<
    string,
    { addressType: 'IPv4' | 'IPv6'; ports: EndpointPort[]; endpoints: PlannedEndpoint[] }
  >();
  for (const e of endpoints) {
    const first = e.addresses[0];
    if (first === undefined) continue;
    const ports = [...e.ports].sort((a, b) => compareText(portKey(a), portKey(b)));
    const type = addressType(first);
    const key = `${type} ${ports.map(portKey).join(',')}`;
    const bucket = buckets.get(key) ?? { addressType: type, ports, endpoints: [] };
    buckets.set(key, bucket);
    bucket.endpoints.push({
      addresses: [...e.addresses],
      conditions: { ready: e.ready && active },
      ...(e.hostname ? { hostname: e.hostname } : {}),
      ...(e.zone ? { zone: e.zone } : {}),
    });
  }
  const slices: PlannedEndpointSlice[] = [];
  for (const key of [...buckets.keys()].sort(compareText)) {
    const bucket = buckets.get(key);
    if (!bucket) continue;
    const sorted = bucket.endpoints.sort((a, b) => compareText(a.addresses.join(','), b.addresses.join(',')));
    for (let i = 0; i < sorted.length; i += ENDPOINTS_PER_SLICE) {
      slices.push({
        name: endpointSliceName(serviceName, source, slices.length),
        sourceCluster: source,
        labels,
        addressType: bucket.addressType,
        endpoints: sorted.slice(i, i + ENDPOINTS_PER_SLICE),
        ports: bucket.ports.map((p) => ({ ...p })),
      });
    }
  }
  return slices;
}

function decide(ctx: Context, importer: MemberFacts): ClusterDecision {
  const { input, merged } = ctx;
  const groups = rankGroups(ctx, importer);
  const previous = input.previous?.[importer.name];
  const choice = choose(groups, previous, input.now, input.holdDownMs);
  const { active, pending } = choice;
  const activeClusters = new Set(active.clusters);
  const remote = ctx.sources.filter((c) => c !== importer.name);
  const derivedName = derivedServiceName(input.namespace, input.service);
  const exportsHere = ctx.sources.includes(importer.name);
  const endpointSlices = exportsHere
    ? remote
        .flatMap((source) => slicesFrom(ctx, source, importer.name, activeClusters, input.service))
        .sort((a, b) => compareText(a.name, b.name))
    : [];
  const derivedSlices = ctx.sources
    .flatMap((source) => slicesFrom(ctx, source, importer.name, activeClusters, derivedName))
    .sort((a, b) => compareText(a.name, b.name));
  const remoteReady = remote
    .filter((c) => activeClusters.has(c))
    .reduce((sum, c) => sum + readyFor(ctx, c, importer.name), 0);
  const changed = previous?.activeGroup !== undefined && previous.activeGroup !== active.id;
  const prevIndex = groups.findIndex((g) => g.id === previous?.activeGroup);
  const transition =
    !changed || prevIndex < 0 ? undefined : groups.indexOf(active) < prevIndex ? 'Recovery' : 'Failover';
  const headless = merged.type === 'Headless';
  // Session affinity means nothing without a virtual IP (the KEP: ignored for Headless).
  const affinity =
    !headless && merged.sessionAffinity === 'ClientIP'
      ? {
          sessionAffinity: 'ClientIP' as const,
          ...(merged.affinityTimeoutSeconds !== undefined
            ? { affinityTimeoutSeconds: merged.affinityTimeoutSeconds }
            : {}),
        }
      : {};
  return {
    cluster: importer.name,
    namespaceNeeded: !input.namespacePresentIn.includes(importer.name),
    serviceImport: {
      type: merged.type,
      ports: merged.ports,
      clusters: merged.exports.map((e) => e.cluster).sort(compareText),
      ...affinity,
      labels: merged.labels,
      annotations: merged.annotations,
      serviceFields: merged.serviceFields,
    },
    derivedService: {
      name: derivedName,
      type: 'ClusterIP',
      ...(headless ? { clusterIP: 'None' as const } : {}),
      ports: merged.ports.map((p) => ({ ...p, targetPort: p.port })),
      ...affinity,
    },
    derivedSlices,
    unionUnderPlainName: exportsHere,
    endpointSlices,
    locality: ctx.locality,
    groups,
    activeGroup: active.id,
    reason: reasonFor(ctx, groups, choice, input.holdDownMs, input.now),
    localReady: exportsHere ? readyCount(input.endpoints[importer.name]) : 0,
    remoteReady,
    changed,
    transition,
    state: {
      activeGroup: active.id,
      since: previous?.activeGroup === active.id ? previous.since : input.now,
      ...(pending ? { pending: { group: pending.group.id, since: pending.since } } : {}),
    },
    recheckAfterMs: pending ? input.holdDownMs - (input.now - pending.since) : undefined,
  };
}

/** Plans one exported service across the cluster set: export statuses and one decision per member. */
export function planService(input: ServicePlanInput): ServicePlan {
  const validExports = input.exports.filter((e) => e.serviceExists && !e.externalName);
  const merged = mergeExports(validExports);
  const exports = input.exports.map((e) => exportStatus(e, input, merged));
  if (!merged) return { exports, merged: undefined, clusters: [] };
  const valid = new Set(validExports.map((e) => e.cluster));
  const ctx: Context = {
    input,
    merged,
    members: new Map(input.clusters.map((c) => [c.name, c])),
    sources: input.clusters.map((c) => c.name).filter((c) => valid.has(c)),
    exports: new Map(input.exports.map((e) => [e.cluster, e])),
    locality: input.policy ? (input.policy.locality ?? 'PreferLocal') : 'Any',
    minReadyLocal: input.policy?.failover?.minReadyLocal ?? 1,
  };
  return { exports, merged, clusters: input.clusters.map((c) => decide(ctx, c)) };
}
