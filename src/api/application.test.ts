import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sourceType } from './application.ts';
import type { ApplicationSource, SourceType } from './application.ts';

test('sourceType names every source flavour for an exhaustive switch', () => {
  const cases: Array<[ApplicationSource, SourceType]> = [
    [{ manifests: [{ apiVersion: 'v1', kind: 'ConfigMap' }] }, 'manifests'],
    [{ kustomize: { path: '.' } }, 'kustomize'],
    [{ helm: { chart: 'shop' } }, 'helm'],
    [{ git: { url: 'https://git.example.com/shop.git', kustomize: {} } }, 'git'],
  ];
  for (const [source, expected] of cases) assert.equal(sourceType(source), expected);
});
