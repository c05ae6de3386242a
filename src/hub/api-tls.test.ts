import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { ensureSelfSignedApiTls, selfSignedNames } from './api-tls.ts';

test('the self-signed names cover loopback, the host and a specific listen address', () => {
  assert.deepEqual(selfSignedNames('0.0.0.0', 'hub-0'), {
    dns: ['localhost', 'hub-0'],
    ips: ['127.0.0.1', '::1'],
  });
  assert.deepEqual(selfSignedNames('10.0.0.7', 'hub-0').ips, ['127.0.0.1', '::1', '10.0.0.7']);
  assert.deepEqual(selfSignedNames('meridian.example.com', 'hub-0').dns, [
    'localhost',
    'hub-0',
    'meridian.example.com',
  ]);
});

test('a self-signed API certificate is made once, signed by the CA it writes, and its key is private', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'meridian-api-tls-')), 'tls');
  try {
    const first = await ensureSelfSignedApiTls(dir, '127.0.0.1');
    assert.equal(first.generated, true);
    const leaf = new X509Certificate(readFileSync(first.certFile));
    const ca = new X509Certificate(readFileSync(first.caFile));
    assert.ok(leaf.verify(ca.publicKey), 'the leaf is signed by the CA clients trust');
    assert.ok(leaf.checkIP('127.0.0.1') && leaf.checkHost('localhost'));
    assert.equal(statSync(first.keyFile).mode & 0o077, 0, 'the key is readable by its owner only');
    const again = await ensureSelfSignedApiTls(dir, '127.0.0.1');
    assert.equal(again.generated, false);
    assert.equal(readFileSync(again.certFile, 'utf8'), readFileSync(first.certFile, 'utf8'));
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});
