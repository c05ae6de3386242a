// The east–west planner's contracts: the facts the mesh controller reads from the hub and the
// members for one exported service, and the per-member objects it should converge to. Resource
// types themselves come from src/api.
import type { ServiceImportType, ServicePortSpec } from '../api/mcs.ts';
import type { Locality, TrafficPolicySpec } from '../api/traffic-policy.ts';

/** A member cluster as the planner sees it (from its Cluster object). */
export interface MemberFacts {
  readonly name: string;
  readonly region: string;
  /** The Cluster's Ready condition is True; a lost cluster contributes no ready endpoints. */
  readonly ready: boolean;
  /** Set when the cluster's pods are not reachable from the others: remote callers dial this. */
  readonly eastWestGateway?: { readonly address: string; readonly port: number };
}

/** A port of an exported Service; targetPort only when it is a number. */
export type ExportedPort = Readonly<ServicePortSpec> & { readonly targetPort?: number };

/** The part of an export that port merging reads. */
export interface ExportedService {
  readonly cluster: string;
  /** ServiceExport metadata.creationTimestamp (RFC 3339): the oldest export wins conflicts. */
  readonly createdAt: string;
  /** Headless when the Service's clusterIP is None. */
  readonly type: ServiceImportType;
  readonly ports: readonly ExportedPort[];
  /** The Service's session affinity; undefined is None. */
  readonly sessionAffinity?: SessionAffinity;
  /** sessionAffinityConfig.clientIP.timeoutSeconds of the Service (ClientIP only). */
  readonly affinityTimeoutSeconds?: number;
  /** The Service's spec.ipFamilies, internalTrafficPolicy and trafficDistribution, when set. */
  readonly ipFamilies?: readonly string[];
  readonly internalTrafficPolicy?: string;
  readonly trafficDistribution?: string;
  /** The ServiceExport's spec.exportedLabels / exportedAnnotations (put on the ServiceImport). */
  readonly exportedLabels?: Readonly<Record<string, string>>;
  readonly exportedAnnotations?: Readonly<Record<string, string>>;
}

/** Service fields a ServiceImport carries as they are (KEP-1645 / mcs-api v1beta1). */
export interface ImportedServiceFields {
  readonly ipFamilies?: readonly string[];
  readonly internalTrafficPolicy?: string;
  readonly trafficDistribution?: string;
}

/** A Service's spec.sessionAffinity. */
export type SessionAffinity = 'None' | 'ClientIP';

/** One cluster's ServiceExport of the service, with the facts of its local Service. */
export interface ExportFacts extends ExportedService {
  /** A Service of that name exists there and is not one Meridian derived; otherwise the export is invalid. */
  readonly serviceExists: boolean;
  /** The local Service is type ExternalName, which cannot be exported. */
  readonly externalName?: boolean;
}

/** A port of an EndpointSlice: the target port, named like the Service port it serves. */
export interface EndpointPort {
  readonly name?: string;
  readonly port: number;
  readonly protocol: string;
  readonly appProtocol?: string;
}

/** One endpoint of a cluster's own EndpointSlices (not those managed by meridian.dev). */
export interface SourceEndpoint {
  readonly addresses: readonly string[];
  readonly ready: boolean;
  /** A StatefulSet pod's hostname: `hostname.service.ns.svc` resolves to it (headless). */
  readonly hostname?: string;
  readonly nodeName?: string;
  readonly zone?: string;
  readonly targetRef?: { readonly kind: string; readonly name: string; readonly namespace?: string };
  /** Ports of the EndpointSlice the endpoint came from. */
  readonly ports: readonly EndpointPort[];
}

/** Which failover group an importing cluster uses; stored by the controller between plans. */
export interface FailoverState {
  /** Group id: `all`, `cluster:<name>` or `region:<name>`. */
  readonly activeGroup: string | undefined;
  /** When activeGroup became active (ms since the epoch). */
  readonly since: number;
  /** A more preferred group that is healthy again, and since when: recovery waits out the hold-down. */
  readonly pending?: { readonly group: string; readonly since: number };
}

