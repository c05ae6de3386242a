// A member cluster, registered in the hub by a kubeconfig stored in a Secret.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import {
  Conditions,
  DnsLabel,
  IpAddress,
  ObservedGeneration,
  Port,
  SecretKeyRef,
  StrictObject,
  Timestamp,
} from './common.ts';
import { AGE_COLUMN, LabelNamedObjectMeta, READY_CONDITION_COLUMN, resourceSchema } from './kind.ts';
import type { KindDefinition } from './kind.ts';

/** Where the cluster's ingress is reached from outside (what GSLB DNS answers and the edge dials). */
export const ClusterIngress = StrictObject({
  addresses: Type.Array(IpAddress(), {
    minItems: 1,
    maxItems: 16,
    'x-kubernetes-list-type': 'set',
    description: 'External addresses of the ingress.',
  }),
  port: Type.Optional(Port('Ingress port.', { default: 443 })),
});

/** The east–west gateway that other clusters dial for cross-cluster services. */
export const EastWestGateway = StrictObject({
  address: IpAddress('Address reachable from the other member clusters.'),
  port: Port('Gateway port.'),
});

const HttpUrl = (description: string) => Type.String({ format: 'uri', pattern: '^https?://', description });

/** Per-cluster observability endpoints; absent ones fall back to the Kubernetes API. */
export const ClusterObservability = StrictObject({
  prometheusURL: Type.Optional(HttpUrl('Prometheus-compatible HTTP API of this cluster.')),
  logsURL: Type.Optional(HttpUrl('Loki-compatible log API; defaults to the Kubernetes log API.')),
  tracesURL: Type.Optional(HttpUrl('Tempo-compatible trace query API.')),
});

/** Desired state of a Cluster. */
export const ClusterSpec = StrictObject({
  kubeconfigSecretRef: SecretKeyRef,
  context: Type.Optional(
    Type.String({ minLength: 1, description: 'Kubeconfig context; defaults to current.' }),
  ),
  region: DnsLabel('Region label used for locality-aware routing, e.g. eu-west-1.'),
  zone: Type.Optional(DnsLabel('Zone within the region.')),
  ingress: Type.Optional(ClusterIngress),
  eastWestGateway: Type.Optional(EastWestGateway),
  observability: Type.Optional(ClusterObservability),
  traffic: Type.Optional(
    StrictObject(
      {
        drained: Type.Optional(
          Type.Boolean({
            description: 'Out of rotation: GSLB DNS and edge gateway send no new traffic here.',
          }),
        ),
      },
      { description: 'North–south traffic settings (`meridian traffic drain`).' },
    ),
  ),
});
/** Desired state of a Cluster. */
export type ClusterSpec = Static<typeof ClusterSpec>;

/** Observed state of a Cluster, written by the fleet controller's probe. */
export const ClusterStatus = StrictObject({
  observedGeneration: Type.Optional(ObservedGeneration),
  conditions: Type.Optional(Conditions),
  kubernetesVersion: Type.Optional(Type.String({ description: 'gitVersion reported by /version.' })),
  nodeCount: Type.Optional(Type.Integer({ minimum: 0 })),
  lastProbeTime: Type.Optional(Timestamp('When the API server last answered a probe.')),
  apiLatencyMs: Type.Optional(Type.Number({ minimum: 0, description: 'Round trip of the last probe.' })),
});
/** Observed state of a Cluster. */
export type ClusterStatus = Static<typeof ClusterStatus>;

/** A member cluster (cluster-scoped). */
export const ClusterSchema = resourceSchema('Cluster', ClusterSpec, ClusterStatus, {
  description: 'A member cluster Meridian deploys to, reached through a kubeconfig held in a hub Secret.',
  // Cluster names end up in DNS names and label values, so they must be labels, not subdomains.
  metadata: LabelNamedObjectMeta,
});
/** A member cluster. */
export type Cluster = Static<typeof ClusterSchema>;

/** Cluster kind definition. */
export const ClusterKind: KindDefinition<typeof ClusterSchema> = {
  kind: 'Cluster',
  plural: 'clusters',
  singular: 'cluster',
  shortNames: ['mcl'],
  namespaced: false,
  schema: ClusterSchema,
  printerColumns: [
    { name: 'Region', type: 'string', jsonPath: '.spec.region' },
    READY_CONDITION_COLUMN,
    { name: 'Version', type: 'string', jsonPath: '.status.kubernetesVersion' },
    { name: 'Nodes', type: 'integer', jsonPath: '.status.nodeCount' },
    AGE_COLUMN,
  ],
};
