import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { parseAllDocuments } from 'yaml';
import { allCrds, allCrdsYaml, crdFor, toStructural } from './crd.ts';
import type { JsonSchemaProps } from './crd.ts';
import { GROUP, VERSION } from './group.ts';
import { KIND_NAMES, KINDS } from './kinds.ts';

// Fields apiextensions.k8s.io/v1 JSONSchemaProps has that we may emit; anything else is a leak.
const ALLOWED_KEYS = new Set([
  'description', 'type', 'format', 'title', 'default', 'maximum', 'exclusiveMaximum', 'minimum',
  'exclusiveMinimum', 'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'multipleOf', 'enum',
  'maxProperties', 'minProperties', 'required', 'items', 'allOf', 'oneOf', 'anyOf', 'not', 'properties',
  'additionalProperties', 'nullable', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource',
  'x-kubernetes-int-or-string', 'x-kubernetes-list-map-keys', 'x-kubernetes-list-type', 'x-kubernetes-map-type',
  'x-kubernetes-validations',
]); // prettier-ignore
const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);
const FORMATS = new Set(['int32', 'int64', 'float', 'double', 'byte', 'date', 'date-time', 'duration', 'uri', 'email', 'hostname', 'ipv4', 'ipv6', 'cidr', 'mac', 'uuid']); // prettier-ignore
const JUNCTORS = ['allOf', 'anyOf', 'oneOf', 'not'] as const;
const RULE_KEYS = new Set(['rule', 'message', 'messageExpression', 'reason', 'fieldPath', 'optionalOldSelf']);

/** Lists every way `schema` breaks the Kubernetes structural schema rules (empty when structural). */
function structuralViolations(schema: JsonSchemaProps, path = '', inJunctor = false): string[] {
  const problems: string[] = [];
  const at = (why: string) => problems.push(`${path || '<root>'}: ${why}`);
  if (Object.getOwnPropertySymbols(schema).length) at('carries symbols');
  for (const key of Object.keys(schema)) if (!ALLOWED_KEYS.has(key)) at(`unknown key ${key}`);
  const type = schema['type'];
  const openEnded =
    schema['x-kubernetes-preserve-unknown-fields'] === true || schema['x-kubernetes-int-or-string'] === true;
  if (inJunctor) {
    for (const key of ['type', 'description', 'default', 'additionalProperties', 'nullable']) {
      if (key in schema) at(`${key} inside a junctor`);
    }
  } else if (!openEnded && !(typeof type === 'string' && TYPES.has(type))) {
    at(`missing or bad type ${JSON.stringify(type)}`);
  }
  if (schema['x-kubernetes-preserve-unknown-fields'] === false)
    at('x-kubernetes-preserve-unknown-fields: false');
  if (schema['additionalProperties'] === false) at('additionalProperties: false');
  if (schema['additionalProperties'] !== undefined && schema['properties'] !== undefined) {
    at('additionalProperties together with properties');
  }
  if (typeof schema['format'] === 'string' && !FORMATS.has(schema['format']))
    at(`unknown format ${schema['format']}`);
  if (Array.isArray(schema['enum']) && typeof type === 'string') {
    for (const value of schema['enum'] as unknown[]) {
      const actual: string = Number.isInteger(value) && type === 'integer' ? 'integer' : typeof value;
      if (actual !== type && !(type === 'number' && actual === 'number'))
        at(`enum value ${String(value)} is not ${type}`);
    }
  }
  const properties = (schema['properties'] ?? {}) as Record<string, JsonSchemaProps>;
  for (const key of (schema['required'] as string[] | undefined) ?? []) {
    if (!(key in properties)) at(`required ${key} is not a property`);
  }
  for (const [key, child] of Object.entries(properties)) {
    problems.push(...structuralViolations(child, `${path}.${key}`, inJunctor));
  }
  if (type === 'array') {
    const items = schema['items'] as JsonSchemaProps | undefined;
    if (!items || Array.isArray(items)) at('array without one items schema');
    else {
      problems.push(...structuralViolations(items, `${path}[*]`, inJunctor));
      const listType = schema['x-kubernetes-list-type'];
      if (listType === 'set' && (items['type'] === 'object' || items['type'] === 'array'))
        at('set of non-scalars');
      if (listType === 'map') {
        const itemRequired = (items['required'] as string[] | undefined) ?? [];
        const itemProperties = (items['properties'] ?? {}) as Record<string, JsonSchemaProps>;
        for (const key of (schema['x-kubernetes-list-map-keys'] as string[] | undefined) ?? []) {
          if (!itemRequired.includes(key) && itemProperties[key]?.['default'] === undefined) {
            at(`list map key ${key} is neither required nor defaulted`);
          }
        }
      }
    }
  }
  if (typeof schema['additionalProperties'] === 'object') {
    problems.push(
      ...structuralViolations(schema['additionalProperties'] as JsonSchemaProps, `${path}[*]`, inJunctor),
    );
  }
  for (const junctor of JUNCTORS) {
    const branches = schema[junctor];
    if (branches === undefined) continue;
    for (const [index, branch] of (Array.isArray(branches) ? branches : [branches]).entries()) {
      const branchProperties = ((branch as JsonSchemaProps)['properties'] ?? {}) as object;
      for (const key of Object.keys(branchProperties)) {
        if (!(key in properties)) at(`${junctor}[${index}] constrains ${key}, which is not declared outside`);
      }
      problems.push(...structuralViolations(branch as JsonSchemaProps, `${path}.${junctor}[${index}]`, true));
    }
  }
  for (const rule of (schema['x-kubernetes-validations'] as JsonSchemaProps[] | undefined) ?? []) {
    if (typeof rule['rule'] !== 'string' || typeof rule['message'] !== 'string')
      at('validation without rule/message');
    for (const key of Object.keys(rule)) if (!RULE_KEYS.has(key)) at(`validation carries ${key}`);
  }
  return problems;
}