/** Everything known about one exported service `namespace/service`. */
export interface ServicePlanInput {
  readonly namespace: string;
  readonly service: string;
  /** Every member, in a stable order (decisions come out in this order). */
  readonly clusters: readonly MemberFacts[];
  /** The ServiceExports of namespace/service, one per cluster, any order. */
  readonly exports: readonly ExportFacts[];
  /** Per exporting cluster, the endpoints of its own Service ns/name; others are ignored. */
  readonly endpoints: Readonly<Record<string, readonly SourceEndpoint[]>>;
  /** Clusters where the namespace exists. */
  readonly namespacePresentIn: readonly string[];
  /** The service's TrafficPolicy; without one every ready endpoint of the cluster set is used (`Any`). */
  readonly policy: Pick<TrafficPolicySpec, 'locality' | 'failover'> | undefined;
  /** Region → other regions, closest first; without it other regions follow in name order. */
  readonly regionDistance?: Readonly<Record<string, readonly string[]>>;
  /** The previous plan's `state` per importing cluster; empty after a restart. */
  readonly previous?: Readonly<Record<string, FailoverState>>;
  /** Current time in ms since the epoch. */
  readonly now: number;
  /** How long a more preferred group must stay healthy before traffic returns to it. */
  readonly holdDownMs: number;
}

/** Why an export lost a property to an older export. */
export type ConflictReason =
  | 'PortConflict'
  | 'TypeConflict'
  | 'SessionAffinityConflict'
  | 'SessionAffinityConfigConflict'
  | 'LabelsConflict'
  | 'AnnotationsConflict'
  | 'IPFamilyConflict'
  | 'InternalTrafficPolicyConflict'
  | 'TrafficDistributionConflict';

/** One lost property of an export. */
export interface ExportConflict {
  readonly reason: ConflictReason;
  readonly message: string;
  /** The cluster whose older export won: it is told too (KEP-1645 flags every conflicting export). */
  readonly with: string;
}

/** A port of the merged service, protocol filled in. */
export type MergedPort = Readonly<ServicePortSpec> & { readonly protocol: string };

/** The cluster-set view of a service, merged from its valid exports. */
export interface MergedService {
  readonly type: ServiceImportType;
  readonly ports: readonly MergedPort[];
  /** The oldest export's session affinity (None when unset). */
  readonly sessionAffinity: SessionAffinity;
  /** The oldest export's ClientIP timeout, when its affinity is ClientIP and the timeout is set. */
  readonly affinityTimeoutSeconds?: number;
  /** The oldest export's exported labels and annotations (empty when it has none). */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** The oldest export's Service ipFamilies, internalTrafficPolicy and trafficDistribution, when set. */
  readonly serviceFields: ImportedServiceFields;
  /** Exporting clusters, oldest export first, each with what it lost to older exports. */
  readonly exports: readonly { readonly cluster: string; readonly conflicts: readonly ExportConflict[] }[];
}

/** A ServiceExport condition without its transition time (src/kube/conditions.ts sets that). */
export interface ExportCondition {
  readonly type: 'Valid' | 'Conflict';
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
}

/** What one member's ServiceExport status should say. */
export interface ExportStatus {
  readonly cluster: string;
  readonly valid: boolean;
  /** Valid, then Conflict (Conflict only on valid exports). */
  readonly conditions: readonly ExportCondition[];
}

/** The selector-less Service Meridian derives in every importing member, under a name of its own. */
export interface DerivedServiceSpec {
  /** `derived-<hash>` (derivedServiceName), never the plain name. */
  readonly name: string;
  readonly type: 'ClusterIP';
  readonly clusterIP?: 'None';
  readonly ports: readonly {
    readonly name?: string;
    readonly protocol: string;
    readonly appProtocol?: string;
    readonly port: number;
    readonly targetPort: number;
  }[];
  /** ClientIP affinity, as the ServiceImport's (kube-proxy applies it to the derived address). */
  readonly sessionAffinity?: 'ClientIP';
  readonly affinityTimeoutSeconds?: number;
}

