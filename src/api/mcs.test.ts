import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { parse, stringify } from 'yaml';
import type { KubeObject } from '../kube/cluster-client.ts';
import type { JsonSchemaProps } from './crd.ts';
import {
  MCS_API_VERSION,
  MCS_GROUP,
  MCS_VERSION,
  mcsCrds,
  ServiceExportSchema,
  ServiceImportSchema,
} from './mcs.ts';
import type { ServiceExport, ServiceImport } from './mcs.ts';

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  subresources: { status: Record<string, never> };
  additionalPrinterColumns: { name: string; type: string; jsonPath: string }[];
  schema: { openAPIV3Schema: JsonSchemaProps };
}
interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[] };
    versions: CrdVersion[];
  };
}

function crd(kind: string): Crd {
  const found = mcsCrds().find((c) => (c['spec'] as Crd['spec']).names.kind === kind);
  assert.ok(found, `no CRD for ${kind}`);
  return found as unknown as Crd;
}

/** The stored version's entry (every served version has the same schema, tested below). */
function version(kind: string): CrdVersion {
  const stored = crd(kind).spec.versions.filter((v) => v.storage);
  assert.equal(stored.length, 1);
  return stored[0]!;
}

function node(schema: JsonSchemaProps, path: string): JsonSchemaProps {
  let at = schema;
  for (const step of path.split('.')) {
    const next =
      step === '[*]' ? at['items'] : (at['properties'] as Record<string, unknown> | undefined)?.[step];
    assert.ok(next && typeof next === 'object', `no schema at ${path} (stopped at ${step})`);
    at = next as JsonSchemaProps;
  }
  return at;
}

const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);

// The structural-schema rules the API server enforces on a CRD (a subset of crd.test.ts's check).
function structuralViolations(schema: JsonSchemaProps, path = '<root>'): string[] {
  const problems: string[] = [];
  const open = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (!open && !TYPES.has(schema['type'] as string)) problems.push(`${path}: no type`);
  if (schema['additionalProperties'] === false) problems.push(`${path}: additionalProperties false`);
  for (const key of ['$ref', 'const', 'patternProperties', 'hint', 'check'])
    if (key in schema) problems.push(`${path}: ${key}`);
  const properties = (schema['properties'] ?? {}) as Record<string, JsonSchemaProps>;
  for (const key of (schema['required'] as string[] | undefined) ?? [])
    if (!(key in properties)) problems.push(`${path}: required ${key} is not a property`);
  for (const [key, child] of Object.entries(properties))
    problems.push(...structuralViolations(child, `${path}.${key}`));
  if (schema['type'] === 'array') {
    const items = schema['items'] as JsonSchemaProps | undefined;
    if (!items) return [...problems, `${path}: array without items`];
    problems.push(...structuralViolations(items, `${path}[*]`));
    for (const key of (schema['x-kubernetes-list-map-keys'] as string[] | undefined) ?? [])
      if (!((items['required'] as string[] | undefined) ?? []).includes(key))
        problems.push(`${path}: list map key ${key} is not required`);
  }
  return problems;
}

test('installs ServiceExport and ServiceImport under their upstream names, namespaced', () => {
  const crds = mcsCrds();
  assert.deepEqual(
    crds.map((c) => c.metadata.name),
    ['serviceexports.multicluster.x-k8s.io', 'serviceimports.multicluster.x-k8s.io'],
  );
  for (const c of crds) {
    assert.equal(c.apiVersion, 'apiextensions.k8s.io/v1');
    assert.equal(c.kind, 'CustomResourceDefinition');
  }
  assert.equal(MCS_GROUP, 'multicluster.x-k8s.io');
  assert.equal(MCS_API_VERSION, `${MCS_GROUP}/${MCS_VERSION}`);
  for (const [kind, plural, shortNames] of [
    ['ServiceExport', 'serviceexports', ['svcex', 'svcexport']],
    ['ServiceImport', 'serviceimports', ['svcim', 'svcimport']],
  ] as const) {
    const { metadata, spec } = crd(kind);
    assert.equal(metadata.name, `${spec.names.plural}.${spec.group}`);
    assert.equal(spec.group, MCS_GROUP);
    assert.equal(spec.scope, 'Namespaced');
    assert.deepEqual(spec.names, {
      kind,
      listKind: `${kind}List`,
      plural,
      singular: kind.toLowerCase(),
      shortNames,
    });
  }
});

test('serves v1beta1 (stored) and v1alpha1 with identical schemas, conversion None, like upstream v0.5.0', () => {
  assert.equal(MCS_VERSION, 'v1beta1');
  for (const kind of ['ServiceExport', 'ServiceImport']) {
    const c = crd(kind) as Crd & { spec: { conversion?: { strategy: string } } };
    assert.deepEqual(c.spec.conversion, { strategy: 'None' });
    assert.deepEqual(
      c.spec.versions.map((v) => [v.name, v.served, v.storage]),
      [
        ['v1beta1', true, true],
        ['v1alpha1', true, false],
      ],
    );
    const [beta, alpha] = c.spec.versions;
    assert.deepEqual({ ...alpha, name: 'x', storage: true }, { ...beta, name: 'x', storage: true });
    assert.deepEqual(beta?.subresources, { status: {} });
  }
});

test('both schemas are structural, so the API server accepts them', () => {
  for (const kind of ['ServiceExport', 'ServiceImport']) {
    assert.deepEqual(structuralViolations(version(kind).schema.openAPIV3Schema), [], kind);
  }
});

test('the structural check catches what the API server would reject', () => {
  assert.deepEqual(structuralViolations({ type: 'object', properties: { a: {} } }), ['<root>.a: no type']);
  const listMap = { type: 'array', 'x-kubernetes-list-map-keys': ['k'], items: { type: 'object' } };
  assert.deepEqual(structuralViolations(listMap), ['<root>: list map key k is not required']);
});

