import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertLoopbackAllowed, isLoopbackHost, setLoopbackOnly } from './dial-guard.ts';

test('treats only 127.0.0.0/8, ::1 and localhost as loopback', () => {
  for (const h of ['127.0.0.1', '127.77.0.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) {
    assert.equal(isLoopbackHost(h), true, h);
  }
  for (const h of ['10.0.0.1', '192.168.1.1', '128.0.0.1', 'example.com', '::2', '1.127.0.0']) {
    assert.equal(isLoopbackHost(h), false, h);
  }
});

test('refuses non-loopback dials in local mode and allows them otherwise', () => {
  const before = process.env['MERIDIAN_LOOPBACK_ONLY'];
  try {
    setLoopbackOnly(true);
    assert.throws(() => assertLoopbackAllowed('10.101.0.5'), /refusing to connect to 10\.101\.0\.5/);
    assert.doesNotThrow(() => assertLoopbackAllowed('127.77.0.2'));
    setLoopbackOnly(false);
    assert.doesNotThrow(() => assertLoopbackAllowed('10.101.0.5'));
  } finally {
    setLoopbackOnly(before === '1');
  }
});