/** An endpoint as Meridian publishes it in an importing cluster. */
export interface PlannedEndpoint {
  readonly addresses: readonly string[];
  readonly conditions: { readonly ready: boolean };
  readonly hostname?: string;
  readonly zone?: string;
}

/** One EndpointSlice (discovery.k8s.io/v1) to apply in the importing cluster's namespace. */
export interface PlannedEndpointSlice {
  readonly name: string;
  readonly sourceCluster: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly addressType: 'IPv4' | 'IPv6';
  readonly endpoints: readonly PlannedEndpoint[];
  readonly ports: readonly EndpointPort[];
}

/** A candidate set of clusters for an importer, in preference order. */
export interface FailoverGroup {
  /** `all`, `cluster:<name>` or `region:<name>`. */
  readonly id: string;
  /** For people: `local cluster eu-1`, `region us-east`, `all clusters`. */
  readonly label: string;
  readonly clusters: readonly string[];
  /** Ready endpoints in the group (the importer's own, and those of Ready exporting clusters). */
  readonly ready: number;
  /** Enough to be used: ≥ minReadyLocal for the first group, ≥ 1 for the others. */
  readonly sufficient: boolean;
}

/** What one member (as an importer) should hold for the service, and why. */
export interface ClusterDecision {
  readonly cluster: string;
  /** The namespace is missing there: create it before the ServiceImport. */
  readonly namespaceNeeded: boolean;
  /** spec.type, spec.ports and status.clusters of the ServiceImport (the controller sets ips). */
  readonly serviceImport: {
    readonly type: ServiceImportType;
    readonly ports: readonly MergedPort[];
    readonly clusters: readonly string[];
    /** ClientIP affinity (ClusterSetIP only; Headless ignores it), with its timeout when set. */
    readonly sessionAffinity?: 'ClientIP';
    readonly affinityTimeoutSeconds?: number;
    /** The exported labels and annotations, put on the ServiceImport's metadata. */
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations: Readonly<Record<string, string>>;
    /** spec.ipFamilies, internalTrafficPolicy and trafficDistribution, from the oldest export. */
    readonly serviceFields: ImportedServiceFields;
  };
  /** The derived Service: the ServiceImport's address (ips) in this member. */
  readonly derivedService: DerivedServiceSpec;
  /** The derived Service's slices: every exporting cluster's endpoints, the importer's own included; sorted by name. */
  readonly derivedSlices: readonly PlannedEndpointSlice[];
  /** The importer exports the service too: remote instances join its own under the plain name. */
  readonly unionUnderPlainName: boolean;
  /** Remote instances under the plain name (empty unless unionUnderPlainName); sorted by name. */
  readonly endpointSlices: readonly PlannedEndpointSlice[];
  readonly locality: Locality;
  /** Candidate groups in preference order. */
  readonly groups: readonly FailoverGroup[];
  readonly activeGroup: string;
  readonly reason: string;
  /** Ready endpoints of the importer's own Service. */
  readonly localReady: number;
  /** Ready remote endpoints published as ready (instances behind a gateway counted one by one). */
  readonly remoteReady: number;
  /** activeGroup differs from the previous plan's (false on the first plan). */
  readonly changed: boolean;
  /** Direction of a change within the same ranking; undefined when unchanged or the ranking changed. */
  readonly transition: 'Failover' | 'Recovery' | undefined;
  /** Store and pass back as `previous[cluster]` next time. */
  readonly state: FailoverState;
  /** Plan again after this long: a recovery is waiting out its hold-down. */
  readonly recheckAfterMs: number | undefined;
}

/** The whole plan for one service across the cluster set. */
export interface ServicePlan {
  /** Status for every ServiceExport, in input order. */
  readonly exports: readonly ExportStatus[];
  /** Undefined when no valid export remains: remove imports, derived Services and slices everywhere. */
  readonly merged: MergedService | undefined;
  /** One per member in input order; empty when `merged` is undefined. */
  readonly clusters: readonly ClusterDecision[];
}
