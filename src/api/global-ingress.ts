// North–south: one host name served by many clusters through GSLB DNS and the edge gateway.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import {
  celRule,
  ClusterNames,
  Conditions,
  DnsLabel,
  DnsSubdomain,
  ObservedGeneration,
  Placement,
  Port,
  StrictObject,
  Timestamp,
} from './common.ts';
import { AGE_COLUMN, READY_CONDITION_COLUMN, resourceSchema } from './kind.ts';
import type { KindDefinition } from './kind.ts';

/** Routes one path prefix to a Service in every placed cluster. */
export const IngressRule = StrictObject({
  path: Type.String({ pattern: '^/', default: '/', description: 'Path prefix.' }),
  service: DnsLabel('Service name in the destination namespace of each cluster.'),
  port: Port('Service port.'),
});
/** Routes one path prefix to a Service. */
export type IngressRule = Static<typeof IngressRule>;

/** How answers are spread across healthy clusters. */
export const BalancingType = Type.Union([
  Type.Literal('Failover'),
  Type.Literal('RoundRobin'),
  Type.Literal('Weighted'),
  Type.Literal('Geo'),
]);
/** How answers are spread across healthy clusters. */
export type BalancingType = Static<typeof BalancingType>;

/** Balancing strategy; order is for Failover, weights for Weighted. */
export const BalancingStrategy = StrictObject(
  {
    type: BalancingType,
    order: Type.Optional(ClusterNames('Failover: clusters in order of preference.')),
    weights: Type.Optional(
      Type.Record(Type.String(), Type.Integer({ minimum: 0, maximum: 1000 }), {
        maxProperties: 1000,
        description: 'Weighted: relative weight per cluster name.',
      }),
    ),
  },
  {
    default: { type: 'RoundRobin' },
    'x-kubernetes-validations': [
      celRule(
        "self.type != 'Weighted' || (has(self.weights) && self.weights.exists(k, self.weights[k] > 0))",
        'weights must give at least one cluster a weight above 0 when type is Weighted',
        (self: { type: string; weights?: Readonly<Record<string, number>> }) =>
          self.type !== 'Weighted' || Object.values(self.weights ?? {}).some((w) => w > 0),
      ),
    ],
  },
);
/** Balancing strategy. */
export type BalancingStrategy = Static<typeof BalancingStrategy>;

/** Active health check the DNS and edge gateway run against every cluster. */
export const HealthCheck = StrictObject(
  {
    path: Type.Optional(Type.String({ pattern: '^/', default: '/healthz' })),
    intervalSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, default: 10 })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, default: 3 })),
    healthyThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 2 })),
    unhealthyThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 3 })),
  },
  {
    'x-kubernetes-validations': [
      celRule(
        '!has(self.timeoutSeconds) || !has(self.intervalSeconds) || self.timeoutSeconds <= self.intervalSeconds',
        'timeoutSeconds must not exceed intervalSeconds',
        (self: { timeoutSeconds?: number; intervalSeconds?: number }) =>
          self.timeoutSeconds === undefined ||
          self.intervalSeconds === undefined ||
          self.timeoutSeconds <= self.intervalSeconds,
      ),
    ],
  },
);
/** Active health check settings. */
export type HealthCheck = Static<typeof HealthCheck>;

/** Desired state of a GlobalIngress. */
export const GlobalIngressSpec = StrictObject(
  {
    hosts: Type.Array(DnsSubdomain(), {
      minItems: 1,
      maxItems: 100,
      'x-kubernetes-list-type': 'set',
      description: 'Host names answered by the GSLB DNS and the edge gateway.',
    }),
    rules: Type.Array(IngressRule, { minItems: 1, maxItems: 100 }),
    placement: Type.Optional(Placement),
    applicationRef: Type.Optional(
      StrictObject(
        { name: DnsSubdomain('Application in the same namespace.') },
        { description: "Serve from the Application's placement." },
      ),
    ),
    destinationNamespace: Type.Optional(
      DnsLabel(
        "Namespace of the Services in every cluster; defaults to the Application's destinationNamespace (applicationRef), else this namespace.",
      ),
    ),
    strategy: Type.Optional(BalancingStrategy),
    healthCheck: Type.Optional(HealthCheck),
    dns: Type.Optional(
      StrictObject({
        ttlSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86400, default: 30 })),
      }),
    ),
    tls: Type.Optional(
      StrictObject(
        {
          secretName: DnsSubdomain(
            'Secret of type kubernetes.io/tls in this namespace (hub); the edge gateway terminates TLS with it.',
          ),
        },
        { description: 'TLS termination at the edge gateway.' },
      ),
    ),
  },
  {
    'x-kubernetes-validations': [
      celRule(
        'has(self.placement) != has(self.applicationRef)',
        'set exactly one of placement or applicationRef',
        (self: { placement?: unknown; applicationRef?: unknown }) =>
          (self.placement !== undefined) !== (self.applicationRef !== undefined),
      ),
    ],
  },
);
/** Desired state of a GlobalIngress. */
export type GlobalIngressSpec = Static<typeof GlobalIngressSpec>;

/** Health of one cluster as the balancer sees it. */
export const GlobalIngressClusterStatus = StrictObject({
  name: DnsLabel('Cluster name.'),
  healthy: Type.Boolean({ description: 'In rotation: active check passing and ready replicas behind it.' }),
  lastCheck: Type.Optional(
    Timestamp('When the result was last confirmed (written on change and every 30 s).'),
  ),
  lastTransitionTime: Type.Optional(Timestamp('When healthy last changed.')),
  reason: Type.Optional(Type.String({ description: 'Why, in one CamelCase word (Healthy, CheckFailed…).' })),
  message: Type.Optional(Type.String({ description: 'The last check result in words.' })),
  readyEndpoints: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Ready endpoints of the backing Services in this cluster.' }),
  ),
  drained: Type.Optional(Type.Boolean({ description: 'The cluster is drained (`meridian traffic drain`).' })),
});
/** Health of one cluster as the balancer sees it. */
export type GlobalIngressClusterStatus = Static<typeof GlobalIngressClusterStatus>;

/** Observed state of a GlobalIngress. */
export const GlobalIngressStatus = StrictObject({
  observedGeneration: Type.Optional(ObservedGeneration),
  clusters: Type.Optional(
    Type.Array(GlobalIngressClusterStatus, {
      maxItems: 1000,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    }),
  ),
  conditions: Type.Optional(Conditions),
});
/** Observed state of a GlobalIngress. */
export type GlobalIngressStatus = Static<typeof GlobalIngressStatus>;

/** A host name served from many clusters (namespaced). */
export const GlobalIngressSchema = resourceSchema('GlobalIngress', GlobalIngressSpec, GlobalIngressStatus, {
  description: 'Publishes an application on host names across clusters, with health-checked failover.',
});
/** A host name served from many clusters. */
export type GlobalIngress = Static<typeof GlobalIngressSchema>;

/** GlobalIngress kind definition. */
export const GlobalIngressKind: KindDefinition<typeof GlobalIngressSchema> = {
  kind: 'GlobalIngress',
  plural: 'globalingresses',
  singular: 'globalingress',
  shortNames: ['gi'],
  namespaced: true,
  schema: GlobalIngressSchema,
  printerColumns: [
    { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts' },
    { name: 'Strategy', type: 'string', jsonPath: '.spec.strategy.type' },
    READY_CONDITION_COLUMN,
    AGE_COLUMN,
  ],
};
