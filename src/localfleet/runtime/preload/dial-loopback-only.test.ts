// The dial preload in real child processes. Below it, a stand-in for the network records every dial
// that reaches it and lets only loopback ones through, so the test sends nothing off loopback even
// when the preload is broken.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const PRELOAD = fileURLToPath(new URL('./dial-loopback-only.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dial-preload-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NETWORK = join(dir, 'network.mjs');
writeFileSync(
  NETWORK,
  `import net from 'node:net';
import dgram from 'node:dgram';
globalThis.dialed = [];
const loop = (h) => typeof h === 'string' && (h.startsWith('127.') || h === '::1');
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const o = Array.isArray(args[0]) ? args[0][0] : args[0];
  const host = typeof o === 'object' ? o.host : args[1];
  globalThis.dialed.push('tcp ' + host);
  if (loop(host)) return connect.apply(this, args);
  process.nextTick(() => this.destroy(Object.assign(new Error('left loopback'), { code: 'ELEFT' })));
  return this;
};
const send = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function (...args) {
  const host = args.find((a, i) => i > 0 && typeof a === 'string');
  globalThis.dialed.push('udp ' + host);
  if (loop(host)) return send.apply(this, args);
  const cb = args.find((a) => typeof a === 'function');
  process.nextTick(cb, Object.assign(new Error('left loopback'), { code: 'ELEFT' }));
};
`,
);

const PROGRAM = `
import http from 'node:http';
import net from 'node:net';
import dgram from 'node:dgram';
const server = http.createServer((q, s) => s.end('ok'));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const r = {};
const tcp = (k, f) => new Promise((ok) => {
  const s = f();
  s.on('connect', () => { r[k] = 'connected'; s.destroy(); ok(); });
  s.on('error', (e) => { r[k] = e.code; ok(); });
});
await tcp('options', () => net.connect({ host: '192.0.2.1', port: 80 }));
await tcp('portHost', () => net.connect(80, '10.1.2.3'));
await tcp('ipv6', () => net.connect({ host: '2001:db8::1', port: 80 }));
await tcp('loopback', () => net.connect(port, '127.0.0.1'));
r.http = await new Promise((ok) => http.get('http://192.0.2.1/', () => ok('answered')).on('error', (e) => ok(e.code)));
r.httpLoopback = await new Promise((ok) => http.get('http://127.0.0.1:' + port + '/', (res) => ok(res.statusCode)).on('error', (e) => ok(e.code)));
const u = dgram.createSocket('udp4');
r.udp = await new Promise((ok) => u.send('x', 53, '192.0.2.1', (e) => ok(e ? e.code : 'sent')));
r.udpLoopback = await new Promise((ok) => u.send('x', 9, '127.0.0.1', (e) => ok(e ? e.code : 'sent')));
u.close();
server.close();
r.dialed = globalThis.dialed;
console.log(JSON.stringify(r));
`;

function run(localMode: boolean): Record<string, unknown> {
  const r = spawnSync(
    process.execPath,
    ['--import', NETWORK, '--import', PRELOAD, '--input-type=module', '-e', PROGRAM],
    {
      env: { ...process.env, MERIDIAN_LOOPBACK_ONLY: localMode ? '1' : '0' },
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test('in local mode a pod process dials loopback only: other IP literals fail with EHOSTUNREACH and never reach the network', () => {
  const { dialed, ...results } = run(true);
  // Only the loopback dials reached the network (a send before bind is tried twice by dgram).
  assert.deepEqual([...new Set(dialed as string[])], ['tcp 127.0.0.1', 'udp 127.0.0.1']);
  assert.deepEqual(results, {
    options: 'EHOSTUNREACH',
    portHost: 'EHOSTUNREACH',
    ipv6: 'EHOSTUNREACH',
    loopback: 'connected',
    http: 'EHOSTUNREACH',
    httpLoopback: 200,
    udp: 'EHOSTUNREACH',
    udpLoopback: 'sent',
  });
});

test('outside local mode the preload changes nothing', () => {
  const r = run(false);
  assert.equal(r['options'], 'ELEFT');
  assert.equal(r['udp'], 'ELEFT');
});
