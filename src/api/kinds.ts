// The table of Meridian kinds; crd.ts and validate.ts are driven by it, so a new kind is one entry.
import { ApplicationKind } from './application.ts';
import type { Application } from './application.ts';
import { ApplicationRevisionKind } from './application-revision.ts';
import type { ApplicationRevision } from './application-revision.ts';
import { ClusterKind } from './cluster.ts';
import type { Cluster } from './cluster.ts';
import { GlobalIngressKind } from './global-ingress.ts';
import type { GlobalIngress } from './global-ingress.ts';
import type { KindDefinition } from './kind.ts';
import { TrafficPolicyKind } from './traffic-policy.ts';
import type { TrafficPolicy } from './traffic-policy.ts';

/** Maps each kind name to its object type. */
export interface ResourceByKind {
  Cluster: Cluster;
  Application: Application;
  ApplicationRevision: ApplicationRevision;
  GlobalIngress: GlobalIngress;
  TrafficPolicy: TrafficPolicy;
}

/** A Meridian kind name. */
export type KindName = keyof ResourceByKind;

/** Any Meridian object. */
export type MeridianResource = ResourceByKind[KindName];

/** Every Meridian kind: names, scope, schema and printer columns. */
export const KINDS: { readonly [K in KindName]: KindDefinition } = {
  Cluster: ClusterKind,
  Application: ApplicationKind,
  ApplicationRevision: ApplicationRevisionKind,
  GlobalIngress: GlobalIngressKind,
  TrafficPolicy: TrafficPolicyKind,
};

/** Kind names in a stable order (CRD install order, docs). */
export const KIND_NAMES = Object.keys(KINDS) as KindName[];

/** Narrows a string to a Meridian kind name. */
export function isKindName(name: string): name is KindName {
  return Object.hasOwn(KINDS, name);
}
