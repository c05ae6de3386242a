// Building blocks shared by every Meridian kind. Schemas are strict (`additionalProperties: false`)
// so a typo like `spec.regoin` is reported instead of silently ignored; crd.ts drops the flag
// because the API server prunes unknown fields itself.
import { Type } from '@sinclair/typebox';
import type { Static, TProperties, TSchema, TUnsafe, ObjectOptions } from '@sinclair/typebox';

/**
 * A CEL rule the API server evaluates (`x-kubernetes-validations` item), with its TypeScript twin so
 * validateResource enforces the same rule without a CEL engine. Transition rules (oldSelf) have no twin.
 */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
  readonly check?: (self: never) => boolean;
}

/** Declares a CEL rule next to the TypeScript predicate that must agree with it. */
export function celRule<T>(rule: string, message: string, check: (self: T) => boolean): CelRule {
  return { rule, message, check };
}

/** An object schema that rejects unknown fields. */
export function StrictObject<T extends TProperties>(properties: T, options: ObjectOptions = {}) {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** Types a runtime-checked schema as T where TypeBox cannot infer an open object's shape. */
export function asStatic<T>(schema: TSchema): TUnsafe<T> {
  return schema as TUnsafe<T>;
}

/** A free-form object the API server keeps verbatim (Helm values, patches). */
export function FreeForm(description: string) {
  return Type.Record(Type.String(), Type.Unknown(), {
    description,
    'x-kubernetes-preserve-unknown-fields': true,
  });
}

/** A Kubernetes object as users write it: apiVersion and kind are all we insist on. */
export interface KubeManifest {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** Any Kubernetes object, kept verbatim; apiVersion and kind are required so it can be applied. */
export const Manifest = asStatic<KubeManifest>(
  Type.Object(
    {
      apiVersion: Type.String({
        minLength: 1,
        description: 'API group/version of the object, e.g. apps/v1.',
      }),
      kind: Type.String({ minLength: 1, description: 'Kind of the object, e.g. Deployment.' }),
    },
    {
      additionalProperties: true,
      description: 'A Kubernetes object; every field is kept verbatim.',
      'x-kubernetes-preserve-unknown-fields': true,
    },
  ),
);

// RFC 1123 names, as Kubernetes validates them (apimachinery validation.IsDNS1123Label/Subdomain).
const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const DNS_LABEL_RE = new RegExp(DNS_LABEL);
const DNS_SUBDOMAIN_RE = new RegExp(DNS_SUBDOMAIN);

/** An RFC 1123 label (at most 63 characters), checked outside a schema (flags, query parameters). */
export const isDnsLabel = (s: string): boolean => s.length <= 63 && DNS_LABEL_RE.test(s);

/** An RFC 1123 subdomain (at most 253 characters), checked outside a schema. */
export const isDnsSubdomain = (s: string): boolean => s.length <= 253 && DNS_SUBDOMAIN_RE.test(s);

/** An RFC 1123 label: cluster, region, zone, namespace and Service names. */
export function DnsLabel(description?: string) {
  return Type.String({
    pattern: DNS_LABEL,
    minLength: 1,
    maxLength: 63,
    hint: 'a lowercase DNS label such as eu-west-1',
    ...(description ? { description } : {}),
  });
}

/** An RFC 1123 subdomain: object names and host names. */
export function DnsSubdomain(description?: string) {
  return Type.String({
    pattern: DNS_SUBDOMAIN,
    minLength: 1,
    maxLength: 253,
    hint: 'a lowercase DNS name such as shop.example.com',
    ...(description ? { description } : {}),
  });
}

/** A TCP/UDP port number. */
export function Port(description?: string, options: { default?: number } = {}) {
  return Type.Integer({
    minimum: 1,
    maximum: 65535,
    format: 'int32',
    ...options,
    ...(description ? { description } : {}),
  });
}

/** An RFC 3339 timestamp, as metav1.Time serialises. */
export function Timestamp(description?: string) {
  return Type.String({ format: 'date-time', ...(description ? { description } : {}) });
}

/** An IPv4 or IPv6 address literal. */
export function IpAddress(description?: string) {
  return Type.Union([Type.String({ format: 'ipv4' }), Type.String({ format: 'ipv6' })], {
    hint: 'an IPv4 or IPv6 address',
    ...(description ? { description } : {}),
  });
}

/** `.metadata.generation` the status was computed from; lets readers spot stale status. */
export const ObservedGeneration = Type.Integer({
  minimum: 0,
  format: 'int64',
  description: 'The .metadata.generation this status was computed from.',
});

/** The parts of metav1.ObjectMeta Meridian reads; everything else the server sends is kept. */
export const ObjectMeta = Type.Object(
  {
    name: DnsSubdomain(),
    namespace: Type.Optional(DnsLabel()),
    uid: Type.Optional(Type.String()),
    resourceVersion: Type.Optional(Type.String()),
    generation: Type.Optional(Type.Integer({ minimum: 0 })),
    creationTimestamp: Type.Optional(Timestamp()),
    deletionTimestamp: Type.Optional(Timestamp()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
    finalizers: Type.Optional(Type.Array(Type.String())),
    ownerReferences: Type.Optional(
      Type.Array(
        Type.Object(
          {
            apiVersion: Type.String(),
            kind: Type.String(),
            name: Type.String(),
            uid: Type.String(),
            controller: Type.Optional(Type.Boolean()),
            blockOwnerDeletion: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: true },
        ),
      ),
    ),
  },
  // managedFields and friends come back from the server; they are not ours to reject.
  { additionalProperties: true },
);
/** Object metadata as Meridian reads it. */
export type ObjectMeta = Static<typeof ObjectMeta>;

/** True, False or Unknown, as in metav1.ConditionStatus. */
export const ConditionStatus = Type.Union([
  Type.Literal('True'),
  Type.Literal('False'),
  Type.Literal('Unknown'),
]);
/** Status of a condition. */
export type ConditionStatus = Static<typeof ConditionStatus>;

/** A standard Kubernetes condition (metav1.Condition), with the same limits the API server uses. */
export const Condition = StrictObject({
  type: Type.String({
    pattern:
      '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    maxLength: 316,
    description: 'Condition type in CamelCase, e.g. Ready.',
  }),
  status: ConditionStatus,
  reason: Type.String({
    pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    minLength: 1,
    maxLength: 1024,
    description: 'Programmatic CamelCase identifier of the last transition.',
  }),
  message: Type.String({ maxLength: 32768, description: 'Human-readable details.' }),
  observedGeneration: Type.Optional(ObservedGeneration),
  lastTransitionTime: Timestamp('When status last changed.'),
});
/** A standard Kubernetes condition. */
export type Condition = Static<typeof Condition>;

/** `status.conditions`: a list keyed by `type`, so server-side apply merges per condition. */
export const Conditions = Type.Array(Condition, {
  maxItems: 32,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
});

/** Points at one key of a Secret in the hub. */
export const SecretKeyRef = StrictObject({
  namespace: DnsLabel('Namespace of the Secret in the hub.'),
  name: DnsSubdomain('Name of the Secret.'),
  key: Type.String({
    pattern: '^[-._a-zA-Z0-9]+$',
    maxLength: 253,
    description: 'Key within the Secret data.',
  }),
});
/** A reference to one key of a Secret. */
export type SecretKeyRef = Static<typeof SecretKeyRef>;

/** Label selector operators, as in metav1.LabelSelectorOperator. */
export const SelectorOperator = Type.Union([
  Type.Literal('In'),
  Type.Literal('NotIn'),
  Type.Literal('Exists'),
  Type.Literal('DoesNotExist'),
]);
/** A label selector operator. */
export type SelectorOperator = Static<typeof SelectorOperator>;

/** In/NotIn need values; Exists/DoesNotExist must have none (the metav1 rule). */
export const SELECTOR_VALUES_RULE = celRule(
  "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
  'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
  (self: { operator: string; values?: readonly string[] }) =>
    ['In', 'NotIn'].includes(self.operator) === (self.values !== undefined && self.values.length > 0),
);

/** One `matchExpressions` requirement. */
export const LabelSelectorRequirement = StrictObject(
  {
    key: Type.String({ minLength: 1, maxLength: 317, description: 'Label key the requirement applies to.' }),
    operator: Type.Union(SelectorOperator.anyOf, { description: 'In, NotIn, Exists or DoesNotExist.' }),
    values: Type.Optional(
      Type.Array(Type.String({ maxLength: 63 }), {
        maxItems: 100,
        description: 'Label values; non-empty for In and NotIn, empty for Exists and DoesNotExist.',
      }),
    ),
  },
  { description: 'A label requirement.', 'x-kubernetes-validations': [SELECTOR_VALUES_RULE] },
);
/** One `matchExpressions` requirement. */
export type LabelSelectorRequirement = Static<typeof LabelSelectorRequirement>;

/** A metav1.LabelSelector; an empty selector selects everything. */
export const LabelSelector = StrictObject(
  {
    matchLabels: Type.Optional(
      Type.Record(Type.String(), Type.String({ maxLength: 63 }), {
        maxProperties: 64,
        description: 'Labels a Cluster must have, with these values.',
      }),
    ),
    matchExpressions: Type.Optional(
      Type.Array(LabelSelectorRequirement, {
        maxItems: 32,
        description: 'Requirements a Cluster must meet, all of them.',
      }),
    ),
  },
  { description: 'Selects Clusters by label; an empty selector selects every Cluster.' },
);
/** A label selector over Cluster labels. */
export type LabelSelector = Static<typeof LabelSelector>;

/** A list of Cluster names, each at most once. */
export function ClusterNames(description: string) {
  return Type.Array(DnsLabel(), { description, maxItems: 1000, 'x-kubernetes-list-type': 'set' });
}

/** Placement must name clusters, select them, or both. */
export const PLACEMENT_RULE = celRule(
  'has(self.clusters) || has(self.clusterSelector)',
  'set clusters, clusterSelector or both',
  (self: { clusters?: unknown; clusterSelector?: unknown }) =>
    self.clusters !== undefined || self.clusterSelector !== undefined,
);

/** Where something runs: the named clusters plus the clusters the selector matches. */
export const Placement = StrictObject(
  {
    clusters: Type.Optional(ClusterNames('Clusters by name.')),
    clusterSelector: Type.Optional(LabelSelector),
  },
  {
    description: 'The union of the named clusters and the clusters matching clusterSelector.',
    'x-kubernetes-validations': [PLACEMENT_RULE],
  },
);
/** Where something runs. */
export type Placement = Static<typeof Placement>;

/** A subset of the placement that must be chosen one way only, to keep intent unambiguous. */
export const CLUSTER_TARGET_RULE = celRule(
  'has(self.clusters) != has(self.clusterSelector)',
  'set exactly one of clusters or clusterSelector',
  (self: { clusters?: unknown; clusterSelector?: unknown }) =>
    (self.clusters !== undefined) !== (self.clusterSelector !== undefined),
);
