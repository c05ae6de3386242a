import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import type { KubeObject } from '../kube/cluster-client.ts';
import {
  changedSecrets,
  holdsSecretValues,
  isRedacted,
  redactSecret,
  restoreSecrets,
  splitSecrets,
} from './revision-secrets.ts';

const KEY = Buffer.alloc(32, 7);
const b64 = (s: string): string => Buffer.from(s).toString('base64');

function secret(name: string, data: Record<string, string>, stringData?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'shop', labels: { tier: 'db' } },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
    ...(stringData ? { stringData } : {}),
  } as KubeObject;
}
const configMap: KubeObject = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'cfg', namespace: 'shop' },
  data: { greeting: 'hello' },
} as KubeObject;

describe('revision secrets', () => {
  test('a redacted Secret keeps identity, type and labels, and no value in any form', () => {
    const s = secret('db', { password: 'hunter2' }, { token: 's3cr3t-token' });
    const r = redactSecret(s, KEY) as KubeObject & { data: Record<string, string>; type: string };
    assert.equal(r.metadata.name, 'db');
    assert.equal(r.metadata.namespace, 'shop');
    assert.deepEqual(r.metadata.labels, { tier: 'db' });
    assert.equal(r.type, 'Opaque');
    assert.ok(isRedacted(r));
    const text = JSON.stringify(r);
    for (const leak of ['hunter2', b64('hunter2'), 's3cr3t-token', b64('s3cr3t-token')])
      assert.ok(!text.includes(leak), `${leak} in ${text}`);
    assert.match(r.data['password']!, /^hmac-sha256:[0-9a-f]{64}$/);
    // The digest is keyed: another key, another digest.
    const other = redactSecret(s, Buffer.alloc(32, 8)) as typeof r;
    assert.notEqual(other.data['password'], r.data['password']);
  });

  test('split keeps other objects as they are and restore gives back exactly what was rendered', () => {
    const s = secret('db', { password: 'hunter2' });
    const clusters = { 'eu-west': [configMap, s], 'us-east': [configMap] };
    const split = splitSecrets(clusters, KEY);
    assert.equal(split.secretCount, 1);
    assert.deepEqual(split.secrets, { 'eu-west': [s] });
    assert.equal(split.redacted['eu-west']![0], configMap);
    assert.ok(isRedacted(split.redacted['eu-west']![1]!));
    assert.ok(!holdsSecretValues(split.redacted));
    assert.ok(holdsSecretValues(clusters));
    assert.deepEqual(restoreSecrets(split.redacted, split.secrets), clusters);
  });

  test('restore names a Secret missing from the store', () => {
    const split = splitSecrets({ 'eu-west': [secret('db', { password: 'x' })] }, KEY);
    assert.throws(
      () => restoreSecrets(split.redacted, { 'eu-west': [] }),
      /cluster eu-west: Secret shop\/db is not in the stored Secrets/,
    );
  });

  test('changed Secrets are named with their changed keys, never their values', () => {
    const v1 = splitSecrets({ 'eu-west': [configMap, secret('db', { user: 'app', password: 'old' })] }, KEY);
    const v2 = splitSecrets(
      { 'eu-west': [configMap, secret('db', { user: 'app', password: 'new' }), secret('api', { k: 'v' })] },
      KEY,
    );
    assert.deepEqual(changedSecrets(v1.redacted, v2.redacted), [
      'eu-west: shop/api added',
      'eu-west: shop/db (password)',
    ]);
    assert.deepEqual(changedSecrets(v2.redacted, v1.redacted), [
      'eu-west: shop/api removed',
      'eu-west: shop/db (password)',
    ]);
    assert.deepEqual(changedSecrets(v1.redacted, v1.redacted), []);
    // data and stringData with the same bytes are the same value.
    const asString = splitSecrets({ 'eu-west': [secret('db', {}, { user: 'app', password: 'old' })] }, KEY);
    assert.deepEqual(
      changedSecrets(v1.redacted, { 'eu-west': [configMap, ...asString.redacted['eu-west']!] }),
      [],
    );
  });
});
