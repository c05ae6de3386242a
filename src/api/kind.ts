// What crd.ts and validate.ts need to know about a kind, declared once next to its schema.
import { Type } from '@sinclair/typebox';
import type { TObject, TProperties, TSchema } from '@sinclair/typebox';
import { ObjectMeta } from './common.ts';
import { API_VERSION } from './group.ts';

/** A `kubectl get` column (apiextensions.k8s.io/v1 CustomResourceColumnDefinition). */
export interface PrinterColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly jsonPath: string;
  readonly description?: string;
  readonly priority?: number;
}

/** Names, scope and schema of one Meridian kind. */
export interface KindDefinition<S extends TSchema = TSchema> {
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly namespaced: boolean;
  readonly schema: S;
  readonly printerColumns: readonly PrinterColumn[];
}

/** The Age column every kind shows last, as kubectl does for built-in kinds. */
export const AGE_COLUMN: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
};

/** The Ready column read from the standard Ready condition. */
export const READY_CONDITION_COLUMN: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
};

/** The whole object schema of a kind: apiVersion, kind, metadata, spec and optional status. */
export function resourceSchema<
  K extends string,
  Spec extends TSchema,
  Status extends TSchema,
  Meta extends TSchema = typeof ObjectMeta,
>(kind: K, spec: Spec, status: Status, options: { description: string; metadata?: Meta }) {
  return Type.Object(
    {
      apiVersion: Type.Literal(API_VERSION),
      kind: Type.Literal(kind),
      metadata: options.metadata ?? (ObjectMeta as unknown as Meta),
      spec,
      status: Type.Optional(status),
    },
    { additionalProperties: false, description: options.description },
  );
}

/** ObjectMeta whose name must also be an RFC 1123 label (for names reused in DNS and labels). */
export const LabelNamedObjectMeta = Type.Object(
  {
    ...ObjectMeta.properties,
    name: Type.String({
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      minLength: 1,
      maxLength: 63,
      hint: 'a lowercase DNS label such as eu-west-1',
    }),
  },
  { additionalProperties: true },
) satisfies TObject<TProperties>;
