import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';
import { dialFetch, dialHttp, dialTcp, guardHost } from './dialer.ts';
import { setLoopbackOnly } from './dial-guard.ts';

const SRC = fileURLToPath(new URL('..', import.meta.url));
const DIALER = 'dial/dialer.ts';

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const CLIENT_MODULES = /^(node:)?(net|tls|http|https|http2|undici)$/;
const DIAL_FUNCTIONS = new Set([
  'connect',
  'createConnection',
  'request',
  'get',
  'fetch',
  'stream',
  'pipeline',
]);

/** Where `text` (one module's source, comments removed) opens a connection itself. */
export function dialSites(text: string): string[] {
  const sites: string[] = [];
  const namespaces: string[] = [];
  for (const m of text.matchAll(/import\s+(type\s+)?([^'";]*?)\s+from\s+'([^']+)'/g)) {
    const [, typeOnly, clause = '', from = ''] = m;
    if (typeOnly || !CLIENT_MODULES.test(from)) continue;
    const named = /\{([^}]*)\}/.exec(clause)?.[1] ?? '';
    for (const part of named.split(',')) {
      const [name = '', alias] = part.trim().split(/\s+as\s+/);
      if (!name.startsWith('type ') && DIAL_FUNCTIONS.has(name))
        sites.push(`${name} from ${from}${alias ? ` as ${alias}` : ''}`);
    }
    const ns = /^(?:\*\s+as\s+)?([A-Za-z_$][\w$]*)/.exec(clause.replace(/\{[^}]*\}/, '').trim())?.[1];
    if (ns) namespaces.push(ns);
  }
  for (const ns of namespaces) {
    for (const m of text.matchAll(new RegExp(`\\b${ns}\\.(connect|createConnection|request|get)\\(`, 'g')))
      sites.push(`${ns}.${m[1]}(`);
  }
  if (/(^|[^\w$.])fetch\(/m.test(text)) sites.push('fetch(');
  if (/from\s+'(node:)?dgram'/.test(text)) {
    // A datagram to an address of our choosing (a reply to the sender of a message is not a dial).
    for (const m of text.matchAll(/\.send\(([^()]*(?:\([^()]*\))?[^()]*)\)/g)) {
      const args = m[1] ?? '';
      if (
        !args.trim().startsWith('{') &&
        args.split(',').length >= 3 &&
        !/(\w+)\.port,\s*\1\.address\s*$/.test(args.trim())
      )
        sites.push(`.send(${args})`);
    }
  }
  return sites;
}

const stripComments = (s: string): string =>
  s.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

test('every outgoing connection of src/ goes through dial/dialer.ts', () => {
  const found: string[] = [];
  for (const file of sources(SRC)) {
    const rel = relative(SRC, file).split('\\').join('/');
    if (rel === DIALER) continue;
    for (const site of dialSites(stripComments(readFileSync(file, 'utf8'))))
      found.push(`src/${rel}: ${site}`);
  }
  assert.deepEqual(
    found,
    [],
    'open connections with the functions of src/dial/dialer.ts, which apply the dial guard',
  );
});

test('the scan finds each way of opening a connection, and not replies or types', () => {
  assert.deepEqual(dialSites("import { connect } from 'node:net';"), ['connect from node:net']);
  assert.deepEqual(dialSites("import { request as r } from 'node:https';"), ['request from node:https as r']);
  assert.deepEqual(dialSites("import { request } from 'undici';"), ['request from undici']);
  assert.deepEqual(dialSites("import http from 'node:http';\nhttp.request(o);"), ['http.request(']);
  assert.deepEqual(dialSites("import * as tls from 'node:tls';\ntls.connect(o);"), ['tls.connect(']);
  assert.deepEqual(dialSites('const r = await fetch(url);'), ['fetch(']);
  assert.deepEqual(dialSites("import { createSocket } from 'node:dgram';\ns.send(msg, 53, host);"), [
    '.send(msg, 53, host)',
  ]);
  assert.deepEqual(
    dialSites("import { createSocket } from 'node:dgram';\ns.send(out, rinfo.port, rinfo.address);"),
    [],
  );
  assert.deepEqual(
    dialSites("import type { request } from 'node:http';\nimport { createServer } from 'node:net';"),
    [],
  );
  assert.deepEqual(
    dialSites(
      "import { createSocket } from 'node:dgram';\nawait client.fetch(x); worker.send({ a: 1, b: 2, c: 3 });",
    ),
    [],
  );
});

test('in local mode the dialer refuses anything but loopback, before any socket exists', async () => {
  const before = process.env['MERIDIAN_LOOPBACK_ONLY'];
  setLoopbackOnly(true);
  try {
    assert.throws(() => dialTcp({ host: '10.1.2.3', port: 80 }), /NonLoopbackDial|only dials loopback/);
    assert.throws(() => dialHttp({ hostname: 'example.com', port: 443 }, true), /only dials loopback/);
    await assert.rejects(dialFetch('http://192.0.2.1/'), /only dials loopback/);
    assert.throws(() => guardHost('[2001:db8::1]'), /only dials loopback/);
    assert.equal(guardHost('[::1]'), '[::1]');

    // Loopback is dialed for real.
    const server = createServer((s) => s.end('hi'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const sock = dialTcp({ host: '127.0.0.1', port });
    const got = await new Promise<string>((resolve, reject) => {
      let text = '';
      sock.on('data', (d: Buffer) => (text += d.toString()));
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
    });
    assert.equal(got, 'hi');
    server.close();
  } finally {
    setLoopbackOnly(before === '1');
  }
});
