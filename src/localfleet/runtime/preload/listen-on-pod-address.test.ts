import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const PRELOAD = fileURLToPath(new URL('./listen-on-pod-address.mjs', import.meta.url));

// Every way a program asks for "all addresses" (and one that names loopback itself).
const PROGRAM = `
import net from 'node:net';
import dgram from 'node:dgram';
const addr = (s) => new Promise((r) => s.once('listening', () => r(s.address().address)));
const out = [];
for (const listen of [
  (s) => s.listen(0, '0.0.0.0'),
  (s) => s.listen(0, '::'),
  (s) => s.listen({ port: 0 }),
  (s) => s.listen({ port: 0, host: '10.1.2.3' }),
  (s) => s.listen(0),
  (s) => s.listen(),
  (s) => s.listen(0, '127.0.0.1'),
]) {
  const s = net.createServer();
  listen(s);
  out.push(await addr(s));
  s.close();
}
const u = dgram.createSocket('udp4');
u.bind(0);
out.push(await addr(u));
u.close();
console.log(out.join(' '));
`;

test('listens on unspecified or non-loopback hosts move to the pod address; loopback ones stay', () => {
  const r = spawnSync(process.execPath, ['--import', PRELOAD, '--input-type=module', '-e', PROGRAM], {
    env: { ...process.env, MERIDIAN_POD_ADDRESS: '127.0.99.7' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const want = Array(6).fill('127.0.99.7').concat(['127.0.0.1', '127.0.99.7']).join(' ');
  assert.equal(r.stdout.trim(), want);
});
