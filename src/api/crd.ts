// Turns our TypeBox schemas into apiextensions.k8s.io/v1 CRDs. The API server only accepts
// *structural* schemas (every node typed, no additionalProperties:false, no $ref/const/patternProperties,
// junctors holding value checks only), so this is a translation, not a copy.
import type { TSchema } from '@sinclair/typebox';
import { stringify } from 'yaml';
import type { CelRule } from './common.ts';
import { GROUP, VERSION } from './group.ts';
import type { KindDefinition, PrinterColumn } from './kind.ts';
import { KIND_NAMES, KINDS } from './kinds.ts';
import type { KindName } from './kinds.ts';
import { objectUnionVariants } from './object-union.ts';

/** An OpenAPI v3 schema node as apiextensions.k8s.io/v1 accepts it (JSONSchemaProps). */
export type JsonSchemaProps = { [key: string]: unknown };

/** An apiextensions.k8s.io/v1 CustomResourceDefinition. */
export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: 'Namespaced' | 'Cluster';
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JsonSchemaProps };
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
    }>;
  };
}

// Keys that may sit on any node: documentation, defaulting and Kubernetes extensions.
const ANNOTATIONS = [
  'description',
  'default',
  'nullable',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-embedded-resource',
] as const;

// Value checks per type that JSONSchemaProps has fields for.
const SCALAR_CHECKS = [
  'format',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'multipleOf',
  'enum',
];

// TypeBox's key pattern for Type.Record(Type.String(), …).
const ANY_KEY_PATTERNS = new Set(['^(.*)$', '^.*$']);

function pick(node: TSchema, keys: readonly string[]): JsonSchemaProps {
  const out: JsonSchemaProps = {};
  for (const key of keys) if (node[key] !== undefined) out[key] = node[key];
  const rules = out['x-kubernetes-validations'];
  // The TypeScript twin of a rule (`check`) is for validate.ts; the CRD carries only the CEL.
  if (Array.isArray(rules)) out['x-kubernetes-validations'] = rules.map(celOnly);
  return out;
}

function celOnly(rule: CelRule): JsonSchemaProps {
  return { rule: rule.rule, message: rule.message };
}

function fail(path: string, why: string): never {
  throw new Error(`cannot express ${path || '<root>'} in a structural CRD schema: ${why}`);
}

function scalarChecks(node: TSchema): JsonSchemaProps {
  const out = pick(node, SCALAR_CHECKS);
  // JSONSchemaProps follows draft 4: exclusive bounds are booleans next to minimum/maximum.
  if (typeof node['exclusiveMinimum'] === 'number')
    Object.assign(out, { minimum: node['exclusiveMinimum'], exclusiveMinimum: true });
  if (typeof node['exclusiveMaximum'] === 'number')
    Object.assign(out, { maximum: node['exclusiveMaximum'], exclusiveMaximum: true });
  return out;
}

function literalType(value: unknown, path: string): string {
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return Number.isInteger(value) ? 'integer' : 'number';
    default:
      return fail(path, `unsupported literal ${JSON.stringify(value)}`);
  }
}

function fromUnion(node: TSchema, variants: TSchema[], path: string): JsonSchemaProps {
  const annotations = pick(node, ANNOTATIONS);
  // A union of literals is an enum.
  if (variants.every((v) => v['const'] !== undefined)) {
    const types = new Set(variants.map((v) => literalType(v['const'], path)));
    if (types.size !== 1) fail(path, 'enum mixes value types');
    return { type: [...types][0], enum: variants.map((v) => v['const']), ...annotations };
  }
  // A union of objects tagged by one key each becomes one object with every alternative optional,
  // plus a CEL rule that exactly one is set: structural schemas cannot switch properties per branch.
  const tagged = objectUnionVariants(node);
  if (tagged) return fromObjectUnion(node, tagged, path);
  // Same-typed scalars differing only in value checks (ipv4 | ipv6) keep an anyOf of those checks.
  const types = new Set(variants.map((v) => v['type']));
  const [type] = [...types];
  if (types.size === 1 && typeof type === 'string' && !['object', 'array'].includes(type)) {
    return { type, anyOf: variants.map(scalarChecks), ...annotations };
  }
  return fail(path, 'union is neither an enum, a tagged object union, nor same-typed scalars');
}

function fromObjectUnion(
  node: TSchema,
  tagged: NonNullable<ReturnType<typeof objectUnionVariants>>,
  path: string,
): JsonSchemaProps {
  const properties: Record<string, JsonSchemaProps> = {};
  for (const { schema } of tagged) {
    if (schema['x-kubernetes-validations']) fail(path, 'validations on a union variant would be lost');
    for (const [key, child] of Object.entries(schema['properties'] as Record<string, TSchema>)) {
      const converted = toStructural(child, `${path}.${key}`);
      const seen = properties[key];
      if (seen && JSON.stringify(seen) !== JSON.stringify(converted))
        fail(path, `variants disagree on ${key}`);
      properties[key] = converted;
    }
  }
  const required = Object.keys(properties).filter((key) =>
    tagged.every(({ schema }) => ((schema['required'] as string[] | undefined) ?? []).includes(key)),
  );
  const tags = tagged.map((v) => v.tag);
  const exactlyOne = {
    rule: `[${tags.map((t) => `has(self.${t})`).join(', ')}].filter(x, x).size() == 1`,
    message: `exactly one of ${tags.join(', ')} must be set`,
  };
  const rules = [
    ...((node['x-kubernetes-validations'] as CelRule[] | undefined) ?? []).map(celOnly),
    exactlyOne,
  ];
  return {
    type: 'object',
    ...pick(node, ANNOTATIONS),
    properties,
    ...(required.length ? { required } : {}),
    'x-kubernetes-validations': rules,
  };
}

