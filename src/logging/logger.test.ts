import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, redact } from './logger.ts';

test('redacts secret keys and secret-looking values at any depth', () => {
  const out = redact({
    cluster: 'eu-west',
    headers: { Authorization: 'Bearer abc.def' },
    nested: [{ token: 'xyz' }, 'see Bearer s3cr3t-token here'],
    pem: '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----',
    text: 'client-key-data: TUlJRXZ',
  }) as Record<string, unknown>;
  const s = JSON.stringify(out);
  assert.ok(
    !s.includes('abc.def') && !s.includes('xyz') && !s.includes('s3cr3t') && !s.includes('MHcCAQEE'),
    s,
  );
  assert.ok(!s.includes('TUlJRXZ'), s);
  assert.equal(out['cluster'], 'eu-west');
});

test('the logger writes one JSON line per record with secrets removed', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger('test', sink);
  log.info(
    { cluster: 'us-east', kubeconfig: 'apiVersion: v1 ...' },
    'joined with Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig',
  );
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(lines.length, 1);
  const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(rec['cluster'], 'us-east');
  assert.equal(rec['kubeconfig'], '[REDACTED]');
  assert.ok(!String(rec['msg']).includes('eyJ'), String(rec['msg']));
});

test('redacts query-string values of token-like keys and leaves other strings alone', () => {
  const out = redact({
    path: '/cb?access_token=abc123&state=ok&X-Amz-Signature=f00d',
    msg: 'GET /login?code=c0de password=hunter2',
    plain: '/shop/cart?page=2',
  }) as Record<string, string>;
  assert.equal(out['path'], '/cb?access_token=[REDACTED]&state=ok&X-Amz-Signature=[REDACTED]');
  assert.equal(out['msg'], 'GET /login?code=[REDACTED] password=[REDACTED]');
  assert.equal(out['plain'], '/shop/cart?page=2');
});