function rootSchema(kind: (typeof KIND_NAMES)[number]): JsonSchemaProps {
  const [version] = crdFor(kind).spec.versions;
  assert.ok(version);
  return version.schema.openAPIV3Schema;
}

test('every CRD schema is structural', () => {
  for (const kind of KIND_NAMES) {
    assert.deepEqual(structuralViolations(rootSchema(kind)), [], `${kind} schema is not structural`);
  }
});

test('the structural checker catches what the API server rejects', () => {
  const bad = {
    type: 'object',
    additionalProperties: false,
    properties: { a: { const: 'x' }, b: { type: 'string', anyOf: [{ type: 'string' }] } },
  };
  const problems = structuralViolations(bad);
  assert.ok(problems.some((p) => p.includes('additionalProperties: false')));
  assert.ok(problems.some((p) => p.includes('unknown key const')));
  assert.ok(problems.some((p) => p.includes('missing or bad type')));
  assert.ok(problems.some((p) => p.includes('type inside a junctor')));
});

test('metadata constrains only the name, and apiVersion and kind stay plain strings', () => {
  for (const kind of KIND_NAMES) {
    const properties = rootSchema(kind)['properties'] as Record<string, JsonSchemaProps>;
    const metadata = properties['metadata'] ?? {};
    assert.deepEqual(Object.keys((metadata['properties'] ?? {}) as object), ['name'], kind);
    assert.equal(metadata['required'], undefined, kind);
    assert.deepEqual(properties['apiVersion'], { type: 'string', description: 'APIVersion of this object.' });
    assert.deepEqual(rootSchema(kind)['required'], ['spec']);
  }
});

test('each CRD has names, categories, scope, one stored version and a status subresource', () => {
  for (const kind of KIND_NAMES) {
    const crd = crdFor(kind);
    const definition = KINDS[kind];
    assert.equal(crd.metadata.name, `${definition.plural}.${GROUP}`);
    assert.equal(crd.spec.names.kind, kind);
    assert.equal(crd.spec.names.listKind, `${kind}List`);
    assert.deepEqual(crd.spec.names.categories, ['meridian']);
    assert.ok(crd.spec.names.shortNames.length > 0);
    assert.equal(crd.spec.scope, definition.namespaced ? 'Namespaced' : 'Cluster');
    assert.equal(crd.spec.versions.length, 1);
    const [version] = crd.spec.versions;
    assert.deepEqual(
      {
        name: version?.name,
        served: version?.served,
        storage: version?.storage,
        status: version?.subresources.status,
      },
      { name: VERSION, served: true, storage: true, status: {} },
    );
  }
  assert.equal(crdFor('Cluster').spec.scope, 'Cluster');
  assert.equal(crdFor('Application').spec.scope, 'Namespaced');
});