test('ServiceImport schema: type is an enum and required, ports are an atomic list with a required port', () => {
  const root = version('ServiceImport').schema.openAPIV3Schema;
  assert.equal(root['required'], undefined, 'like upstream, the root requires nothing');
  const spec = node(root, 'spec');
  assert.deepEqual([...(spec['required'] as string[])].sort(), ['ports', 'type']);
  assert.deepEqual(node(root, 'spec.type')['enum'], ['ClusterSetIP', 'Headless']);
  assert.equal(node(root, 'spec.ips')['maxItems'], 2, 'dual stack');
  assert.equal(node(root, 'spec.ipFamilies')['maxItems'], 2);
  for (const field of ['internalTrafficPolicy', 'trafficDistribution'])
    assert.equal(node(root, `spec.${field}`)['type'], 'string');
  assert.equal(node(root, 'status.conditions')['x-kubernetes-list-type'], 'map');
  const ports = node(root, 'spec.ports');
  assert.equal(ports['x-kubernetes-list-type'], 'atomic');
  const port = node(root, 'spec.ports.[*]');
  assert.deepEqual(port['required'], ['port']);
  assert.deepEqual(Object.keys(port['properties'] as object).sort(), [
    'appProtocol',
    'name',
    'port',
    'protocol',
  ]);
  assert.equal(node(root, 'spec.ports.[*].port')['format'], 'int32');
  assert.equal(node(root, 'spec.ports.[*].protocol')['default'], 'TCP');
  assert.equal(node(root, 'spec.sessionAffinity')['type'], 'string');
  assert.equal(node(root, 'spec.sessionAffinityConfig.clientIP.timeoutSeconds')['type'], 'integer');
  const clusters = node(root, 'status.clusters');
  assert.equal(clusters['x-kubernetes-list-type'], 'map');
  assert.deepEqual(clusters['x-kubernetes-list-map-keys'], ['cluster']);
  assert.deepEqual(node(root, 'status.clusters.[*]')['required'], ['cluster']);
});

test('ServiceExport schema: exportedLabels and exportedAnnotations, standard conditions keyed by type', () => {
  const root = version('ServiceExport').schema.openAPIV3Schema;
  for (const field of ['exportedLabels', 'exportedAnnotations']) {
    const map = node(root, `spec.${field}`);
    assert.equal(map['type'], 'object');
    assert.deepEqual(map['additionalProperties'], { type: 'string' });
  }
  const conditions = node(root, 'status.conditions');
  assert.equal(conditions['x-kubernetes-list-type'], 'map');
  assert.deepEqual(conditions['x-kubernetes-list-map-keys'], ['type']);
  assert.deepEqual([...(node(root, 'status.conditions.[*]')['required'] as string[])].sort(), [
    'lastTransitionTime',
    'message',
    'reason',
    'status',
    'type',
  ]);
  assert.deepEqual(node(root, 'status.conditions.[*].status')['enum'], ['True', 'False', 'Unknown']);
});

test('printer columns match upstream: Age for exports; Type, IP, Age for imports', () => {
  const columns = (kind: string) =>
    version(kind).additionalPrinterColumns.map((c) => [c.name, c.type, c.jsonPath]);
  assert.deepEqual(columns('ServiceExport'), [['Age', 'date', '.metadata.creationTimestamp']]);
  assert.deepEqual(columns('ServiceImport'), [
    ['Type', 'string', '.spec.type'],
    ['IP', 'string', '.spec.ips'],
    ['Age', 'date', '.metadata.creationTimestamp'],
  ]);
});

test('the CRDs survive a YAML round trip without aliases, and each call returns fresh objects', () => {
  const crds = mcsCrds();
  const text = stringify(crds, { lineWidth: 0 });
  assert.doesNotMatch(text, /[*&]a\d/, 'shared sub-schemas must not become YAML anchors');
  assert.deepEqual(parse(text), crds);
  const first = mcsCrds()[0];
  assert.ok(first);
  first.metadata.name = 'changed';
  assert.equal(mcsCrds()[0]?.metadata.name, 'serviceexports.multicluster.x-k8s.io');
  const mapKeys = () =>
    node(version('ServiceImport').schema.openAPIV3Schema, 'status.clusters')[
      'x-kubernetes-list-map-keys'
    ] as string[];
  mapKeys().push('region');
  assert.deepEqual(mapKeys(), ['cluster']);
});

test('the TypeScript types are the schemas: a ServiceImport checks, a wrong type does not', () => {
  const imported: ServiceImport = {
    apiVersion: MCS_API_VERSION,
    kind: 'ServiceImport',
    metadata: { name: 'api', namespace: 'shop' },
    spec: { type: 'ClusterSetIP', ips: ['10.96.0.10'], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] },
    status: { clusters: [{ cluster: 'eu-1' }] },
  };
  const exported: ServiceExport = {
    apiVersion: MCS_API_VERSION,
    kind: 'ServiceExport',
    metadata: { name: 'api', namespace: 'shop' },
  };
  // Both are applyable Kubernetes objects.
  const objects: KubeObject[] = [imported, exported];
  assert.equal(objects.length, 2);
  assert.ok(Value.Check(ServiceImportSchema, imported));
  assert.ok(Value.Check(ServiceExportSchema, exported));
  assert.ok(
    !Value.Check(ServiceImportSchema, { ...imported, spec: { ...imported.spec, type: 'LoadBalancer' } }),
  );
  assert.ok(
    !Value.Check(ServiceImportSchema, { ...imported, spec: { type: 'Headless', ports: [{ name: 'x' }] } }),
  );
});
