// The upstream Multi-Cluster Services API (KEP-1645, sigs.k8s.io/mcs-api) that Meridian installs in
// every member. These CRDs are not Meridian's (another MCS implementation may own them), so they keep
// upstream's names, scope, short names and fields (mcs-api v0.5.0) and are not registered in KINDS;
// the TypeBox schemas below are still the one source of the TypeScript types and the CRD OpenAPI
// schemas. Like upstream, v1beta1 and v1alpha1 are served with identical schemas (conversion None)
// and v1beta1 is stored; Meridian reads and writes v1beta1.
import { Type } from '@sinclair/typebox';
import type { Static, TSchema } from '@sinclair/typebox';
import type { KubeObject } from '../kube/cluster-client.ts';
import { Conditions, ObjectMeta } from './common.ts';
import { toStructural } from './crd.ts';
import type { JsonSchemaProps } from './crd.ts';
import type { PrinterColumn } from './kind.ts';

/** API group of the MCS API. */
export const MCS_GROUP = 'multicluster.x-k8s.io';
/** The MCS API version Meridian stores, reads and writes. */
export const MCS_VERSION = 'v1beta1';
/** Every version the CRDs serve, storage version first (identical schemas, no conversion). */
export const MCS_SERVED_VERSIONS = [MCS_VERSION, 'v1alpha1'] as const;
/** `apiVersion` of ServiceExport and ServiceImport objects. */
export const MCS_API_VERSION = `${MCS_GROUP}/${MCS_VERSION}` as const;

/** How a ServiceImport is reached: one cluster-set VIP, or the endpoints' own addresses. */
export const ServiceImportType = Type.Union([Type.Literal('ClusterSetIP'), Type.Literal('Headless')], {
  description: 'Type of the imported service: ClusterSetIP (one virtual IP) or Headless.',
});
/** How a ServiceImport is reached. */
export type ServiceImportType = Static<typeof ServiceImportType>;

const Int32 = (description: string) => Type.Integer({ format: 'int32', description });

/** A port of an imported service (upstream ServicePort). */
export const ServicePortSpec = Type.Object({
  name: Type.Optional(
    Type.String({ description: 'Port name, a DNS label; matches the name of the EndpointSlice port.' }),
  ),
  protocol: Type.Optional(
    Type.String({ default: 'TCP', description: 'IP protocol: TCP, UDP or SCTP. Defaults to TCP.' }),
  ),
  appProtocol: Type.Optional(
    Type.String({ description: 'Application protocol, e.g. http or kubernetes.io/h2c.' }),
  ),
  port: Int32('The port the service is exposed on.'),
});
/** A port of an imported service. */
export type ServicePortSpec = Static<typeof ServicePortSpec>;

/** Desired state of a ServiceImport. */
export const ServiceImportSpec = Type.Object(
  {
    ips: Type.Optional(
      Type.Array(Type.String(), {
        maxItems: 2,
        description: 'The cluster-set virtual IPs (one per IP family), when type is ClusterSetIP.',
      }),
    ),
    ipFamilies: Type.Optional(
      Type.Array(Type.String(), {
        maxItems: 2,
        description: 'IP families (IPv4, IPv6) of the imported service, in the order of ips.',
      }),
    ),
    internalTrafficPolicy: Type.Optional(
      Type.String({
        description: 'Cluster or Local, as on a Service: which endpoints serve node-local traffic.',
      }),
    ),
    trafficDistribution: Type.Optional(
      Type.String({ description: 'A hint how traffic is distributed, e.g. PreferClose (same zone first).' }),
    ),
    type: ServiceImportType,
    ports: Type.Array(ServicePortSpec, { 'x-kubernetes-list-type': 'atomic' }),
    sessionAffinity: Type.Optional(
      Type.String({ description: 'ClientIP or None (default); ignored for Headless.' }),
    ),
    sessionAffinityConfig: Type.Optional(
      Type.Object({
        clientIP: Type.Optional(
          Type.Object({
            timeoutSeconds: Type.Optional(Int32('Stickiness of ClientIP affinity; default 10800.')),
          }),
        ),
      }),
    ),
  },
  { description: 'The behaviour of the imported service.' },
);
/** Desired state of a ServiceImport. */
export type ServiceImportSpec = Static<typeof ServiceImportSpec>;

/** Observed state of a ServiceImport. */
export const ServiceImportStatus = Type.Object(
  {
    clusters: Type.Optional(
      Type.Array(
        Type.Object({
          cluster: Type.String({ description: 'Name of an exporting cluster (RFC 1123 label).' }),
        }),
        {
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['cluster'],
          description: 'The exporting clusters this service was derived from.',
        },
      ),
    ),
    conditions: Type.Optional(Conditions),
  },
  { description: 'The exported services that form this multi-cluster service.' },
);