function fromObject(node: TSchema, path: string): JsonSchemaProps {
  const out: JsonSchemaProps = { type: 'object', ...pick(node, ANNOTATIONS) };
  Object.assign(out, pick(node, ['minProperties', 'maxProperties']));
  const properties = (node['properties'] as Record<string, TSchema> | undefined) ?? {};
  const propertyNames = Object.keys(properties);
  if (propertyNames.length) {
    out['properties'] = Object.fromEntries(
      propertyNames.map((key) => [key, toStructural(properties[key] as TSchema, `${path}.${key}`)]),
    );
    const required = (node['required'] as string[] | undefined) ?? [];
    if (required.length) out['required'] = [...required];
  }
  if (node['x-kubernetes-preserve-unknown-fields'] === true) {
    // Free-form: the server keeps whatever is there, so its value schema is not described.
    out['x-kubernetes-preserve-unknown-fields'] = true;
    return out;
  }
  const patterns = node['patternProperties'] as Record<string, TSchema> | undefined;
  let valueSchema =
    typeof node['additionalProperties'] === 'object' ? (node['additionalProperties'] as TSchema) : undefined;
  if (patterns) {
    const entries = Object.entries(patterns);
    const [first] = entries;
    if (entries.length !== 1 || !first || !ANY_KEY_PATTERNS.has(first[0]))
      fail(path, 'map keys must be plain strings');
    valueSchema = first[1];
  }
  if (valueSchema) {
    if (propertyNames.length) fail(path, 'properties and additionalProperties together are not structural');
    out['additionalProperties'] = toStructural(valueSchema, `${path}[*]`);
  }
  return out;
}

/** Converts one TypeBox schema node into a structural JSONSchemaProps; throws on what a CRD cannot say. */
export function toStructural(node: TSchema, path = ''): JsonSchemaProps {
  for (const key of ['$ref', 'allOf', 'oneOf', 'not', 'uniqueItems', 'prefixItems']) {
    if (node[key] !== undefined) fail(path, `${key} is not supported`);
  }
  const anyOf = node['anyOf'];
  if (Array.isArray(anyOf)) return fromUnion(node, anyOf as TSchema[], path);
  if (node['const'] !== undefined) {
    return { type: literalType(node['const'], path), enum: [node['const']], ...pick(node, ANNOTATIONS) };
  }
  switch (node['type']) {
    case 'object':
      return fromObject(node, path);
    case 'array': {
      const items = node['items'];
      if (!items || Array.isArray(items)) fail(path, 'arrays need one items schema');
      return {
        type: 'array',
        ...pick(node, ANNOTATIONS),
        ...pick(node, ['minItems', 'maxItems']),
        items: toStructural(items as TSchema, `${path}[*]`),
      };
    }
    case 'string':
    case 'integer':
    case 'number':
    case 'boolean':
      return { type: node['type'], ...pick(node, ANNOTATIONS), ...scalarChecks(node) };
    case undefined:
      // Type.Unknown(): any JSON value, kept as is.
      return { ...pick(node, ANNOTATIONS), 'x-kubernetes-preserve-unknown-fields': true };
    default:
      return fail(path, `type ${String(node['type'])} is not supported`);
  }
}

// Only name and generateName may be constrained in a CRD's metadata schema.
function metadataSchema(metadata: TSchema | undefined): JsonSchemaProps {
  const name = (metadata?.['properties'] as Record<string, TSchema> | undefined)?.['name'];
  if (!name) return { type: 'object' };
  return { type: 'object', properties: { name: { type: 'string', ...scalarChecks(name) } } };
}

/** The openAPIV3Schema of a kind. */
export function openApiSchemaFor(definition: KindDefinition): JsonSchemaProps {
  // A private copy: shared sub-schemas must not alias each other in the output (YAML anchors, mutation).
  const root = structuredClone(toStructural(definition.schema));
  const properties = root['properties'] as Record<string, JsonSchemaProps>;
  const rootProperties = definition.schema['properties'] as Record<string, TSchema>;
  return {
    ...root,
    properties: {
      ...properties,
      // The server owns apiVersion/kind; pinning them as enums would break the next version's conversion.
      apiVersion: { type: 'string', description: 'APIVersion of this object.' },
      kind: { type: 'string', description: 'Kind of this object.' },
      metadata: metadataSchema(rootProperties['metadata']),
    },
    required: ['spec'],
  };
}

/** The CustomResourceDefinition for one Meridian kind. */
export function crdFor(kind: KindName): CustomResourceDefinition {
  const definition = KINDS[kind];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${definition.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'meridian' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: definition.kind,
        listKind: `${definition.kind}List`,
        plural: definition.plural,
        singular: definition.singular,
        shortNames: [...definition.shortNames],
        categories: ['meridian'],
      },
      scope: definition.namespaced ? 'Namespaced' : 'Cluster',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: openApiSchemaFor(definition) },
          subresources: { status: {} },
          additionalPrinterColumns: definition.printerColumns.map((column) => ({ ...column })),
        },
      ],
    },
  };
}

/** Every Meridian CRD, in a stable order. */
export function allCrds(): CustomResourceDefinition[] {
  return KIND_NAMES.map(crdFor);
}

/** Every Meridian CRD as one multi-document YAML stream, ready for `kubectl apply -f -`. */
export function allCrdsYaml(): string {
  return allCrds()
    .map((crd) => stringify(crd, { lineWidth: 0, aliasDuplicateObjects: false }))
    .join('---\n');
}
