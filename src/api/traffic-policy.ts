// East–west: how calls to an exported service are balanced across clusters and fail over.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Conditions, DnsLabel, ObservedGeneration, StrictObject } from './common.ts';
import { AGE_COLUMN, READY_CONDITION_COLUMN, resourceSchema } from './kind.ts';
import type { KindDefinition } from './kind.ts';

/** Which endpoints a caller prefers. */
export const Locality = Type.Union([
  Type.Literal('PreferLocal'),
  Type.Literal('PreferRegion'),
  Type.Literal('Any'),
]);
/** Which endpoints a caller prefers. */
export type Locality = Static<typeof Locality>;

/** Desired state of a TrafficPolicy. */
export const TrafficPolicySpec = StrictObject({
  service: DnsLabel('Exported Service (ServiceExport) in this namespace.'),
  locality: Type.Optional(Type.Union(Locality.anyOf, { default: 'PreferLocal' })),
  failover: Type.Optional(
    StrictObject({
      order: Type.Optional(
        Type.Array(DnsLabel(), {
          maxItems: 100,
          'x-kubernetes-list-type': 'set',
          description: 'Regions to fail over to, in order, once local endpoints are not enough.',
        }),
      ),
      minReadyLocal: Type.Optional(
        Type.Integer({
          minimum: 0,
          default: 1,
          description: 'Ready local endpoints needed before spilling over.',
        }),
      ),
    }),
  ),
});
/** Desired state of a TrafficPolicy. */
export type TrafficPolicySpec = Static<typeof TrafficPolicySpec>;

/** Observed state of a TrafficPolicy. */
export const TrafficPolicyStatus = StrictObject({
  observedGeneration: Type.Optional(ObservedGeneration),
  conditions: Type.Optional(Conditions),
});
/** Observed state of a TrafficPolicy. */
export type TrafficPolicyStatus = Static<typeof TrafficPolicyStatus>;

/** Cross-cluster balancing and failover for one service (namespaced). */
export const TrafficPolicySchema = resourceSchema('TrafficPolicy', TrafficPolicySpec, TrafficPolicyStatus, {
  description: 'Locality preference and failover order for calls to a multi-cluster service.',
});
/** Cross-cluster balancing and failover for one service. */
export type TrafficPolicy = Static<typeof TrafficPolicySchema>;

/** TrafficPolicy kind definition. */
export const TrafficPolicyKind: KindDefinition<typeof TrafficPolicySchema> = {
  kind: 'TrafficPolicy',
  plural: 'trafficpolicies',
  singular: 'trafficpolicy',
  shortNames: ['mtp'],
  namespaced: true,
  schema: TrafficPolicySchema,
  printerColumns: [
    { name: 'Service', type: 'string', jsonPath: '.spec.service' },
    { name: 'Locality', type: 'string', jsonPath: '.spec.locality' },
    READY_CONDITION_COLUMN,
    AGE_COLUMN,
  ],
};
