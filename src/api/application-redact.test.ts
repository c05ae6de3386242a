import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Application } from './application.ts';
import { REDACTED, redactApplication } from './application-redact.ts';

const SECRET = 'hunter2-Zm9vYmFy';

test('a redacted Application keeps its shape and no secret material', () => {
  const app = {
    apiVersion: 'meridian.dev/v1alpha1',
    kind: 'Application',
    metadata: {
      name: 'shop',
      namespace: 'default',
      annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': `{"password":"${SECRET}"}`,
        team: 'a',
      },
      managedFields: [{ manager: 'kubectl', fieldsV1: { password: SECRET } }],
    },
    spec: {
      destinationNamespace: 'shop',
      placement: { clusters: ['eu-west'] },
      source: {
        manifests: [
          { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db' }, stringData: { password: SECRET } },
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'tls' },
            data: { 'tls.key': Buffer.from(SECRET).toString('base64') },
          },
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { mode: 'fast' } },
        ],
      },
      overrides: [
        {
          clusters: ['eu-west'],
          values: { db: { password: SECRET, port: 5432, tls: true }, hosts: [SECRET] },
          patches: [
            { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db' }, stringData: { password: SECRET } },
          ],
        },
      ],
    },
  } as unknown as Application;
  const helm = {
    ...app,
    spec: {
      ...app.spec,
      source: {
        helm: {
          chart: 'shop',
          repoURL: `https://robot:${SECRET}@charts.example/x`,
          values: { apiKey: SECRET },
        },
      },
    },
  } as unknown as Application;
  for (const a of [app, helm]) {
    const text = JSON.stringify(redactApplication(a));
    assert.ok(!text.includes(SECRET), text);
    assert.ok(!text.includes(Buffer.from(SECRET).toString('base64')), text);
  }
  const r = redactApplication(app) as unknown as {
    metadata: { annotations: Record<string, string>; managedFields?: unknown };
    spec: {
      source: { manifests: { data?: object; stringData?: object }[] };
      overrides: { values: object }[];
    };
  };
  assert.deepEqual(r.metadata.annotations, { team: 'a' });
  assert.equal(r.metadata.managedFields, undefined);
  assert.deepEqual(r.spec.source.manifests[0]!.stringData, { password: REDACTED });
  assert.deepEqual(r.spec.source.manifests[1]!.data, { 'tls.key': REDACTED });
  assert.deepEqual(r.spec.source.manifests[2]!.data, { mode: 'fast' }, 'a ConfigMap is not secret');
  assert.deepEqual(r.spec.overrides[0]!.values, {
    db: { password: REDACTED, port: 5432, tls: true },
    hosts: [REDACTED],
  });
  const h = redactApplication(helm) as unknown as { spec: { source: { helm: { repoURL: string } } } };
  assert.equal(h.spec.source.helm.repoURL, 'https://charts.example/x');
  // The input is left as it was.
  assert.match(JSON.stringify(app), new RegExp(SECRET));
});
