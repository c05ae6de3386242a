import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationKind, sourceType } from './application.ts';
import type { ApplicationSource, SourceType } from './application.ts';
import { validateResource } from './validate.ts';
import { openApiSchemaFor } from './crd.ts';
import type { JsonSchemaProps } from './crd.ts';

test('sourceType names every source flavour for an exhaustive switch', () => {
  const cases: Array<[ApplicationSource, SourceType]> = [
    [{ manifests: [{ apiVersion: 'v1', kind: 'ConfigMap' }] }, 'manifests'],
    [{ kustomize: { path: '.' } }, 'kustomize'],
    [{ helm: { chart: 'shop' } }, 'helm'],
    [{ git: { url: 'https://git.example.com/shop.git', kustomize: {} } }, 'git'],
  ];
  for (const [source, expected] of cases) assert.equal(sourceType(source), expected);
});

test('images accepts kustomize-style rewrites and rejects a tag in name or a repeated name', () => {
  const app = (images: unknown[], overrideImages?: unknown[]) => ({
    apiVersion: 'meridian.dev/v1alpha1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'team-a' },
    spec: {
      source: { kustomize: { path: '.' } },
      placement: { clusters: ['eu-west'] },
      images,
      ...(overrideImages ? { overrides: [{ clusters: ['eu-west'], images: overrideImages }] } : {}),
    },
  });
  const digest = `sha256:${'0'.repeat(64)}`;
  const good = validateResource(
    'Application',
    app(
      [
        { name: 'example/app2', newName: 'registry.example.com:5000/team/app2', newTag: '1.4.2' },
        { name: 'localhost:5000/db', digest },
      ],
      [{ name: 'example/app2', newTag: '1.5.0' }],
    ),
  );
  assert.ok(good.ok, good.ok ? '' : good.message);
  const withTag = validateResource('Application', app([{ name: 'example/app2:1.0' }]));
  assert.equal(withTag.ok ? '' : withTag.field, 'spec.images[0].name');
  const twice = validateResource('Application', app([{ name: 'a' }, { name: 'a', newTag: '2' }]));
  assert.equal(twice.ok ? '' : twice.message, 'Application team-a/shop: spec.images[1]: duplicate value "a"');
  const badDigest = validateResource('Application', app([], [{ name: 'a', digest: 'latest' }]));
  assert.equal(badDigest.ok ? '' : badDigest.field, 'spec.overrides[0].images[0].digest');
});

test('every field of the Application spec has a description (what kubectl explain shows)', () => {
  const missing: string[] = [];
  // kubectl explain shows an array's own description for its items; their fields need their own.
  const walk = (s: JsonSchemaProps | undefined, path: string): void => {
    if (!s) return;
    if (!s['description'] && !path.endsWith('[]')) missing.push(path);
    const props = (s['properties'] ?? {}) as Record<string, JsonSchemaProps>;
    for (const [k, v] of Object.entries(props)) walk(v, `${path}.${k}`);
    const items = s['items'] as JsonSchemaProps | undefined;
    if (items && items['type'] === 'object') walk(items, `${path}[]`);
  };
  const spec = (openApiSchemaFor(ApplicationKind)['properties'] as Record<string, JsonSchemaProps>)['spec'];
  walk(spec, 'spec');
  assert.deepEqual(missing, []);
});