/** Desired state of a ServiceExport (upstream: both optional for implementations). */
export const ServiceExportSpec = Type.Object(
  {
    exportedLabels: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: 'Labels exported with the service.' }),
    ),
    exportedAnnotations: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: 'Annotations exported with the service.' }),
    ),
  },
  { description: 'The behaviour of a ServiceExport.' },
);

/** Observed state of a ServiceExport: Valid, Ready and Conflict conditions. */
export const ServiceExportStatus = Type.Object(
  { conditions: Type.Optional(Conditions) },
  { description: 'State of the export, written by the MCS controller.' },
);

/** Declares that the Service with the same namespace/name is part of the cluster set. */
const McsApiVersion = Type.Union(MCS_SERVED_VERSIONS.map((v) => Type.Literal(`${MCS_GROUP}/${v}`)));

export const ServiceExportSchema = Type.Object({
  apiVersion: McsApiVersion,
  kind: Type.Literal('ServiceExport'),
  metadata: ObjectMeta,
  spec: Type.Optional(ServiceExportSpec),
  status: Type.Optional(ServiceExportStatus),
});
/** A ServiceExport. */
export type ServiceExport = Static<typeof ServiceExportSchema>;

/** A service imported from the clusters of the cluster set. */
export const ServiceImportSchema = Type.Object({
  apiVersion: McsApiVersion,
  kind: Type.Literal('ServiceImport'),
  metadata: ObjectMeta,
  spec: ServiceImportSpec,
  status: Type.Optional(ServiceImportStatus),
});
/** A ServiceImport. */
export type ServiceImport = Static<typeof ServiceImportSchema>;

interface McsKind {
  readonly kind: 'ServiceExport' | 'ServiceImport';
  readonly shortNames: readonly string[];
  readonly description: string;
  readonly spec: TSchema;
  readonly status: TSchema;
  readonly printerColumns: readonly PrinterColumn[];
}

const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

const EXPORT: McsKind = {
  kind: 'ServiceExport',
  shortNames: ['svcex', 'svcexport'],
  description:
    'ServiceExport declares that the Service with the same name and namespace should be consumable from other clusters.',
  spec: ServiceExportSpec,
  status: ServiceExportStatus,
  printerColumns: [AGE],
};

const IMPORT: McsKind = {
  kind: 'ServiceImport',
  shortNames: ['svcim', 'svcimport'],
  description: 'ServiceImport describes a service imported from clusters in a ClusterSet.',
  spec: ServiceImportSpec,
  status: ServiceImportStatus,
  printerColumns: [
    { name: 'Type', type: 'string', jsonPath: '.spec.type', description: 'The type of this ServiceImport' },
    { name: 'IP', type: 'string', jsonPath: '.spec.ips', description: 'The VIP for this ServiceImport' },
    AGE,
  ],
};

// Like upstream, the root requires nothing: spec and status are checked only when present.
function rootSchema(definition: McsKind): JsonSchemaProps {
  return {
    type: 'object',
    description: definition.description,
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion of this object.' },
      kind: { type: 'string', description: 'Kind of this object.' },
      metadata: { type: 'object' },
      spec: toStructural(definition.spec, '.spec'),
      status: toStructural(definition.status, '.status'),
    },
  };
}

function crdOf(definition: McsKind): KubeObject {
  const singular = definition.kind.toLowerCase();
  const plural = `${singular}s`;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${MCS_GROUP}` },
    spec: {
      group: MCS_GROUP,
      scope: 'Namespaced',
      names: {
        kind: definition.kind,
        listKind: `${definition.kind}List`,
        plural,
        singular,
        shortNames: [...definition.shortNames],
      },
      conversion: { strategy: 'None' },
      versions: MCS_SERVED_VERSIONS.map((name) => ({
        name,
        served: true,
        storage: name === MCS_VERSION,
        subresources: { status: {} },
        additionalPrinterColumns: definition.printerColumns.map((column) => ({ ...column })),
        // A private copy: toStructural reuses the TypeBox schemas' arrays (enum, list-map keys), and a
        // caller editing a CRD must not edit those.
        schema: { openAPIV3Schema: structuredClone(rootSchema(definition)) },
      })),
    },
  };
}

/** The ServiceExport and ServiceImport CRDs (apiextensions.k8s.io/v1), exports first. */
export function mcsCrds(): KubeObject[] {
  return [crdOf(EXPORT), crdOf(IMPORT)];
}