// Follows a printer column's JSONPath through the schema; filters like [?(@.type=="Ready")] step into items.
function resolveColumn(schema: JsonSchemaProps, jsonPath: string): JsonSchemaProps | undefined {
  let node: JsonSchemaProps | undefined = schema;
  for (const segment of jsonPath
    .replace(/\[[^\]]*\]/g, '.[]')
    .split('.')
    .filter(Boolean)) {
    if (!node) return undefined;
    if (segment === '[]') node = node['items'] as JsonSchemaProps | undefined;
    else if (
      segment === 'creationTimestamp' &&
      node === (schema['properties'] as JsonSchemaProps)['metadata']
    ) {
      return { type: 'string' };
    } else node = (node['properties'] as Record<string, JsonSchemaProps> | undefined)?.[segment];
  }
  return node;
}

test('printer columns are present and point at fields the schema declares', () => {
  const names = (kind: (typeof KIND_NAMES)[number]) =>
    crdFor(kind).spec.versions[0]?.additionalPrinterColumns.map((c) => c.name);
  assert.deepEqual(names('Cluster'), ['Region', 'Ready', 'Version', 'Nodes', 'Age']);
  assert.deepEqual(names('Application'), ['Revision', 'Desired', 'Phase', 'Ready', 'Age']);
  for (const kind of KIND_NAMES) {
    const columns = crdFor(kind).spec.versions[0]?.additionalPrinterColumns ?? [];
    assert.equal(columns.at(-1)?.name, 'Age', kind);
    for (const column of columns) {
      const field = resolveColumn(rootSchema(kind), column.jsonPath);
      assert.ok(field, `${kind} column ${column.name}: ${column.jsonPath} is not in the schema`);
      if (column.type === 'integer') assert.equal(field['type'], 'integer', `${kind} column ${column.name}`);
    }
  }
  const ready = crdFor('Cluster').spec.versions[0]?.additionalPrinterColumns.find((c) => c.name === 'Ready');
  assert.equal(ready?.jsonPath, '.status.conditions[?(@.type=="Ready")].status');
});

test('Application source becomes one object with an exactly-one CEL rule', () => {
  const spec = (rootSchema('Application')['properties'] as Record<string, JsonSchemaProps>)['spec'] ?? {};
  const source = (spec['properties'] as Record<string, JsonSchemaProps>)['source'] ?? {};
  assert.equal(source['type'], 'object');
  assert.deepEqual(Object.keys(source['properties'] as object), ['manifests', 'kustomize', 'helm', 'git']);
  assert.equal(source['required'], undefined);
  assert.deepEqual(source['x-kubernetes-validations'], [
    {
      rule: '[has(self.manifests), has(self.kustomize), has(self.helm), has(self.git)].filter(x, x).size() == 1',
      message: 'exactly one of manifests, kustomize, helm, git must be set',
    },
  ]);
  const git = (source['properties'] as Record<string, JsonSchemaProps>)['git'] ?? {};
  assert.deepEqual(git['required'], ['url']);
  assert.deepEqual(Object.keys(git['properties'] as object), [
    'url',
    'ref',
    'path',
    'manifests',
    'kustomize',
    'helm',
  ]);
});

test('free-form fields keep unknown fields and string enums become enum', () => {
  const spec = (rootSchema('Application')['properties'] as Record<string, JsonSchemaProps>)['spec'] ?? {};
  const properties = spec['properties'] as Record<string, JsonSchemaProps>;
  const helm = ((properties['source']?.['properties'] as Record<string, JsonSchemaProps>)['helm'] ?? {})[
    'properties'
  ] as Record<string, JsonSchemaProps>;
  assert.deepEqual(helm['values'], {
    type: 'object',
    description: 'Helm values, merged over the chart defaults.',
    'x-kubernetes-preserve-unknown-fields': true,
  });
  const strategy = (properties['rollout']?.['properties'] as Record<string, JsonSchemaProps>)['strategy'];
  assert.deepEqual(
    { ...strategy, description: undefined },
    { type: 'string', enum: ['Parallel', 'Waves'], default: 'Parallel', description: undefined },
  );
});

test('the converter refuses what a structural schema cannot express', () => {
  assert.throws(() => toStructural(Type.Array(Type.String(), { uniqueItems: true })), /uniqueItems/);
  assert.throws(() => toStructural(Type.Union([Type.String(), Type.Integer()])), /union/);
  assert.throws(
    () => toStructural(Type.Record(Type.String({ pattern: '^a' }), Type.String())),
    /map keys must be plain strings/,
  );
});

test('the YAML stream parses back to the CRD objects', () => {
  const documents = parseAllDocuments(allCrdsYaml()).map((d) => d.toJS() as unknown);
  assert.deepEqual(documents, JSON.parse(JSON.stringify(allCrds())));
  assert.equal(documents.length, KIND_NAMES.length);
});
